// The `stratus` command: options parsed by node:util's parseArgs, one table of commands each
// with its own --help, the configuration checked by a schema before anything is written.
import fs from 'node:fs';
import { once } from 'node:events';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import pino from 'pino';
import YAML from 'yaml';
import { loadConfig, type ConfigFlags, type StratusConfig } from './core/config.ts';
import { createLogger, type Logger } from './core/log.ts';
import { Cloud, serviceUrl, StartInterrupted } from './server.ts';
import { SERVICE_CATALOG } from './core/catalog_services.ts';
import { KeyRepository } from './identity/token/keys.ts';
import { SERVICES } from './services.ts';
import { configProblems, assertValidConfig } from './devstack/config-schema.ts';
import { DataDirLock, DataDirLockedError, readRunInfo } from './devstack/lock.ts';
import { prettyStream } from './devstack/console.ts';
import { devstackOptions } from './devstack/config.ts';
import { createWorld, DEVSTACK } from './devstack/world.ts';

type Options = NonNullable<ParseArgsConfig['options']>;
type Values = Record<string, string | boolean | undefined>;

/** A usage error: printed with a pointer to the command's help, exit status 2. */
class UsageError extends Error {}

const COMMON: Options = {
  'data-dir': { type: 'string' },
  config: { type: 'string' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};
const COMMON_HELP = `  --data-dir DIR       where all state lives (env STRATUS_DATA_DIR, default ./.stratus)
  --config FILE        a YAML config file (default <data-dir>/stratus.yaml)
  --log-level LEVEL    fatal, error, warn, info (default), debug, trace or silent
  -h, --help           this help`;

const SERVE: Options = {
  host: { type: 'string' },
  port: { type: 'string' },
  'public-host': { type: 'string' },
  'separate-ports': { type: 'boolean' },
  'secure-rbac': { type: 'boolean' },
  database: { type: 'string' },
  bus: { type: 'string' },
  transport: { type: 'string' },
  role: { type: 'string' },
  roles: { type: 'string' },
  'compute-host': { type: 'string' },
  'admin-password': { type: 'string' },
  'log-file': { type: 'string' },
};
const SERVE_HELP = `  --host ADDR          listen address (default 127.0.0.1)
  --port N             port of the single-port mode (default 8000)
  --public-host NAME   host name written into the catalog (default 127.0.0.1)
  --separate-ports     serve each service on its standard port (5000, 8774, ...)
  --secure-rbac        every service enforces scope types and only the new default policies
                       (oslo.policy's enforce_scope and enforce_new_defaults; secureRbac: true)
  --database URL       'sqlite' (default, a file per service), ':memory:' or postgres://user:pass@host/db
  --bus URL            message bus: 'memory' (default, in-process) or amqp://user:pass@host:5672/
                       (RabbitMQ; env STRATUS_BUS; --transport is the same option)
  --role LIST          what this process runs, comma separated: api, conductor, scheduler,
                       compute, network-agent, heat-engine, telemetry-agent, volume, backup
                       (default all). Other roles than all need --bus amqp://... and, for several
                       processes, --database postgres://...
  --compute-host NAME  the host name of this process's compute agent (nova's [DEFAULT] host)
  --admin-password PW  the admin password (default: generated once, kept in <data-dir>/secrets.yaml)
  --log-file FILE      where JSON logs go (default <data-dir>/stratus.log; '-' for stdout)`;

interface Command {
  summary: string;
  usage: string;
  options: Options;
  help: string;
  /** The name of the one positional argument the command takes, if any. */
  positional?: string;
  /** The positional argument may be left out. */
  positionalOptional?: boolean;
  run(v: Values, arg?: string): Promise<void>;
}

const COMMANDS: Record<string, Command> = {
  start: {
    summary: "run the cloud (all-in-one, with DevStack's world) or some roles of it (--role)",
    usage: 'stratus start [options]',
    options: {
      ...COMMON,
      ...SERVE,
      bare: { type: 'boolean' },
      ephemeral: { type: 'boolean' },
      'allow-reset': { type: 'boolean' },
      'fault-api': { type: 'boolean' },
    },
    help: `${SERVE_HELP}
  --bare               no DevStack world: only the admin, the service users and the flavors
                       (the config file's devstack.world: false says the same)
  --allow-reset        serve the admin-only POST /stratus/reset and /stratus/snapshot/{save,load}
                       (stratus reset, stratus snapshot; devstack.reset: true in the config file)
  --fault-api          serve the admin-only fault injection API /stratus/faults
                       (devstack.faultApi: true in the config file)
  --ephemeral          a throwaway cloud: databases in memory, files in a temporary directory
                       removed at the stop (nothing survives the process)
${COMMON_HELP}

Ctrl-C or SIGTERM stop it cleanly (a second one forces the stop). One Stratus runs per data
directory. Once it is ready, GET /healthcheck answers 200 (503 while starting or stopping).`,
    run: start,
  },
  status: {
    summary: 'ask the running cloud of a data directory whether each service is healthy',
    usage: 'stratus status [--data-dir DIR]',
    options: { ...COMMON },
    help: COMMON_HELP,
    run: status,
  },
  stop: {
    summary: 'stop the cloud running on a data directory (SIGTERM, as Ctrl-C) and wait for it',
    usage: 'stratus stop [--data-dir DIR]',
    options: { ...COMMON },
    help: COMMON_HELP,
    run: stopCmd,
  },
  reset: {
    summary: 'put the running cloud back to its freshly started state (needs --allow-reset)',
    usage: 'stratus reset [--data-dir DIR]',
    options: { ...COMMON },
    help: COMMON_HELP,
    run: (v) => stateCmd(v, '/reset'),
  },
  'snapshot save': {
    summary: "write the running cloud's whole state to a file (needs --allow-reset)",
    usage: 'stratus snapshot save FILE [--data-dir DIR]',
    options: { ...COMMON },
    help: COMMON_HELP,
    positional: 'FILE',
    run: (v, file) => stateCmd(v, '/snapshot/save', file),
  },
  'snapshot load': {
    summary: 'put a saved state into the running cloud (needs --allow-reset)',
    usage: 'stratus snapshot load FILE [--data-dir DIR]',
    options: { ...COMMON },
    help: COMMON_HELP,
    positional: 'FILE',
    run: (v, file) => stateCmd(v, '/snapshot/load', file),
  },
  bootstrap: {
    summary: 'create the Default domain, admin, roles, service users and catalog (keystone-manage bootstrap)',
    usage: 'stratus bootstrap [options]',
    options: { ...COMMON, ...SERVE },
    help: `${SERVE_HELP}\n${COMMON_HELP}\n\nResets the admin password to --admin-password when given.`,
    run: bootstrapCmd,
  },
  'db migrate': {
    summary: 'apply the database migrations of every service',
    usage: 'stratus db migrate [options]',
    options: { ...COMMON, database: { type: 'string' }, 'log-file': { type: 'string' } },
    help: `  --database URL       as for start\n${COMMON_HELP}`,
    run: migrate,
  },
  'keys rotate': {
    summary: 'rotate the Fernet token keys (staged -> primary, new staged key)',
    usage: 'stratus keys rotate [--data-dir DIR]',
    options: { ...COMMON },
    help: COMMON_HELP,
    run: rotate,
  },
  'network cleanup': {
    summary: "remove a host's whole linuxbridge data plane (namespaces, dnsmasq, haproxy, uplink)",
    usage: 'stratus network cleanup [HOST] [--data-dir DIR]',
    options: { ...COMMON },
    help: `  HOST                 the host (default network.host or this machine's hostname); run it with
                       the cloud's agents stopped
${COMMON_HELP}`,
    positional: 'HOST',
    positionalOptional: true,
    run: networkCleanup,
  },
  'image build-guest': {
    summary: 'build the test guest (Debian kernel + busybox + dropbear) and register it in the running cloud',
    usage: 'stratus image build-guest [--debian] [--force] [--data-dir DIR]',
    options: { ...COMMON, debian: { type: 'boolean' }, force: { type: 'boolean' } },
    help: `The guest is cached in compute.libvirt.guestDir; it is registered in the image service of the
cloud running on the data directory as stratus-guest (with stratus-guest-kernel and
stratus-guest-ramdisk), when one runs there.
  --debian             build instead a real Debian 12 guest (cloud-init, openssh-server,
                       redis-server) with mmdebstrap from this machine's apt sources (needs root,
                       the mmdebstrap package, about a minute), cached in <guestDir>/debian and
                       registered as debian-12-cloud (log in as 'debian' with your key)
  --force              build again even when the cached build is current
${COMMON_HELP}`,
    run: buildGuestCmd,
  },
};

export function version(): string {
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(fs.readFileSync(new URL(rel, import.meta.url), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'stratus' && pkg.version) return pkg.version;
    } catch {
      /* next */
    }
  }
  return 'unknown';
}

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length)) + 2;
  return [
    'Usage: stratus <command> [options]',
    '',
    'Commands:',
    ...Object.entries(COMMANDS).map(([n, c]) => `  ${n.padEnd(width)} ${c.summary}`),
    '',
    "'stratus <command> --help' for a command's options; 'stratus --version' for the version.",
    '',
  ].join('\n');
}

