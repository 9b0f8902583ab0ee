// Object-store benchmark: streaming PUT and GET of 1 MiB, 100 MiB and 2 GiB objects and
// small-object (1 KiB) PUT/GET rates on Stratus's Swift v1 API, side by side with the
// machine's limit (raw file copies; a bare node:http server streaming the same bytes
// into and out of files), with the Stratus process's peak RSS after each size.
//
//   npm run bench -- object [--seconds=5] [--quick] [--sizes=1M,100M,2G] [--only=limit,stratus] [--no-write] [--wait-quiet[=S]]
import { runLoad, type LoadOptions } from './lib/load.ts';
import {
  KiB,
  bareSmallLimits,
  keepAliveAgent,
  patternMd5,
  patternSlice,
  sizeLabel,
  timedGet,
  transfer,
  type SmallRow,
} from './lib/blob.ts';
import { BlobBench, Report, parseArgs, repsFor } from './lib/blob-bench.ts';
import { stopAll } from './lib/proc.ts';
import { fmt } from './lib/report.ts';

const SMALL = KiB;
const CONCURRENCY = [1, 16];
/** Requests of the count-bounded small-object cells, per concurrency. */
const SMALL_COUNT: Record<number, number> = { 1: 1000, 16: 5000 };

const unquote = (s: string | string[] | undefined) => (typeof s === 'string' ? s.replace(/^"|"$/g, '') : undefined);

async function cells(b: BlobBench, live: boolean): Promise<void> {
  const s = b.s;
  const base = live ? b.session!.endpoint('object-store')! : '';
  const auth = { 'X-Auth-Token': b.session?.token ?? '' };
  if (live) b.log(`object-store at ${base}`);
  const agent = keepAliveAgent();
  try {
    if (live) {
      const mk = await transfer(`${base}/bench-large`, { method: 'PUT', headers: auth, agent });
      if (mk.error || ![201, 202].includes(mk.status))
        throw new Error(`PUT container answered ${mk.error ?? `HTTP ${mk.status}: ${mk.body.slice(0, 300)}`}`);
    }

    let failedAt: number | undefined;
    for (const size of s.sizes) {
      if (failedAt !== undefined) {
        b.skipped.push(`object ${sizeLabel(size)}: PUT already failed at ${sizeLabel(failedAt)}`);
        continue;
      }
      if (await b.shouldSkip(size, 'object-store', s.minFreeForLargest)) continue;
      const reps = repsFor(size);
      const md5 = await patternMd5(size);
      const name = (i: number) => `${base}/bench-large/obj-${size}-${i}`;
      const bare = b.bareCells(size);
      if (!live) {
        await bare.end();
        continue;
      }
      const put = await b.cell(
        'PUT',
        'PUT',
        size,
        reps,
        async (i, signal) => {
          const t = await transfer(name(i), {
            method: 'PUT',
            upload: size,
            headers: { ...auth, 'Content-Type': 'application/octet-stream' },
            agent,
            signal,
            maxMs: s.maxTransferMs,
          });
          if (t.error) return { ms: t.ms, error: t.error };
          if (t.status !== 201) return { ms: t.ms, error: `HTTP ${t.status}: ${t.body.slice(0, 300)}` };
          const etag = unquote(t.headers.etag);
          if (etag !== md5) return { ms: t.ms, error: `ETag ${etag ?? '(none)'} is not the MD5 of the body (${md5})` };
          return { ms: t.ms };
        },
        { before: bare.put },
      );
      b.rssPoint(`PUT ${sizeLabel(size)}`, size);
      if (put.error) failedAt = size;
      if (put.ok === 0) {
        await bare.end();
        continue;
      }
      await b.cell(
        'GET',
        'GET',
        size,
        put.ok,
        async (i, signal) => {
          const t = await timedGet(name(i), { headers: auth, agent, signal, maxMs: s.maxTransferMs });
          if (t.error) return { ms: t.ms, error: `${t.error} (after ${t.received} bytes)` };
          if (t.status !== 200) return { ms: t.ms, error: `HTTP ${t.status}` };
          if (t.mismatchAt !== undefined)
            return { ms: t.ms, error: `body differs from what was PUT at byte ${t.mismatchAt}` };
          if (t.received !== size) return { ms: t.ms, error: `got ${t.received} bytes, PUT ${size}` };
          if (t.headers['content-length'] !== String(size))
            return { ms: t.ms, error: `Content-Length ${t.headers['content-length']}, expected ${size}` };
          const etag = unquote(t.headers.etag);
          if (etag !== md5) return { ms: t.ms, error: `ETag ${etag ?? '(none)'} is not the MD5 of the body (${md5})` };
          return { ms: t.ms };
        },
        { before: bare.get },
      );
      await bare.end();
      b.rssPoint(`GET ${sizeLabel(size)}`, size);
      for (let i = 0; i < put.ok; i++) {
        const d = await transfer(name(i), { method: 'DELETE', headers: auth, agent });
        if (d.error || d.status !== 204)
          b.problems.push(
            `DELETE ${sizeLabel(size)} object answered ${d.error ?? `HTTP ${d.status}: ${d.body.slice(0, 200)}`}`,
          );
      }
    }
  } finally {
    agent.destroy();
  }

  // Small objects: count-bounded and time-bounded, at c=1 and c=16; the bare server's just before.
  if (b.bare) {
    const bare = await bareSmallLimits({
      size: SMALL,
      cellMs: Math.min(s.cellMs, 3000),
      concurrencies: CONCURRENCY,
      log: (m) => b.log(m),
    });
    b.bareSmall = bare.rows;
    b.problems.push(...bare.problems);
  }
  if (!live) return;
  const mk = await transfer(`${base}/bench-small`, { method: 'PUT', headers: auth });
  if (mk.error || ![201, 202].includes(mk.status))
    throw new Error(`PUT container answered ${mk.error ?? `HTTP ${mk.status}: ${mk.body.slice(0, 300)}`}`);
  const body = Buffer.from(patternSlice(0, SMALL));
  const basePath = new URL(base).pathname;
  const origin = new URL(base).origin;
  const smallCell = async (
    op: 'PUT' | 'GET',
    c: number,
    counted: boolean,
    request: LoadOptions['request'],
  ): Promise<SmallRow> => {
    const r = await runLoad({
      origin,
      concurrency: c,
      request,
      expectStatus: op === 'PUT' ? [201] : [200],
      ...(counted
        ? { maxRequests: SMALL_COUNT[c], maxDurationMs: 2 * s.cellMs, warmupRequests: 10 * c }
        : { durationMs: s.cellMs, warmupMs: 300 }),
    });
    const row: SmallRow = {
      target: 'Stratus object-store',
      op,
      bound: counted ? `${SMALL_COUNT[c]} req` : `${s.cellMs / 1000} s`,
      r,
    };
    b.small.push(row);
    b.log(
      `small ${op} ${sizeLabel(SMALL)} c=${c} ${row.bound}: ${r.ok} ok, ${r.errors} errors, ${fmt(r.rps)}/s, p50 ${fmt(r.p50)} ms, p99 ${fmt(r.p99)} ms`,
    );
    if (r.errors) b.problems.push(`small ${op} c=${c} (${row.bound}): ${r.errors} errors, first: ${r.firstError}`);
    return row;
  };
  let cell = 0;
  let readable = 0; // objects p0-0 .. p0-(readable-1) exist
  for (const c of CONCURRENCY) {
    for (const counted of [true, false]) {
      const prefix = `${basePath}/bench-small/p${cell++}-`;
      let seq = 0;
      const row = await smallCell('PUT', c, counted, () => ({
        method: 'PUT',
        path: `${prefix}${seq++}`,
        headers: { ...auth, 'Content-Type': 'application/octet-stream' },
        body,
      }));
      if (cell === 1 && row.r.errors === 0) readable = seq;
    }
  }
  b.rssPoint('small-object PUTs');
  if (!readable) {
    b.problems.push('small GET not measured: the first small PUT cell had errors');
    return;
  }
  for (const c of CONCURRENCY) {
    for (const counted of [true, false]) {
      let seq = 0;
      await smallCell('GET', c, counted, () => ({
        method: 'GET',
        path: `${basePath}/bench-small/p0-${seq++ % readable}`,
        headers: auth,
      }));
    }
  }
  b.rssPoint('small-object GETs');
}

