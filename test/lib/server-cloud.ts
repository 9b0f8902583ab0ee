// A test cloud (fake driver) with one ACTIVE server 'con' of a tiny image and no network, as the
// console tests need.
import assert from 'node:assert/strict';
import type { StratusConfig } from '../../src/core/config.ts';
import type { ComputeService } from '../../src/compute/service.ts';
import { startCloud, type TestCloud, until, uploadImage } from './cloud.ts';

export interface ServerCloud {
  c: TestCloud;
  /** The compute service of the cloud's process. */
  svc: ComputeService;
  /** The ACTIVE server's id. */
  server: string;
  /** A compute (Nova v2.1) request at `version` (default 2.93). */
  nova(method: string, path: string, body?: unknown, version?: string): ReturnType<TestCloud['req']>;
}

/** Starts the cloud (`configure` as startCloud's), waits for the compute node, boots the server to ACTIVE. */
export async function startServerCloud(configure?: (cfg: StratusConfig) => void): Promise<ServerCloud> {
  const c = await startCloud({ configure });
  const nova: ServerCloud['nova'] = (method, p, body, version = '2.93') =>
    c.req(method, `${c.url}/compute/v2.1${p}`, body, { headers: { 'OpenStack-API-Version': `compute ${version}` } });
  const svc = c.cloud.services.find((s) => s.catalogEntry.name === 'compute') as unknown as ComputeService;
  const imageId = await uploadImage(c, 'tiny', new Uint8Array(Buffer.from('tiny')));
  await until('compute node', async () => svc.parts.agent?.ready);
  const r = await nova('POST', '/servers', {
    server: { name: 'con', imageRef: imageId, flavorRef: '1', networks: 'none' },
  });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  const server = r.body.server.id as string;
  await until('ACTIVE', async () => (await nova('GET', `/servers/${server}`)).body.server?.status === 'ACTIVE');
  return { c, svc, server, nova };
}
