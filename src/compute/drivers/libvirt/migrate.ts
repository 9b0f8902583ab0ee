// Live migration between two libvirtds of one machine (Nova's _live_migration with non-shared
// storage): `virsh migrate --live --copy-storage-all` from the source's daemon to the
// destination's, everything over UNIX sockets (libvirt's "migration using only UNIX sockets", made
// for daemons in containers on one host): the destination daemon's own socket, a socket for
// QEMU's migration stream and one for the NBD server that receives the disks. The hosts are
// network namespaces; a socket path under /run/stratus is reachable from both, so no address
// between the namespaces is needed. The destination's XML is the source's migratable XML with
// the instance directory of the destination host; its disk images were made by the
// destination's preLiveMigration. The job reports libvirt's job progress, can be forced to
// complete (the guest is paused so that memory converges, resumed on the destination) and
// aborted (virsh domjobabort).
import fs from 'node:fs';
import path from 'node:path';
import type { LiveMigrationJob } from '../virt.ts';
import { VirtError } from '../virt.ts';
import type { Libvirtd } from './daemon.ts';

type Progress = ReturnType<LiveMigrationJob['progress']>;

/** A job's counters before libvirt reported any. */
export const noProgress = (): Progress => ({
  memory_total: 0,
  memory_processed: 0,
  memory_remaining: 0,
  disk_total: 0,
  disk_processed: 0,
  disk_remaining: 0,
});

const UNITS: Record<string, number> = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4 };

/** `virsh domjobinfo`'s Memory/File total, processed, remaining lines, in bytes. */
export function parseJobInfo(text: string, into: Progress): Progress {
  const out = { ...into };
  for (const line of text.split('\n')) {
    const m = /^(Memory|File) (total|processed|remaining):\s+([\d.]+)\s*(B|KiB|MiB|GiB|TiB)/.exec(line.trim());
    if (!m) continue;
    const bytes = Math.round(Number(m[3]) * (UNITS[m[4]!] ?? 1));
    const key = `${m[1] === 'Memory' ? 'memory' : 'disk'}_${m[2]}` as keyof Progress;
    out[key] = bytes;
  }
  return out;
}

export interface LiveMigrationSpec {
  source: Libvirtd;
  dest: Libvirtd;
  uuid: string;
  /** The domain XML for the destination (its paths). */
  destXml: string;
  /**
   * The targets of the disks copied to the destination (localDisksToMigrate): the guest's own
   * writable disks; volumes stay where they are (both hosts reach them), as Nova's migrate_disks.
   * Empty: nothing copied (a volume-backed guest).
   */
  migrateDisks?: string[];
  /**
   * Some disks stay where they are (volumes: a path both hosts of this machine reach). libvirt
   * calls that unsafe unless it knows the storage is shared (NFS, Ceph, cache=none), so `--unsafe`.
   */
  sharedDisks?: boolean;
  /** Runs on the source once the guest runs on the destination (taps, instance directory). */
  cleanupSource: () => Promise<void>;
  log: (msg: string) => void;
}

export function startLiveMigration(spec: LiveMigrationSpec): LiveMigrationJob {
  const { source, dest, uuid } = spec;
  let progress = noProgress();
  let aborted = false;
  let paused = false;
  const sockDir = fs.mkdtempSync(path.join(dest.runDir, `migrate-${uuid.slice(0, 8)}-`));
  const xmlFile = path.join(sockDir, 'domain.xml');
  fs.writeFileSync(xmlFile, spec.destXml);
  const poll = setInterval(() => {
    source
      .virsh(['domjobinfo', uuid], 10_000)
      .then((t) => {
        progress = parseJobInfo(t, progress);
      })
      .catch(() => undefined);
  }, 1000);
  poll.unref();
  // Without a list every disk is copied (a volume too: onto itself, which QEMU refuses).
  const copyStorage = !spec.migrateDisks
    ? ['--copy-storage-all']
    : spec.migrateDisks.length
      ? ['--copy-storage-all', '--migrate-disks', spec.migrateDisks.join(',')]
      : [];
  if (spec.sharedDisks) copyStorage.push('--unsafe');
  const done = (async (): Promise<'completed' | 'cancelled'> => {
    const t0 = Date.now();
    try {
      await source.virsh(
        [
          'migrate',
          '--live',
          '--persistent',
          '--undefinesource',
          ...copyStorage,
          '--xml',
          xmlFile,
          // The persistent definition too: without it the destination keeps the source's paths.
          '--persistent-xml',
          xmlFile,
          '--domain',
          uuid,
          '--desturi',
          dest.uri,
          '--migrateuri',
          `unix://${path.join(sockDir, 'qemu.sock')}`,
          ...(copyStorage.length ? ['--disks-uri', `unix://${path.join(sockDir, 'nbd.sock')}`] : []),
        ],
        3_600_000,
      );
    } catch (e) {
      if (aborted) return 'cancelled';
      // A guest paused to force completion runs again where it is.
      if (paused) await source.virsh(['resume', uuid]).catch(() => undefined);
      throw new VirtError(`Live migration of ${uuid} failed: ${(e as Error).message}`, false);
    } finally {
      clearInterval(poll);
      fs.rmSync(sockDir, { recursive: true, force: true });
    }
    spec.log(`live migration of ${uuid} to ${dest.host} completed in ${Date.now() - t0} ms`);
    if (paused) await dest.virsh(['resume', uuid]).catch(() => undefined);
    progress = {
      ...progress,
      memory_processed: progress.memory_total || progress.memory_processed,
      memory_remaining: 0,
      disk_processed: progress.disk_total || progress.disk_processed,
      disk_remaining: 0,
    };
    await spec.cleanupSource().catch((e) => spec.log(`cleaning the source after migration: ${(e as Error).message}`));
    return 'completed';
  })();
  return {
    done,
    progress: () => progress,
    forceComplete() {
      void source.virsh(['suspend', uuid]).then(
        () => {
          paused = true;
        },
        () => undefined,
      );
    },
    abort() {
      aborted = true;
      void source.virsh(['domjobabort', uuid]).catch(() => undefined);
    },
  };
}

/**
 * The targets (vda, ...) of a domain's disks that a block migration copies: files in the
 * instance directory that the guest writes (root, ephemeral, swap). Volumes live elsewhere and
 * stay where they are; read-only ones (the config drive) the destination has already
 * (preLiveMigration copies them).
 */
export function localDisksToMigrate(domainXml: string, instanceDir: string): string[] {
  const out: string[] = [];
  for (const m of domainXml.matchAll(/<disk\b[\s\S]*?<\/disk>/g)) {
    const disk = m[0];
    const file = /<source\s+file='([^']*)'/.exec(disk)?.[1];
    const target = /<target\s+dev='([^']*)'/.exec(disk)?.[1];
    if (!file || !target || /<readonly\s*\/>/.test(disk)) continue;
    if (file.startsWith(`${instanceDir}/`)) out.push(target);
  }
  return out;
}

/** Whether a domain has disks outside its instance directory (volumes), which a migration leaves in place. */
export function hasSharedDisks(domainXml: string, instanceDir: string): boolean {
  for (const m of domainXml.matchAll(/<disk\b[\s\S]*?<\/disk>/g)) {
    const file = /<source\s+(?:file|dev)='([^']*)'/.exec(m[0])?.[1];
    if (file && !file.startsWith(`${instanceDir}/`)) return true;
  }
  return false;
}
