// Orchestration benchmark: stack create and delete (to COMPLETE) of a 1-resource stack, a
// 50-resource stack of Neutron objects and random strings and issue 16's 100-resource stack of
// networks, subnets, ports and servers (fake driver), each against the same API calls made directly
// (the overhead ratio), 1,000 OS::Heat::RandomString in one stack, a stack list with 1,000 stacks,
// and the peak RSS. An all-in-one Stratus (SQLite, in-process bus, one engine, the fake compute
// driver). Debian's heat-api/heat-engine side by side: bench/orchestration-side.ts.
//
//   npm run bench -- orchestration [--quick] [--reps=N] [--stacks=N] [--no-write] [--engine=legacy|convergence]
//                                  [--only=fifty|hundred|many] [--server-poll=MS] [--cpu-prof=DIR]
//                                  [--hundred-only=stack|direct] (one half only: a profile of each)
// --only=hundred: only the 100-resource stack and its direct calls, interleaved (A B A B), --reps
// times each; writes bench/reports/orchestration-<date>-hundred.md.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { fetchOnce } from './lib/load.ts';
import { procCpuMs, procStatusKb, sleep, stopAll } from './lib/proc.ts';
import { fmt, machineLine, Report } from './lib/report.ts';
import { login, startStratus, type Session } from './lib/stratus.ts';
import { neutronTemplate, serverTemplate } from './lib/heat-templates.ts';

interface Settings {
  reps: number;
  stacks: number;
  randoms: number;
  write: boolean;
  /** orchestration.convergenceEngine: true (convergence, the default) or false (legacy). */
  convergence: boolean;
  /** orchestration.convergenceDelete: --convergence-delete true, --locked-delete false, else the engine's default (true). */
  convergenceDelete: boolean | null;
  /** --only=fifty: just the 50-resource stack and its direct calls (profiling). */
  only: string | null;
  /** --cpu-prof=DIR: the server runs with node --cpu-prof into DIR. */
  cpuProf: string | null;
  /** --server-poll=MS: the direct client's GET /servers/{id} interval while it waits (the engine's: 300 ms). */
  serverPollMs: number;
  /** --hundred-only=stack|direct: with --only=hundred, only that half (a profile of one side). */
  hundredOnly: 'stack' | 'direct' | null;
  /** --hops: with --only=hundred, where each chain's time goes (the engine's events vs the direct calls). */
  hops: boolean;
}

function parseArgs(args: string[]): Settings {
  const s: Settings = {
    reps: 20,
    stacks: 1000,
    randoms: 1000,
    write: true,
    convergence: true,
    convergenceDelete: null,
    only: null,
    cpuProf: null,
    serverPollMs: 300,
    hundredOnly: null,
    hops: false,
  };
  const int = (k: string, v: string | undefined) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`orchestration: ${k} wants a positive integer`);
    return n;
  };
  for (const a of args) {
    const [k, v] = a.split('=', 2) as [string, string | undefined];
    if (k === '--quick') Object.assign(s, { reps: 5, stacks: 100, randoms: 200 });
    else if (k === '--reps') s.reps = int(k, v);
    else if (k === '--stacks') s.stacks = int(k, v);
    else if (k === '--no-write') s.write = false;
    else if (k === '--convergence-delete') s.convergenceDelete = true;
    else if (k === '--locked-delete') s.convergenceDelete = false;
    else if (k === '--only' && (v === 'fifty' || v === 'many' || v === 'hundred')) s.only = v;
    else if (k === '--server-poll') s.serverPollMs = int(k, v);
    else if (k === '--hundred-only' && (v === 'stack' || v === 'direct')) s.hundredOnly = v;
    else if (k === '--hops') s.hops = true;
    else if (k === '--randoms') s.randoms = int(k, v);
    else if (k === '--cpu-prof' && v) s.cpuProf = path.resolve(v);
    else if (k === '--engine' && (v === 'legacy' || v === 'convergence')) s.convergence = v === 'convergence';
    else
      throw new Error(
        `orchestration: unknown option ${a} (options: --quick --reps=N --stacks=N --randoms=N --no-write --engine=legacy|convergence --convergence-delete --locked-delete --only=fifty|hundred|many --server-poll=MS --hundred-only=stack|direct --hops --cpu-prof=DIR)`,
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

function need(r: { status: number; body: string }, status: number, what: string) {
  if (r.status !== status) throw new Error(`${what}: ${r.status} ${r.body.slice(0, 300)}`);
  return r.body ? (JSON.parse(r.body) as Record<string, unknown>) : {};
}

async function pool<T>(items: T[], n: number, fn: (t: T) => Promise<void>) {
  let i = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (i < items.length) await fn(items[i++]!);
    }),
  );
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

