// conformance/passing.txt: the tempest tests that once passed against Stratus and must keep passing.
// One bare test id a line (no `[id-…]` suffix), sorted, no duplicates; `#` starts a comment.
import fs from 'node:fs';
import type { TestEntry } from './report.ts';

export function readPassingList(file: string): string[] {
  if (!fs.existsSync(file)) return [];
  const ids = fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.replace(/#.*/, '').trim())
    .filter(Boolean);
  return [...new Set(ids)].sort();
}

/** Adds ids to the list file; returns the ids that were new. */
export function addToPassingList(file: string, ids: string[]): string[] {
  const current = new Set(readPassingList(file));
  const added = [...new Set(ids)].filter((id) => !current.has(id)).sort();
  const all = [...current, ...added].sort();
  fs.writeFileSync(file, all.length ? `${all.join('\n')}\n` : '');
  return added;
}

export function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * A regex that selects exactly this test: the id as a literal, followed by tempest's `[attrs]` suffix
 * or the end, so test_foo does not also select test_foo_bar.
 */
export function exactTestRegex(id: string): string {
  return `^${escapeRegex(id)}(\\[|$)`;
}

/** Contents of an include list (`tempest run --include-list`) running exactly these tests. */
export function includeListFor(ids: string[]): string {
  return ids.map(exactTestRegex).join('\n') + '\n';
}

export interface RegressionOutcome {
  passed: string[];
  /** Each kept test that did not pass, with why (a failure, a skip, or no result at all). */
  failed: Array<{ id: string; why: string }>;
}

/**
 * Judges a run against the kept list. A kept test that fails, skips, or never reports counts as
 * failed: it once passed, so anything else is a regression.
 */
export function judgeRegression(kept: string[], tests: TestEntry[]): RegressionOutcome {
  const byId = new Map(tests.map((t) => [t.id, t]));
  const out: RegressionOutcome = { passed: [], failed: [] };
  for (const id of kept) {
    const t = byId.get(id);
    if (t?.outcome === 'pass') out.passed.push(id);
    else if (!t) out.failed.push({ id, why: 'did not run (no such test, or no result)' });
    else {
      const what = t.outcome === 'skip' ? 'skipped' : 'failed';
      out.failed.push({
        id,
        why: `${what}${t.via ? ` in ${t.via}` : ''}: ${t.summary}${t.request ? ` [${t.request}]` : ''}`,
      });
    }
  }
  return out;
}
