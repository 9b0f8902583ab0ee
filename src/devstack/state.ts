// A whole cloud's state, captured and put back without a restart: every service's SQLite
// database (copied with VACUUM INTO, restored table by table in one transaction per database
// from an ATTACHed copy) and the files the services keep in the data directory's
// subdirectories (object and image data). `reset` puts back what was captured when the cloud
// became ready; `save`/`load` write and read the same to a file (gzip of a small archive).
// Services keep some state in memory (the fake virt driver's guests, caches): after a load they
// behave as after a restart on that data directory.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { type Kysely, sql } from 'kysely';

/** The databases of a cloud, by service. */
export type Databases = Map<string, Kysely<unknown>>;

/** Data directory entries that are not service state (keys stay: tokens issued before a reset stay valid). */
const NOT_STATE = new Set(['fernet-keys', 'credential-keys', 'policy', 'state']);

const MAGIC = 'stratus-snapshot/1\n';

export class StateError extends Error {}

export class CloudState {
  constructor(
    private dataDir: string,
    private databases: Databases,
    private database: string,
  ) {}

  /** Where the state captured at start lives. */
  get freshDir() {
    return path.join(this.dataDir, 'state', 'fresh');
  }

  private check() {
    if (/^postgres(ql)?:\/\//.test(this.database))
      throw new StateError('reset and snapshots need the SQLite database (not PostgreSQL)');
  }

  private fileDirs(): string[] {
    return fs
      .readdirSync(this.dataDir, { withFileTypes: true })
      .filter((e) => e.isDirectory() && !NOT_STATE.has(e.name) && !e.name.startsWith('.'))
      .map((e) => e.name);
  }

  /** Copies every database and the services' files into `dir` (emptied first). */
  async capture(dir = this.freshDir): Promise<void> {
    this.check();
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(path.join(dir, 'db'), { recursive: true });
    for (const [name, db] of this.databases)
      await sql`VACUUM INTO ${path.join(dir, 'db', `${name}.sqlite`)}`.execute(db);
    for (const d of this.fileDirs())
      fs.cpSync(path.join(this.dataDir, d), path.join(dir, 'files', d), { recursive: true });
  }

  /** Puts the state captured in `dir` back into the running cloud. */
  async restore(dir = this.freshDir): Promise<void> {
    this.check();
    if (!fs.existsSync(path.join(dir, 'db'))) throw new StateError(`no captured state in ${dir}`);
    for (const [name, db] of this.databases) {
      const file = path.join(dir, 'db', `${name}.sqlite`);
      if (!fs.existsSync(file)) throw new StateError(`the captured state has no ${name} database`);
      await restoreDatabase(db, file);
    }
    for (const d of this.fileDirs()) fs.rmSync(path.join(this.dataDir, d), { recursive: true, force: true });
    const files = path.join(dir, 'files');
    if (fs.existsSync(files))
      for (const d of fs.readdirSync(files))
        fs.cpSync(path.join(files, d), path.join(this.dataDir, d), { recursive: true });
  }

  /** Writes the cloud's current state to `file`. */
  async save(file: string): Promise<{ bytes: number }> {
    const tmp = path.join(this.dataDir, 'state', `save-${process.pid}-${Date.now()}`);
    try {
      await this.capture(tmp);
      const packed = zlib.gzipSync(pack(tmp));
      fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
      fs.writeFileSync(file, packed);
      return { bytes: packed.length };
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }

  /** Loads the state saved in `file` into the running cloud. */
  async load(file: string): Promise<void> {
    if (!fs.existsSync(file)) throw new StateError(`${file} does not exist`);
    const tmp = path.join(this.dataDir, 'state', `load-${process.pid}-${Date.now()}`);
    try {
      let raw: Buffer;
      try {
        raw = zlib.gunzipSync(fs.readFileSync(file));
      } catch {
        throw new StateError(`${file} is not a Stratus snapshot`);
      }
      unpack(raw, tmp);
      await this.restore(tmp);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }
}

/** Replaces every table's rows with the copy's, in one transaction (foreign keys off meanwhile). */
async function restoreDatabase(db: Kysely<unknown>, file: string) {
  await sql`ATTACH DATABASE ${file} AS snap`.execute(db);
  try {
    await sql`PRAGMA foreign_keys = OFF`.execute(db);
    const tables = await sql<{ name: string }>`SELECT name FROM main.sqlite_master WHERE type = 'table'`.execute(db);
    const snapTables = new Set(
      (await sql<{ name: string }>`SELECT name FROM snap.sqlite_master WHERE type = 'table'`.execute(db)).rows.map(
        (r) => r.name,
      ),
    );
    await db.transaction().execute(async (trx) => {
      for (const { name } of tables.rows) {
        if (name.startsWith('sqlite_') && name !== 'sqlite_sequence') continue;
        const t = sql.id('main', name);
        await sql`DELETE FROM ${t}`.execute(trx);
        if (snapTables.has(name)) await sql`INSERT INTO ${t} SELECT * FROM ${sql.id('snap', name)}`.execute(trx);
      }
    });
  } finally {
    await sql`PRAGMA foreign_keys = ON`.execute(db);
    await sql`DETACH DATABASE snap`.execute(db);
  }
}

/** A directory as one buffer: the magic, a JSON list of [relative path, size], the files' bytes. */
function pack(dir: string): Buffer {
  const entries: Array<[string, number]> = [];
  const datas: Buffer[] = [];
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(r);
      else if (e.isFile()) {
        const b = fs.readFileSync(path.join(dir, r));
        entries.push([r, b.length]);
        datas.push(b);
      }
    }
  };
  walk('');
  const head = Buffer.from(`${MAGIC}${JSON.stringify(entries)}\n`);
  return Buffer.concat([head, ...datas]);
}

function unpack(raw: Buffer, dir: string) {
  if (raw.subarray(0, MAGIC.length).toString() !== MAGIC) throw new StateError('not a Stratus snapshot');
  const nl = raw.indexOf(10, MAGIC.length);
  let entries: Array<[string, number]>;
  try {
    entries = JSON.parse(raw.subarray(MAGIC.length, nl).toString()) as Array<[string, number]>;
  } catch {
    throw new StateError('a damaged Stratus snapshot');
  }
  let off = nl + 1;
  for (const [rel, size] of entries) {
    const target = path.resolve(dir, rel);
    if (!target.startsWith(path.resolve(dir) + path.sep) || off + size > raw.length)
      throw new StateError('a damaged Stratus snapshot');
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, raw.subarray(off, off + size));
    off += size;
  }
}
