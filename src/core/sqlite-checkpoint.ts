// SQLite checkpoints off the event loop. In WAL mode SQLite folds the log back into the database
// file (a checkpoint) inside whichever commit crosses wal_autocheckpoint pages: on the main
// thread, with its fsyncs — tens of milliseconds under load, every few hundred writes, during
// which no request of any service is served. Here one worker thread holds its own connection to
// each database file of the process and runs a PASSIVE checkpoint (it never blocks readers or
// writers) every CHECKPOINT_MS; the services' connections keep autocheckpoint at a high mark only
// as a fallback (a stalled worker must not let the log grow without bound).
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

const CHECKPOINT_MS = 500;
/** wal_autocheckpoint of the services' own connections (pages; SQLite's default is 1000). */
export const FALLBACK_AUTOCHECKPOINT = 20_000;

// Plain JavaScript evaluated in the worker (the service is bundled: no separate file to load).
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const dbs = new Map();
parentPort.on('message', (m) => {
  if (m.op === 'open' && !dbs.has(m.file)) {
    try { const db = new Database(m.file, { fileMustExist: true }); db.pragma('busy_timeout = 1000'); dbs.set(m.file, db); } catch { /* the file went away */ }
  } else if (m.op === 'close') {
    const db = dbs.get(m.file);
    if (db) { dbs.delete(m.file); try { db.close(); } catch { /* closing anyway */ } }
    parentPort.postMessage({ op: 'closed', id: m.id });
  }
});
setInterval(() => {
  for (const [file, db] of dbs) {
    try { db.pragma('wal_checkpoint(PASSIVE)'); } catch { /* busy or gone: the next round, or the fallback */ }
  }
}, ${CHECKPOINT_MS});
`;

let worker: Worker | undefined;
const watched = new Map<string, number>();
/** Closes sent to the worker and not yet acknowledged: the worker's connection still holds the file. */
const closing = new Map<number, () => void>();
let nextCloseId = 0;
function settleAllCloses() {
  for (const done of closing.values()) done();
  closing.clear();
}

/**
 * Resolves once the worker has closed every database file whose last connection was closed
 * (at most `timeoutMs` later): until then the worker's own connection may still checkpoint and
 * remove the file's -wal and -shm, so a caller removing the data directory must wait for this.
 */
export async function checkpointsClosed(timeoutMs = 3000): Promise<void> {
  if (closing.size === 0) return;
  const all = Promise.all(
    [...closing.keys()].map(
      (id) =>
        new Promise<void>((r) => {
          const prev = closing.get(id)!;
          closing.set(id, () => {
            prev();
            r();
          });
        }),
    ),
  );
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    all,
    new Promise<void>((r) => {
      timer = setTimeout(r, timeoutMs);
    }),
  ]);
  clearTimeout(timer);
}

/** Checkpoints `file` from the worker until the returned function is called (one call per connection). */
export function checkpointInBackground(file: string): () => void {
  if (!worker) {
    worker = new Worker(WORKER_SOURCE, {
      eval: true,
      name: 'sqlite-checkpoint',
      workerData: { driver: createRequire(import.meta.url).resolve('better-sqlite3') },
    });
    worker.on('message', (m: { op: string; id: number }) => {
      if (m.op !== 'closed') return;
      closing.get(m.id)?.();
      closing.delete(m.id);
    });
    worker.on('error', () => {
      worker = undefined;
      watched.clear();
      settleAllCloses();
    });
    worker.unref();
  }
  const w = worker;
  const n = watched.get(file) ?? 0;
  watched.set(file, n + 1);
  if (n === 0) w.postMessage({ op: 'open', file });
  let done = false;
  return () => {
    if (done) return;
    done = true;
    const left = (watched.get(file) ?? 1) - 1;
    if (left > 0) {
      watched.set(file, left);
      return;
    }
    watched.delete(file);
    if (worker !== w) return;
    const id = nextCloseId++;
    closing.set(id, () => {});
    w.postMessage({ op: 'close', file, id });
  };
}
