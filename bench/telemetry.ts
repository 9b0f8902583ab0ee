// Telemetry benchmark: Gnocchi's measure ingestion through the batch API (measures/s), an
// aggregates query over every resource's day of one-minute points (latency), and one Aodh
// evaluation round over many threshold alarms (its duration). No gnocchi-api side by side:
// Debian ships it (gnocchi-api 4.4.2, python3-gnocchi), but its indexer has no SQLite driver
// (MySQL or PostgreSQL only: `No 'gnocchi.indexer' driver found, looking for 'sqlite'`), so a
// fair run needs a PostgreSQL cluster of its own besides gnocchi-api and gnocchi-metricd; not
// part of this benchmark (see the report).
//
//   npm run bench -- telemetry [--quick] [--resources=N] [--points=N] [--alarms=N] [--reps=N] [--no-write]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fetchOnce } from './lib/load.ts';
import { procStatusKb, sleep, stopAll } from './lib/proc.ts';
import { fmt, machineLine, Report } from './lib/report.ts';
import { login, startStratus, type Session } from './lib/stratus.ts';

interface Settings {
  resources: number;
  points: number;
  alarms: number;
  reps: number;
  write: boolean;
}

function parseArgs(args: string[]): Settings {
  const s: Settings = { resources: 1000, points: 1440, alarms: 1000, reps: 5, write: true };
  const int = (k: string, v: string | undefined) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`telemetry: ${k} wants a positive integer`);
    return n;
  };
  for (const a of args) {
    const [k, v] = a.split('=', 2) as [string, string | undefined];
    if (k === '--quick') Object.assign(s, { resources: 100, alarms: 100, reps: 3 });
    else if (k === '--resources') s.resources = int(k, v);
    else if (k === '--points') s.points = int(k, v);
    else if (k === '--alarms') s.alarms = int(k, v);
    else if (k === '--reps') s.reps = int(k, v);
    else if (k === '--no-write') s.write = false;
    else
      throw new Error(
        `telemetry: unknown option ${a} (options: --quick --resources=N --points=N --alarms=N --reps=N --no-write)`,
      );
  }
  return s;
}

async function call(sess: Session, method: string, url: string, body?: unknown) {
  const r = await fetchOnce(url, {
    method,
    headers: { 'X-Auth-Token': sess.token, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: r.status, body: r.body };
}

/** Runs `fn` over items with `n` at once. */
async function pool<T>(items: T[], n: number, fn: (t: T) => Promise<void>) {
  let i = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (i < items.length) await fn(items[i++]!);
    }),
  );
}

