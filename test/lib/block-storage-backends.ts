// A test cloud whose block storage has two `file` backends on one host (storage-1@lvm1 and
// storage-1@lvm2, each with its volume service), as the migration and swap tests need.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud, until } from './cloud.ts';

export interface TwoBackendCloud {
  c: TestCloud;
  dataDir: string;
  /** The admin project's id. */
  project: string;
  /** The volume services' hosts, sorted: ['storage-1@lvm1', 'storage-1@lvm2']. */
  backends: string[];
  /** A Cinder v3 request at 3.60, in `o.project` (default: the admin project) as `o.token` (default: admin). */
  cinder(
    method: string,
    path: string,
    body?: unknown,
    o?: { token?: string; project?: string },
  ): ReturnType<TestCloud['req']>;
  /** A volume type whose extra spec volume_backend_name is `backend`; `name` defaults to a unique one. */
  typeFor(backend: string, name?: string): Promise<{ id: string; name: string }>;
  /** The directory of a backend's volume files below the data directory. */
  volumeDir(backend: string): string;
  /** Stops the cloud and removes its data directory. */
  stop(): Promise<void>;
}

/** Starts the cloud (in a new temporary directory named by `prefix`) and waits for both volume services. */
export async function startTwoBackendCloud(prefix: string): Promise<TwoBackendCloud> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const c = await startCloud({
    dataDir,
    configure: (cfg) => {
      cfg.blockStorage = {
        ...(cfg.blockStorage ?? {}),
        host: 'storage-1',
        backends: [{ backendName: 'lvm1' }, { backendName: 'lvm2' }],
      };
    },
  });
  const project = (await c.req('GET', '/v3/projects?name=admin')).body.projects[0].id as string;
  const cinder: TwoBackendCloud['cinder'] = (method, p, body, o = {}) =>
    c.req(method, `${c.url}/volume/v3/${o.project ?? project}${p}`, body, {
      token: o.token,
      headers: { 'OpenStack-API-Version': 'volume 3.60' },
    });
  const services = await until('two volume services', async () => {
    const s = await cinder('GET', '/os-services?binary=cinder-volume');
    const hosts = (s.body.services as Array<{ host: string }>).map((x) => x.host).sort();
    return hosts.length === 2 ? hosts : null;
  });
  return {
    c,
    dataDir,
    project,
    backends: services,
    cinder,
    async typeFor(backend, name = `on-${backend}-${Math.random().toString(36).slice(2, 8)}`) {
      const t = await cinder('POST', '/types', {
        volume_type: { name, extra_specs: { volume_backend_name: backend } },
      });
      assert.equal(t.status, 200, JSON.stringify(t.body));
      return t.body.volume_type as { id: string; name: string };
    },
    volumeDir: (backend) => path.join(dataDir, backend === 'lvm1' ? 'volumes' : `volumes-${backend}`),
    async stop() {
      await c.stop();
      fs.rmSync(dataDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    },
  };
}
