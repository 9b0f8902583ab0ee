// The report of one conformance run: JSON for tools, Markdown for people.
import fs from 'node:fs';
import path from 'node:path';
import { summarizeResult, type TestResult } from './subunit.ts';

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

export interface ReportEntry {
  id: string;
  rawId: string;
  status: string;
  seconds?: number;
  /** Skip reason, or the exception that ended the traceback. */
  summary: string;
  traceback?: string;
}

export interface Report {
  label: string;
  regex: string;
  stratusUrl: string;
  tempestVersion: string;
  startedAt: string;
  wallSeconds: number;
  workspace: string;
  counts: { total: number; passed: number; failed: number; skipped: number };
  /** Failures grouped by their cause (the exception line with ids and numbers masked). */
  causes: Array<{ cause: string; count: number; tests: string[] }>;
  passed: string[];
  failed: ReportEntry[];
  skipped: ReportEntry[];
  regression?: RunInfo['regression'];
}

/** Masks what differs between two instances of the same failure: uuids, hex ids, numbers, quoted names. */
export function causeKey(summary: string): string {
  return summary
    .replace(/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, '<uuid>')
    .replace(/\b[0-9a-f]{32}\b/gi, '<id>')
    .replace(/\b0x[0-9a-f]+\b/gi, '<addr>')
    .replace(/(tempest|test)[-_][\w-]*?-\d+\b/g, '<name>')
    .replace(/\b\d+(\.\d+)?\b/g, 'N')
    .replace(/\s+/g, ' ')
    .slice(0, 240);
}

export function buildReport(info: RunInfo, results: TestResult[]): Report {
  const passed = results.filter((r) => r.outcome === 'pass' && !r.fixtureOf).map((r) => r.id);
  const entry = (r: TestResult): ReportEntry => {
    const e: ReportEntry = { id: r.id, rawId: r.rawId, status: r.status, summary: summarizeResult(r) };
    if (r.seconds !== undefined) e.seconds = r.seconds;
    if (r.details.traceback) e.traceback = r.details.traceback;
    return e;
  };
  const failed = results.filter((r) => r.outcome === 'fail').map(entry);
  const skipped = results.filter((r) => r.outcome === 'skip').map(entry);
  const groups = new Map<string, string[]>();
  for (const f of failed) {
    const k = causeKey(f.summary);
    groups.set(k, [...(groups.get(k) ?? []), f.id]);
  }
  const causes = [...groups].map(([cause, tests]) => ({ cause, count: tests.length, tests })).sort((a, b) => b.count - a.count || a.cause.localeCompare(b.cause));
  const report: Report = {
    label: info.label,
    regex: info.regex,
    stratusUrl: info.stratusUrl,
    tempestVersion: info.tempestVersion,
    startedAt: info.startedAt.toISOString(),
    wallSeconds: Math.round(info.wallSeconds * 10) / 10,
    workspace: info.workspace,
    counts: { total: passed.length + failed.length + skipped.length, passed: passed.length, failed: failed.length, skipped: skipped.length },
    causes,
    passed,
    failed,
    skipped,
  };
  if (info.regression) report.regression = info.regression;
  return report;
}

/** The first lines of a traceback and its last ones (where the exception is), at most `max` lines. */
export function tracebackExcerpt(tb: string, max = 24): string {
  const lines = tb.replace(/\r/g, '').split('\n').filter((l) => l.trim() !== '');
  if (lines.length <= max) return lines.join('\n');
  const head = lines.slice(0, 6);
  const tail = lines.slice(lines.length - (max - 7));
  return [...head, `    … ${lines.length - head.length - tail.length} lines …`, ...tail].join('\n');
}

export function renderMarkdown(r: Report): string {
  const out: string[] = [];
  const c = r.counts;
  out.push(`# Conformance: ${r.label}`, '');
  out.push(`- selection: \`${r.regex}\``);
  out.push(`- started: ${r.startedAt}, wall time ${r.wallSeconds} s`);
  out.push(`- cloud: ${r.stratusUrl}; tempest ${r.tempestVersion}`);
  out.push(`- workspace: \`${r.workspace}\` (tempest.conf in etc/, the full log in logs/tempest.log)`, '');
  out.push(`| total | passed | failed | skipped |`, `|---|---|---|---|`, `| ${c.total} | ${c.passed} | ${c.failed} | ${c.skipped} |`, '');
  if (r.regression) {
    out.push(`## Regression against conformance/passing.txt`, '', `${r.regression.passed} passed, ${r.regression.failed.length} failed`, '');
    for (const f of r.regression.failed) out.push(`- \`${f.id}\`: ${f.why}`);
    out.push('');
  }
  if (r.causes.length) {
    out.push('## Failures by cause', '');
    for (const g of r.causes) {
      out.push(`### ${g.count} × ${g.cause.replace(/\|/g, '\\|')}`, '');
      for (const t of g.tests) out.push(`- \`${t}\``);
      out.push('');
    }
    out.push('## Failures', '');
    for (const f of r.failed) {
      out.push(`### \`${f.id}\``, '', `${f.status}: ${f.summary}`, '');
      if (f.traceback) out.push('```', tracebackExcerpt(f.traceback), '```', '');
    }
  }
  if (r.skipped.length) {
    out.push('## Skipped', '');
    for (const s of r.skipped) out.push(`- \`${s.id}\`: ${s.summary.replace(/\s+/g, ' ')}`);
    out.push('');
  }
  if (r.passed.length) {
    out.push('## Passed', '');
    for (const p of r.passed) out.push(`- \`${p}\``);
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
