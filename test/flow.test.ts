// The linear flow with revert: tasks run in order, a failure reverts what was done in reverse
// (the failing task included) and rethrows; a failing revert does not stop the others.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LinearFlow } from '../src/core/flow.ts';

describe('linear flow', () => {
  it('runs tasks in order and shares the store', async () => {
    const flow = new LinearFlow<{ log: string[]; n: number }>('t')
      .add({
        name: 'a',
        execute: (s) => {
          s.log.push('a');
          s.n = 1;
        },
      })
      .add({
        name: 'b',
        execute: async (s) => {
          s.log.push(`b${s.n}`);
        },
      });
    const s = await flow.run({ log: [], n: 0 });
    assert.deepEqual(s.log, ['a', 'b1']);
  });

  it('reverts completed tasks in reverse order, the failing one included, and rethrows', async () => {
    const log: string[] = [];
    const revertErrors: string[] = [];
    const boom = new Error('boom');
    const flow = new LinearFlow<object>('t', { onRevertError: (t) => revertErrors.push(t) })
      .add({
        name: 'a',
        execute: () => {
          log.push('a');
        },
        revert: (_s, e) => {
          assert.equal(e, boom);
          log.push('-a');
        },
      })
      .add({
        name: 'b',
        execute: () => {
          log.push('b');
        },
        revert: () => {
          throw new Error('revert failed');
        },
      })
      .add({
        name: 'c',
        execute: () => {
          log.push('c');
          throw boom;
        },
        revert: () => {
          log.push('-c');
        },
      })
      .add({
        name: 'd',
        execute: () => {
          log.push('d');
        },
        revert: () => {
          log.push('-d');
        },
      });
    await assert.rejects(flow.run({}), (e) => e === boom);
    assert.deepEqual(log, ['a', 'b', 'c', '-c', '-a']);
    assert.deepEqual(revertErrors, ['b']);
  });
});
