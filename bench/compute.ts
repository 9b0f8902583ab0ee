// Compute benchmark: Nova's server path and Placement's allocation candidates on Stratus with the
// fake virt driver, all-in-one (one process, in-process bus, SQLite). Create-to-ACTIVE latency of
// single servers (POST, then GET /servers/{id} polled), 1,000 servers in batches of 50
// (min_count = max_count = 50), GET /servers/detail?limit=1000 with 10,000 servers, and
// GET /allocation_candidates with 1,000 resource providers; the Stratus process's peak RSS.
// Then, when Debian's rabbitmq-server is installed, the same process shape over RabbitMQ
// (`stratus start --bus amqp://...`, a private broker on loopback): the single servers and the
// batches again (the lists and the candidates never touch the bus).
//
//   npm run bench -- compute [--quick] [--singles=N] [--batch=N] [--batch-size=N] [--batch-network=port|none] [--list-servers=N]
//                            [--providers=N] [--reps=N] [--poll-ms=N] [--fill-minutes=N] [--singles-only] [--batches-only] [--no-rabbitmq]
//                            [--no-write] [--keep] [--cpu-prof[=DIR]] [--wait-quiet[=S]]
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { runLoad, type LoadOptions, type LoadResult } from './lib/load.ts';
import { procCpuMs, procStatusKb, sleep, startConditions, stopAll, tail } from './lib/proc.ts';
import { fmt, machineLine, Report } from './lib/report.ts';
import { login, startStratus, stratusAvailable, type Session, type Stratus } from './lib/stratus.ts';
import { TestBroker } from '../test/lib/rabbitmq.ts';

/** Debian's broker (the tests start it the same way: test/lib/rabbitmq.ts). */
const RABBITMQ_SERVER = '/usr/lib/rabbitmq/bin/rabbitmq-server';
const TIMELINE = process.env.STRATUS_BENCH_TIMELINE;

interface Settings {
  /** Single servers created one after the other, each waited for until ACTIVE (per network mode). */
  singles: number;
  /** Servers of the batch run, and the size of one batch (min_count = max_count). */
  batch: number;
  batchSize: number;
  /** The batch servers get one port each ('port') or none ('none'). */
  batchNetwork: 'port' | 'none';
  /** Servers in the project when the detail list is timed, and the batch size of the fill. */
  listServers: number;
  fillBatch: number;
  fillMs: number;
  /** Resource providers in placement when allocation candidates are timed. */
  providers: number;
  /** Repetitions of each list / candidates cell. */
  reps: number;
  /** Smallest interval between the starts of two polls of one server. */
  pollMs: number;
  write: boolean;
  /** Keep the data directory and the server log (for profiling: NODE_OPTIONS=--cpu-prof reaches the server). */
  keep: boolean;
  /** Run the server under --cpu-prof, the profile written into this directory when it stops. */
  cpuProf?: string;
  waitQuietMs: number;
  /** Only the single servers (no batches, lists, candidates): for latency work. */
  singlesOnly: boolean;
  /** Only the batches (after the warm-up; no singles, lists, candidates): for batch work. */
  batchesOnly: boolean;
  /** Measure over RabbitMQ too (when rabbitmq-server is installed). */
  rabbitmq: boolean;
}

function parseArgs(args: string[]): Settings {
  const s: Settings = {
    singles: 100,
    batch: 1000,
    batchSize: 50,
    batchNetwork: 'port',
    listServers: 10_000,
    fillBatch: 500,
    fillMs: 20 * 60_000,
    providers: 1000,
    reps: 30,
    pollMs: 2,
    write: true,
    keep: false,
    waitQuietMs: 0,
    singlesOnly: false,
    batchesOnly: false,
    rabbitmq: true,
  };
  const int = (k: string, v: string | undefined, min = 1) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`compute: ${k} wants an integer ≥ ${min}`);
    return n;
  };
  for (const a of args) {
    const [k, v] = a.split('=', 2) as [string, string | undefined];
    if (k === '--quick') Object.assign(s, { singles: 20, batch: 200, listServers: 2000, providers: 200, reps: 10 });
    else if (k === '--singles') s.singles = int(k, v);
    else if (k === '--batch') s.batch = int(k, v);
    else if (k === '--batch-size') s.batchSize = int(k, v);
    else if (k === '--batch-network') {
      if (v !== 'port' && v !== 'none') throw new Error('compute: --batch-network is port or none');
      s.batchNetwork = v;
    } else if (k === '--list-servers') s.listServers = int(k, v);
    else if (k === '--fill-batch') s.fillBatch = int(k, v);
    else if (k === '--fill-minutes') s.fillMs = int(k, v) * 60_000;
    else if (k === '--providers') s.providers = int(k, v);
    else if (k === '--reps') s.reps = int(k, v);
    else if (k === '--poll-ms') s.pollMs = int(k, v, 0);
    else if (k === '--no-write') s.write = false;
    else if (k === '--singles-only') s.singlesOnly = true;
    else if (k === '--batches-only') s.batchesOnly = true;
    else if (k === '--no-rabbitmq') s.rabbitmq = false;
    else if (k === '--keep') s.keep = true;
    else if (k === '--cpu-prof') s.cpuProf = v ?? path.join(os.tmpdir(), 'bench-compute-prof');
    else if (k === '--wait-quiet') s.waitQuietMs = Number(v ?? 60) * 1000;
    else
      throw new Error(
        `compute: unknown option ${a} (options: --quick --singles=N --batch=N --batch-size=N --batch-network=port|none --list-servers=N --fill-batch=N --fill-minutes=N --providers=N --reps=N --poll-ms=N --singles-only --batches-only --no-rabbitmq --no-write --keep --cpu-prof[=DIR] --wait-quiet[=S])`,
      );
  }
  return s;
}