const commandHelp = (name: string, c: Command) => `Usage: ${c.usage}\n\n${c.summary}.\n\nOptions:\n${c.help}\n`;

/** Splits argv into the command's name and its arguments. */
export function findCommand(argv: string[]): { name?: string; rest: string[] } {
  const [a, b] = argv;
  if (a && b && COMMANDS[`${a} ${b}`]) return { name: `${a} ${b}`, rest: argv.slice(2) };
  if (a && COMMANDS[a]) return { name: a, rest: argv.slice(1) };
  return { rest: argv };
}

/** Parses a command's options; unknown options and missing values are UsageErrors. */
export function parseCommand(name: string, rest: string[]): Values & { _arg?: string } {
  const c = COMMANDS[name]!;
  try {
    const { values, positionals } = parseArgs({ args: rest, options: c.options, strict: true, allowPositionals: true });
    if (values.help) return values as Values;
    if (c.positional) {
      if (positionals.length > 1 || (!positionals.length && !c.positionalOptional))
        throw new UsageError(`expects one argument, ${c.positional}`);
      return { ...(values as Values), _arg: positionals[0] };
    }
    if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    return values as Values;
  } catch (e) {
    if (e instanceof UsageError) throw e;
    // parseArgs's messages name the option; drop its advice about '--' which does not apply here.
    throw new UsageError((e as Error).message.replace(/\s*To specify a positional argument.*$/s, ''));
  }
}

