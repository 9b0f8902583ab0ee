// The report of one conformance run: JSON for tools, Markdown for people.
import fs from 'node:fs';
import path from 'node:path';
import {
  failingRequest,
  fixtureCaller,
  splitTestId,
  summarizeResult,
  type Outcome,
  type TestResult,
} from './subunit.ts';

/** One test's verdict; tests whose class fixture failed or skipped get that fixture's verdict. */
export interface TestEntry {
  id: string;
  rawId: string;
  outcome: Outcome;
  /** The subunit status, or `none` for a listed test that never reported. */
  status: string;
  /** Skip reason, or the exception that ended the traceback. */
  summary: string;
  /** The failing call (`POST /identity/v3/credentials → 404`), when tempest's REST client raised. */
  request?: string;
  /** The class fixture (`setUpClass (pkg.Class)`) whose result this test inherits. */
  via?: string;
  seconds?: number;
  traceback?: string;
}

/** tempest.log's request lines by caller, for class fixtures (see requestLinesByCaller). */
export type CallerLogs = Map<string, string>;

function entryOf(r: TestResult, logs?: CallerLogs): TestEntry {
  const e: TestEntry = { id: r.id, rawId: r.rawId, outcome: r.outcome, status: r.status, summary: summarizeResult(r) };
  const caller = r.fixtureOf ? fixtureCaller(r) : undefined;
  const req = failingRequest(r, (caller && logs?.get(caller)) || '');
  if (req) e.request = req;
  if (r.seconds !== undefined) e.seconds = Math.round(r.seconds * 1000) / 1000;
  if (r.outcome === 'fail' && r.details.traceback) e.traceback = r.details.traceback;
  return e;
}

/** `pkg.module.Class.test` → `pkg.module`. */
const moduleOf = (id: string) => id.split('.').slice(0, -2).join('.');

/**
 * One entry per test. `listed` (what the selection covers, from `stestr list`) adds the tests that
 * never reported: those under a failed or skipped setUpClass take its verdict, so do those of a
 * module that reported nothing but skips; others fail.
 */
export function perTestEntries(
  results: TestResult[],
  listed: string[] = [],
  logs?: CallerLogs,
): { tests: TestEntry[]; fixtures: TestEntry[] } {
  const fixtures = results.filter((r) => r.fixtureOf);
  const fixtureEntries = new Map(fixtures.map((f) => [f.id, entryOf(f, logs)]));
  const tests = new Map<string, TestEntry>();
  for (const r of results) if (!r.fixtureOf) tests.set(r.id, entryOf(r));
  for (const rawId of listed) {
    const { id } = splitTestId(rawId);
    if (tests.has(id)) continue;
    const fx = fixtures.find((f) => f.outcome !== 'pass' && /^set[Uu]p/.test(f.id) && id.startsWith(`${f.fixtureOf}.`));
    if (fx) {
      const fe = fixtureEntries.get(fx.id)!;
      const e: TestEntry = { id, rawId, outcome: fe.outcome, status: fe.status, summary: fe.summary, via: fx.id };
      if (fe.request) e.request = fe.request;
      tests.set(id, e);
      continue;
    }
    // A module that skips as a whole may report the skip once (gabbi suites do): when everything
    // its module reported is a skip, the silent tests share it.
    const mod = moduleOf(id);
    const siblings = results.filter((r) => !r.fixtureOf && moduleOf(r.id) === mod);
    if (siblings.length && siblings.every((r) => r.outcome === 'skip')) {
      tests.set(id, {
        id,
        rawId,
        outcome: 'skip',
        status: 'skip',
        summary: summarizeResult(siblings[0]!),
        via: siblings[0]!.id,
      });
    } else {
      tests.set(id, {
        id,
        rawId,
        outcome: 'fail',
        status: 'none',
        summary: 'no result: listed for the run but never reported (worker crash?)',
      });
    }
  }
  const byId = (a: TestEntry, b: TestEntry) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  return { tests: [...tests.values()].sort(byId), fixtures: [...fixtureEntries.values()].sort(byId) };
}