interface Answer {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: every OpenStack answer this benchmark reads, unchecked (a benchmark, not a client)
  body: any;
  ms: number;
}
interface Row {
  op: string;
  detail: string;
  n: number;
  p50: number;
  p99: number;
  max: number;
  mean: number;
  extra?: string;
}
interface RssPoint {
  label: string;
  hwmMb: number;
  rssMb: number;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

/** One request over a keep-alive connection; the body parsed as JSON when there is one. */
function request(
  url: string,
  method: string,
  headers: Record<string, string>,
  body?: unknown,
  timeoutMs = 300_000,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const data = body === undefined ? undefined : JSON.stringify(body);
    const h: Record<string, string | number> = { Accept: 'application/json', ...headers };
    if (data !== undefined) {
      h['Content-Type'] = 'application/json';
      h['Content-Length'] = Buffer.byteLength(data);
    }
    const t0 = performance.now();
    const req = http.request(
      { agent, host: u.hostname, port: u.port, method, path: u.pathname + u.search, headers: h },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = text ? JSON.parse(text) : {};
          } catch {
            /* not JSON */
          }
          resolve({ status: res.statusCode ?? 0, body: parsed, ms: performance.now() - t0 });
        });
        res.on('error', reject);
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`timeout after ${timeoutMs} ms: ${method} ${url}`)));
    req.on('error', reject);
    req.end(data);
  });
}

function stats(values: number[]): { n: number; p50: number; p99: number; max: number; mean: number } {
  const a = [...values].sort((x, y) => x - y);
  const at = (p: number) => (a.length ? a[Math.min(a.length - 1, Math.max(0, Math.ceil(p * a.length) - 1))]! : NaN);
  return {
    n: a.length,
    p50: at(0.5),
    p99: at(0.99),
    max: a[a.length - 1] ?? NaN,
    mean: a.reduce((x, y) => x + y, 0) / (a.length || 1),
  };
}

class Bench {
  rows: Row[] = [];
  rss: RssPoint[] = [];
  problems: string[] = [];
  conditions: string[] = [];
  info: string[] = [];
  batchResult?: { servers: number; ms: number; postMs: number; errors: number; cpuMs: number };
  /** Servers in the project when the lists ran. */
  listed = 0;
  startupMs?: number;
  st?: Stratus;
  token = '';
  nova = '';
  placement = '';
  neutron = '';
  glance = '';
  /** The same measurements over RabbitMQ (singles and batches), or why there are none. */
  amqp?: Bench;
  amqpMissing?: string;
  /** 'in-process' (the full run) or 'RabbitMQ' (singles and batches only). */
  constructor(
    readonly s: Settings,
    readonly bus: 'in-process' | 'RabbitMQ' = 'in-process',
  ) {}

  log(msg: string): void {
    process.stderr.write(`[bench compute${this.bus === 'RabbitMQ' ? ' rabbitmq' : ''}] ${msg}\n`);
  }

  rssPoint(label: string): void {
    if (!this.st) return;
    const p = {
      label,
      hwmMb: procStatusKb(this.st.server.pid, 'VmHWM') / 1024,
      rssMb: procStatusKb(this.st.server.pid, 'VmRSS') / 1024,
    };
    this.rss.push(p);
    this.log(`RSS after ${label}: peak ${fmt(p.hwmMb, 0)} MB, now ${fmt(p.rssMb, 0)} MB`);
  }

  private headers(service: 'compute' | 'placement' | 'other'): Record<string, string> {
    const h: Record<string, string> = { 'X-Auth-Token': this.token };
    if (service === 'compute') h['OpenStack-API-Version'] = 'compute 2.93';
    if (service === 'placement') h['OpenStack-API-Version'] = 'placement 1.39';
    return h;
  }