const str = (v: Values, k: string) => (typeof v[k] === 'string' ? (v[k] as string) : undefined);

/** The typed flags of parsed options; numbers are checked here, the rest by the config schema. */
export function toFlags(v: Values): ConfigFlags & { logFile?: string } {
  const flags: ConfigFlags & { logFile?: string } = {};
  const port = str(v, 'port');
  if (port !== undefined) {
    if (!/^\d{1,5}$/.test(port) || Number(port) > 65535)
      throw new UsageError(`--port: '${port}' is not a port number (0 to 65535)`);
    flags.port = Number(port);
  }
  const set = <K extends keyof ConfigFlags>(k: K, opt: string) => {
    const s = str(v, opt);
    if (s !== undefined) (flags as Record<string, unknown>)[k] = s;
  };
  set('dataDir', 'data-dir');
  set('configFile', 'config');
  set('host', 'host');
  set('publicHost', 'public-host');
  set('database', 'database');
  set('transport', 'transport');
  set('transport', 'bus');
  set('roles', 'role');
  set('roles', 'roles');
  set('adminPassword', 'admin-password');
  set('logLevel', 'log-level');
  if (v['separate-ports']) flags.separatePorts = true;
  if (v['secure-rbac']) flags.secureRbac = true;
  const ch = str(v, 'compute-host');
  if (ch !== undefined) flags.compute = { host: ch };
  const lf = str(v, 'log-file');
  if (lf !== undefined) flags.logFile = lf;
  return flags;
}

