// A Stratus for a benchmark: `node bin/stratus.js start` on a fresh data directory
// and a free port (as bench/identity.ts starts it), the admin credentials from the
// clouds.yaml it writes, a project-scoped token and the endpoints of its catalog.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { fetchOnce } from './load.ts';
import { freePort, sleep, startServer, waitReady, type Server } from './proc.ts';
import { stratusTarget, type Target } from './target.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const LOOPBACK = ['127.0.0.1', 'localhost', '::1', '[::1]'];

export interface Stratus {
  server: Server;
  port: number;
  origin: string;
  startupMs: number;
  dataDir: string;
  logFile: string;
}

export function stratusAvailable(): boolean {
  return fs.existsSync(path.join(process.env.STRATUS_BENCH_ROOT || ROOT, 'bin/stratus.js'));
}

export async function startStratus(o: {
  dataDir: string;
  logFile: string;
  hashRounds?: number;
  timeoutMs?: number;
  nodeArgs?: string[];
  args?: string[];
  /** The program to run, made (and removed) by the caller; by default one made for this start. */
  target?: Target;
}): Promise<Stratus> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    STRATUS_PASSWORD_HASH_ROUNDS: String(o.hashRounds ?? 4),
    // Leave the user's ~/.config/openstack/clouds.yaml alone.
    STRATUS_USER_CLOUDS: '0',
  };
  for (const k of [
    'STRATUS_DATA_DIR',
    'STRATUS_PORT',
    'STRATUS_CONFIG',
    'STRATUS_HOST',
    'STRATUS_BUS',
    'STRATUS_TRANSPORT',
  ])
    delete env[k];
  const target = o.target ?? stratusTarget();
  const server = startServer(
    'stratus',
    process.execPath,
    [...(o.nodeArgs ?? []), target.file, 'start', '--data-dir', o.dataDir, '--port', String(port), ...(o.args ?? [])],
    {
      cwd: target.root,
      logFile: o.logFile,
      env,
    },
  );
  // The program is loaded once started: a bundle made for STRATUS_BENCH_SERVICES can go.
  const stop = server.stop.bind(server);
  server.stop = async () => {
    await stop();
    if (!o.target) target.cleanup();
  };
  try {
    const startupMs = await waitReady(server, `http://127.0.0.1:${port}/identity/v3`, o.timeoutMs ?? 60_000, 200, 20);
    // Identity answers before bootstrap has written clouds.yaml (the other services are still
    // starting): wait for the file too, or a loaded machine reads it too early.
    const deadline = Date.now() + (o.timeoutMs ?? 60_000);
    while (!fs.existsSync(path.join(o.dataDir, 'clouds.yaml')) && Date.now() < deadline) await sleep(100);
    return { server, port, origin: `http://127.0.0.1:${port}`, startupMs, dataDir: o.dataDir, logFile: o.logFile };
  } catch (e) {
    await server.stop();
    throw e;
  }
}

export interface Creds {
  authUrl: string;
  username: string;
  password: string;
  projectName: string;
  userDomain: { name?: string; id?: string };
  projectDomain: { name?: string; id?: string };
}

export function readCloudsYaml(dataDir: string): Creds {
  const file = path.join(dataDir, 'clouds.yaml');
  if (!fs.existsSync(file)) throw new Error(`${file} was not written by the server`);
  const doc = YAML.parse(fs.readFileSync(file, 'utf8')) as {
    clouds?: Record<string, { auth?: Record<string, string> }>;
  };
  const auth = doc.clouds?.stratus?.auth;
  if (!auth) throw new Error(`${file} has no clouds.stratus.auth`);
  const need = (k: string) => {
    const v = auth[k];
    if (!v) throw new Error(`${file}: clouds.stratus.auth.${k} is missing`);
    return String(v);
  };
  const dom = (kind: 'user' | 'project') =>
    auth[`${kind}_domain_id`]
      ? { id: String(auth[`${kind}_domain_id`]) }
      : { name: auth[`${kind}_domain_name`] ?? 'Default' };
  return {
    authUrl: need('auth_url'),
    username: need('username'),
    password: need('password'),
    projectName: need('project_name'),
    userDomain: dom('user'),
    projectDomain: dom('project'),
  };
}

/** The password auth body of POST /v3/auth/tokens, project-scoped. */
export function authBody(c: Creds): string {
  return JSON.stringify({
    auth: {
      identity: {
        methods: ['password'],
        password: { user: { name: c.username, domain: c.userDomain, password: c.password } },
      },
      scope: { project: { name: c.projectName, domain: c.projectDomain } },
    },
  });
}

/** The tokens path under an auth URL with or without its /v3. */
export function tokensPath(authUrl: string): string {
  const p = new URL(authUrl).pathname.replace(/\/+$/, '');
  return (p.endsWith('/v3') ? p : `${p}/v3`) + '/auth/tokens';
}

export interface CatalogEntry {
  type: string;
  name?: string;
  endpoints: { interface: string; url: string; region_id?: string }[];
}

export interface Session {
  token: string;
  projectId: string;
  catalog: CatalogEntry[];
  /** Public URL of a service type, rewritten onto the loopback origin the benchmark talks to. */
  endpoint(type: string): string | undefined;
}

/** Issue a project-scoped token with the clouds.yaml credentials; the catalog comes with it. */
export async function login(st: Stratus): Promise<Session> {
  const c = readCloudsYaml(st.dataDir);
  const r = await fetchOnce(st.origin + tokensPath(c.authUrl), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: authBody(c),
  });
  const token = r.headers['x-subject-token'];
  if (r.status !== 201 || typeof token !== 'string')
    throw new Error(`token issue answered ${r.status}: ${r.body.slice(0, 300)}`);
  const body = JSON.parse(r.body) as { token: { project?: { id: string }; catalog?: CatalogEntry[] } };
  const catalog = body.token.catalog ?? [];
  return {
    token,
    projectId: body.token.project?.id ?? '',
    catalog,
    endpoint(type) {
      const entry = catalog.find((e) => e.type === type);
      const ep = entry?.endpoints.find((e) => e.interface === 'public') ?? entry?.endpoints[0];
      if (!ep) return undefined;
      const url = new URL(ep.url);
      // The benchmark only talks to loopback; the catalog may carry a public host name.
      if (!LOOPBACK.includes(url.hostname)) url.hostname = new URL(st.origin).hostname;
      return url.toString().replace(/\/+$/, '');
    },
  };
}