  /** A set-up or measured call; anything but `want` is an error naming the call. */
  async call(base: string, method: string, p: string, body?: unknown, want?: number): Promise<Answer> {
    const service = base === this.nova ? 'compute' : base === this.placement ? 'placement' : 'other';
    const r = await request(base + p, method, this.headers(service), body);
    const expected =
      want ?? (method === 'POST' ? (service === 'compute' ? 202 : service === 'placement' ? 200 : 201) : 200);
    if (r.status !== expected)
      throw new Error(
        `${method} ${p.slice(0, 120)} answered ${r.status} (expected ${expected}): ${JSON.stringify(r.body).slice(0, 300)}`,
      );
    return r;
  }

  addRow(op: string, detail: string, values: number[], extra?: string): Row {
    const row = { op, detail, ...stats(values), extra };
    this.rows.push(row);
    this.log(
      `${op} (${detail}): n=${row.n}, p50 ${fmt(row.p50)} ms, p99 ${fmt(row.p99)} ms, max ${fmt(row.max)} ms${extra ? `; ${extra}` : ''}`,
    );
    return row;
  }

  async loadCell(op: string, detail: string, o: Omit<LoadOptions, 'origin'>): Promise<LoadResult> {
    const r = await runLoad({ origin: this.st!.origin, maxDurationMs: 600_000, timeoutMs: 120_000, ...o });
    this.rows.push({
      op,
      detail,
      n: r.ok,
      p50: r.p50,
      p99: r.p99,
      max: r.max,
      mean: r.mean,
      extra: `c=${r.concurrency}, ${fmt(r.rps)}/s${r.errors ? `, ${r.errors} errors` : ''}`,
    });
    this.log(
      `${op} (${detail}) c=${r.concurrency}: ${r.ok} ok, ${r.errors} errors, p50 ${fmt(r.p50)} ms, p99 ${fmt(r.p99)} ms`,
    );
    if (r.errors) this.problems.push(`${op} (${detail}): ${r.errors} errors, first: ${r.firstError}`);
    return r;
  }

  /**
   * POST one server, then GET it until it is ACTIVE (or ERROR). A poll starts `pollMs` after the
   * previous one started, or as soon as its answer came when that took longer. Returns the time
   * from sending the POST to receiving the first answer that says ACTIVE, the POST alone, and the
   * mean poll latency (the resolution of the measurement).
   */
  async createAndWait(
    server: Record<string, unknown>,
  ): Promise<{ total: number; post: number; polls: number; pollMean: number }> {
    const t0 = performance.now();
    const wall0 = Date.now();
    const r = await this.call(this.nova, 'POST', '/servers', { server });
    const id = r.body.server.id as string;
    let polls = 0;
    let pollSum = 0;
    // STRATUS_BENCH_TIMELINE=FILE: one JSON line a server (POST and each poll: start, end, status).
    const line: Array<[number, number, string]> | undefined = TIMELINE ? [[0, r.ms, 'POST']] : undefined;
    for (;;) {
      const started = performance.now();
      const g = await this.call(this.nova, 'GET', `/servers/${id}`);
      polls++;
      pollSum += g.ms;
      const st = g.body.server.status;
      line?.push([started - t0, performance.now() - t0, st]);
      if (st === 'ACTIVE') {
        if (TIMELINE)
          fs.appendFileSync(
            TIMELINE,
            `${JSON.stringify({ name: server.name, wall0, launched: g.body.server['OS-SRV-USG:launched_at'], updated: g.body.server.updated, line })}\n`,
          );
        return { total: performance.now() - t0, post: r.ms, polls, pollMean: pollSum / polls };
      }
      if (st === 'ERROR') throw new Error(`server ${id} went to ERROR: ${JSON.stringify(g.body.server.fault)}`);
      if (performance.now() - t0 > 120_000) throw new Error(`server ${id} not ACTIVE after 120 s (status ${st})`);
      const wait = started + this.s.pollMs - performance.now();
      if (wait > 0) await sleep(wait);
    }
  }

  /** Servers of the project in BUILD (the index, paged). */
  async countStatus(status: string): Promise<number> {
    let n = 0;
    let marker: string | undefined;
    for (;;) {
      const page = (
        await this.call(this.nova, 'GET', `/servers?status=${status}&limit=1000${marker ? `&marker=${marker}` : ''}`)
      ).body.servers as { id: string }[];
      n += page.length;
      if (page.length < 1000) return n;
      marker = page[page.length - 1]!.id;
    }
  }

