// The write path's group commit (core/db.ts groupCommit): concurrent transactions on SQLite share
// one commit, each in its own savepoint, so one that fails leaves the others whole.
import type { Generated } from 'kysely';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { groupCommit, openDatabase } from '../src/core/db.ts';
import { checkpointsClosed } from '../src/core/sqlite-checkpoint.ts';

describe('group commit (SQLite)', () => {
  it('runs concurrent transactions together; a failing one is rolled back alone', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'groupcommit-'));
    const db = await openDatabase<{ t: { id: Generated<number>; v: string | null } }>({
      url: `sqlite:${dir}`,
      dataDir: dir,
      service: 'gc',
    });
    try {
      await db.schema
        .createTable('t')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('v', 'text')
        .execute();
      const run = groupCommit(db);
      const results = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) =>
          run(async (tx) => {
            await tx.insertInto('t').values({ id: i, v: 'a' }).execute();
            if (i % 5 === 3) throw new Error(`no ${i}`);
            await tx.updateTable('t').set({ v: 'b' }).where('id', '=', i).execute();
            return i;
          }),
        ),
      );
      assert.deepEqual(
        results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason.message),
        ['no 3', 'no 8', 'no 13', 'no 18'],
      );
      const rows = await db.selectFrom('t').selectAll().orderBy('id').execute();
      assert.deepEqual(
        rows.map((r) => r.id),
        [0, 1, 2, 4, 5, 6, 7, 9, 10, 11, 12, 14, 15, 16, 17, 19],
      );
      assert.ok(rows.every((r) => r.v === 'b'));
      // A unique violation fails its own transaction only.
      const again = await Promise.allSettled([
        run((tx) => tx.insertInto('t').values({ id: 100, v: 'x' }).execute()),
        run((tx) => tx.insertInto('t').values({ id: 0, v: 'dup' }).execute()),
      ]);
      assert.deepEqual(
        again.map((r) => r.status),
        ['fulfilled', 'rejected'],
      );
      assert.equal((await db.selectFrom('t').select('v').where('id', '=', 100).executeTakeFirst())?.v, 'x');
    } finally {
      await db.destroy();
      // The checkpoint worker's connection closes after ours (core/sqlite-checkpoint.ts).
      await checkpointsClosed();
      fs.rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    }
  });
});
