// One running Stratus per data directory: <data-dir>/stratus.pid, created exclusively, holding
// the process id and, once it listens, where it answers (read by `stratus status` and `reset`).
import fs from 'node:fs';
import path from 'node:path';

export interface RunInfo {
  pid: number;
  startedAt: string;
  /** The base URLs the running instance answers on, by service type (once it listens). */
  endpoints?: Record<string, string>;
  /** The single-port base URL (http://host:port), or undefined with separate ports. */
  url?: string;
}

export class DataDirLockedError extends Error {}

const lockFile = (dataDir: string) => path.join(dataDir, 'stratus.pid');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** What the data directory's lock says, when a live process holds it. */
export function readRunInfo(dataDir: string): RunInfo | undefined {
  try {
    const info = JSON.parse(fs.readFileSync(lockFile(dataDir), 'utf8')) as RunInfo;
    return typeof info.pid === 'number' && alive(info.pid) ? info : undefined;
  } catch {
    return undefined;
  }
}

export class DataDirLock {
  private held = false;
  private info: RunInfo;
  constructor(readonly dataDir: string) {
    this.info = { pid: process.pid, startedAt: new Date().toISOString() };
  }

  get file() {
    return lockFile(this.dataDir);
  }

  /** Takes the lock, or throws DataDirLockedError naming the process that holds it. A stale lock is taken over. */
  acquire() {
    fs.mkdirSync(this.dataDir, { recursive: true });
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        fs.writeFileSync(this.file, JSON.stringify(this.info), { flag: 'wx', mode: 0o644 });
        this.held = true;
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const other = readRunInfo(this.dataDir);
      if (other && other.pid !== process.pid)
        throw new DataDirLockedError(
          `another Stratus (pid ${other.pid}, started ${other.startedAt}${other.url ? `, at ${other.url}` : ''}) is running on the data directory ${this.dataDir}: stop it (stratus stop, or kill ${other.pid}) or give another --data-dir`,
        );
      // A lock left by a process that is gone (killed, crashed): taken over.
      fs.rmSync(this.file, { force: true });
    }
    throw new DataDirLockedError(`could not lock the data directory ${this.dataDir} (${this.file})`);
  }

  /** Records where the running instance answers. */
  update(more: Partial<RunInfo>) {
    if (!this.held) return;
    this.info = { ...this.info, ...more };
    const tmp = `${this.file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(this.info));
    fs.renameSync(tmp, this.file);
  }

  release() {
    if (!this.held) return;
    this.held = false;
    try {
      const info = JSON.parse(fs.readFileSync(this.file, 'utf8')) as RunInfo;
      if (info.pid === process.pid) fs.rmSync(this.file, { force: true });
    } catch {
      /* already gone */
    }
  }
}
