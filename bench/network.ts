// Network benchmark: Neutron's port and security-group-rule paths on Stratus. Port creates on a
// network with one /16 subnet, sequential and concurrent, and the concurrency proof (every port
// got its own fixed IP and MAC); port lists with 10,000 ports (a page of 1,000, and with
// `fields`); security group rule creates up to 1,000 rules in one group; the Stratus process's
// peak RSS after each phase. No neutron-server side by side (see the report).
//
//   npm run bench -- network [--quick] [--seq=N] [--ports=N] [--concurrency=N] [--list-ports=N] [--fill-minutes=N]
//                            [--rules=N] [--reps=N] [--no-agent] [--no-write] [--wait-quiet[=S]]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fetchOnce, runLoad, type LoadOptions, type LoadResult } from './lib/load.ts';
import { processCpuMs, procStatusKb, sleep, startConditions, stopAll, tail } from './lib/proc.ts';
import { fmt, machineLine, Report } from './lib/report.ts';
import { login, startStratus, stratusAvailable, type Session, type Stratus } from './lib/stratus.ts';

interface Settings {
  /** Ports created one at a time. */
  seqPorts: number;
  /** Ports created by `concurrency` clients at once. */
  concPorts: number;
  concurrency: number;
  /** Ports on the network when the lists are timed. */
  listPorts: number;
  /** The fill up to listPorts stops after this long (the lists then run on what exists). */
  fillMs: number;
  /** Repetitions of each list cell. */
  listReps: number;
  /** Rules created in one security group. */
  rules: number;
  /** Run the in-process network agent (network.agent); --no-agent shows what it costs. */
  agent: boolean;
  write: boolean;
  waitQuietMs: number;
}

function parseArgs(args: string[]): Settings {
  const s: Settings = {
    seqPorts: 500,
    concPorts: 2000,
    concurrency: 32,
    listPorts: 10_000,
    fillMs: 20 * 60_000,
    listReps: 50,
    rules: 1000,
    agent: true,
    write: true,
    waitQuietMs: 0,
  };
  const int = (k: string, v: string | undefined) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`network: ${k} wants a positive integer`);
    return n;
  };
  for (const a of args) {
    const [k, v] = a.split('=', 2) as [string, string | undefined];
    if (k === '--quick') Object.assign(s, { seqPorts: 100, concPorts: 500, listPorts: 2000, listReps: 10, rules: 200 });
    else if (k === '--seq') s.seqPorts = int(k, v);
    else if (k === '--ports') s.concPorts = int(k, v);
    else if (k === '--concurrency') s.concurrency = int(k, v);
    else if (k === '--list-ports') s.listPorts = int(k, v);
    else if (k === '--reps') s.listReps = int(k, v);
    else if (k === '--fill-minutes') s.fillMs = int(k, v) * 60_000;
    else if (k === '--no-agent') s.agent = false;
    else if (k === '--rules') s.rules = int(k, v);
    else if (k === '--no-write') s.write = false;
    else if (k === '--wait-quiet') s.waitQuietMs = Number(v ?? 60) * 1000;
    else
      throw new Error(
        `network: unknown option ${a} (options: --quick --seq=N --ports=N --concurrency=N --list-ports=N --fill-minutes=N --reps=N --rules=N --no-agent --no-write --wait-quiet[=S])`,
      );
  }
  return s;
}

interface Row {
  op: string;
  detail: string;
  r: LoadResult /** The Stratus process's CPU time per request (user + system), less noisy than wall clock on a busy machine. */;
  cpuMs: number;
}
interface RssPoint {
  label: string;
  hwmMb: number;
  rssMb: number;
}
interface Proof {
  ports: number;
  addresses: number;
  distinctAddresses: number;
  distinctMacs: number;
  notOneIp: number;
  created: number;
}

const SUBNET_CIDR = '10.0.0.0/16';

/** A Neutron answer body, read unchecked (a benchmark, not a client). */
// biome-ignore lint/suspicious/noExplicitAny: the one alias for answer bodies in this file
type Json = any;

class Bench {
  rows: Row[] = [];
  rss: RssPoint[] = [];
  problems: string[] = [];
  conditions: string[] = [];
  info: string[] = [];
  proof?: Proof;
  startupMs?: number;
  st?: Stratus;
  base = '';
  auth: Record<string, string> = {};
  constructor(readonly s: Settings) {}