/** The service sections another service may have in the file (its folder name). */
const serviceSections = () => SERVICES.flatMap((s) => s.configSections ?? [s.name]);

/** Loads and checks the configuration: the file first (its problems name it), then the merge with env and flags. */
export function checkedConfig(flags: ConfigFlags, env: NodeJS.ProcessEnv = process.env): StratusConfig {
  const dataDir = path.resolve(flags.dataDir ?? env.STRATUS_DATA_DIR ?? '.stratus');
  const file = flags.configFile ?? env.STRATUS_CONFIG ?? path.join(dataDir, 'stratus.yaml');
  if (flags.configFile && !fs.existsSync(file)) throw new UsageError(`--config: ${file} does not exist`);
  if (fs.existsSync(file)) {
    const doc = YAML.parseDocument(fs.readFileSync(file, 'utf8'));
    if (doc.errors.length) throw new Error(`${file}: ${doc.errors[0]!.message}`);
    const problems = configProblems(doc.toJS() ?? {}, file, serviceSections());
    if (problems.length) throw new Error(problems.join('\n'));
  }
  let cfg: StratusConfig;
  // --log-file says where this process logs: not an option of the cloud's configuration.
  const { logFile: _logFile, ...configFlags } = flags as ConfigFlags & { logFile?: string };
  try {
    cfg = loadConfig(configFlags, env);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  assertValidConfig(cfg, 'the options and environment', serviceSections());
  return cfg;
}

/** The logger: JSON to the file (or stdout), and the friendly lines on a terminal. Resolved once the file is open. */
async function logger(cfg: StratusConfig, logFile: string | undefined, pretty: boolean): Promise<Logger> {
  const target = logFile ?? path.join(cfg.dataDir, 'stratus.log');
  if (target === '-') return createLogger(cfg.logLevel);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const file = pino.destination({ dest: target, sync: false, mkdir: true });
  // An exit before the file is open would throw from pino's exit handler.
  await once(file, 'ready');
  if (!pretty) return createLogger(cfg.logLevel, file);
  return createLogger(
    cfg.logLevel,
    pino.multistream([
      { stream: file, level: cfg.logLevel as pino.Level },
      { stream: prettyStream(process.stdout), level: cfg.logLevel as pino.Level },
    ]),
  );
}

/** Whether a TCP port can be listened on now (checked before anything is written). */
function portFree(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', (e: NodeJS.ErrnoException) =>
      resolve(
        e.code === 'EADDRINUSE'
          ? `port ${port} on ${host} is in use`
          : `cannot listen on ${host}:${port}: ${e.message}`,
      ),
    );
    srv.listen({ host, port, exclusive: true }, () => srv.close(() => resolve(undefined)));
  });
}

const out = (s: string) => process.stdout.write(`${s}\n`);

