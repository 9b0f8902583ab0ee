// SQLite checkpoints run on a worker thread: the services' connections write to the log, and
// the pages reach the database file without a commit on the main thread doing it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Generated, sql } from 'kysely';
import { openDatabase } from '../src/core/db.ts';
import { until } from './lib/cloud.ts';

describe('SQLite checkpoints', () => {
  it('fold the log into the database file from the worker thread', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-ckpt-'));
    const db = await openDatabase<{ t: { id: Generated<number>; body: string } }>({
      url: 'sqlite',
      dataDir: dir,
      service: 'ckpt',
    });
    try {
      await sql`create table t (id integer primary key, body text)`.execute(db);
      const file = path.join(dir, 'ckpt.sqlite');
      const start = fs.statSync(file).size;
      // About 2,500 pages: more than SQLite's default autocheckpoint (1,000), less than the fallback (20,000).
      const body = 'x'.repeat(4000);
      for (let i = 0; i < 2500; i++) await db.insertInto('t').values({ body }).execute();
      assert.ok(fs.statSync(`${file}-wal`).size > 8e6, 'the commits went to the log');
      await until('the database file to take the pages', async () => fs.statSync(file).size > start + 8e6, 10_000);
    } finally {
      await db.destroy();
      fs.rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    }
  });
});