export async function run(args: string[]): Promise<void> {
  const s = parseArgs('object', args);
  const b = new BlobBench('object', s);
  try {
    await b.before();
    await b.measureLimits();
    b.hash = 'md5';
    b.checkDurability(['src/object-store']);
    await b.withServers('object-store', (live) => cells(b, live));
  } finally {
    await stopAll();
  }
  b.conditions.push(
    `load average at end: ${(await import('node:os'))
      .loadavg()
      .map((l) => fmt(l))
      .join(' ')}`,
  );

  const rep = new Report(
    'object',
    `Object-store benchmark — ${b.startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC`,
  );
  b.header(
    rep,
    "Stratus: `node bin/stratus.js start` on a fresh data directory (SQLite), Swift v1 API at the catalog's object-store endpoint " +
      '(/object-store/v1/AUTH_<project_id>), admin token. PUT: Content-Length, Content-Type application/octet-stream, answer 201 with ETag = MD5 of the body (checked); ' +
      'GET: 200, Content-Length, ETag and every byte checked. Small objects: 1 KiB PUT (new names) and GET (the objects of the first PUT cell), ' +
      'closed loop (bench/lib/load.ts, keep-alive), count-bounded and time-bounded cells.',
  );
  b.limitTables(rep);
  b.streamTable(rep, 'Stratus object-store: streaming');
  b.rssTable(rep);
  b.smallTable(rep, 'Small objects (1 KiB)');
  const goals = b.streamGoals(['PUT', 'GET']);
  const put16 = b.small.find((r) => r.op === 'PUT' && r.r.concurrency === 16 && r.bound.endsWith(' s'));
  const put1 = b.small.find((r) => r.op === 'PUT' && r.r.concurrency === 1 && r.bound.endsWith(' s'));
  const verdict = !put16 ? '**not measured**' : put16.r.rps >= 1000 && put16.r.errors === 0 ? '**met**' : '**not met**';
  goals.push(
    `Small objects ≥ 1,000 PUT/s (1 KiB, c=16, time-bounded): ${put16 ? `${fmt(put16.r.rps, 0)}/s` : '–'}` +
      `${put1 ? ` (c=1: ${fmt(put1.r.rps, 0)}/s${put1.r.rps >= 1000 ? ', also met' : ', not met at c=1'})` : ''} → ${verdict}`,
  );
  b.finish(rep, goals);
}
