// Report writer: markdown tables printed to the terminal and written to
// bench/reports/<area>-<YYYY-MM-DD>.md (one file per area and day; a later run
// the same day replaces it). Reports are committed, so they stay small: tables
// and a few lines of context, never raw latencies.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runLoad } from './load.ts';

export const REPORTS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'reports');

export type Cell = string | number | undefined | null;

export function fmt(v: number | undefined | null, digits?: number): string {
  if (v === undefined || v === null || Number.isNaN(v)) return '–';
  if (!Number.isFinite(v)) return '∞';
  const d = digits ?? (Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : Math.abs(v) >= 1 ? 2 : 3);
  return v.toFixed(d);
}

/** One row of a side-by-side table: the request, the concurrency, req/s and p50 of the upstream service
 * and of Stratus, and Stratus's req/s as a multiple of the upstream's. */
export function sideBySideRow(
  what: string,
  c: number,
  upstream: { rps: number; p50: number },
  stratus: { rps: number; p50: number },
): Array<string | number> {
  return [
    what,
    c,
    fmt(upstream.rps),
    fmt(upstream.p50, 2),
    fmt(stratus.rps),
    fmt(stratus.p50, 2),
    `${fmt(stratus.rps / upstream.rps, 1)}×`,
  ];
}

/** The machine's limit rows of a side-by-side table: the bare node:http server (bench/lib/bare-server.ts,
 * already listening on `port`) at 1 and 8 clients. */
export async function bareLimitRows(port: number, seconds: number): Promise<Array<Array<string | number>>> {
  const rows: Array<Array<string | number>> = [];
  for (const c of [1, 8]) {
    const r = await runLoad({
      origin: `http://127.0.0.1:${port}`,
      request: { path: '/' },
      concurrency: c,
      durationMs: seconds * 1000,
      warmupRequests: 20,
    });
    rows.push(['bare node:http, ~1 KiB JSON', c, fmt(r.rps), fmt(r.p50, 2)]);
  }
  return rows;
}

export function table(headers: string[], rows: Cell[][], align?: ('l' | 'r')[]): string {
  const cells = rows.map((r) => r.map((c) => (c === undefined || c === null ? '' : String(c))));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const al = align ?? headers.map((_, i) => (i === 0 ? 'l' : 'r'));
  const pad = (s: string, i: number) => (al[i] === 'r' ? s.padStart(widths[i]!) : s.padEnd(widths[i]!));
  const line = (r: string[]) => `| ${r.map((c, i) => pad(c, i)).join(' | ')} |`;
  const sep = `|${widths.map((w, i) => (al[i] === 'r' ? '-'.repeat(w + 1) + ':' : ':' + '-'.repeat(w + 1))).join('|')}|`;
  return [line(headers), sep, ...cells.map(line)].join('\n');
}

export class Report {
  private parts: string[] = [];
  constructor(
    public readonly area: string,
    public readonly title: string,
  ) {}

  heading(text: string): this {
    this.parts.push(`## ${text}`);
    return this;
  }
  text(text: string): this {
    this.parts.push(text);
    return this;
  }
  table(headers: string[], rows: Cell[][], align?: ('l' | 'r')[]): this {
    this.parts.push(table(headers, rows, align));
    return this;
  }
  bullets(items: string[]): this {
    this.parts.push(items.map((i) => `- ${i}`).join('\n'));
    return this;
  }

  render(): string {
    return [`# ${this.title}`, ...this.parts].join('\n\n') + '\n';
  }

  /** Print to stdout and write bench/reports/<area>-<date>[-<suffix>].md; returns the path written. */
  write(opts: { print?: boolean; file?: boolean; suffix?: string } = {}): string | undefined {
    const md = this.render();
    if (opts.print ?? true) process.stdout.write('\n' + md);
    if (opts.file === false) return undefined;
    fs.mkdirSync(REPORTS_DIR, { recursive: true });
    const file = path.join(REPORTS_DIR, `${this.area}-${today()}${opts.suffix ? `-${opts.suffix}` : ''}.md`);
    const tmp = file + '.tmp';
    fs.writeFileSync(tmp, md);
    fs.renameSync(tmp, file);
    return file;
  }
}

export function today(): string {
  return new Date().toISOString().slice(0, 10);
}

/** A line describing the machine, for the top of a report. */
export function machineLine(): string {
  const cpus = os.cpus();
  const model = cpus[0]?.model.replace(/\s+/g, ' ').trim() ?? 'unknown CPU';
  return `${model}, ${cpus.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Linux ${os.release()}, Node ${process.version}`;
}
