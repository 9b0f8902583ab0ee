// Orchestration benchmark: stack create and delete (to COMPLETE) of a 1-resource stack, a
// 50-resource stack of Neutron objects and random strings (against the same API calls made
// directly, the overhead ratio), 1,000 OS::Heat::RandomString in one stack, a stack list with
// 1,000 stacks, and the peak RSS. An all-in-one Stratus (SQLite, in-process bus, one engine).
// Debian's heat-api/heat-engine side by side: bench/orchestration-side.ts.
//
//   npm run bench -- orchestration [--quick] [--reps=N] [--stacks=N] [--no-write] [--engine=legacy|convergence]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fetchOnce } from './lib/load.ts';
import { procCpuMs, procStatusKb, sleep, stopAll } from './lib/proc.ts';
import { fmt, machineLine, Report } from './lib/report.ts';
import { login, startStratus, type Session } from './lib/stratus.ts';

interface Settings {
  reps: number;
  stacks: number;
  randoms: number;
  write: boolean;
  /** orchestration.convergenceEngine: true (convergence, the default) or false (legacy). */
  convergence: boolean;
  /** --convergence-delete: orchestration.convergenceDelete (a stack delete as a traversal). */
  convergenceDelete: boolean;
  /** --only=fifty: just the 50-resource stack and its direct calls (profiling). */
  only: string | null;
  /** --cpu-prof=DIR: the server runs with node --cpu-prof into DIR. */
  cpuProf: string | null;
}

function parseArgs(args: string[]): Settings {
  const s: Settings = {
    reps: 20,
    stacks: 1000,
    randoms: 1000,
    write: true,
    convergence: true,
    convergenceDelete: false,
    only: null,
    cpuProf: null,
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
    else if (k === '--only' && (v === 'fifty' || v === 'many')) s.only = v;
    else if (k === '--randoms') s.randoms = int(k, v);
    else if (k === '--cpu-prof' && v) s.cpuProf = path.resolve(v);
    else if (k === '--engine' && (v === 'legacy' || v === 'convergence')) s.convergence = v === 'convergence';
    else throw new Error(`orchestration: unknown option ${a} (options: --quick --reps=N --stacks=N --no-write)`);
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
    `orchestration:\n  maxStacksPerTenant: 100000\n  convergenceEngine: ${s.convergence}\n  convergenceDelete: ${s.convergenceDelete}\n`,
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
    async function cycle(template: unknown): Promise<{ create: number; del: number; cpu: number }> {
      const name = `bench-${n++}`;
      const cpu0 = procCpuMs(st.server.pid);
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
      const cpu = procCpuMs(st.server.pid) - cpu0;
      t0 = performance.now();
      need(await call(sess, 'DELETE', url), 204, 'delete');
      await until('DELETE_COMPLETE');
      return { create, del: performance.now() - t0, cpu };
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
    const fifty: { heat_template_version: string; resources: Record<string, unknown> } = {
      heat_template_version: '2021-04-16',
      resources: {},
    };
    for (let g = 0; g < groups; g++) {
      fifty.resources[`net${g}`] = { type: 'OS::Neutron::Net' };
      fifty.resources[`subnet${g}`] = {
        type: 'OS::Neutron::Subnet',
        properties: { network: { get_resource: `net${g}` }, cidr: `10.${g}.0.0/24` },
      };
      fifty.resources[`port${g}`] = {
        type: 'OS::Neutron::Port',
        properties: { network: { get_resource: `net${g}` }, fixed_ips: [{ subnet: { get_resource: `subnet${g}` } }] },
      };
      fifty.resources[`sg${g}`] = { type: 'OS::Neutron::SecurityGroup', properties: { rules: [{ protocol: 'icmp' }] } };
      fifty.resources[`rand${g}`] = { type: 'OS::Heat::RandomString' };
    }
    const many = {
      heat_template_version: '2021-04-16',
      resources: Object.fromEntries(
        Array.from({ length: s.randoms }, (_, i) => [`r${i}`, { type: 'OS::Heat::RandomString' }]),
      ),
    };

    const direct: number[] = [];
    const directDel: number[] = [];
    await runCycles(one, 2); // warm-up
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
      }
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

    const ms = (x: number) => `${fmt(x, 0)} ms`;
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
