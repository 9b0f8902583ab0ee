// Debian's tempest: installing it, laying out a workspace, running it and reading its results.
import fs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';

/** Debian's interpreter: the `python3` on PATH may be another one (pyenv) without Debian's modules. */
export const PYTHON = '/usr/bin/python3';
const TEMPEST_PKG_ROOT = '/usr/lib/python3/dist-packages/tempest';

function onPath(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const p = path.join(dir || '.', cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

export function tempestCommand(): string | undefined {
  return fs.existsSync('/usr/bin/tempest') ? '/usr/bin/tempest' : onPath('tempest');
}

export function debianPackageInstalled(pkg: string): boolean {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.includes('install ok installed');
}

export function debianPackageVersion(pkg: string): string {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Version}', pkg], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : 'unknown';
}

/** Installs tempest (when the command is missing) and the plugin packages not yet installed. */
export function ensureTempest(plugins: string[], log: (s: string) => void): void {
  const missing: string[] = [];
  if (!tempestCommand()) missing.push('tempest');
  for (const p of plugins) if (!debianPackageInstalled(p)) missing.push(p);
  if (!missing.length) return;
  if (process.getuid?.() !== 0) {
    throw new Error(
      `missing Debian packages: ${missing.join(' ')}; install them as root: apt-get update && apt-get install -y ${missing.join(' ')}`,
    );
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  log(`installing ${missing.join(' ')} with apt-get`);
  const upd = spawnSync('apt-get', ['update', '-q'], { env, stdio: ['ignore', 'inherit', 'inherit'] });
  if (upd.status !== 0) throw new Error(`apt-get update failed (exit ${upd.status})`);
  const inst = spawnSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...missing], {
    env,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (inst.status !== 0) throw new Error(`apt-get install ${missing.join(' ')} failed (exit ${inst.status})`);
  if (!tempestCommand()) throw new Error('tempest is still not on PATH after apt-get install tempest');
}

/**
 * What `tempest init` lays out, without registering the workspace in ~/.tempest: etc/tempest.conf,
 * a .stestr.conf pointing at the installed tempest's discovery module, logs/ and tempest_lock/.
 * The stestr repository of a previous run is removed, so `stestr last` can only be this run.
 */
export function prepareWorkspace(ws: string, tempestConf: string): void {
  for (const d of ['etc', 'logs', 'tempest_lock']) fs.mkdirSync(path.join(ws, d), { recursive: true });
  fs.rmSync(path.join(ws, '.stestr'), { recursive: true, force: true });
  for (const f of ['logs/tempest.log', 'run.log', 'regression-include.txt'])
    fs.rmSync(path.join(ws, f), { force: true });
  fs.writeFileSync(path.join(ws, 'etc', 'tempest.conf'), tempestConf, { mode: 0o600 });
  fs.writeFileSync(path.join(ws, '.stestr.conf'), stestrConf(TEMPEST_PKG_ROOT));
  // `stestr list` wants a repository even though it stores nothing in it.
  const r = spawnSync(PYTHON, ['-m', 'stestr', 'init'], { cwd: ws, env: tempestEnv(ws), encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`stestr init failed in ${ws}: ${r.stderr || r.error?.message}`);
}

export function stestrConf(tempestRoot: string): string {
  return [
    '[DEFAULT]',
    `test_path=${path.join(tempestRoot, 'test_discover')}`,
    `top_dir=${path.dirname(tempestRoot)}`,
    // One worker per test class, as tempest's own init does: classes share their setUpClass resources.
    'group_regex=([^\\.]*\\.)*',
    '',
  ].join('\n');
}

function tempestEnv(ws: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PYTHON,
    PATH: `/usr/bin:${process.env.PATH ?? ''}`,
    TEMPEST_CONFIG_DIR: path.join(ws, 'etc'),
    TEMPEST_CONFIG: 'tempest.conf',
  };
}

export interface RunOptions {
  /** Selection regex (--regex) or a file of regexes (--include-list). */
  regex?: string;
  includeList?: string;
  concurrency: number;
  /** Full console output of the run goes here. */
  logFile: string;
  /** Echo every line (else only the per-test lines and the totals). */
  verbose: boolean;
  /** Aborting stops tempest and its workers. */
  signal?: AbortSignal;
}

/** A per-test line of subunit-trace (`{0} tempest.api...  [0.12s] ... ok`) or the totals block. */
function isProgressLine(line: string): boolean {
  return (
    /^\{\d+\} /.test(line) || /^( - (Passed|Skipped|Failed|Expected Fail|Unexpected Success)|Ran: \d+ tests)/.test(line)
  );
}

/** Runs `tempest run` in the workspace; resolves with its exit code (1 when tests failed). */
export function runTempest(ws: string, o: RunOptions): Promise<number> {
  const cmd = tempestCommand();
  if (!cmd) throw new Error('tempest is not installed');
  const args = ['run', '--concurrency', String(o.concurrency)];
  if (o.regex) args.push('--regex', o.regex);
  if (o.includeList) args.push('--include-list', o.includeList);
  const log = fs.createWriteStream(o.logFile);
  log.write(`$ ${cmd} ${args.map((a) => JSON.stringify(a)).join(' ')}\n`);
  return new Promise((resolve, reject) => {
    // Its own process group, so that a stop reaches the stestr workers too.
    const child = spawn(cmd, args, { cwd: ws, env: tempestEnv(ws), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const stop = () => {
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        /* gone */
      }
    };
    if (o.signal?.aborted) stop();
    o.signal?.addEventListener('abort', stop, { once: true });
    let pending = '';
    const onData = (chunk: Buffer) => {
      log.write(chunk);
      if (o.verbose) {
        process.stdout.write(chunk);
        return;
      }
      pending += chunk.toString('utf8');
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const l of lines) if (isProgressLine(l)) process.stdout.write(`${l}\n`);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      o.signal?.removeEventListener('abort', stop);
      if (!o.verbose && pending && isProgressLine(pending)) process.stdout.write(`${pending}\n`);
      log.end(() => resolve(code ?? (signal ? 128 : 1)));
    });
  });
}

/** The subunit v2 stream of the last run in the workspace's stestr repository. */
export function lastRunSubunit(ws: string): Buffer {
  const r = spawnSync(PYTHON, ['-m', 'stestr', 'last', '--subunit'], {
    cwd: ws,
    env: tempestEnv(ws),
    maxBuffer: 1 << 30,
  });
  if (r.error) throw r.error;
  if (r.status !== 0 && !r.stdout?.length) {
    throw new Error(`stestr last --subunit failed (exit ${r.status}): ${r.stderr?.toString('utf8').slice(-2000)}`);
  }
  return r.stdout;
}

/** The test ids (with their `[id-…]` suffix) a selection covers, as `stestr list` gives them. */
export function listTests(ws: string, o: { regex?: string; includeList?: string }): string[] {
  const args = ['-m', 'stestr', 'list'];
  if (o.includeList) args.push('--include-list', o.includeList);
  if (o.regex) args.push(o.regex);
  const r = spawnSync(PYTHON, args, { cwd: ws, env: tempestEnv(ws), encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`stestr list failed (exit ${r.status}): ${(r.stderr ?? '').slice(-2000)}`);
  // Discovery may print warnings; test ids are dotted names (testscenarios' add their scenario:
  // `…test_east_west[id-…](SRC with FIP,DEST with FIP)`).
  return r.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^[A-Za-z_][\w]*(\.[\w]+)+(\[[^\]]*\])?(\([^)]*\))?$/.test(l));
}