export interface RunInfo {
  label: string;
  regex: string;
  stratusUrl: string;
  tempestVersion: string;
  startedAt: Date;
  wallSeconds: number;
  /** Path of the tempest workspace, where tempest.log and the stestr repository are. */
  workspace: string;
  /** Set in --regression mode. */
  regression?: { passed: number; failed: Array<{ id: string; why: string }> };
}

export interface Report {
  label: string;
  regex: string;
  stratusUrl: string;
  tempestVersion: string;
  startedAt: string;
  wallSeconds: number;
  workspace: string;
  /** Per test: a test under a failed/skipped setUpClass counts as failed/skipped. */
  counts: { total: number; passed: number; failed: number; skipped: number; classErrors: number };
  /** Failed tests grouped by cause: the exception (ids and numbers masked) and the failing call. */
  causes: Array<{ cause: string; count: number; tests: string[] }>;
  passed: string[];
  failed: TestEntry[];
  skipped: TestEntry[];
  /** Class- and module-level fixtures (setUpClass, tearDownClass, ...) that failed or skipped. */
  classErrors: TestEntry[];
  regression?: RunInfo['regression'];
}

/**
 * The failure in short, with what differs between two instances of it masked (uuids, hex ids,
 * numbers, generated names): `NotFound: The resource could not be found.` rather than tempest's
 * `tempest.lib.exceptions.NotFound: Object not found Details: {'code': 404, ...}`.
 */
export function causeKey(summary: string): string {
  const rest = /^tempest\.lib\.exceptions\.(\w+): .*?Details: (.*)$/.exec(summary);
  if (rest) {
    const msg = /['"]message['"]: (['"])(.*?)\1[,}]/.exec(rest[2]!)?.[2] ?? rest[2]!;
    summary = `${rest[1]}: ${msg}`;
  }
  return summary
    .replace(/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, '<uuid>')
    .replace(/\b[0-9a-f]{32}\b/gi, '<id>')
    .replace(/\b0x[0-9a-f]+\b/gi, '<addr>')
    .replace(/\b(tempest|test)[-_][\w-]*?-\d+\b/gi, '<name>')
    .replace(/\b\d+(\.\d+)?\b/g, 'N')
    .replace(/\s+/g, ' ')
    .slice(0, 300);
}

export function buildReport(info: RunInfo, results: TestResult[], listed: string[] = [], logs?: CallerLogs): Report {
  const { tests, fixtures } = perTestEntries(results, listed, logs);
  const passed = tests.filter((t) => t.outcome === 'pass').map((t) => t.id);
  const failed = tests.filter((t) => t.outcome === 'fail');
  const skipped = tests.filter((t) => t.outcome === 'skip');
  const classErrors = fixtures.filter((f) => f.outcome !== 'pass');
  const groups = new Map<string, string[]>();
  for (const f of failed) {
    const k = (f.request ? `${f.request}: ` : '') + causeKey(f.summary);
    groups.set(k, [...(groups.get(k) ?? []), f.id]);
  }
  const causes = [...groups]
    .map(([cause, ids]) => ({ cause, count: ids.length, tests: ids }))
    .sort((a, b) => b.count - a.count || a.cause.localeCompare(b.cause));
  const report: Report = {
    label: info.label,
    regex: info.regex,
    stratusUrl: info.stratusUrl,
    tempestVersion: info.tempestVersion,
    startedAt: info.startedAt.toISOString(),
    wallSeconds: Math.round(info.wallSeconds * 10) / 10,
    workspace: info.workspace,
    counts: {
      total: tests.length,
      passed: passed.length,
      failed: failed.length,
      skipped: skipped.length,
      classErrors: classErrors.filter((f) => f.outcome === 'fail').length,
    },
    causes,
    passed,
    failed,
    skipped,
    classErrors,
  };
  if (info.regression) report.regression = info.regression;
  return report;
}

/** The first lines of a traceback and its last ones (where the exception is), at most `max` lines. */
export function tracebackExcerpt(tb: string, max = 24): string {
  const lines = tb
    .replace(/\r/g, '')
    .split('\n')
    .filter((l) => l.trim() !== '' && !/^\s*\^+\s*$/.test(l));
  if (lines.length <= max) return lines.join('\n');
  const head = lines.slice(0, 6);
  const tail = lines.slice(lines.length - (max - 7));
  return [...head, `    … ${lines.length - head.length - tail.length} lines …`, ...tail].join('\n');
}