  /** POST `total` servers in batches of `size` (each waited for), then wait until none is building. */
  async batches(
    total: number,
    size: number,
    server: Record<string, unknown>,
    deadline = Infinity,
  ): Promise<{ servers: number; ms: number; postMs: number; errors: number; cpuMs: number }> {
    const errorsBefore = await this.countStatus('ERROR');
    const cpu0 = procCpuMs(this.st!.server.pid);
    const t0 = performance.now();
    let made = 0;
    for (let b = 0; made < total && performance.now() < deadline; b++) {
      const n = Math.min(size, total - made);
      await this.call(this.nova, 'POST', '/servers', {
        server: { ...server, name: `${server.name}-${b}`, min_count: n, max_count: n },
      });
      made += n;
    }
    const postMs = performance.now() - t0;
    for (;;) {
      // One server in BUILD is enough to go on waiting (paging would lose its marker as servers leave BUILD).
      const building = (await this.call(this.nova, 'GET', '/servers?status=BUILD&limit=1')).body.servers
        .length as number;
      if (!building) break;
      if (performance.now() - t0 > Math.max(600_000, this.s.fillMs))
        throw new Error(
          `${await this.countStatus('BUILD').catch(() => '?')} servers still building after ${fmt((performance.now() - t0) / 1000, 0)} s`,
        );
      await sleep(200);
    }
    const ms = performance.now() - t0;
    // The server's CPU time for the whole run (the waiting GETs included): steadier than wall time.
    const cpuMs = procCpuMs(this.st!.server.pid) - cpu0;
    const errors = (await this.countStatus('ERROR')) - errorsBefore;
    return { servers: made, ms, postMs, errors, cpuMs };
  }