export async function run(args: string[]) {
  const s = parseArgs(args);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-bench-orchestration-'));
  fs.writeFileSync(
    path.join(dataDir, 'stratus.yaml'),
    `orchestration:\n  maxStacksPerTenant: 100000\n  convergenceEngine: ${s.convergence}\n` +
      (s.convergenceDelete === null ? '' : `  convergenceDelete: ${s.convergenceDelete}\n`) +
      // The fake host's capacity (as bench/compute.ts): 25 servers at a time and their leftovers.
      'compute:\n  vcpus: 4096\n  memoryMb: 4194304\n  localGb: 1000000\n',
  );
  const st = await startStratus({
    dataDir,
    logFile: path.join(dataDir, 'stratus.out'),
    args: ['--bare'],
    nodeArgs: s.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${s.cpuProf}`] : [],
  });
  try {
    const sess = await login(st);
    const heat = sess.endpoint('orchestration')!;
    const neutron = `${sess.endpoint('network')!}/v2.0`;
    let n = 0;
    need(
      await call(sess, 'PUT', `${neutron}/quotas/${sess.projectId}`, {
        quota: { network: -1, subnet: -1, port: -1, security_group: -1, security_group_rule: -1 },
      }),
      200,
      'quotas',
    );

    /** Creates a stack and waits for CREATE_COMPLETE; deletes it and waits for it to go. */
    async function cycle(
      template: unknown,
      afterCreate?: (id: string, postedAt: number, doneAt: number) => void,
    ): Promise<{ create: number; del: number; cpu: number; delCpu: number }> {
      const name = `bench-${n++}`;
      const cpu0 = procCpuMs(st.server.pid);
      const postedAt = Date.now();
      let t0 = performance.now();
      const created = need(await call(sess, 'POST', `${heat}/stacks`, { stack_name: name, template }), 201, 'create');
      const id = (created.stack as { id: string }).id;
      const url = `${heat}/stacks/${name}/${id}`;
      const until = async (want: string) => {
        for (;;) {
          const r = await call(sess, 'GET', url);
          const st =
            r.status === 404
              ? 'DELETE_COMPLETE'
              : (need(r, 200, 'show').stack as { stack_status: string }).stack_status;
          if (st === want) return;
          if (st.endsWith('FAILED')) throw new Error(`${name}: ${st} ${r.body.slice(0, 300)}`);
          await sleep(10);
        }
      };
      await until('CREATE_COMPLETE');
      const create = performance.now() - t0;
      afterCreate?.(id, postedAt, Date.now());
      const cpu = procCpuMs(st.server.pid) - cpu0;
      const cpu1 = procCpuMs(st.server.pid);
      t0 = performance.now();
      need(await call(sess, 'DELETE', url), 204, 'delete');
      await until('DELETE_COMPLETE');
      return { create, del: performance.now() - t0, cpu, delCpu: procCpuMs(st.server.pid) - cpu1 };
    }
    const runCycles = async (template: unknown, reps: number) => {
      const c: number[] = [];
      const d: number[] = [];
      for (let i = 0; i < reps; i++) {
        const r = await cycle(template);
        c.push(r.create);
        d.push(r.del);
      }
      return { c, d };
    };

    const one = { heat_template_version: '2021-04-16', resources: { r: { type: 'OS::Heat::RandomString' } } };
    const groups = 10;
    const fifty = neutronTemplate(groups);
    const many = {
      heat_template_version: '2021-04-16',
      resources: Object.fromEntries(
        Array.from({ length: s.randoms }, (_, i) => [`r${i}`, { type: 'OS::Heat::RandomString' }]),
      ),
    };

    const direct: number[] = [];
    const directDel: number[] = [];
    await runCycles(one, 2); // warm-up

    // -- issue 16's stack: 25 × (Net, Subnet, Port, Server on that port), the fake driver --------
    const serverGroups = 25;
    const nova = sess.endpoint('compute')!;
    const glance = sess.endpoint('image')!;
    const placement = sess.endpoint('placement')!;
    let boot: { flavorRef: string; imageRef: string } | null = null;
    /** Compute quotas, a flavor, an uploaded image, the fake host in placement (once). */
    async function computeSetup() {
      if (boot) return boot;
      need(
        await call(sess, 'PUT', `${nova}/os-quota-sets/${sess.projectId}`, {
          quota_set: { instances: -1, cores: -1, ram: -1 },
        }),
        200,
        'compute quotas',
      );
      const flavor = need(
        await call(sess, 'POST', `${nova}/flavors`, {
          flavor: { name: 'bench.nano', ram: 64, vcpus: 1, disk: 1, id: 'bench-nano' },
        }),
        200,
        'flavor',
      ).flavor as { id: string };
      const image = need(
        await call(sess, 'POST', `${glance}/v2/images`, {
          name: 'bench',
          disk_format: 'raw',
          container_format: 'bare',
          visibility: 'public',
        }),
        201,
        'image',
      ) as { id: string };
      const up = await fetchOnce(`${glance}/v2/images/${image.id}/file`, {
        method: 'PUT',
        headers: { 'X-Auth-Token': sess.token, 'Content-Type': 'application/octet-stream' },
        body: 'bench image',
      });
      if (up.status !== 204) throw new Error(`image upload: ${up.status} ${up.body.slice(0, 200)}`);
      for (let i = 0; ; i++) {
        const rps = need(await call(sess, 'GET', `${placement}/resource_providers`), 200, 'placement')
          .resource_providers as unknown[];
        if (rps.length) break;
        if (i > 300) throw new Error('no compute node in placement after 30 s');
        await sleep(100);
      }
      boot = { flavorRef: flavor.id, imageRef: image.id };
      return boot;
    }
    const hundredTemplate = (b: { flavorRef: string; imageRef: string }) =>
      serverTemplate(serverGroups, { flavor: b.flavorRef, image: b.imageRef });
    /** GET /servers/{id} every s.serverPollMs until `want` (ACTIVE, or 404 for 'gone'), as the engine waits. */
    async function waitServer(id: string, want: 'ACTIVE' | 'gone') {
      const t0 = performance.now();
      for (;;) {
        const r = await call(sess, 'GET', `${nova}/servers/${id}`);
        if (r.status === 404 && want === 'gone') return;
        const status = (need(r, 200, 'server show').server as { status: string }).status;
        if (status === want) return;
        if (status === 'ERROR') throw new Error(`server ${id}: ERROR ${r.body.slice(0, 300)}`);
        if (performance.now() - t0 > 300_000) throw new Error(`server ${id}: not ${want} after 300 s`);
        await sleep(s.serverPollMs);
      }
    }
    /**
     * The stack's 100 objects by direct API calls: the 25 chains at once (the convergence engine
     * casts every ready node), each server waited ACTIVE; then deleted 16 at a time (the engine's
     * delete walks the graph backwards, orchestration.maxParallelResources = 16), each server
     * waited gone before its port, subnet and network go.
     */
    async function directHundred(b: { flavorRef: string; imageRef: string }) {
      const made: Array<{ net: string; subnet: string; port: string; server: string }> = [];
      const cpu0 = procCpuMs(st.server.pid);
      let t0 = performance.now();
      const t00 = Date.now();
      const madeMarks: number[][] = [];
      await pool(
        Array.from({ length: serverGroups }, (_, g) => g),
        serverGroups,
        async (g) => {
          const mark: number[] = [Date.now()];
          const net = (
            need(await call(sess, 'POST', `${neutron}/networks`, { network: { name: `d${g}` } }), 201, 'net')
              .network as { id: string }
          ).id;
          mark.push(Date.now());
          const subnet = (
            need(
              await call(sess, 'POST', `${neutron}/subnets`, {
                subnet: { network_id: net, cidr: `10.${g}.0.0/24`, ip_version: 4 },
              }),
              201,
              'subnet',
            ).subnet as { id: string }
          ).id;
          mark.push(Date.now());
          const port = (
            need(
              await call(sess, 'POST', `${neutron}/ports`, {
                port: { network_id: net, fixed_ips: [{ subnet_id: subnet }] },
              }),
              201,
              'port',
            ).port as { id: string }
          ).id;
          mark.push(Date.now());
          const server = (
            need(
              await call(sess, 'POST', `${nova}/servers`, {
                server: { name: `d${g}`, flavorRef: b.flavorRef, imageRef: b.imageRef, networks: [{ port }] },
              }),
              202,
              'server',
            ).server as { id: string }
          ).id;
          mark.push(Date.now());
          made.push({ net, subnet, port, server });
          await waitServer(server, 'ACTIVE');
          mark.push(Date.now());
          if (s.hops) {
            const rel = mark.map((x) => x - t00);
            directMarks.push(rel);
            madeMarks[made.findIndex((m) => m.server === server)] = rel;
          }
        },
      );
      const create = performance.now() - t0;
      const cpu = procCpuMs(st.server.pid) - cpu0;
      if (s.hops) {
        const times = serverTimes(
          made.map((m) => m.server),
          t00,
        );
        made.forEach((m, i) => {
          const t = times.get(m.server);
          const mk = madeMarks[i]!;
          if (t) directServers.push([mk[3]!, t[0], t[1], mk[5]!]);
        });
      }
      const cpu1 = procCpuMs(st.server.pid);
      t0 = performance.now();
      await pool(made, 16, async (m) => {
        need(await call(sess, 'DELETE', `${nova}/servers/${m.server}`), 204, 'delete server');
        await waitServer(m.server, 'gone');
        need(await call(sess, 'DELETE', `${neutron}/ports/${m.port}`), 204, 'delete port');
        need(await call(sess, 'DELETE', `${neutron}/subnets/${m.subnet}`), 204, 'delete subnet');
        need(await call(sess, 'DELETE', `${neutron}/networks/${m.net}`), 204, 'delete net');
      });
      return { create, del: performance.now() - t0, cpu, delCpu: procCpuMs(st.server.pid) - cpu1 };
    }
    // --hops: per chain, ms since the start: direct [start, net, subnet, port, server POST, ACTIVE];
    // stack [net IN_PROGRESS, COMPLETE, subnet .., port .., server .., the client saw CREATE_COMPLETE].
    const directMarks: number[][] = [];
    const stackMarks: number[][] = [];
    /** created_at and launched_at (ms since `base`) of servers, from compute's SQLite file. */
    function serverTimes(ids: string[], base: number): Map<string, [number, number]> {
      const out = new Map<string, [number, number]>();
      const file = findFile(dataDir, 'compute.sqlite');
      if (!file || !ids.length) return out;
      const db = new Database(file, { readonly: true, fileMustExist: true });
      try {
        const rows = db
          .prepare(
            `select uuid, created_at, launched_at from instances where uuid in (${ids.map(() => '?').join(',')})`,
          )
          .all(...ids) as Array<{ uuid: string; created_at: string; launched_at: string | null }>;
        for (const r of rows)
          out.set(r.uuid, [
            Date.parse(r.created_at) - base,
            r.launched_at ? Date.parse(r.launched_at) - base : Number.NaN,
          ]);
      } finally {
        db.close();
      }
      return out;
    }
    // Per server: [POST sent or node IN_PROGRESS, created_at, launched_at, ACTIVE seen or node COMPLETE].
    const directServers: number[][] = [];
    const stackServers: number[][] = [];
    function readHops(stackId: string, postedAt: number, doneAt: number) {
      const file = findFile(dataDir, 'orchestration.sqlite');
      if (!file) return;
      const db = new Database(file, { readonly: true, fileMustExist: true });
      try {
        const rows = db
          .prepare('select resource_name, status, created_at from event where stack_id = ? and action = ?')
          .all(stackId, 'CREATE') as Array<{ resource_name: string; status: string; created_at: string }>;
        const at = (name: string, status: string) => {
          const r = rows.find((x) => x.resource_name === name && x.status === status);
          return r ? Date.parse(r.created_at) - postedAt : Number.NaN;
        };
        const phys = db
          .prepare('select name, physical_resource_id from resource where stack_id = ? and type = ?')
          .all(stackId, 'OS::Nova::Server') as Array<{ name: string; physical_resource_id: string | null }>;
        const times = serverTimes(phys.map((x) => x.physical_resource_id ?? '').filter(Boolean), postedAt);
        for (const x of phys) {
          const t = times.get(x.physical_resource_id ?? '');
          if (t) stackServers.push([at(x.name, 'IN_PROGRESS'), t[0], t[1], at(x.name, 'COMPLETE')]);
        }
        const chains = Array.from({ length: serverGroups }, (_, g) =>
          ['net', 'subnet', 'port', 'server'].flatMap((k) => [
            at(`${k}${g}`, 'IN_PROGRESS'),
            at(`${k}${g}`, 'COMPLETE'),
          ]),
        );
        // The last entry: from this stack's last server COMPLETE until the client saw CREATE_COMPLETE.
        const last = Math.max(...chains.map((c) => c[7]!));
        for (const c of chains) stackMarks.push([...c, doneAt - postedAt - last]);
      } finally {
        db.close();
      }
    }
    interface HundredRun {
      stack: { create: number; del: number; cpu: number; delCpu: number };
      direct: { create: number; del: number; cpu: number; delCpu: number };
      load: number;
    }
    /** A B A B: the stack, then the same objects directly, `reps` times; one line per pair. */
    async function hundredRuns(reps: number): Promise<HundredRun[]> {
      const b = await computeSetup();
      const tpl = hundredTemplate(b);
      // Warm-up (first servers, first ports on each path), not counted.
      await cycle(tpl);
      await directHundred(b);
      directMarks.length = 0;
      directServers.length = 0;
      stackServers.length = 0;
      stackMarks.length = 0;
      const runs: HundredRun[] = [];
      for (let i = 0; i < reps; i++) {
        const none = { create: Number.NaN, del: Number.NaN, cpu: Number.NaN, delCpu: Number.NaN };
        const stack = s.hundredOnly === 'direct' ? none : await cycle(tpl, s.hops ? readHops : undefined);
        const direct = s.hundredOnly === 'stack' ? none : await directHundred(b);
        const load = os.loadavg()[0]!;
        runs.push({ stack, direct, load });
        console.log(
          `100 resources #${i + 1}: stack create ${fmt(stack.create, 0)} ms (CPU ${fmt(stack.cpu, 0)} ms), ` +
            `direct ${fmt(direct.create, 0)} ms (CPU ${fmt(direct.cpu, 0)} ms); delete ${fmt(stack.del, 0)} ms ` +
            `(CPU ${fmt(stack.delCpu, 0)}) vs ${fmt(direct.del, 0)} ms (CPU ${fmt(direct.delCpu, 0)}); load ${fmt(load, 2)}`,
        );
      }
      if (s.hops) printHops();
      return runs;
    }
    function printServers() {
      const med = (xs: number[]) =>
        pct(
          xs.filter((x) => !Number.isNaN(x)),
          50,
        );
      const line = (what: string, m: number[][]) =>
        `  ${what}: → POST received (created_at) ${fmt(med(m.map((r) => r[1]! - r[0]!)), 0)}, → launched_at ${fmt(med(m.map((r) => r[2]! - r[1]!)), 0)}, → ACTIVE seen ${fmt(med(m.map((r) => r[3]! - r[2]!)), 0)} (${m.length} servers)`;
      console.log("each server (median ms): from the direct client's POST sent / the engine's IN_PROGRESS event");
      console.log(line('direct', directServers));
      console.log(line('stack ', stackServers));
    }
    function printHops() {
      printServers();
      const med = (xs: number[]) =>
        pct(
          xs.filter((x) => !Number.isNaN(x)),
          50,
        );
      const col = (m: number[][], f: (r: number[]) => number) => fmt(med(m.map(f)), 0);
      const d = directMarks;
      const k = stackMarks;
      console.log(`where a chain's time goes (median over ${d.length} direct and ${k.length} stack chains, ms):`);
      console.log(
        `  direct: start → net ${col(d, (r) => r[1]! - r[0]!)}, subnet call ${col(d, (r) => r[2]! - r[1]!)}, port call ${col(d, (r) => r[3]! - r[2]!)}, ` +
          `server POST ${col(d, (r) => r[4]! - r[3]!)}, POST → ACTIVE seen ${col(d, (r) => r[5]! - r[4]!)}; chain ${col(d, (r) => r[5]!)}, last chain ${fmt(Math.max(...d.map((r) => r[5]!)), 0)}`,
      );
      console.log(
        `  stack:  POST → net IN_PROGRESS ${col(k, (r) => r[0]!)}, net ${col(k, (r) => r[1]! - r[0]!)}, hop ${col(k, (r) => r[2]! - r[1]!)}, ` +
          `subnet ${col(k, (r) => r[3]! - r[2]!)}, hop ${col(k, (r) => r[4]! - r[3]!)}, port ${col(k, (r) => r[5]! - r[4]!)}, hop ${col(k, (r) => r[6]! - r[5]!)}, ` +
          `server ${col(k, (r) => r[7]! - r[6]!)}; chain ${col(k, (r) => r[7]!)}, last chain ${fmt(Math.max(...k.map((r) => r[7]!)), 0)}, ` +
          `last server COMPLETE → client saw CREATE_COMPLETE ${col(k, (r) => r[8]!)}`,
      );
    }
    const hundredSummary = (runs: HundredRun[]) => {
      const p = (f: (r: HundredRun) => number) => pct(runs.map(f), 50);
      return {
        create: p((r) => r.stack.create),
        createCpu: p((r) => r.stack.cpu),
        del: p((r) => r.stack.del),
        delCpu: p((r) => r.stack.delCpu),
        dCreate: p((r) => r.direct.create),
        dCreateCpu: p((r) => r.direct.cpu),
        dDel: p((r) => r.direct.del),
        dDelCpu: p((r) => r.direct.delCpu),
        loads: runs.map((r) => r.load),
        // Each pair ran back to back on the same load: the median of the pairs' own ratios.
        pairWall: p((r) => r.stack.create / r.direct.create),
        pairCpu: p((r) => r.stack.cpu / r.direct.cpu),
      };
    };
    const ms = (x: number) => `${fmt(x, 0)} ms`;
    const hundredRows = (h: ReturnType<typeof hundredSummary>, n: number) => [
      [
        '100 resources (25 × Net, Subnet, Port, Server; fake driver)',
        n,
        ms(h.create),
        ms(h.createCpu),
        ms(h.del),
        ms(h.delCpu),
      ],
      [
        `the same 100 objects by direct API calls (25 clients; delete 16)`,
        n,
        ms(h.dCreate),
        ms(h.dCreateCpu),
        ms(h.dDel),
        ms(h.dDelCpu),
      ],
    ];
    const hundredRatios = (h: ReturnType<typeof hundredSummary>) => [
      [
        'overhead ratio, 100-resource stack create vs direct calls (p50): wall / server CPU',
        `${fmt(h.create / h.dCreate, 2)}× / ${fmt(h.createCpu / h.dCreateCpu, 2)}×`,
      ],
      [
        "… the median of each pair's own ratio (stack, then direct, back to back): wall / server CPU",
        `${fmt(h.pairWall, 2)}× / ${fmt(h.pairCpu, 2)}×`,
      ],
      [
        '… its delete vs direct calls (p50): wall / server CPU',
        `${fmt(h.del / h.dDel, 2)}× / ${fmt(h.delCpu / h.dDelCpu, 2)}×`,
      ],
    ];
    if (s.only === 'hundred') {
      const runs = await hundredRuns(s.reps);
      const h = hundredSummary(runs);
      const rep = new Report(
        'orchestration',
        "Orchestration: issue 16's 100-resource stack (networks, subnets, ports, servers) against the direct calls",
      );
      rep.text(machineLine());
      rep.table(
        ['what', 'runs', 'create p50 (wall)', 'server CPU', 'delete p50 (wall)', 'server CPU'],
        hundredRows(h, runs.length),
        ['l', 'r', 'r', 'r', 'r', 'r'],
      );
      rep.table(['what', 'result'], hundredRatios(h), ['l', 'r']);
      rep.heading('Each pair (stack, then direct; in this order)');
      rep.table(
        [
          'run',
          'stack create',
          'CPU',
          'direct create',
          'CPU',
          'ratio wall / CPU',
          'stack delete',
          'direct delete',
          'load (1 min)',
        ],
        runs.map((r, i) => [
          i + 1,
          ms(r.stack.create),
          ms(r.stack.cpu),
          ms(r.direct.create),
          ms(r.direct.cpu),
          `${fmt(r.stack.create / r.direct.create, 2)}× / ${fmt(r.stack.cpu / r.direct.cpu, 2)}×`,
          ms(r.stack.del),
          ms(r.direct.del),
          fmt(r.load, 2),
        ]),
      );
      rep.text(
        `An all-in-one Stratus (\`start --bare\`, SQLite, in-process bus, one engine, ${s.convergence ? 'convergence' : 'legacy'}, the fake compute driver), a flavor (1 vCPU, 64 MB) and a raw image made by the bench. ` +
          `Stack: POST /stacks until the stack show says CREATE_COMPLETE (polled every 10 ms), DELETE until 404. ` +
          `Direct: the 25 chains (network → subnet → port → server on that port, each server polled every ${s.serverPollMs} ms until ACTIVE, as the engine's OS::Nova::Server waits) at once, ` +
          'since the convergence engine casts every node whose inputs are ready; delete 16 chains at a time (server, waited gone, then port, subnet, network), as the engine walks the graph backwards 16 resources at a time. ' +
          `Server CPU: user + system time of the Stratus process during the cell (/proc), steadier than wall time on a loaded machine. Load average at the end: ${os
            .loadavg()
            .map((l) => fmt(l, 2))
            .join(' ')}. Issue 16's goal: a stack create within 1.3× of the direct calls.`,
      );
      const file = rep.write({ file: s.write, suffix: 'hundred' });
      if (file) console.log(`report: ${file}`);
      return;
    }
    if (s.only === 'fifty') {
      // Interleaved: a stack, then the same objects by direct calls, so both see the same load.
      // Also the server's CPU time of each (from /proc; what the wall time is made of on a busy machine).
      const c: number[] = [];
      const d: number[] = [];
      const cc: number[] = [];
      const dc: number[] = [];
      for (let i = 0; i < s.reps; i++) {
        const r = await cycle(fifty);
        c.push(r.create);
        cc.push(r.cpu);
        const cpu0 = procCpuMs(st.server.pid);
        d.push(await directOnce());
        dc.push(procCpuMs(st.server.pid) - cpu0);
        console.log(
          `50 resources #${i + 1}: stack create ${fmt(c[i]!, 0)} ms (CPU ${fmt(cc[i]!, 0)} ms), direct ${fmt(d[i]!, 0)} ms ` +
            `(CPU ${fmt(dc[i]!, 0)} ms), ratio ${fmt(c[i]! / d[i]!, 2)}x / CPU ${fmt(cc[i]! / Math.max(1, dc[i]!), 2)}x; load ${os.loadavg()[0]!.toFixed(2)}`,
        );
      }
      // Each pair's own ratio (a stack and the direct calls right after it): steadier on a drifting load.
      const pairs = c.map((x, i) => x / d[i]!);
      const cpuPairs = cc.map((x, i) => x / Math.max(1, dc[i]!));
      console.log(
        `50-resource stack create: the median of the pairs' own ratios ${fmt(pct(pairs, 50), 2)}x wall / ${fmt(pct(cpuPairs, 50), 2)}x server CPU`,
      );
      console.log(
        `50-resource stack create p50 ${fmt(pct(c, 50), 0)} ms, direct p50 ${fmt(pct(d, 50), 0)} ms, ` +
          `ratio ${fmt(pct(c, 50) / pct(d, 50), 2)}x; server CPU p50 ${fmt(pct(cc, 50), 0)} ms vs ${fmt(pct(dc, 50), 0)} ms, ` +
          `ratio ${fmt(pct(cc, 50) / pct(dc, 50), 2)}x (${s.reps} each, interleaved; load ${os.loadavg()[0]!.toFixed(2)})`,
      );
      return;
    }
    if (s.only === 'many') {
      // --only=many: the stack of s.randoms random strings, s.reps times.
      for (let i = 0; i < s.reps; i++) {
        const r = await cycle(many);
        console.log(
          `${s.randoms} random strings: create ${fmt(r.create, 0)} ms, delete ${fmt(r.del, 0)} ms (load ${os.loadavg()[0]!.toFixed(2)})`,
        );
      }
      return;
    }
    const r1 = await runCycles(one, s.reps);
    const r50 = await runCycles(fifty, Math.max(3, Math.ceil(s.reps / 4)));

    // The same 40 Neutron objects made directly, 10 groups at once (the engine's parallelism is 16).
    for (let rep = 0; rep < Math.max(3, Math.ceil(s.reps / 4)); rep++) await directOnce();
    async function directOnce(): Promise<number> {
      const made: Array<[string, string]> = [];
      let t0 = performance.now();
      await pool(
        Array.from({ length: groups }, (_, g) => g),
        groups,
        async (g) => {
          const net = (
            need(await call(sess, 'POST', `${neutron}/networks`, { network: { name: `d${g}` } }), 201, 'net')
              .network as { id: string }
          ).id;
          const subnet = (
            need(
              await call(sess, 'POST', `${neutron}/subnets`, {
                subnet: { network_id: net, cidr: `10.${g}.0.0/24`, ip_version: 4 },
              }),
              201,
              'subnet',
            ).subnet as { id: string }
          ).id;
          const port = (
            need(
              await call(sess, 'POST', `${neutron}/ports`, {
                port: { network_id: net, fixed_ips: [{ subnet_id: subnet }] },
              }),
              201,
              'port',
            ).port as { id: string }
          ).id;
          const sg = (
            need(
              await call(sess, 'POST', `${neutron}/security-groups`, { security_group: { name: `d${g}` } }),
              201,
              'sg',
            ).security_group as { id: string }
          ).id;
          need(
            await call(sess, 'POST', `${neutron}/security-group-rules`, {
              security_group_rule: { security_group_id: sg, direction: 'ingress', protocol: 'icmp' },
            }),
            201,
            'rule',
          );
          made.push(['ports', port], ['security-groups', sg], ['networks', net]);
        },
      );
      direct.push(performance.now() - t0);
      t0 = performance.now();
      await pool(made, groups, async ([kind, id]) => {
        need(await call(sess, 'DELETE', `${neutron}/${kind}/${id}`), 204, `delete ${kind}`);
      });
      directDel.push(performance.now() - t0);
      return direct[direct.length - 1]!;
    }

    const rMany = await runCycles(many, 1);
    const hRuns = await hundredRuns(Math.max(3, Math.ceil(s.reps / 4)));
    const h = hundredSummary(hRuns);

    // A stack list with s.stacks stacks (one RandomString each), created 8 at a time.
    let t0 = performance.now();
    await pool(
      Array.from({ length: s.stacks }, (_, i) => i),
      8,
      async (i) => {
        need(await call(sess, 'POST', `${heat}/stacks`, { stack_name: `list-${i}`, template: one }), 201, 'create');
      },
    );
    const fillMs = performance.now() - t0;
    const listLat: number[] = [];
    let listed = 0;
    for (let i = 0; i < 10; i++) {
      t0 = performance.now();
      const body = need(await call(sess, 'GET', `${heat}/stacks`), 200, 'list');
      listLat.push(performance.now() - t0);
      listed = (body.stacks as unknown[]).length;
    }
    const rss = procStatusKb(st.server.pid, 'VmHWM') / 1024;

    const rep = new Report(
      s.convergence ? 'orchestration' : 'orchestration-legacy',
      `Orchestration (${s.convergence ? 'convergence engine' : 'legacy engine'}): stack create/delete, 1,000 resources, stack list`,
    );
    rep.text(machineLine());
    rep.table(
      ['what', 'runs', 'create p50', 'create p99/max', 'delete p50', 'delete p99/max'],
      [
        [
          '1 resource (OS::Heat::RandomString)',
          s.reps,
          ms(pct(r1.c, 50)),
          ms(pct(r1.c, 99)),
          ms(pct(r1.d, 50)),
          ms(pct(r1.d, 99)),
        ],
        [
          '50 resources (10 × Net, Subnet, Port, SecurityGroup, RandomString)',
          r50.c.length,
          ms(pct(r50.c, 50)),
          ms(pct(r50.c, 99)),
          ms(pct(r50.d, 50)),
          ms(pct(r50.d, 99)),
        ],
        [
          'the same 40 Neutron objects by direct API calls (10 clients)',
          direct.length,
          ms(pct(direct, 50)),
          ms(pct(direct, 99)),
          ms(pct(directDel, 50)),
          ms(pct(directDel, 99)),
        ],
        [`${s.randoms} × OS::Heat::RandomString in one stack`, 1, ms(rMany.c[0]!), '', ms(rMany.d[0]!), ''],
        ...hundredRows(h, hRuns.length).map((r) => [r[0]!, r[1]!, r[2]!, `CPU ${r[3]}`, r[4]!, `CPU ${r[5]}`]),
      ],
      ['l', 'r', 'r', 'r', 'r', 'r'],
    );
    rep.table(
      ['what', 'result'],
      [
        [
          'overhead ratio, 50-resource stack create vs direct calls (p50)',
          `${fmt(pct(r50.c, 50) / pct(direct, 50), 2)}×`,
        ],
        ...hundredRatios(h),
        ['load average (1 min) after each 100-resource pair', h.loads.map((l) => fmt(l, 2)).join(', ')],
        [`${s.stacks} stacks created (8 clients, POST answered)`, `${fmt(s.stacks / (fillMs / 1000), 0)} /s`],
        [`GET /stacks with ${listed} stacks`, `p50 ${ms(pct(listLat, 50))}, max ${ms(pct(listLat, 99))} (10 runs)`],
        ['Stratus peak RSS (VmHWM)', `${fmt(rss, 0)} MB`],
      ],
      ['l', 'r'],
    );
    rep.text(
      "Issue 16's goals: a stack create within 1.3× of the direct calls; 1,000 random strings in under 5 s. " +
        "The stack timings include the client's polling (every 10 ms) until the status is reached. " +
        "Side by side with Debian's heat-api and heat-engine: `npm run bench -- orchestration-side`.",
    );
    const file = rep.write({ file: s.write });
    if (file) console.log(`report: ${file}`);
  } finally {
    await stopAll();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

/** The first file named `name` under `dir` (the services' SQLite files sit in the data directory or below). */
function findFile(dir: string, name: string): string | null {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isFile() && e.name === name) return p;
    if (e.isDirectory()) {
      const got = findFile(p, name);
      if (got) return got;
    }
  }
  return null;
}
