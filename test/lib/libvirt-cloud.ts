// The set-up the libvirt tests share: why they skip, a whole cloud with the libvirt driver on one
// host or more (started before the suite, its compute nodes ready), the suite's one server seen
// through the compute API, and a teardown that leaves no server, domain, namespace or file.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before } from 'node:test';
import type { ComputeConfig } from '../../src/compute/config.ts';
import { missingLibvirtPackages } from '../../src/compute/drivers/libvirt/daemon.ts';
import type { LibvirtDriver } from '../../src/compute/drivers/libvirt/driver.ts';
import type { ComputeService } from '../../src/compute/service.ts';
import type { StratusConfig } from '../../src/core/config.ts';
import { deleteHostNamespace } from '../../src/core/hostns.ts';
import type { ApiServer } from './api-types.ts';
import { startCloud, type TestCloud, until, untilServer } from './cloud.ts';

/** Why a libvirt test cannot run here (not root; Debian's libvirt/qemu packages or `missingTools` absent), or false. */
export function libvirtSkip(
  missingTools: () => string[],
  notRoot = 'needs root (libvirtd, namespaces)',
): string | false {
  if (process.getuid?.() !== 0) return notRoot;
  const missing = [...missingLibvirtPackages(), ...missingTools()];
  return missing.length ? `needs the Debian packages ${missing.join(' ')}` : false;
}

export interface LibvirtCloud {
  /** The cloud (set once the suite's `before` ran). */
  c: TestCloud;
  svc: ComputeService;
  /** Each compute host's libvirt driver, by host. */
  drivers: Record<string, LibvirtDriver>;
  /** The suite's server: set by the suite once created, '' once it deleted it itself. */
  server: string;
  /** A compute (Nova v2.1, microversion 2.93) request. */
  nova(method: string, path: string, body?: unknown): ReturnType<TestCloud['req']>;
  /** The server as the compute API shows it (undefined once gone). */
  show(): Promise<ApiServer | undefined>;
  /** A server action. */
  act(body: unknown): ReturnType<TestCloud['req']>;
  /** The server's console log (os-getConsoleOutput). */
  consoleText(): Promise<string>;
  /** Waits for `want` with no task in progress; an ERROR fails with the server's fault. */
  waitStatus(want: string, ms?: number): Promise<void>;
}

/**
 * Registers the suite's `before`/`after` (call it inside `describe`): a cloud whose compute hosts
 * are `hosts` (the first is `compute.host`, `compute.fakeHosts` makes more), with `compute` over
 * the test defaults. After the suite the server is deleted (waiting up to `deleteMs`), the cloud
 * stopped, the drivers closed, `cleanup` run and each host's namespace and run directory removed.
 */
export function useLibvirtCloud(o: {
  hosts: string[];
  compute: ComputeConfig;
  configure?: (cfg: StratusConfig) => void;
  readyMs?: number;
  deleteMs?: number;
  cleanup?: () => Promise<void> | void;
}): LibvirtCloud {
  const t: LibvirtCloud = {
    c: undefined as unknown as TestCloud,
    svc: undefined as unknown as ComputeService,
    drivers: {},
    server: '',
    nova: (method, p, body) =>
      t.c.req(method, `${t.c.url}/compute/v2.1${p}`, body, { headers: { 'OpenStack-API-Version': 'compute 2.93' } }),
    show: async () => (await t.nova('GET', `/servers/${t.server}`)).body.server,
    act: (body) => t.nova('POST', `/servers/${t.server}/action`, body),
    consoleText: async () => ((await t.act({ 'os-getConsoleOutput': {} })).body.output ?? '') as string,
    waitStatus: async (want, ms = 180_000) => {
      await untilServer(() => t.show(), t.server, want, { ms });
    },
  };
  before(async () => {
    t.c = await startCloud({
      configure: (cfg) => {
        cfg.compute = {
          ...(cfg.compute ?? {}),
          host: o.hosts[0],
          driver: 'libvirt',
          metadata: { port: 0 },
          ...o.compute,
        };
        o.configure?.(cfg);
      },
    });
    t.svc = t.c.cloud.services.find((s) => s.catalogEntry.name === 'compute') as unknown as ComputeService;
    for (const a of t.svc.parts.agents) t.drivers[a.host] = a.driver as LibvirtDriver;
    assert.deepEqual(Object.keys(t.drivers).sort(), [...o.hosts].sort());
    await until('compute nodes', async () => t.svc.parts.agents.every((a) => a.ready), o.readyMs ?? 120_000);
  });
  after(async () => {
    try {
      if (t.server) {
        await t.nova('DELETE', `/servers/${t.server}`).catch(() => undefined);
        await until(
          'deleted',
          async () => (await t.nova('GET', `/servers/${t.server}`)).status === 404,
          o.deleteMs ?? 60_000,
        ).catch(() => undefined);
      }
      await t.c?.stop();
    } finally {
      for (const d of Object.values(t.drivers)) await d.close().catch(() => undefined);
      t.drivers = {};
      await o.cleanup?.();
      for (const h of o.hosts) {
        await deleteHostNamespace(h);
        fs.rmSync(path.join('/run/stratus', h), { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
      }
    }
  });
  return t;
}