async function start(v: Values) {
  const t0 = performance.now();
  const flags = toFlags(v);
  let ephemeralDir: string | undefined;
  if (v.ephemeral) {
    ephemeralDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-ephemeral-'));
    flags.dataDir = ephemeralDir;
    flags.database = ':memory:';
  }
  const removeEphemeral = () => {
    if (ephemeralDir) fs.rmSync(ephemeralDir, { recursive: true, force: true });
  };
  let cfg: StratusConfig;
  try {
    cfg = checkedConfig(flags);
  } catch (e) {
    removeEphemeral();
    throw e;
  }
  if (v.bare) cfg.devstack = { ...cfg.devstack, world: false };
  if (v['allow-reset']) cfg.devstack = { ...cfg.devstack, reset: true };
  if (v['fault-api']) cfg.devstack = { ...cfg.devstack, faultApi: true };
  const api = cfg.roles.includes('api');
  if (api) {
    const ports = cfg.separatePorts ? [SERVICE_CATALOG.identity.standardPort] : [cfg.port];
    for (const p of ports) {
      const busy = p ? await portFree(cfg.host, p) : undefined;
      if (busy) {
        removeEphemeral();
        throw new Error(`${busy}: give another --port, or stop what uses it`);
      }
    }
  }
  // One API process per data directory (the worker roles of a multi-node cloud share the API's
  // directory for its secrets.yaml and take no lock).
  const lock = new DataDirLock(cfg.dataDir);
  try {
    if (api) lock.acquire();
  } catch (e) {
    removeEphemeral();
    throw e;
  }
  const pretty = !!process.stdout.isTTY && flags.logFile !== '-';
  const log = await logger(cfg, flags.logFile, pretty);
  const cloud = new Cloud(cfg, log);

  // Signals: the first stops cleanly (a start in progress stops at its next step), a second forces.
  let phase: 'starting' | 'running' | 'stopping' = 'starting';
  let signals = 0;
  const finish = (code: number) => {
    lock.release();
    removeEphemeral();
    log.flush?.();
    process.exit(code);
  };
  const stop = async (why: string) => {
    if (phase === 'stopping') return;
    phase = 'stopping';
    log.info({ reason: why }, 'shutting down');
    // A stop that hangs (a request that never ends) is forced after 10 s.
    setTimeout(() => {
      process.stderr.write('stratus: the stop took more than 10 s; forced\n');
      finish(1);
    }, 10_000).unref();
    try {
      await cloud.close();
    } catch (err) {
      log.error({ err }, 'closing the cloud failed');
    }
    finish(0);
  };
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      process.stderr.write(`stratus: ${sig} again, stopping now\n`);
      finish(130);
    }
    process.stderr.write(`stratus: ${sig}, stopping (${sig === 'SIGINT' ? 'Ctrl-C' : 'send it'} again to force)\n`);
    if (phase === 'starting') cloud.interrupt();
    else void stop(sig);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const interrupted = () => signals > 0;

  const progress = (s: string) => {
    cloud.health.step = s;
    if (process.stdout.isTTY) out(`  … ${s}`);
  };
  try {
    progress('starting the services');
    await cloud.init();
    if (interrupted()) throw new StartInterrupted();
    const urls = await cloud.listen();
    if (interrupted()) throw new StartInterrupted();
    const logs = flags.logFile ?? path.join(cfg.dataDir, 'stratus.log');
    if (!api) {
      const compute = cfg.compute?.host;
      out(
        `Stratus ${cfg.roles.join(', ')} is running (${Math.round(performance.now() - t0)} ms)${compute ? ` as host ${compute}` : ''}. Bus: ${cfg.transport.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@')}  Logs: ${logs}`,
      );
      cloud.health.phase = 'ready';
      phase = 'running';
      return;
    }
    const world = devstackOptions(cfg).world
      ? await createWorld(
          { authUrl: cloud.authUrl(), adminPassword: cloud.secrets.adminPassword, region: cfg.region },
          progress,
        )
      : undefined;
    if (interrupted()) throw new StartInterrupted();
    const cc = cloud.writeClientConfig(world);
    if (devstackOptions(cfg).reset) {
      progress('capturing the fresh state (for reset)');
      await cloud.state.capture();
    }
    const base = cfg.separatePorts ? undefined : `http://${cfg.publicHost}:${cfg.port}`;
    lock.update({
      url: base,
      endpoints: Object.fromEntries(urls.map((u) => u.split(': ', 2) as [string, string])),
    });
    cloud.health.phase = 'ready';
    phase = 'running';
    const ms = Math.round(performance.now() - t0);
    out(
      [
        `Stratus ${version()} is running (${ms} ms). Data: ${ephemeralDir ? `${cfg.dataDir} (ephemeral)` : cfg.dataDir}  Logs: ${logs}`,
        'Endpoints:',
        ...urls.map((u) => `  ${u}`),
        `Health: ${base ? `${base}/healthcheck` : 'GET /healthcheck on each port'}`,
        `Admin: user admin, password ${cloud.secrets.adminPassword}, project admin, domain Default`,
        world
          ? `DevStack: users demo and alt_demo (same password), networks public and private, ${DEVSTACK.router}, image ${DEVSTACK.image}, flavors m1.*`
          : 'DevStack world: off (--bare)',
        `clouds.yaml (${cc.clouds.join(', ')}): ${cc.cloudsYaml.join(', ')}`,
        ...cc.warnings.map((w) => `Warning: ${w}`),
        `openrc: source ${cc.openrc} [user] [project]`,
        `Try: openstack --os-cloud ${world ? 'devstack network show private' : 'stratus token issue'}`,
        pretty ? 'Requests:' : '',
      ].join('\n'),
    );
  } catch (e) {
    if (e instanceof StartInterrupted || interrupted()) {
      await cloud.close().catch(() => {});
      finish(130);
    }
    await cloud.close().catch(() => {});
    lock.release();
    removeEphemeral();
    throw e;
  }
}

