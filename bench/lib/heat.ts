// Debian's Heat (python3-heat, Zed 19.0.0) for a side-by-side benchmark: heat-api and heat-engine
// from a temporary directory, one worker each, convergence on (Zed's default), SQLite, RabbitMQ
// transport (a private broker, test/lib/rabbitmq.ts), keystonemiddleware and the engine's keystone
// client pointed at a Stratus identity. Started in their own process groups (bench/lib/proc.ts), so
// stopAll() ends them with everything they forked.
import fs from 'node:fs';
import path from 'node:path';
import { fetchOnce } from './load.ts';
import { freePort, sleep, startServer, tail, waitReady, type Server } from './proc.ts';
import type { Creds } from './stratus.ts';

const PYTHON = '/usr/bin/python3';

export function heatAvailable(): boolean {
  return fs.existsSync('/usr/lib/python3/dist-packages/heat/cmd/engine.py');
}

/** The installed python3-heat version, from dpkg's status file. */
export function heatVersion(): string {
  try {
    const s = fs.readFileSync('/var/lib/dpkg/status', 'utf8');
    return /Package: python3-heat\n(?:[^\n]+\n)*?Version: ([^\n]+)/.exec(s)?.[1] ?? '?';
  } catch {
    return '?';
  }
}

export interface Heat {
  api: Server;
  engine: Server;
  port: number;
  origin: string;
  dir: string;
  /** ms from spawning heat-engine until the API answered build_info through it. */
  readyMs: number;
}

export interface HeatOptions {
  dir: string;
  /** Stratus's identity, e.g. http://127.0.0.1:P/identity (no /v3). */
  identity: string;
  /** The admin credentials heat uses as its service user (keystonemiddleware, trustee). */
  creds: Creds;
  transportUrl: string;
  deferredAuth: 'trusts' | 'password';
  /** A token and project for the readiness probe (build_info goes through the engine). */
  token: string;
  projectId: string;
}

const py = (mod: string, args: string[]) =>
  `import sys; from ${mod} import main; sys.argv = ${JSON.stringify(args)}; sys.exit(main())`;

/** Writes heat.conf and api-paste.ini in o.dir, syncs the database, starts heat-engine and heat-api. */
export async function startHeat(o: HeatOptions): Promise<Heat> {
  const { dir, creds } = o;
  const port = await freePort();
  const domain = (d: { name?: string; id?: string }, kind: 'user' | 'project') =>
    d.id ? `${kind}_domain_id = ${d.id}` : `${kind}_domain_name = ${d.name ?? 'Default'}`;
  // Zed's heat-api pipeline (etc/heat/api-paste.ini) without cors, http_proxy_to_wsgi and osprofiler.
  fs.writeFileSync(
    path.join(dir, 'api-paste.ini'),
    [
      '[pipeline:heat-api]',
      'pipeline = request_id faultwrap versionnegotiation authurl authtoken context apiv1app',
      '[app:apiv1app]',
      'paste.app_factory = heat.common.wsgi:app_factory',
      'heat.app_factory = heat.api.openstack.v1:API',
      '[filter:versionnegotiation]',
      'paste.filter_factory = heat.common.wsgi:filter_factory',
      'heat.filter_factory = heat.api.openstack:version_negotiation_filter',
      '[filter:faultwrap]',
      'paste.filter_factory = heat.common.wsgi:filter_factory',
      'heat.filter_factory = heat.api.openstack:faultwrap_filter',
      '[filter:context]',
      'paste.filter_factory = heat.common.context:ContextMiddleware_filter_factory',
      '[filter:authurl]',
      'paste.filter_factory = heat.common.auth_url:filter_factory',
      '[filter:authtoken]',
      'paste.filter_factory = keystonemiddleware.auth_token:filter_factory',
      '[filter:request_id]',
      'paste.filter_factory = oslo_middleware.request_id:RequestId.factory',
      '',
    ].join('\n'),
  );
  const v3 = `${o.identity}/v3`;
  const service = [
    'auth_type = password',
    `auth_url = ${v3}`,
    `username = ${creds.username}`,
    `password = ${creds.password}`,
    domain(creds.userDomain, 'user'),
  ];
  const conf = path.join(dir, 'heat.conf');
  fs.writeFileSync(
    conf,
    [
      '[DEFAULT]',
      `transport_url = ${o.transportUrl}`,
      'num_engine_workers = 1',
      'convergence_engine = true',
      `deferred_auth_method = ${o.deferredAuth}`,
      'auth_encryption_key = 0123456789abcdef0123456789abcdef',
      'max_resources_per_stack = -1',
      'max_stacks_per_tenant = -1',
      'region_name_for_services = RegionOne',
      'host = bench-heat-engine',
      `state_path = ${dir}`,
      '[heat_api]',
      'bind_host = 127.0.0.1',
      `bind_port = ${port}`,
      'workers = 1',
      '[database]',
      `connection = sqlite:///${dir}/heat.sqlite`,
      '[paste_deploy]',
      `api_paste_config = ${dir}/api-paste.ini`,
      '[oslo_concurrency]',
      `lock_path = ${dir}/lock`,
      '[clients_keystone]',
      `auth_uri = ${o.identity}`,
      '[ec2authtoken]',
      `auth_uri = ${v3}`,
      '[keystone_authtoken]',
      `www_authenticate_uri = ${v3}`,
      ...service,
      `project_name = ${creds.projectName}`,
      domain(creds.projectDomain, 'project'),
      '[trustee]',
      ...service,
      '',
    ].join('\n'),
  );
  const env = { ...process.env, PYTHONDONTWRITEBYTECODE: '1' };
  const sync = startServer(
    'heat-manage',
    PYTHON,
    ['-c', py('heat.cmd.manage', ['heat-manage', '--config-file', conf, 'db_sync'])],
    { cwd: dir, env, logFile: path.join(dir, 'manage.out') },
  );
  if ((await sync.exited) !== 0) throw new Error(`heat-manage db_sync failed:\n${tail(sync.logFile)}`);
  const engine = startServer(
    'heat-engine',
    PYTHON,
    ['-c', py('heat.cmd.engine', ['heat-engine', '--config-file', conf])],
    { cwd: dir, env, logFile: path.join(dir, 'engine.out') },
  );
  const api = startServer('heat-api', PYTHON, ['-c', py('heat.cmd.api', ['heat-api', '--config-file', conf])], {
    cwd: dir,
    env,
    logFile: path.join(dir, 'api.out'),
  });
  const origin = `http://127.0.0.1:${port}`;
  await waitReady(api, `${origin}/`, 120_000, 300, 200);
  // build_info is answered by the engine over RPC: the whole chain is up when it answers.
  const until = performance.now() + 120_000;
  let last = '';
  for (;;) {
    let engineGone: number | null | undefined;
    void engine.exited.then((c) => {
      engineGone = c;
    });
    await sleep(0);
    if (engineGone !== undefined) throw new Error(`heat-engine exited (${engineGone}):\n${tail(engine.logFile)}`);
    try {
      const r = await fetchOnce(
        `${origin}/v1/${o.projectId}/build_info`,
        { headers: { 'X-Auth-Token': o.token } },
        30_000,
      );
      if (r.status === 200) break;
      last = `${r.status} ${r.body.slice(0, 200)}`;
    } catch (e) {
      last = (e as Error).message;
    }
    if (performance.now() > until)
      throw new Error(
        `heat-api build_info never answered 200 (last: ${last})\n${tail(api.logFile)}\n${tail(engine.logFile)}`,
      );
    await sleep(500);
  }
  return { api, engine, port, origin, dir, readyMs: performance.now() - engine.spawnedAt };
}
