// Keystone from Debian (the `keystone` package), set up in a throw-away directory
// and served by uwsgi, for side-by-side benchmarks. Everything runs on Debian's
// /usr/bin/python3: the `python3` on PATH may be a pyenv shim without Debian's
// modules, so commands are called by absolute path with a clean environment.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, runCommand, startServer, waitReady, type Server } from './proc.ts';

const KEYSTONE_MANAGE = '/usr/bin/keystone-manage';
const WSGI_PUBLIC = '/usr/bin/keystone-wsgi-public';
const UWSGI = '/usr/bin/uwsgi';

export interface KeystoneSetup {
  dir: string;
  conf: string;
  port: number;
  rounds: number;
  password: string;
  /** Wall time of db_sync + fernet_setup + credential_setup + bootstrap, ms. */
  setupMs: number;
}

export interface KeystoneInstance {
  setup: KeystoneSetup;
  server: Server;
  origin: string;
  /** Identity API root (the auth_url). */
  authUrl: string;
  /** ms from spawning uwsgi to the first 200 from GET /v3. */
  startupMs: number;
  stop(): Promise<void>;
}

/** Why Keystone can't be benchmarked here, or undefined if it can. */
export function keystoneMissing(): string | undefined {
  for (const f of [KEYSTONE_MANAGE, WSGI_PUBLIC, UWSGI, '/usr/bin/python3']) {
    if (!fs.existsSync(f)) return `${f} not found (apt-get install keystone uwsgi-core uwsgi-plugin-python3)`;
  }
  if (!fs.existsSync('/usr/lib/uwsgi/plugins/python3_plugin.so')) return 'uwsgi-plugin-python3 is not installed';
  return undefined;
}

export function keystoneVersion(): string {
  try {
    return execFileSync('dpkg-query', ['-W', '-f', '${Version}', 'keystone'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

/** Environment for Debian's python: no pyenv, no virtualenv, no inherited PYTHONPATH. */
function systemPythonEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(PYENV|VIRTUAL_ENV|PYTHONPATH|PYTHONHOME|PYTHONSTARTUP|CONDA)/.test(k)) continue;
    if (k.startsWith('OS_')) continue; // no stray OpenStack client settings either
    env[k] = v;
  }
  env.PATH = '/usr/sbin:/usr/bin:/sbin:/bin';
  return { ...env, ...extra };
}

/** A fresh Keystone: config, SQLite database, fernet and credential keys, bootstrap admin. */
export async function setupKeystone(opts: {
  rounds: number;
  password: string;
  baseDir?: string;
}): Promise<KeystoneSetup> {
  const t0 = performance.now();
  const dir = fs.mkdtempSync(path.join(opts.baseDir ?? os.tmpdir(), `keystone-r${opts.rounds}-`));
  const port = await freePort();
  fs.mkdirSync(path.join(dir, 'fernet-keys'), { mode: 0o700 });
  fs.mkdirSync(path.join(dir, 'credential-keys'), { mode: 0o700 });
  const conf = path.join(dir, 'keystone.conf');
  fs.writeFileSync(
    conf,
    [
      '[DEFAULT]',
      `log_file = ${path.join(dir, 'keystone.log')}`,
      '[database]',
      `connection = sqlite:///${path.join(dir, 'keystone.db')}`,
      '[token]',
      'provider = fernet',
      '[fernet_tokens]',
      `key_repository = ${path.join(dir, 'fernet-keys')}`,
      '[credential]',
      `key_repository = ${path.join(dir, 'credential-keys')}`,
      '[identity]',
      'password_hash_algorithm = bcrypt',
      `password_hash_rounds = ${opts.rounds}`,
      '',
    ].join('\n'),
  );
  const user = os.userInfo();
  const group = execFileSync('id', ['-gn'], { encoding: 'utf8' }).trim();
  const env = systemPythonEnv();
  const manage = (...args: string[]) =>
    runCommand(KEYSTONE_MANAGE, ['--config-file', conf, ...args], { env, cwd: dir });
  await manage('db_sync');
  await manage('fernet_setup', '--keystone-user', user.username, '--keystone-group', group);
  await manage('credential_setup', '--keystone-user', user.username, '--keystone-group', group);
  const url = `http://127.0.0.1:${port}/v3`;
  await manage(
    'bootstrap',
    '--bootstrap-password',
    opts.password,
    '--bootstrap-username',
    'admin',
    '--bootstrap-project-name',
    'admin',
    '--bootstrap-role-name',
    'admin',
    '--bootstrap-service-name',
    'keystone',
    '--bootstrap-region-id',
    'RegionOne',
    '--bootstrap-public-url',
    url,
    '--bootstrap-internal-url',
    url,
  );
  return { dir, conf, port, rounds: opts.rounds, password: opts.password, setupMs: performance.now() - t0 };
}

/**
 * Serve a set-up Keystone with uwsgi, as Debian's keystone-uwsgi.ini does (master,
 * lazy apps, thunder lock) but with `processes` workers of one thread each and
 * request logging off. uwsgi's --http-socket closes the connection after each
 * answer (no keep-alive); the load generator is told so.
 */
export async function startKeystone(
  setup: KeystoneSetup,
  processes = 2,
  opts: { cache?: boolean } = {},
): Promise<KeystoneInstance> {
  const confFiles = [setup.conf];
  if (opts.cache) {
    // oslo.cache's in-process backend: an upper bound for what memcached (one more
    // network hop) gives a production deployment. Off by default in Keystone.
    const cacheConf = path.join(setup.dir, 'cache.conf');
    fs.writeFileSync(cacheConf, '[cache]\nenabled = true\nbackend = dogpile.cache.memory\n');
    confFiles.push(cacheConf);
  }
  const args = [
    '--plugin',
    'python3',
    '--http-socket',
    `127.0.0.1:${setup.port}`,
    '--wsgi-file',
    WSGI_PUBLIC,
    '--master',
    '--need-app',
    '--lazy-apps',
    '--thunder-lock',
    '--enable-threads',
    '--die-on-term',
    '--processes',
    String(processes),
    '--threads',
    '1',
    '--buffer-size',
    '65535',
    '--listen',
    '100',
    '--disable-logging',
    '--chdir',
    setup.dir,
  ];
  const server = startServer(`keystone (uwsgi, bcrypt ${setup.rounds}${opts.cache ? ', cache' : ''})`, UWSGI, args, {
    env: systemPythonEnv({ OS_KEYSTONE_CONFIG_FILES: confFiles.join(';') }),
    cwd: setup.dir,
    logFile: path.join(setup.dir, opts.cache ? 'uwsgi-cache.log' : 'uwsgi.log'),
  });
  const origin = `http://127.0.0.1:${setup.port}`;
  let startupMs: number;
  try {
    startupMs = await waitReady(server, `${origin}/v3`, 90_000, 200, 20);
    // With lazy apps each worker loads Keystone itself; the first answer comes from
    // the first worker ready. Wait for all of them before anything is measured.
    const until = performance.now() + 90_000;
    while (
      (fs.readFileSync(server.logFile, 'utf8').match(/WSGI app \d+ \(mountpoint='[^']*'\) ready/g) ?? []).length <
      processes
    ) {
      if (performance.now() > until)
        throw new Error(`not all ${processes} uwsgi workers loaded Keystone; see ${server.logFile}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } catch (e) {
    await server.stop();
    throw e;
  }
  return { setup, server, origin, authUrl: `${origin}/v3`, startupMs, stop: () => server.stop() };
}

export function removeSetup(setup: KeystoneSetup): void {
  fs.rmSync(setup.dir, { recursive: true, force: true });
}