  async run(session: Session): Promise<void> {
    const ep = (type: string) => {
      const e = session.endpoint(type);
      if (!e) throw new Error(`the catalog has no ${type} endpoint`);
      return e;
    };
    this.token = session.token;
    this.nova = ep('compute');
    this.placement = ep('placement');
    this.neutron = ep('network');
    this.glance = ep('image');
    this.log(`compute at ${this.nova}, placement at ${this.placement}`);

    // Unlimited quotas for the admin project (Nova: 10 instances, 20 cores; Neutron: 500 ports).
    await this.call(this.nova, 'PUT', `/os-quota-sets/${session.projectId}`, {
      quota_set: { instances: -1, cores: -1, ram: -1 },
    });
    await this.call(this.neutron, 'PUT', `/v2.0/quotas/${session.projectId}`, { quota: { port: -1 } });
    // A flavor small enough for 10,000 servers on the fake host, an active image, a network.
    const flavor = (
      await this.call(
        this.nova,
        'POST',
        '/flavors',
        { flavor: { name: 'bench.nano', ram: 64, vcpus: 1, disk: 1, id: 'bench-nano' } },
        200,
      )
    ).body.flavor;
    const image = (
      await this.call(this.glance, 'POST', '/v2/images', {
        name: 'bench',
        disk_format: 'raw',
        container_format: 'bare',
        visibility: 'public',
      })
    ).body;
    await this.uploadImage(image.id);
    const net = (await this.call(this.neutron, 'POST', '/v2.0/networks', { network: { name: 'bench-net' } })).body
      .network;
    await this.call(this.neutron, 'POST', '/v2.0/subnets', {
      subnet: { name: 'bench-subnet', network_id: net.id, ip_version: 4, cidr: '10.0.0.0/16' },
    });
    const withNet = { imageRef: image.id, flavorRef: flavor.id, networks: [{ uuid: net.id }] };
    const noNet = { imageRef: image.id, flavorRef: flavor.id, networks: 'none' };
    // The compute node must be in placement before the first build.
    for (let i = 0; ; i++) {
      const rps = (await this.call(this.placement, 'GET', '/resource_providers')).body.resource_providers;
      if (rps.length) break;
      if (i > 200) throw new Error('no compute node in placement after 20 s');
      await sleep(100);
    }

    // Warm-up (JIT, caches, first connections), not measured.
    for (let i = 0; i < 5; i++) await this.createAndWait({ ...withNet, name: `warm-${i}` });

    // Single servers: POST then poll, one at a time.
    for (const [label, body] of this.s.batchesOnly
      ? []
      : ([
          ['one port', withNet],
          ['networks none', noNet],
        ] as const)) {
      const totals: number[] = [];
      const posts: number[] = [];
      let pollMean = 0;
      let polls = 0;
      const cpu0 = procCpuMs(this.st!.server.pid);
      for (let i = 0; i < this.s.singles; i++) {
        const r = await this.createAndWait({ ...body, name: `single-${i}` });
        totals.push(r.total);
        posts.push(r.post);
        pollMean += r.pollMean;
        polls += r.polls;
      }
      // The server's CPU time per create (polls included): steadier than wall time on a busy machine.
      const cpu = (procCpuMs(this.st!.server.pid) - cpu0) / this.s.singles;
      this.addRow(
        'create → ACTIVE',
        label,
        totals,
        `${fmt(polls / this.s.singles, 1)} polls a server, a poll ${fmt(pollMean / this.s.singles)} ms on average; Stratus CPU ${fmt(cpu)} ms a server`,
      );
      this.addRow('POST /servers (202)', label, posts);
    }
    this.rssPoint(`${2 * this.s.singles + 5} single servers`);
    if (this.s.singlesOnly) return;

    // 1,000 servers in batches of 50.
    this.batchResult = await this.batches(this.s.batch, this.s.batchSize, {
      ...(this.s.batchNetwork === 'port' ? withNet : noNet),
      name: 'batch',
    });
    const b = this.batchResult;
    this.log(
      `${b.servers} servers in batches of ${this.s.batchSize}: ${fmt(b.ms / 1000)} s (POSTs done after ${fmt(b.postMs / 1000)} s), Stratus CPU ${fmt(b.cpuMs / b.servers)} ms a server, ${b.errors} in ERROR`,
    );
    if (b.errors) this.problems.push(`${b.errors} servers of the batch run went to ERROR`);
    this.rssPoint(`${b.servers} servers in batches`);
    // Over RabbitMQ only what goes over the bus: the lists and the candidates are API reads.
    if (this.bus === 'RabbitMQ' || this.s.batchesOnly) return;

    // Fill to listServers (not timed per server): batches of fillBatch, networks none.
    let have = await this.countStatus('ACTIVE');
    if (have < this.s.listServers) {
      const t0 = performance.now();
      const f = await this.batches(
        this.s.listServers - have,
        this.s.fillBatch,
        { ...noNet, name: 'fill' },
        t0 + this.s.fillMs,
      );
      this.info.push(
        `fill: ${f.servers} servers (networks none) by POST /servers with min_count = max_count = ${this.s.fillBatch}, one batch after the other, in ${fmt(f.ms / 1000)} s (${fmt(f.servers / (f.ms / 1000), 0)} servers/s); ${f.errors} in ERROR`,
      );
      have = await this.countStatus('ACTIVE');
      if (have < this.s.listServers)
        this.problems.push(
          `only ${have} of ${this.s.listServers} servers ACTIVE after the fill (budget ${fmt(this.s.fillMs / 60_000, 0)} min)`,
        );
      this.rssPoint(`${have} servers`);
    }
    this.listed = have;
    this.info.push(
      `servers in the project during the lists: ${have} ACTIVE (${(this.s.batchNetwork === 'port' ? b.servers : 0) + this.s.singles + 5} with one port each)`,
    );

    const urlPath = (base: string) => new URL(base).pathname.replace(/\/+$/, '');
    const novaGet = (p: string) => ({ method: 'GET', path: urlPath(this.nova) + p, headers: this.headers('compute') });
    const first = await this.call(this.nova, 'GET', '/servers/detail?limit=1000');
    if (first.body.servers?.length !== Math.min(1000, have))
      this.problems.push(`GET /servers/detail?limit=1000 returned ${first.body.servers?.length} servers`);
    if (!first.body.servers_links?.some((l: { rel: string }) => l.rel === 'next'))
      this.problems.push('GET /servers/detail?limit=1000 has no next link');
    await this.loadCell('GET /servers/detail', `limit=1000 of ${have}`, {
      concurrency: 1,
      maxRequests: this.s.reps,
      warmupRequests: 2,
      expectStatus: [200],
      request: novaGet('/servers/detail?limit=1000'),
    });
    await this.loadCell('GET /servers', `limit=1000 of ${have}`, {
      concurrency: 1,
      maxRequests: this.s.reps,
      warmupRequests: 2,
      expectStatus: [200],
      request: novaGet('/servers?limit=1000'),
    });
    const marker = first.body.servers?.[first.body.servers.length - 1]?.id;
    if (marker)
      await this.loadCell('GET /servers/detail', `limit=1000, second page (marker)`, {
        concurrency: 1,
        maxRequests: this.s.reps,
        warmupRequests: 2,
        expectStatus: [200],
        request: novaGet(`/servers/detail?limit=1000&marker=${marker}`),
      });
    await this.loadCell('GET /servers/{id}', `one of ${have}`, {
      concurrency: 1,
      maxRequests: 10 * this.s.reps,
      warmupRequests: 10,
      expectStatus: [200],
      request: novaGet(`/servers/${first.body.servers[0].id}`),
    });
    this.rssPoint('server lists');

    // Placement filled directly: providers with a compute node's inventory, until there are `providers`.
    const existing = (await this.call(this.placement, 'GET', '/resource_providers')).body.resource_providers
      .length as number;
    const t0 = performance.now();
    const inventories = {
      VCPU: { total: 64, allocation_ratio: 16 },
      MEMORY_MB: { total: 262144, reserved: 512, allocation_ratio: 1.5 },
      DISK_GB: { total: 2000 },
    };
    let made = 0;
    const worker = async (w: number) => {
      for (let i = w; existing + i < this.s.providers; i += 4) {
        const rp = (await this.call(this.placement, 'POST', '/resource_providers', { name: `bench-host-${i}` })).body;
        await this.call(this.placement, 'PUT', `/resource_providers/${rp.uuid}/inventories`, {
          resource_provider_generation: rp.generation,
          inventories,
        });
        made++;
      }
    };
    await Promise.all([0, 1, 2, 3].map(worker));
    this.info.push(
      `placement: ${made} providers created by POST /resource_providers + PUT inventories (VCPU 64×16, MEMORY_MB 256 GiB×1.5, DISK_GB 2,000; 4 clients) in ${fmt((performance.now() - t0) / 1000)} s, next to the ${existing} compute node(s) holding the servers' allocations`,
    );
    const q = `resources=VCPU:1,MEMORY_MB:64,DISK_GB:1`;
    const count = (await this.call(this.placement, 'GET', `/allocation_candidates?${q}`)).body.allocation_requests
      .length;
    if (count < this.s.providers)
      this.problems.push(`GET /allocation_candidates found ${count} candidates for ${this.s.providers} providers`);
    const pget = (p: string) => ({
      method: 'GET',
      path: urlPath(this.placement) + p,
      headers: this.headers('placement'),
    });
    await this.loadCell('GET /allocation_candidates', `${count} providers, limit=1000 (the scheduler's query)`, {
      concurrency: 1,
      maxRequests: this.s.reps,
      warmupRequests: 3,
      expectStatus: [200],
      request: pget(`/allocation_candidates?${q}&limit=1000`),
    });
    await this.loadCell('GET /allocation_candidates', `${count} providers, required=COMPUTE_NODE, limit=10`, {
      concurrency: 1,
      maxRequests: this.s.reps,
      warmupRequests: 3,
      expectStatus: [200],
      request: pget(`/allocation_candidates?${q}&required=COMPUTE_NODE&limit=10`),
    });
    this.rssPoint('allocation candidates');
  }