async function status(v: Values) {
  const cfg = checkedConfig(toFlags(v));
  const info = readRunInfo(cfg.dataDir);
  if (!info) {
    out(`No Stratus is running on ${cfg.dataDir}.`);
    process.exitCode = 3;
    return;
  }
  out(`Stratus pid ${info.pid}, started ${info.startedAt}, data ${cfg.dataDir}`);
  if (!info.endpoints) {
    out('  still starting (no endpoint yet)');
    process.exitCode = 1;
    return;
  }
  let bad = 0;
  const checks = Object.entries(info.endpoints).map(async ([type, url]) => {
    const base = url.replace(/\/v[0-9.]+(\/.*)?$/, '').replace(/\/+$/, '');
    const u = `${base}/healthcheck`;
    try {
      const res = await fetch(u, { signal: AbortSignal.timeout(5000) });
      const text = (await res.text()).trim();
      if (res.status !== 200) bad++;
      return `  ${type.padEnd(14)} ${res.status === 200 ? 'up' : `${res.status} ${text}`}  (${u})`;
    } catch (e) {
      bad++;
      return `  ${type.padEnd(14)} down: ${(e as Error).message}  (${u})`;
    }
  });
  for (const line of await Promise.all(checks)) out(line);
  if (info.url) {
    const res = await fetch(`${info.url}/healthcheck`).catch(() => undefined);
    out(
      `  ${'cloud'.padEnd(14)} ${res?.status === 200 ? 'ready' : `not ready${res ? ` (${(await res.text()).trim()})` : ''}`}`,
    );
    if (res?.status !== 200) bad++;
  }
  process.exitCode = bad ? 1 : 0;
}