  log(msg: string): void {
    process.stderr.write(`[bench network] ${msg}\n`);
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

  /** One set-up request; anything but `want` is an error naming the call. */
  async call(method: string, p: string, body?: unknown, want = method === 'POST' ? 201 : 200): Promise<Json> {
    const r = await fetchOnce(
      this.base + p,
      {
        method,
        headers: { ...this.auth, 'Content-Type': 'application/json', Accept: 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      },
      300_000,
    );
    if (r.status !== want)
      throw new Error(`${method} ${p.slice(0, 120)} answered ${r.status} (expected ${want}): ${r.body.slice(0, 300)}`);
    return r.body ? JSON.parse(r.body) : {};
  }

  async cell(op: string, detail: string, opts: Omit<LoadOptions, 'origin'>): Promise<Row> {
    const cpu0 = processCpuMs(this.st!.server.pid);
    const r = await runLoad({ origin: this.st!.origin, maxDurationMs: 600_000, timeoutMs: 120_000, ...opts });
    const row = { op, detail, r, cpuMs: (processCpuMs(this.st!.server.pid) - cpu0) / Math.max(1, r.ok + r.errors) };
    this.rows.push(row);
    this.log(
      `${op} (${detail}) c=${r.concurrency}: ${r.ok} ok, ${r.errors} errors, ${fmt(r.rps)}/s, p50 ${fmt(r.p50)} ms, p99 ${fmt(r.p99)} ms, server CPU ${fmt(row.cpuMs)} ms/request`,
    );
    if (r.errors)
      this.problems.push(`${op} (${detail}) c=${r.concurrency}: ${r.errors} errors, first: ${r.firstError}`);
    return row;
  }

  /** Every port of the network, paged by 1,000 through the `next` links. */
  async allPorts(networkId: string, fields: string[]): Promise<Json[]> {
    const out: Json[] = [];
    let next: string | undefined =
      `/v2.0/ports?network_id=${networkId}&limit=1000${fields.map((f) => `&fields=${f}`).join('')}`;
    while (next) {
      const page = await this.call('GET', next);
      out.push(...(page.ports ?? []));
      const href = (page.ports_links as { rel: string; href: string }[] | undefined)?.find(
        (l) => l.rel === 'next',
      )?.href;
      next = href && page.ports?.length ? href.slice(href.indexOf('/v2.0/')) : undefined;
      if (out.length > 10 * (this.s.listPorts + this.s.concPorts + this.s.seqPorts) + 100)
        throw new Error('paging through the ports does not end');
    }
    // Paging must give each port once; a duplicate would fake a doubly given address.
    const byId = new Map(out.map((p) => [p.id, p]));
    if (byId.size !== out.length) this.problems.push(`paging by 1,000 returned ${out.length - byId.size} ports twice`);
    return [...byId.values()];
  }

  async run(session: Session): Promise<void> {
    const endpoint = session.endpoint('network');
    if (!endpoint) throw new Error('the catalog has no network endpoint');
    this.base = endpoint;
    this.auth = { 'X-Auth-Token': session.token };
    const urlPath = new URL(endpoint).pathname.replace(/\/+$/, '');
    const post = (p: string, body: string) => ({
      method: 'POST',
      path: urlPath + p,
      headers: { ...this.auth, 'Content-Type': 'application/json' },
      body,
    });
    const get = (p: string) => ({ method: 'GET', path: urlPath + p, headers: this.auth });
    this.log(`network service at ${endpoint}`);

    // Neutron's default quotas (500 ports, 100 rules) would stop the benchmark: unlimited for this project.
    await this.call('PUT', `/v2.0/quotas/${session.projectId}`, {
      quota: { network: -1, subnet: -1, port: -1, security_group: -1, security_group_rule: -1 },
    }).catch((e: Error) =>
      this.problems.push(`quotas not raised (the default limits may stop the runs): ${e.message}`),
    );
    const net = (await this.call('POST', '/v2.0/networks', { network: { name: 'bench-net' } })).network;
    const subnet = (
      await this.call('POST', '/v2.0/subnets', {
        subnet: { name: 'bench-subnet', network_id: net.id, ip_version: 4, cidr: SUBNET_CIDR },
      })
    ).subnet;
    this.log(
      `network ${net.id}, subnet ${subnet.id} (${subnet.cidr}, pools ${JSON.stringify(subnet.allocation_pools)})`,
    );
    const portBody = (name: string) => JSON.stringify({ port: { network_id: net.id, name } });

    // Port creates: one client, then `concurrency` clients.
    const seq = await this.cell('port create', 'sequential', {
      concurrency: 1,
      maxRequests: this.s.seqPorts,
      expectStatus: [201],
      request: (i) => post('/v2.0/ports', portBody(`seq-${i}`)),
    });
    this.rssPoint(`${seq.r.ok} sequential port creates`);
    const conc = await this.cell('port create', 'concurrent', {
      concurrency: this.s.concurrency,
      maxRequests: this.s.concPorts,
      expectStatus: [201],
      request: (i) => post('/v2.0/ports', portBody(`conc-${i}`)),
    });
    this.rssPoint(`${conc.r.ok} concurrent port creates`);

    // The proof: as many distinct fixed IPs (and MACs) as ports.
    const ports = await this.allPorts(net.id, ['id', 'fixed_ips', 'mac_address']);
    const ips = ports.flatMap((p) => (p.fixed_ips ?? []) as { subnet_id: string; ip_address: string }[]);
    this.proof = {
      ports: ports.length,
      addresses: ips.length,
      distinctAddresses: new Set(ips.map((ip) => `${ip.subnet_id}/${ip.ip_address}`)).size,
      distinctMacs: new Set(ports.map((p) => p.mac_address)).size,
      notOneIp: ports.filter((p) => p.fixed_ips?.length !== 1).length,
      created: seq.r.ok + conc.r.ok,
    };
    const pr = this.proof;
    const equal =
      pr.ports === pr.distinctAddresses && pr.addresses === pr.distinctAddresses && pr.ports === pr.distinctMacs;
    this.log(
      `concurrency proof: ${pr.ports} ports (${pr.created} created by the benchmark), ${pr.addresses} fixed IPs of which ${pr.distinctAddresses} distinct, ` +
        `${pr.distinctMacs} distinct MACs, ${pr.notOneIp} ports without exactly one IP → ${equal ? 'EQUAL' : 'NOT EQUAL'}`,
    );
    if (!equal)
      this.problems.push(
        `concurrency proof failed: ${pr.ports} ports, ${pr.distinctAddresses} distinct fixed IPs, ${pr.distinctMacs} distinct MACs`,
      );

    // Fill the network up to listPorts ports (not timed per port): bulk creates of 100 by 4 clients,
    // single creates if bulk fails; within a time budget, after which the lists run on what exists.
    let have = ports.length;
    if (have < this.s.listPorts) {
      const t0 = performance.now();
      const deadline = t0 + this.s.fillMs;
      let filled = 0;
      let failure: string | undefined;
      const worker = async (w: number) => {
        for (let b = 0; !failure && performance.now() < deadline; b++) {
          const n = Math.min(100, this.s.listPorts - have - filled);
          if (n <= 0) return;
          filled += n; // reserved before the request, so that the clients do not overshoot
          try {
            await this.call('POST', '/v2.0/ports', {
              ports: Array.from({ length: n }, (_, k) => ({ network_id: net.id, name: `fill-${w}-${b}-${k}` })),
            });
          } catch (e) {
            filled -= n;
            failure ??= (e as Error).message;
          }
        }
      };
      await Promise.all([0, 1, 2, 3].map(worker));
      const secs = (performance.now() - t0) / 1000;
      this.info.push(
        `fill: ${filled} ports by bulk POST /v2.0/ports (100 a request, 4 clients) in ${fmt(secs)} s (${fmt(filled / secs, 0)} ports/s)`,
      );
      if (failure) {
        this.problems.push(`fill by bulk create: ${failure.slice(0, 200)}`);
        const rest = this.s.listPorts - (await this.allPorts(net.id, ['id'])).length;
        const left = deadline - performance.now();
        if (rest > 0 && left > 1000) {
          const r = await runLoad({
            origin: this.st!.origin,
            concurrency: 8,
            maxRequests: rest,
            durationMs: left,
            expectStatus: [201],
            timeoutMs: 120_000,
            request: (i) => post('/v2.0/ports', portBody(`fill-${i}`)),
          });
          this.info.push(
            `fill: ${r.ok} ports by single creates (c=8) in ${fmt(r.elapsedMs / 1000)} s; ${r.errors} errors${r.firstError ? ` (${r.firstError})` : ''}`,
          );
        }
      }
      have = (await this.allPorts(net.id, ['id'])).length;
      if (have < this.s.listPorts)
        this.problems.push(
          `only ${have} of ${this.s.listPorts} ports on the network after the fill (budget ${fmt(this.s.fillMs / 60_000, 0)} min)`,
        );
      this.rssPoint(`${have} ports on the network`);
    }
    this.info.push(`ports on the network during the lists: ${have}`);

    // Lists: the first page of 1,000, the same with fields, and (a few times) all of them.
    const first = await this.call('GET', '/v2.0/ports?limit=1000');
    if (first.ports?.length !== Math.min(1000, have))
      this.problems.push(`GET /v2.0/ports?limit=1000 returned ${first.ports?.length} ports`);
    if (!first.ports_links?.some((l: { rel: string }) => l.rel === 'next'))
      this.problems.push('GET /v2.0/ports?limit=1000 has no next link');
    const slim = await this.call('GET', '/v2.0/ports?limit=1000&fields=id&fields=fixed_ips');
    const keys = new Set((slim.ports ?? []).flatMap((p: object) => Object.keys(p)));
    if ([...keys].sort().join(',') !== 'fixed_ips,id')
      this.problems.push(`fields=id&fields=fixed_ips returned the keys ${[...keys].join(',')}`);
    for (const c of [1, 8]) {
      await this.cell('list ports', 'limit=1000', {
        concurrency: c,
        maxRequests: this.s.listReps,
        warmupRequests: 2,
        expectStatus: [200],
        request: get('/v2.0/ports?limit=1000'),
      });
      await this.cell('list ports', 'limit=1000&fields=id&fields=fixed_ips', {
        concurrency: c,
        maxRequests: this.s.listReps,
        warmupRequests: 2,
        expectStatus: [200],
        request: get('/v2.0/ports?limit=1000&fields=id&fields=fixed_ips'),
      });
    }
    await this.cell('list ports', `all ${have}, no limit`, {
      concurrency: 1,
      maxRequests: Math.max(3, Math.round(this.s.listReps / 10)),
      expectStatus: [200],
      request: get('/v2.0/ports'),
    });
    this.rssPoint('port lists');

    // Security group rules: `rules` in one group, one at a time.
    const sg = (await this.call('POST', '/v2.0/security-groups', { security_group: { name: 'bench-sg' } }))
      .security_group;
    const ruleBody = (i: number) =>
      JSON.stringify({
        security_group_rule: {
          security_group_id: sg.id,
          direction: 'ingress',
          ethertype: 'IPv4',
          protocol: 'tcp',
          port_range_min: i + 1,
          port_range_max: i + 1,
          remote_ip_prefix: '10.0.0.0/8',
        },
      });
    const rules = await this.cell('security group rule create', 'one group', {
      concurrency: 1,
      maxRequests: this.s.rules,
      expectStatus: [201],
      request: (i) => post('/v2.0/security-group-rules', ruleBody(i)),
    });
    const listed =
      (await this.call('GET', `/v2.0/security-group-rules?security_group_id=${sg.id}&fields=id`)).security_group_rules
        ?.length ?? 0;
    const own = (sg.security_group_rules ?? []).length;
    this.info.push(
      `security group: ${own} rules at creation (the default egress rules) + ${rules.r.ok} created = ${listed} listed`,
    );
    if (listed !== own + rules.r.ok)
      this.problems.push(`security group lists ${listed} rules, expected ${own + rules.r.ok}`);
    await this.cell('security group show', `${listed} rules`, {
      concurrency: 1,
      maxRequests: Math.max(5, Math.round(this.s.listReps / 5)),
      expectStatus: [200],
      request: get(`/v2.0/security-groups/${sg.id}`),
    });
    this.rssPoint(`${listed} rules in one group`);
  }

  report(startedAt: Date, wallMs: number): Report {
    const rep = new Report(
      'network',
      `Network benchmark — ${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    );
    rep.text(
      [
        `Machine: ${machineLine()}. Wall time ${fmt(wallMs / 1000, 0)} s; ${this.conditions.join(', ')} (other work on the machine skews every number: compare rows of one run, not runs).`,
        `Stratus: \`node bin/stratus.js start\` on a fresh data directory (SQLite, ${this.s.agent ? 'the in-process logical agent' : '**without** the network agent (network.agent: false)'}), ` +
          "Neutron v2.0 API at the catalog's network endpoint, admin token, " +
          `the admin project's quotas raised to unlimited. One network with one IPv4 subnet ${SUBNET_CIDR} (DHCP on, allocation pool as Neutron derives it).`,
        'Closed-loop load generator (bench/lib/load.ts, node:http, keep-alive) in the benchmark process, on the same cores as the server; every request must answer 201/200. ' +
          'port create: POST /v2.0/ports {network_id, name} (the fixed IP and the MAC are allocated by the server); ' +
          'list: GET /v2.0/ports with the query shown (admin: every project); rule create: POST /v2.0/security-group-rules (ingress tcp, one port each, so no two are equal). ' +
          "server CPU: the Stratus process's user + system CPU time during the cell over its requests (less noisy than wall clock on a busy machine).",
        "No neutron-server side by side: skipped (Debian's neutron-server needs MySQL/PostgreSQL, RabbitMQ and an ML2 agent set-up to mean anything; the goals below are absolute).",
      ].join('\n'),
    );
    rep.heading('Throughput and latency');
    rep.table(
      [
        'operation',
        'detail',
        'c',
        'requests',
        'ok',
        'errors',
        'per s',
        'p50 ms',
        'p99 ms',
        'max ms',
        'server CPU ms/req',
      ],
      this.rows.map((x) => [
        x.op,
        x.detail,
        x.r.concurrency,
        x.r.ok + x.r.errors,
        x.r.ok,
        x.r.errors,
        fmt(x.r.rps),
        fmt(x.r.p50),
        fmt(x.r.p99),
        fmt(x.r.max),
        fmt(x.cpuMs),
      ]),
      ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
    );
    if (this.info.length) rep.bullets(this.info);
    rep.heading('Concurrency proof');
    const pr = this.proof;
    if (pr) {
      rep.table(
        [
          'ports on the network',
          'created by the benchmark',
          'fixed IPs',
          'distinct fixed IPs',
          'distinct MACs',
          'ports without exactly one IP',
        ],
        [[pr.ports, pr.created, pr.addresses, pr.distinctAddresses, pr.distinctMacs, pr.notOneIp]],
      );
      rep.text(
        `After the ${this.s.concurrency}-client run, every port of the network read back (paged by 1,000). ` +
          "The ports beyond those created by the benchmark are the network's own (the DHCP port).",
      );
    } else {
      rep.text('Not reached.');
    }
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

  goals(): string[] {
    const verdict = (ok: boolean | undefined) =>
      ok === undefined ? '**not measured**' : ok ? '**met**' : '**not met**';
    const conc = this.rows.find((r) => r.op === 'port create' && r.detail === 'concurrent');
    const list = this.rows.find((r) => r.op === 'list ports' && r.detail === 'limit=1000' && r.r.concurrency === 1);
    const pr = this.proof;
    return [
      `Port creates ≥ 500/s (c=${this.s.concurrency}): ${conc ? `${fmt(conc.r.rps, 0)}/s${conc.r.errors ? `, ${conc.r.errors} errors` : ''}` : '–'} → ${verdict(conc ? conc.r.rps >= 500 && !conc.r.errors : undefined)}`,
      `List of 1,000 ports p50 < 100 ms (limit=1000, c=1): ${list ? `${fmt(list.r.p50)} ms` : '–'} → ${verdict(list ? list.r.p50 < 100 && !list.r.errors : undefined)}`,
      `No address given twice under concurrency (ports = distinct fixed IPs = distinct MACs): ${pr ? `${pr.ports} / ${pr.distinctAddresses} / ${pr.distinctMacs}` : '–'} → ` +
        verdict(
          pr
            ? pr.ports === pr.distinctAddresses && pr.addresses === pr.distinctAddresses && pr.ports === pr.distinctMacs
            : undefined,
        ),
    ];
  }
}

export async function run(args: string[]): Promise<void> {
  const s = parseArgs(args);
  const startedAt = new Date();
  const t0 = performance.now();
  const bench = new Bench(s);
  if (!stratusAvailable()) throw new Error('bin/stratus.js not found');
  bench.conditions.push(...(await startConditions(s.waitQuietMs, (line) => bench.log(line))));
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-network-'));
  const logFile = path.join(os.tmpdir(), `${path.basename(dataDir)}.log`);
  let failed: Error | undefined;
  try {
    if (!s.agent) fs.writeFileSync(path.join(dataDir, 'stratus.yaml'), 'network:\n  agent: false\n');
    bench.st = await startStratus({ dataDir, logFile });
    bench.startupMs = bench.st.startupMs;
    await sleep(2000);
    bench.rssPoint('idle, 2 s after start');
    await bench.run(await login(bench.st));
  } catch (e) {
    failed = e as Error;
    bench.problems.push(`stopped: ${failed.message}`);
    bench.log(`stopped: ${failed.message}\nserver log ${logFile} (end):\n${tail(logFile, 20)}`);
  } finally {
    await stopAll();
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
  if (failed) throw new Error(`${failed.message} (data kept in ${dataDir}, server log ${logFile})`);
  fs.rmSync(dataDir, { recursive: true, force: true });
  fs.rmSync(logFile, { force: true });
}