const code = (s: string) => `\`${s.replace(/`/g, "'")}\``;
const oneLine = (s: string) => s.replace(/\s+/g, ' ').trim();

export function renderMarkdown(r: Report): string {
  const out: string[] = [];
  const c = r.counts;
  out.push(`# Conformance: ${r.label}`, '');
  out.push(`- selection: ${code(r.regex)}`);
  out.push(`- started: ${r.startedAt}, wall time ${r.wallSeconds} s`);
  out.push(`- cloud: ${r.stratusUrl}; tempest ${r.tempestVersion}`);
  out.push(
    `- workspace: ${code(r.workspace)} (tempest.conf in etc/, tempest's log in logs/tempest.log, console in run.log)`,
    '',
  );
  out.push(
    '| tests | passed | failed | skipped | class-level errors |',
    '|---|---|---|---|---|',
    `| ${c.total} | ${c.passed} | ${c.failed} | ${c.skipped} | ${c.classErrors} |`,
    '',
  );
  out.push('A test whose setUpClass failed or skipped counts as failed or skipped.', '');
  if (r.regression) {
    out.push(
      '## Regression against conformance/passing.txt',
      '',
      `${r.regression.passed} passed, ${r.regression.failed.length} failed`,
      '',
    );
    for (const f of r.regression.failed) out.push(`- ${code(f.id)}: ${oneLine(f.why)}`);
    out.push('');
  }
  if (r.causes.length) {
    out.push('## Failures by cause', '');
    for (const g of r.causes) {
      out.push(`### ${g.count} × ${oneLine(g.cause)}`, '');
      for (const t of g.tests) out.push(`- ${code(t)}`);
      out.push('');
    }
  }
  const testsVia = (f: TestEntry) => r.failed.concat(r.skipped).filter((t) => t.via === f.id).length;
  const classFailures = r.classErrors.filter((f) => f.outcome === 'fail');
  if (classFailures.length) {
    out.push('## Class-level errors', '');
    for (const f of classFailures) {
      const n = testsVia(f);
      out.push(
        `### ${code(f.id)}`,
        '',
        `${f.status} (${n} test${n === 1 ? '' : 's'}): ${oneLine(f.summary)}${f.request ? ` [${f.request}]` : ''}`,
        '',
      );
      if (f.traceback) out.push('```', tracebackExcerpt(f.traceback), '```', '');
    }
  }
  const classSkips = r.classErrors.filter((f) => f.outcome === 'skip');
  if (classSkips.length) {
    out.push('## Skipped classes', '');
    for (const f of classSkips) out.push(`- ${code(f.id)} (${testsVia(f)} tests): ${oneLine(f.summary)}`);
    out.push('');
  }
  const own = r.failed.filter((f) => !f.via);
  if (own.length) {
    out.push('## Failures', '');
    for (const f of own) {
      out.push(`### ${code(f.id)}`, '', `${f.status}: ${oneLine(f.summary)}${f.request ? ` [${f.request}]` : ''}`, '');
      if (f.traceback) out.push('```', tracebackExcerpt(f.traceback), '```', '');
    }
  }
  if (r.skipped.length) {
    out.push('## Skipped', '');
    for (const s of r.skipped) out.push(`- ${code(s.id)}: ${oneLine(s.summary)}`);
    out.push('');
  }
  if (r.passed.length) {
    out.push('## Passed', '');
    for (const p of r.passed) out.push(`- ${code(p)}`);
    out.push('');
  }
  return out.join('\n');
}

/** Writes <dir>/<label>-<timestamp>.json and .md; returns both paths. */
export function writeReport(dir: string, r: Report): { json: string; md: string } {
  fs.mkdirSync(dir, { recursive: true });
  const stamp = r.startedAt.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const base = path.join(dir, `${r.label}-${stamp}`);
  fs.writeFileSync(`${base}.json`, JSON.stringify(r, null, 2) + '\n');
  fs.writeFileSync(`${base}.md`, renderMarkdown(r));
  return { json: `${base}.json`, md: `${base}.md` };
}