export async function run(args: string[]) {
  const s = parseArgs(args);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-bench-telemetry-'));
  fs.writeFileSync(
    path.join(dataDir, 'stratus.yaml'),
    'collector:\n  enabled: false\nalarming:\n  evaluationInterval: 15\n',
  );
  const st = await startStratus({ dataDir, logFile: path.join(dataDir, 'stratus.out') });
  try {
    const sess = await login(st);
    const gnocchi = sess.endpoint('metric')!;
    const aodh = sess.endpoint('alarming')!;
    const need = (r: { status: number; body: string }, status: number, what: string) => {
      if (r.status !== status) throw new Error(`${what}: ${r.status} ${r.body.slice(0, 300)}`);
    };
    need(
      await call(sess, 'POST', `${gnocchi}/v1/archive_policy`, {
        name: 'bench',
        aggregation_methods: ['mean', 'max'],
        definition: [{ granularity: '1 minute', points: s.points }],
      }),
      201,
      'archive policy',
    );
    const ids = Array.from({ length: s.resources }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
    let t0 = performance.now();
    await pool(ids, 8, async (id) =>
      need(
        await call(sess, 'POST', `${gnocchi}/v1/resource/generic`, {
          id,
          user_id: 'bench',
          project_id: sess.projectId,
          metrics: { cpu: { archive_policy_name: 'bench' } },
        }),
        201,
        'resource',
      ),
    );
    const createMs = performance.now() - t0;

    // One day of one-minute points per resource, ending now; 20 resources a batch request.
    const end = Math.floor(Date.now() / 60000) * 60000;
    const measures = (k: number) =>
      Array.from({ length: s.points }, (_, j) => ({
        timestamp: new Date(end - (s.points - 1 - j) * 60000).toISOString(),
        value: 40 + 30 * Math.sin((j + k) / 60),
      }));
    const batches: string[][] = [];
    for (let i = 0; i < ids.length; i += 20) batches.push(ids.slice(i, i + 20));
    t0 = performance.now();
    await pool(batches, 4, async (b) =>
      need(
        await call(
          sess,
          'POST',
          `${gnocchi}/v1/batch/resources/metrics/measures`,
          Object.fromEntries(b.map((id, k) => [id, { cpu: measures(k) }])),
        ),
        202,
        'batch',
      ),
    );
    const ingestMs = performance.now() - t0;
    const total = s.resources * s.points;

    const lat: number[] = [];
    let points = 0;
    for (let i = 0; i < s.reps; i++) {
      t0 = performance.now();
      const r = await call(sess, 'POST', `${gnocchi}/v1/aggregates?granularity=60`, {
        operations: '(aggregate mean (metric cpu mean))',
        search: 'user_id=bench',
        resource_type: 'generic',
      });
      lat.push(performance.now() - t0);
      need(r, 200, 'aggregates');
      points = (JSON.parse(r.body) as { measures: { aggregated: unknown[] } }).measures.aggregated.length;
    }
    lat.sort((a, b) => a - b);

    // Alarms: one threshold alarm per resource (cycling), then one evaluation round.
    t0 = performance.now();
    const alarmIds: string[] = [];
    await pool(
      Array.from({ length: s.alarms }, (_, i) => i),
      8,
      async (i) => {
        const r = await call(sess, 'POST', `${aodh}/v2/alarms`, {
          name: `bench-${i}`,
          type: 'gnocchi_resources_threshold',
          gnocchi_resources_threshold_rule: {
            metric: 'cpu',
            resource_id: ids[i % ids.length],
            resource_type: 'generic',
            aggregation_method: 'mean',
            granularity: 60,
            threshold: 50,
            comparison_operator: 'gt',
          },
        });
        need(r, 201, 'alarm');
        alarmIds.push((JSON.parse(r.body) as { alarm_id: string }).alarm_id);
      },
    );
    const alarmCreateMs = performance.now() - t0;
    // Wait for a round to finish: every alarm out of `insufficient data`.
    let round = { first: 0, last: 0, evaluated: 0 };
    for (let waited = 0; waited < 120_000; waited += 1000) {
      await sleep(1000);
      const r = await call(sess, 'GET', `${aodh}/v2/alarms`);
      const list = JSON.parse(r.body) as Array<{ state: string; state_timestamp: string }>;
      const done = list.filter((a) => a.state !== 'insufficient data');
      if (done.length === list.length && list.length) {
        const ts = done.map((a) => Date.parse(`${a.state_timestamp}Z`));
        round = { first: Math.min(...ts), last: Math.max(...ts), evaluated: done.length };
        break;
      }
    }
    const rss = procStatusKb(st.server.pid, 'VmHWM') / 1024;

    const rep = new Report('telemetry', 'Telemetry: Gnocchi ingestion and aggregates, Aodh evaluation');
    rep.text(machineLine());
    rep.table(
      ['what', 'size', 'result'],
      [
        ['resources created (8 clients)', `${s.resources}`, `${fmt(s.resources / (createMs / 1000), 0)} /s`],
        [
          'measures ingested (batch API, 20 resources × points a request, 4 clients)',
          `${total.toLocaleString('en')} measures`,
          `${fmt(total / (ingestMs / 1000), 0)} measures/s (${fmt(ingestMs / 1000, 1)} s)`,
        ],
        [
          'aggregates: (aggregate mean (metric cpu mean)) over a resource search',
          `${s.resources} resources × ${s.points} points → ${points} points`,
          `p50 ${fmt(lat[Math.floor(lat.length / 2)]!, 0)} ms, max ${fmt(lat[lat.length - 1]!, 0)} ms (${s.reps} runs)`,
        ],
        ['alarms created (8 clients)', `${s.alarms}`, `${fmt(s.alarms / (alarmCreateMs / 1000), 0)} /s`],
        [
          'one evaluation round (gnocchi_resources_threshold, 60 s granularity)',
          `${round.evaluated} alarms`,
          round.evaluated
            ? `${fmt((round.last - round.first) / 1000, 1)} s from first to last state change`
            : 'not finished in 120 s',
        ],
        ['Stratus peak RSS', '', `${fmt(rss, 0)} MB`],
      ],
      ['l', 'r', 'r'],
    );
    rep.text(
      "No side-by-side column: Debian's gnocchi-api (4.4.2) has no SQLite indexer (MySQL/PostgreSQL only), so it would need a PostgreSQL cluster and gnocchi-metricd of its own; the goals of issue 17 are ≥ 10× Gnocchi's ingest rate and an aggregates query under 200 ms.",
    );
    const file = rep.write({ file: s.write });
    if (file) console.log(`report: ${file}`);
  } finally {
    await stopAll();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}