async function stopCmd(v: Values) {
  const cfg = checkedConfig(toFlags(v));
  const info = readRunInfo(cfg.dataDir);
  if (!info) {
    out(`No Stratus is running on ${cfg.dataDir}.`);
    return;
  }
  process.kill(info.pid, 'SIGTERM');
  const deadline = Date.now() + 15_000;
  while (readRunInfo(cfg.dataDir)?.pid === info.pid) {
    if (Date.now() > deadline) throw new Error(`Stratus pid ${info.pid} did not stop within 15 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
  out(`Stopped Stratus pid ${info.pid}.`);
}

/** Calls the running cloud's admin API (/stratus/...) as the admin of its data directory. */
async function stateCmd(v: Values, what: string, file?: string) {
  const cfg = checkedConfig(toFlags(v));
  const info = readRunInfo(cfg.dataDir);
  const identity = info?.endpoints?.identity;
  if (!info || !identity) throw new Error(`no running Stratus on ${cfg.dataDir}`);
  const secrets = YAML.parse(fs.readFileSync(path.join(cfg.dataDir, 'secrets.yaml'), 'utf8')) as {
    adminPassword: string;
  };
  const auth = await fetch(`${identity.replace(/\/+$/, '')}/v3/auth/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      auth: {
        identity: {
          methods: ['password'],
          password: { user: { name: 'admin', domain: { id: 'default' }, password: secrets.adminPassword } },
        },
        scope: { project: { name: 'admin', domain: { id: 'default' } } },
      },
    }),
  });
  if (auth.status !== 201) throw new Error(`the admin could not log in (${auth.status})`);
  const base = info.url ?? new URL(identity).origin;
  const res = await fetch(`${base}/stratus${what}`, {
    method: 'POST',
    headers: { 'x-auth-token': auth.headers.get('x-subject-token') ?? '', 'content-type': 'application/json' },
    body: JSON.stringify(file ? { file: path.resolve(file) } : {}),
  });
  const text = await res.text();
  if (res.status === 404) throw new Error('the cloud does not serve reset and snapshots: start it with --allow-reset');
  if (res.status !== 200) {
    let message = text;
    try {
      message = (JSON.parse(text) as { error: { message: string } }).error.message;
    } catch {
      /* as is */
    }
    throw new Error(message);
  }
  const body = JSON.parse(text) as { reset?: { ms: number }; snapshot?: { file: string; ms: number; bytes?: number } };
  if (body.reset) out(`Reset to the freshly started state in ${body.reset.ms} ms.`);
  else if (body.snapshot)
    out(
      `${what.endsWith('save') ? `Saved ${body.snapshot.bytes} bytes to` : 'Loaded'} ${body.snapshot.file} in ${body.snapshot.ms} ms.`,
    );
}

/** Runs `work` on this data directory's cloud, initialised but not listening, holding the directory's lock. */
async function withCloud(v: Values, init: Parameters<Cloud['init']>[0], work: (cloud: Cloud) => void) {
  const flags = toFlags(v);
  const cfg = checkedConfig(flags);
  const lock = new DataDirLock(cfg.dataDir);
  lock.acquire();
  try {
    const cloud = new Cloud(cfg, await logger(cfg, flags.logFile, false));
    await cloud.init(init);
    work(cloud);
    await cloud.close();
  } finally {
    lock.release();
  }
}

async function bootstrapCmd(v: Values) {
  await withCloud(v, { bootstrap: true, resetAdminPassword: true }, (cloud) => {
    const cc = cloud.writeClientConfig();
    out(`Bootstrapped. Admin password: ${cloud.secrets.adminPassword}. clouds.yaml: ${cc.cloudsYaml.join(', ')}`);
    for (const w of cc.warnings) out(`Warning: ${w}`);
  });
}

async function migrate(v: Values) {
  await withCloud(v, { bootstrap: false }, (cloud) =>
    out(`Migrated: ${cloud.services.map((s) => s.catalogEntry.name).join(', ')}`),
  );
}

async function rotate(v: Values) {
  const cfg = checkedConfig(toFlags(v));
  const repo = new KeyRepository(path.join(cfg.dataDir, 'fernet-keys'), cfg.identity.fernetMaxActiveKeys);
  if (!repo.load().length) repo.setup();
  repo.rotate();
  out(
    `Rotated Fernet keys in ${repo.dir}: ${repo.load().length} keys active. A running Stratus picks them up within a minute.`,
  );
}

