// A small closed-loop HTTP load generator: C workers over loopback, each sending
// its next request as soon as the previous answer has been read. Every latency is
// recorded. A run is always bounded: it stops after `maxRequests` requests or
// `durationMs` milliseconds, whichever comes first (one of them is always set).
import http from 'node:http';

export interface RequestSpec {
  method?: string;
  /** Path (and query) on the target, e.g. /v3/auth/tokens. */
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

export interface LoadOptions {
  /** Origin of the target, e.g. http://127.0.0.1:5000 (loopback only). */
  origin: string;
  /** The request to send, or a function building one per request. */
  request: RequestSpec | ((i: number) => RequestSpec);
  concurrency: number;
  /** Stop after this long (default 5000 ms if maxRequests is not given). */
  durationMs?: number;
  /** Stop after this many requests have been sent. */
  maxRequests?: number;
  /** A hard ceiling even for count-bounded runs (default 120 s). */
  maxDurationMs?: number;
  /** Unrecorded warm-up before the measured run: a time or a request count. */
  warmupMs?: number;
  warmupRequests?: number;
  /** Expected status codes; anything else counts as an error (default 2xx). */
  expectStatus?: number[];
  /** Reuse connections (default true). When false every request carries `Connection: close`. */
  keepAlive?: boolean;
  /** Per-request timeout (default 30 s). */
  timeoutMs?: number;
}

export interface LoadResult {
  concurrency: number;
  /** Requests answered with an expected status. */
  ok: number;
  errors: number;
  firstError?: string;
  /** Wall time of the measured run in ms. */
  elapsedMs: number;
  /** Successful requests per second. */
  rps: number;
  /** Latency percentiles of the successful requests, in ms. */
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
  /** Why the run ended. */
  stoppedBy: 'count' | 'time';
}

export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  // Nearest-rank.
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

interface Outcome {
  status: number;
  error?: string;
}

function send(
  agent: http.Agent | false,
  origin: URL,
  spec: RequestSpec,
  keepAlive: boolean,
  timeoutMs: number,
): Promise<Outcome> {
  return new Promise((resolve) => {
    const headers: Record<string, string | number> = { ...(spec.headers ?? {}) };
    if (spec.body !== undefined) headers['Content-Length'] = Buffer.byteLength(spec.body);
    if (!keepAlive) headers['Connection'] = 'close';
    const req = http.request(
      {
        agent,
        host: origin.hostname,
        port: origin.port,
        method: spec.method ?? 'GET',
        path: spec.path,
        headers,
      },
      (res) => {
        res.on('data', () => {});
        res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
        res.on('error', (e) => resolve({ status: 0, error: e.message }));
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on('error', (e) => resolve({ status: 0, error: e.message }));
    if (spec.body !== undefined) req.end(spec.body);
    else req.end();
  });
}

interface Phase {
  durationMs?: number;
  maxRequests?: number;
  record: boolean;
}

async function phase(opts: LoadOptions, agent: http.Agent | false, p: Phase): Promise<LoadResult> {
  const origin = new URL(opts.origin);
  const keepAlive = opts.keepAlive ?? true;
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const expect = opts.expectStatus;
  const isOk = (s: number) => (expect ? expect.includes(s) : s >= 200 && s < 300);
  const build = typeof opts.request === 'function' ? opts.request : () => opts.request as RequestSpec;
  const hardMs = Math.min(p.durationMs ?? Infinity, opts.maxDurationMs ?? 120_000);

  let lat = new Float64Array(p.maxRequests ?? 4096);
  let n = 0;
  let sent = 0;
  let errors = 0;
  let firstError: string | undefined;
  let stoppedBy: 'count' | 'time' = 'time';
  const t0 = process.hrtime.bigint();
  const deadline = t0 + BigInt(Math.round(hardMs * 1e6));
  let tEnd = t0;

  const worker = async () => {
    for (;;) {
      if (p.maxRequests !== undefined && sent >= p.maxRequests) {
        stoppedBy = 'count';
        return;
      }
      const now = process.hrtime.bigint();
      if (now >= deadline) {
        stoppedBy = 'time';
        return;
      }
      const i = sent++;
      const start = process.hrtime.bigint();
      const out = await send(agent, origin, build(i), keepAlive, timeoutMs);
      const end = process.hrtime.bigint();
      if (end > tEnd) tEnd = end;
      if (isOk(out.status)) {
        if (p.record) {
          if (n === lat.length) {
            const g = new Float64Array(lat.length * 2);
            g.set(lat);
            lat = g;
          }
          lat[n] = Number(end - start) / 1e6;
        }
        n++;
      } else {
        errors++;
        firstError ??= out.error ?? `HTTP ${out.status}`;
        // A target that only errors is not worth hammering: back off a little.
        if (errors > 100 && errors > n) await new Promise((r) => setTimeout(r, 10));
      }
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, worker));

  const elapsedMs = Number(tEnd - t0) / 1e6;
  const sorted = lat.subarray(0, p.record ? n : 0).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    concurrency: opts.concurrency,
    ok: n,
    errors,
    firstError,
    elapsedMs,
    rps: elapsedMs > 0 ? (n * 1000) / elapsedMs : 0,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1]! : NaN,
    mean: sorted.length ? sum / sorted.length : NaN,
    stoppedBy,
  };
}

/** Run one bounded measurement (after an optional warm-up) and return its statistics. */
export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const host = new URL(opts.origin).hostname;
  if (!['127.0.0.1', 'localhost', '::1', '[::1]'].includes(host)) {
    throw new Error(`refusing to load a non-loopback target: ${opts.origin}`);
  }
  if (!(opts.concurrency >= 1)) throw new Error('concurrency must be >= 1');
  const keepAlive = opts.keepAlive ?? true;
  // Without keep-alive every request gets its own connection (agent: false). A pooling
  // agent would hand a queued request a socket whose answer said `Connection: close`
  // when the previous socket is not yet destroyed, and the request dies with
  // "socket hang up".
  const agent = keepAlive
    ? new http.Agent({ keepAlive, maxSockets: opts.concurrency, maxFreeSockets: opts.concurrency })
    : false;
  try {
    if (opts.warmupMs || opts.warmupRequests) {
      await phase(opts, agent, { durationMs: opts.warmupMs, maxRequests: opts.warmupRequests, record: false });
    }
    const durationMs = opts.durationMs ?? (opts.maxRequests === undefined ? 5000 : undefined);
    return await phase(opts, agent, { durationMs, maxRequests: opts.maxRequests, record: true });
  } finally {
    if (agent) agent.destroy();
  }
}

/** One request, body returned; for set-up steps (issuing a token, reading a version document). */
export function fetchOnce(
  url: string,
  spec: Omit<RequestSpec, 'path'> = {},
  timeoutMs = 10_000,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const headers: Record<string, string | number> = { ...(spec.headers ?? {}) };
    if (spec.body !== undefined) headers['Content-Length'] = Buffer.byteLength(spec.body);
    const req = http.request(
      {
        agent: false,
        host: u.hostname,
        port: u.port,
        method: spec.method ?? 'GET',
        path: u.pathname + u.search,
        headers,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`timeout after ${timeoutMs} ms: ${url}`)));
    req.on('error', reject);
    if (spec.body !== undefined) req.end(spec.body);
    else req.end();
  });
}