  async uploadImage(id: string): Promise<void> {
    const r = await new Promise<number>((resolve, reject) => {
      const u = new URL(`${this.glance}/v2/images/${id}/file`);
      const data = Buffer.from('bench image');
      const req = http.request(
        {
          agent,
          host: u.hostname,
          port: u.port,
          method: 'PUT',
          path: u.pathname,
          headers: {
            'X-Auth-Token': this.token,
            'Content-Type': 'application/octet-stream',
            'Content-Length': data.length,
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end(data);
    });
    if (r !== 204) throw new Error(`image upload answered ${r}`);
  }

  report(startedAt: Date, wallMs: number): Report {
    const rep = new Report(
      'compute',
      `Compute benchmark — ${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    );
    rep.text(
      [
        `Machine: ${machineLine()}. Wall time ${fmt(wallMs / 1000, 0)} s; ${this.conditions.join(', ')} (other work on the machine skews every number: compare rows of one run, not runs).`,
        'Stratus all-in-one: `node bin/stratus.js start` on a fresh data directory (SQLite, in-process bus, one compute agent with the fake driver, ' +
          "capacity raised in stratus.yaml to 4,096 vCPUs / 4 TiB RAM / 1 PB disk so that 10,000 servers fit on it), admin token, the admin project's " +
          'compute and port quotas unlimited, flavor bench.nano (1 vCPU, 64 MB, 1 GB), a raw image, one network with a /16 subnet. Microversion compute 2.93.',
        `create → ACTIVE: POST /servers, then GET /servers/{id} until status ACTIVE, one server at a time; a poll starts ${this.s.pollMs} ms after the previous one started ` +
          'or as soon as its answer came (the resolution is about one poll, shown). The polls run on the same cores as the build. "one port": networks [{uuid}], ' +
          'the conductor creates a port in the network service; "networks none": no port.',
        `Batches: ${this.s.batch} servers as ${Math.ceil(this.s.batch / this.s.batchSize)} POST /servers with min_count = max_count = ${this.s.batchSize} (${this.s.batchNetwork === 'port' ? 'one port each' : '**networks none**'}), sent one after the other, ` +
          'then GET /servers?status=BUILD&limit=1 every 200 ms until none is left: the time is from the first POST to that answer.',
        'Lists and candidates: closed-loop load generator (bench/lib/load.ts, keep-alive), c=1.',
        this.amqp
          ? 'Over RabbitMQ: then a second Stratus, the same but started with `--bus amqp://...` (src/core/bus-amqp.ts; every cast and call between the API, conductor, scheduler and agent goes through the broker), ' +
            'on a fresh data directory, measured the same way for the single servers and the batches (the lists and the candidates are API reads that never touch the bus, not repeated).'
          : `Over RabbitMQ: **${this.amqpMissing ?? 'not measured'}**.`,
      ].join('\n'),
    );
    rep.heading('Latency');
    rep.table(
      ['operation', 'detail', 'n', 'p50 ms', 'p99 ms', 'max ms', 'notes'],
      this.rows.map((x) => [x.op, x.detail, x.n, fmt(x.p50), fmt(x.p99), fmt(x.max), x.extra ?? '']),
      ['l', 'l', 'r', 'r', 'r', 'r', 'l'],
    );
    const b = this.batchResult;
    if (this.amqp) this.amqpSection(rep);
    rep.heading('Servers in batches');
    rep.text(
      b
        ? `${b.servers} servers in batches of ${this.s.batchSize}: **${fmt(b.ms / 1000)} s** (${fmt(b.servers / (b.ms / 1000), 1)} servers/s; the POSTs were answered after ${fmt(b.postMs / 1000)} s; Stratus CPU ${fmt(b.cpuMs / b.servers)} ms a server), ${b.errors} in ERROR.`
        : 'Not reached.',
    );
    if (this.info.length) rep.bullets(this.info);
    rep.heading('Stratus memory');
    rep.table(
      ['after', 'VmHWM (peak) MB', 'VmRSS now MB'],
      this.rss.map((p) => [p.label, fmt(p.hwmMb, 0), fmt(p.rssMb, 0)]),
    );
    rep.text(
      `VmHWM and VmRSS of the Stratus process from /proc. Start-up (spawn to the first 200 from /identity/v3): ${fmt(this.startupMs, 0)} ms.`,
    );
    rep.heading('Goals');
    rep.bullets(this.goals());
    if (this.problems.length) {
      rep.heading('Problems');
      rep.bullets(this.problems.map((p) => p.split('\n')[0]!.slice(0, 300)));
    }
    return rep;
  }

  /** The in-process and the RabbitMQ figures side by side (the rows both runs have). */
  amqpSection(rep: Report): void {
    const a = this.amqp!;
    rep.heading('In-process bus and RabbitMQ');
    const rows: Array<Array<string | number>> = [];
    for (const r of a.rows) {
      const mine = this.rows.find((x) => x.op === r.op && x.detail === r.detail);
      rows.push([
        r.op,
        r.detail,
        mine ? fmt(mine.p50) : '–',
        mine ? fmt(mine.p99) : '–',
        fmt(r.p50),
        fmt(r.p99),
        r.extra ?? '',
      ]);
    }
    const ab = a.batchResult;
    const b = this.batchResult;
    if (ab || b) {
      rows.push([
        `${this.s.batch} servers, batches of ${this.s.batchSize}`,
        `${this.s.batchNetwork === 'port' ? 'one port each' : 'networks none'}, total s`,
        b ? fmt(b.ms / 1000) : '–',
        '',
        ab ? fmt(ab.ms / 1000) : '–',
        '',
        ab
          ? `${fmt(ab.servers / (ab.ms / 1000), 1)} servers/s, POSTs answered after ${fmt(ab.postMs / 1000)} s, ${ab.errors} in ERROR`
          : '',
      ]);
    }
    rep.table(
      ['operation', 'detail', 'in-process p50 ms', 'p99 ms', 'RabbitMQ p50 ms', 'p99 ms', 'RabbitMQ notes'],
      rows,
      ['l', 'l', 'r', 'r', 'r', 'r', 'l'],
    );
    const peak = a.rss.reduce((m, p) => Math.max(m, p.hwmMb), 0);
    rep.bullets([
      ...a.info,
      `Stratus over RabbitMQ: start-up ${fmt(a.startupMs, 0)} ms, peak RSS ${fmt(peak, 0)} MB (${a.rss.map((p) => `${p.label}: ${fmt(p.hwmMb, 0)}`).join(', ')})`,
    ]);
  }

  amqpGoal(): string {
    const a = this.amqp;
    if (!a) return `Over RabbitMQ: **${this.amqpMissing ?? 'not measured'}**.`;
    const single = a.rows.find((r) => r.op === 'create → ACTIVE' && r.detail === 'one port');
    const b = a.batchResult;
    const verdict = (ok: boolean | undefined) =>
      ok === undefined ? '**not measured**' : ok ? '**met**' : '**not met**';
    return (
      `Over RabbitMQ, the same goals: create → ACTIVE p50 (one port) ${single ? `${fmt(single.p50)} ms` : '–'} → ${verdict(single ? single.p50 < 50 : undefined)}; ` +
      `1,000 servers in batches of 50 ${b ? `${fmt(b.ms / 1000)} s for ${b.servers}` : '–'} → ${verdict(b ? b.servers >= 1000 && b.ms < 30_000 && !b.errors : undefined)}`
    );
  }

  goals(): string[] {
    const verdict = (ok: boolean | undefined) =>
      ok === undefined ? '**not measured**' : ok ? '**met**' : '**not met**';
    const single = this.rows.find((r) => r.op === 'create → ACTIVE' && r.detail === 'one port');
    const detail = this.rows.find((r) => r.op === 'GET /servers/detail' && r.detail.startsWith('limit=1000 of'));
    const cands = this.rows.find((r) => r.op === 'GET /allocation_candidates' && r.detail.includes('scheduler'));
    const b = this.batchResult;
    return [
      `create → ACTIVE p50 < 50 ms all-in-one (one port): ${single ? `${fmt(single.p50)} ms` : '–'} → ${verdict(single ? single.p50 < 50 : undefined)}`,
      `1,000 servers (batches of 50) < 30 s: ${b ? `${fmt(b.ms / 1000)} s for ${b.servers} (${this.s.batchNetwork === 'port' ? 'one port each' : 'networks none'})` : '–'} → ${verdict(b ? b.servers >= 1000 && b.ms < 30_000 && !b.errors : undefined)}`,
      `allocation candidates for 1,000 providers < 50 ms (p50): ${cands ? `${fmt(cands.p50)} ms` : '–'} → ${verdict(cands ? cands.p50 < 50 : undefined)}`,
      `GET /servers/detail?limit=1000 with 10,000 servers < 300 ms (p50): ${detail ? `${fmt(detail.p50)} ms (${detail.detail})` : '–'} → ${verdict(detail ? detail.p50 < 300 && this.listed >= 10_000 : undefined)}`,
      this.amqpGoal(),
    ];
  }
}

/** One Stratus on a fresh data directory (with `args`, e.g. --bus), the bench run on it, stopped; the error that stopped it, if any. */
async function onStratus(
  bench: Bench,
  args: string[],
  nodeArgs: string[],
): Promise<{ failed?: Error; dataDir: string; logFile: string }> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-compute-'));
  const logFile = path.join(os.tmpdir(), `${path.basename(dataDir)}.log`);
  let failed: Error | undefined;
  try {
    fs.writeFileSync(
      path.join(dataDir, 'stratus.yaml'),
      'compute:\n  vcpus: 4096\n  memoryMb: 4194304\n  localGb: 1000000\n',
    );
    bench.st = await startStratus({ dataDir, logFile, nodeArgs, args });
    bench.startupMs = bench.st.startupMs;
    await sleep(2000);
    bench.rssPoint('idle, 2 s after start');
    await bench.run(await login(bench.st));
  } catch (e) {
    failed = e as Error;
    bench.problems.push(`stopped: ${failed.message}`);
    bench.log(`stopped: ${failed.message}\nserver log ${logFile} (end):\n${tail(logFile, 20)}`);
  } finally {
    agent.destroy();
    await stopAll();
  }
  return { failed, dataDir, logFile };
}

export async function run(args: string[]): Promise<void> {
  const s = parseArgs(args);
  const startedAt = new Date();
  const t0 = performance.now();
  const bench = new Bench(s);
  if (!stratusAvailable()) throw new Error('bin/stratus.js not found');
  bench.conditions.push(...(await startConditions(s.waitQuietMs, (line) => bench.log(line))));
  const nodeArgs = s.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${s.cpuProf}`] : [];
  // STRATUS_BENCH_NODE_ARGS='--trace-gc ...': more flags for the server's node (those NODE_OPTIONS refuses).
  nodeArgs.push(...(process.env.STRATUS_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean));
  const main = await onStratus(bench, [], nodeArgs);
  let failed = main.failed;
  const dirs = [main.dataDir, main.logFile];

  // The same over RabbitMQ: a private broker on loopback, Stratus all-in-one with --bus amqp://.
  if (!s.rabbitmq) bench.amqpMissing = 'not measured: --no-rabbitmq';
  else if (failed) bench.amqpMissing = 'not measured: the in-process run stopped';
  else if (!fs.existsSync(RABBITMQ_SERVER))
    bench.amqpMissing = `not measured: no broker (${RABBITMQ_SERVER} is not installed; apt-get install rabbitmq-server)`;
  else {
    const amqp = new Bench(s, 'RabbitMQ');
    bench.amqp = amqp;
    const broker = new TestBroker();
    try {
      const tb = performance.now();
      await broker.start();
      amqp.info.push(
        `broker: Debian's rabbitmq-server on loopback, a private node started for the run (${fmt((performance.now() - tb) / 1000, 1)} s to accept AMQP), no plugins`,
      );
      const r = await onStratus(amqp, ['--bus', broker.url], nodeArgs);
      dirs.push(r.dataDir, r.logFile);
      if (r.failed) {
        failed = r.failed;
        bench.problems.push(...amqp.problems.map((p) => `over RabbitMQ: ${p}`));
      }
    } catch (e) {
      failed = e as Error;
      bench.problems.push(`over RabbitMQ: ${failed.message}`);
    } finally {
      await broker.stop().catch(() => undefined);
    }
  }
  bench.conditions.push(
    `load average at end: ${os
      .loadavg()
      .map((l) => fmt(l))
      .join(' ')}`,
  );
  const rep = bench.report(startedAt, performance.now() - t0);
  const file = rep.write({ file: s.write && !failed });
  if (file) process.stderr.write(`\nreport written to ${path.relative(process.cwd(), file)}\n`);
  if (failed)
    throw new Error(
      `${failed.message} (data kept in ${dirs.filter((d) => !d.endsWith('.log')).join(', ')}, server logs ${dirs.filter((d) => d.endsWith('.log')).join(', ')})`,
    );
  if (s.keep) {
    process.stderr.write(`data kept in ${dirs.join(', ')}\n`);
    return;
  }
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
}
