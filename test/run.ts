// Runs the test files (`npm test`), one node:test process each, `--jobs` at a time (default 2, one
// per core). The files that use the machine itself (real guests, namespaces, bridges, a private
// Ceph or RabbitMQ, the console proxies' fixed ports, several processes) run one after the other
// in the first lane, which then helps with the rest; the files that share nothing run in every
// other lane meanwhile.
//
//   node --import tsx test/run.ts [--jobs=N] [FILE...]
//
// On PostgreSQL (STRATUS_TEST_PG) every lane but the first gets a database of its own
// (`<database>_w<N>`, created here when the role may create databases, dropped at the end), since
// a test cloud starts by dropping every service's schema. Without that right, everything runs one
// at a time. Each file's output is printed whole when it ends, with its time; a summary follows.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Files that use the machine itself, or fixed ports: run one at a time, after the others. */
const EXCLUSIVE = [
  /^libvirt-/,
  /^linuxbridge/,
  /^debian-guest/,
  /^block-storage-(guest|iscsi|rbd|migrate)\./,
  /^compute-(swap|console|remote-consoles)\./,
  /^console-proxy\./,
  /^bus-amqp\./,
  /multinode\./, // several Stratus processes and a private RabbitMQ
  /^heat-engines\./,
  /^network-(l2-hosts|speed)\./,
];

interface Result {
  file: string;
  code: number | null;
  ms: number;
  counts: Record<string, number>;
}

function argValue(name: string): string | undefined {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a?.slice(name.length + 3);
}

function testFiles(): string[] {
  const given = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  if (given.length) return given.map((f) => path.relative(ROOT, path.resolve(f)));
  return fs
    .readdirSync(path.join(ROOT, 'test'))
    .filter((f) => f.endsWith('.test.ts'))
    .sort()
    .map((f) => path.join('test', f));
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** One database per concurrent worker, or null when the role may not create them. */
async function workerDatabases(url: string, jobs: number): Promise<string[] | null> {
  const base = new URL(url).pathname.slice(1);
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const names: string[] = [];
    for (let i = 1; i <= jobs; i++) {
      const name = `${base}_w${i}`;
      await c.query(`DROP DATABASE IF EXISTS "${name}"`);
      await c.query(`CREATE DATABASE "${name}"`);
      names.push(withDatabase(url, name));
    }
    return names;
  } catch (e) {
    console.log(`# PostgreSQL: ${(e as Error).message}; running every file one at a time`);
    return null;
  } finally {
    await c.end();
  }
}

async function dropWorkerDatabases(url: string, dbs: string[]) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  for (const d of dbs) await c.query(`DROP DATABASE IF EXISTS "${new URL(d).pathname.slice(1)}"`).catch(() => {});
  await c.end();
}

function runFile(file: string, env: NodeJS.ProcessEnv): Promise<Result> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--test', '--test-force-exit', '--test-reporter=spec', file],
      { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const out: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => out.push(d));
    child.on('close', (code) => {
      const text = Buffer.concat(out).toString();
      const counts: Record<string, number> = {};
      for (const m of text.matchAll(/^ℹ (tests|pass|fail|skipped|todo|cancelled) (\d+)$/gm))
        counts[m[1]] = Number(m[2]);
      const ms = Date.now() - started;
      process.stdout.write(`\n## ${file} (${(ms / 1000).toFixed(1)} s, exit ${code})\n${text}`);
      resolve({ file, code, ms, counts });
    });
  });
}

/**
 * The hosts a killed test left behind: `stratus-host-lv<x><pid>[-N]` and `-bsg<pid>` namespaces (the
 * real-guest tests name their hosts after their process) whose process is gone, with the libvirtd, virtlogd and QEMU
 * still running in them and their /run/stratus/<host> directory. Their own clean-up could not run.
 */
function sweepStaleTestHosts() {
  if (process.getuid?.() !== 0) return;
  let list = '';
  try {
    list = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  } catch {
    return;
  }
  for (const m of list.matchAll(/^stratus-host-((?:lv[a-z]|bsg)(\d+)(?:-\d+)?)(?=\s|$)/gm)) {
    const [ns, host, pid] = [`stratus-host-${m[1]}`, m[1], Number(m[2])];
    try {
      process.kill(pid, 0);
      continue; // its test still runs
    } catch {}
    const pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).split(/\s+/).filter(Boolean);
    for (const p of pids) {
      try {
        process.kill(Number(p), 'SIGKILL');
      } catch {}
    }
    execFileSync('ip', ['netns', 'del', ns]);
    fs.rmSync(path.join('/run/stratus', host), { recursive: true, force: true });
    console.log(
      `# removed the stale test host ${host} (its test process ${pid} is gone; ${pids.length} processes killed)`,
    );
  }
}

/** The first lane runs the exclusive files one by one, then joins the others on the shared ones. */
async function lanes(exclusive: string[], shared: string[], envs: NodeJS.ProcessEnv[]): Promise<Result[]> {
  const results: Result[] = [];
  const take = async (queue: string[], env: NodeJS.ProcessEnv) => {
    for (let f = queue.shift(); f; f = queue.shift()) results.push(await runFile(f, env));
  };
  await Promise.all(
    envs.map(async (env, i) => {
      if (i === 0) await take(exclusive, env);
      await take(shared, env);
    }),
  );
  return results;
}

async function main() {
  const files = testFiles();
  const jobs = Math.max(1, Number(argValue('jobs') ?? process.env.STRATUS_TEST_JOBS ?? 2));
  const exclusive = files.filter((f) => EXCLUSIVE.some((re) => re.test(path.basename(f))));
  const shared = files.filter((f) => !exclusive.includes(f));
  const pgUrl = process.env.STRATUS_TEST_PG;
  const started = Date.now();
  let dbs: string[] | null = [];
  if (pgUrl && jobs > 1) dbs = await workerDatabases(pgUrl, jobs - 1);
  const envs: NodeJS.ProcessEnv[] =
    dbs === null
      ? [process.env]
      : [
          process.env,
          ...Array.from({ length: jobs - 1 }, (_, i) => ({
            ...process.env,
            ...(dbs?.[i] ? { STRATUS_TEST_PG: dbs[i] } : {}),
          })),
        ];
  console.log(`# ${exclusive.length} files one at a time in lane 1, ${shared.length} in ${envs.length} lanes`);
  sweepStaleTestHosts();
  const results = await lanes([...exclusive], [...shared], envs);
  if (pgUrl && dbs?.length) await dropWorkerDatabases(pgUrl, dbs);

  const total: Record<string, number> = {};
  for (const r of results) for (const [k, v] of Object.entries(r.counts)) total[k] = (total[k] ?? 0) + v;
  const failed = results.filter((r) => r.code !== 0);
  console.log('\n# slowest files');
  for (const r of [...results].sort((a, b) => b.ms - a.ms).slice(0, 15))
    console.log(`#   ${(r.ms / 1000).toFixed(1).padStart(7)} s  ${r.file}`);
  console.log(
    `# ${results.length} files in ${((Date.now() - started) / 1000).toFixed(0)} s: ` +
      ['tests', 'pass', 'fail', 'skipped', 'todo', 'cancelled'].map((k) => `${k} ${total[k] ?? 0}`).join(', '),
  );
  for (const r of failed) console.log(`# FAILED: ${r.file} (exit ${r.code})`);
  process.exit(failed.length ? 1 : 0);
}

await main();