async function networkCleanup(v: Values, host?: string) {
  const cfg = checkedConfig(toFlags(v));
  const { cleanupHost } = await import('./network/drivers/linuxbridge/index.ts');
  const h = host || cfg.network?.host || os.hostname();
  await cleanupHost(h, cfg.network ?? {});
  out(`network data plane of host ${h} removed`);
}

async function buildGuestCmd(v: Values) {
  const cfg = checkedConfig(toFlags(v));
  const { buildGuest } = await import('./compute/guest/build.ts');
  const { registerGuest } = await import('./compute/guest/register.ts');
  const { computeOptions } = await import('./compute/config.ts');
  const { loadSecrets } = await import('./server.ts');
  const guestDir = computeOptions(cfg).libvirt.guestDir;
  const force = v.force === true;
  let files: Awaited<ReturnType<typeof buildGuest>>;
  let extra: { name: string; properties?: Record<string, unknown> } = { name: 'stratus-guest' };
  if (v.debian === true) {
    const { buildDebianGuest, DEBIAN_IMAGE_NAME } = await import('./compute/guest/debian.ts');
    const d = await buildDebianGuest(path.join(guestDir, 'debian'), { force, log: (m) => out(m) });
    files = d;
    extra = { name: DEBIAN_IMAGE_NAME, properties: d.properties };
    out(`Debian guest: ${d.kernel}, ${d.ramdisk}, ${d.disk} (kernel ${d.kernelPackage})`);
  } else {
    files = await buildGuest(guestDir, { force, log: (m) => out(m) });
    out(`Test guest: ${files.kernel}, ${files.ramdisk}, ${files.disk} (kernel ${files.kernelPackage})`);
  }
  if (!fs.existsSync(path.join(cfg.dataDir, 'secrets.yaml'))) {
    out('No cloud in this data directory: not registered (start Stratus, then run this again).');
    return;
  }
  const authUrl = `${serviceUrl(cfg, SERVICE_CATALOG.identity)}/v3`;
  const ids = await registerGuest(files, { authUrl, password: loadSecrets(cfg).adminPassword, ...extra });
  const boot = ids.bootDisk ? `, ${extra.name}-disk ${ids.bootDisk} (self-booting)` : '';
  out(`Registered: ${extra.name} ${ids.disk} (kernel ${ids.kernel}, ramdisk ${ids.ramdisk})${boot}`);
}

/** Runs the command line; returns the exit status for the usage cases (a running start keeps the process). */
export async function main(argv: string[]): Promise<number | undefined> {
  if (argv[0] === '--version' || argv[0] === '-V' || argv[0] === 'version') {
    out(`stratus ${version()}`);
    return 0;
  }
  if (!argv.length || argv[0] === 'help' || argv[0] === '--help' || argv[0] === '-h') {
    const topic = argv[1] ? findCommand(argv.slice(1)).name : undefined;
    process.stdout.write(topic ? commandHelp(topic, COMMANDS[topic]!) : usage());
    return argv.length ? 0 : 2;
  }
  const { name, rest } = findCommand(argv);
  if (!name) {
    process.stderr.write(`stratus: unknown command '${argv.join(' ')}'\n\n${usage()}`);
    return 2;
  }
  try {
    const values = parseCommand(name, rest);
    if (values.help) {
      process.stdout.write(commandHelp(name, COMMANDS[name]!));
      return 0;
    }
    await COMMANDS[name]!.run(values, values._arg as string | undefined);
    return undefined;
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`stratus ${name}: ${e.message}\nSee 'stratus ${name} --help'.\n`);
      return 2;
    }
    if (e instanceof DataDirLockedError) {
      process.stderr.write(`stratus ${name}: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

// Run when executed as the program (bin/stratus.js imports the bundle), not when a test imports it.
if (!process.env.STRATUS_CLI_NO_MAIN) {
  main(process.argv.slice(2)).then(
    (code) => {
      if (code !== undefined) process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`stratus: ${(e as Error)?.message ?? String(e)}\n`);
      process.exit(1);
    },
  );
}
