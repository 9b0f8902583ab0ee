// A Stratus host with a real data plane is a network namespace `stratus-host-<host>`: its
// bridges, taps, firewall rules and its libvirtd live there, never in the root namespace.
// Whichever side starts first (the libvirt driver, the linuxbridge agent) creates it.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The namespace that stands for `host`. */
export function hostNamespace(host: string): string {
  return `stratus-host-${host}`.replace(/[^\w.-]/g, '_').slice(0, 200);
}

/** Creates the host's namespace (with lo up) unless it exists; returns its name. Idempotent. */
export async function ensureHostNamespace(host: string): Promise<string> {
  const ns = hostNamespace(host);
  const list = (await run('ip', ['netns', 'list'])).stdout;
  if (!list.split('\n').some((l) => l.split(' ')[0] === ns)) {
    try {
      await run('ip', ['netns', 'add', ns]);
    } catch (e) {
      // Another process may have created it at the same moment.
      const again = (await run('ip', ['netns', 'list'])).stdout;
      if (!again.split('\n').some((l) => l.split(' ')[0] === ns)) throw e;
    }
  }
  await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  return ns;
}

/** Removes the host's namespace (tests; nothing must run in it any more). */
export async function deleteHostNamespace(host: string): Promise<void> {
  await run('ip', ['netns', 'delete', hostNamespace(host)]).catch(() => undefined);
}
