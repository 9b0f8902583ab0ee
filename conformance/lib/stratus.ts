// The cloud under test: a Stratus started for the run (or one already running), its admin
// credentials from the clouds.yaml it writes, and its service catalog from a token.
import { LIBVIRT_HOST, libvirtComputeConfig, libvirtNetworkConfig } from './libvirt.ts';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import YAML from 'yaml';
import type { CatalogEntry, CloudCredentials, SecureRbacMode, SecurityCompliance } from './tempest-config.ts';

/** DevStack's gate runs Keystone with these [security_compliance] numbers; tempest is told the same. */
export const DEVSTACK_SECURITY_COMPLIANCE: SecurityCompliance = {
  lockoutFailureAttempts: 2,
  lockoutDuration: 10,
  uniqueLastPasswordCount: 2,
};

export interface StartedStratus {
  /** Base URL, e.g. http://127.0.0.1:8123 */
  url: string;
  dataDir: string;
  cloudsFile: string;
  /** stdout and stderr of the server process. */
  outputFile: string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * `count` free ports, distinct from each other and from `avoid`: the listeners stay open until
 * all are picked (two freePort() calls in a row may get the same port back, and a listener on
 * port 0 may get the port just picked for another: the console proxy once took the API's).
 */
export async function freePorts(count: number, avoid: number[] = []): Promise<number[]> {
  const servers: net.Server[] = [];
  const ports: number[] = [];
  try {
    while (ports.length < count) {
      const srv = net.createServer();
      srv.unref();
      servers.push(srv);
      const port = await new Promise<number>((resolve, reject) => {
        srv.on('error', reject);
        srv.listen(0, '127.0.0.1', () => resolve((srv.address() as net.AddressInfo).port));
      });
      if (!avoid.includes(port)) ports.push(port);
    }
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
  return ports;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until GET <url> answers 200; fails early if `child` exits. */
export async function waitFor200(url: string, timeoutMs: number, child?: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null)
      throw new Error(`Stratus exited with code ${child.exitCode} before ${url} answered`);
    if (child && child.signalCode) throw new Error(`Stratus was killed by ${child.signalCode} before ${url} answered`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
      last = `HTTP ${res.status}`;
    } catch (e) {
      last = (e as Error).message;
    }
    await sleep(200);
  }
  throw new Error(`${url} did not answer 200 within ${Math.round(timeoutMs / 1000)} s (last: ${last})`);
}

/** The compute options the conformance cloud runs with: two fake hosts (tempest's min_compute_nodes 2). */
// A snapshot that takes a moment, as a real one does: tempest's test_create_second_image_when_first_
// image_is_being_saved expects the second createImage to find the first still running (it raced
// an instant fake snapshot and lost once in a CI-like run).
export const STRATUS_COMPUTE_CONFIG = { fakeHosts: 2, fakeSnapshotMs: 500 };

/** The image service options the conformance cloud runs with. */
export const STRATUS_IMAGE_CONFIG = {
  enforceScope: true,
  showMultipleLocations: true,
  showDirectUrl: true,
  cache: true,
};

export interface StartOptions {
  repoRoot: string;
  dataDir: string;
  port: number;
  outputFile: string;
  /** Written to <data-dir>/stratus.yaml before the start (Keystone's [security_compliance]). */
  securityCompliance?: SecurityCompliance;
  timeoutMs?: number;
  /**
   * Start with the secure RBAC switch (secureRbac: every service enforces scope and the new
   * defaults); 'gate': the switch on but identity's `policy.enforceScope`/`enforceNewDefaults` off.
   */
  secureRbac?: SecureRbacMode;
  /** The network data plane (default logical); linuxbridge gets DevStack's br-ex shape and is removed at stop. */
  dataplane?: string;
  /** linuxbridge: the uplink's address (the public subnet's gateway, br-ex's 172.24.4.1/24); public-range.ts picks one per run. */
  publicGatewayCidr?: string;
  /** The compute driver: fake (default) or libvirt (real guests; the caller also asks for linuxbridge). */
  driver?: string;
  /** With driver libvirt: where the test guest is built and cached. */
  guestDir?: string;
  /** With driver libvirt: 1 (default) or 2 compute hosts (libvirt.ts; the caller links them first: linkLibvirtHosts). */
  libvirtHosts?: number;
  /** `blockStorage:` options (the rbd driver and its one-node Ceph, from --volume-driver rbd). */
  blockStorage?: Record<string, unknown>;
}

/** Starts `node bin/stratus.js start` on a fresh data directory and waits until identity answers. */
export async function startStratus(o: StartOptions): Promise<StartedStratus> {
  fs.rmSync(o.dataDir, { recursive: true, force: true });
  fs.mkdirSync(o.dataDir, { recursive: true });
  // Glance as the gate's tempest expects it (tempest-config.ts says the same to tempest): scope
  // enforced, locations shown and manageable, the image cache on.
  const config: Record<string, unknown> = { image: STRATUS_IMAGE_CONFIG };
  // Two fake compute hosts, so that tempest (min_compute_nodes 2) runs its multi-host tests: moves, anti-affinity.
  // Real guests: Nova's metadata API and nova-novncproxy on free ports other than the API's (the
  // network's proxy told where the metadata API is; the console URLs name the proxy's port).
  const [metadataPort, novncPort] = o.driver === 'libvirt' ? await freePorts(2, [o.port]) : [0, 0];
  // A linuxbridge run's hosts are its own (`tempest-<port>`, `tempest-<port>-2`): their data planes are the
  // namespaces `stratus-host-<host>` and the uplink `sx<hash(host)>`, so two runs at once share nothing (the
  // machine's hostname was both runs' host). Real guests' runs hold the libvirt lock: LIBVIRT_HOST.
  const runHost = o.dataplane === 'linuxbridge' && o.driver !== 'libvirt' ? `tempest-${o.port}` : undefined;
  config.compute =
    o.driver === 'libvirt'
      ? libvirtComputeConfig(o.guestDir!, metadataPort, o.libvirtHosts, novncPort)
      : { ...STRATUS_COMPUTE_CONFIG, ...(runHost ? { host: runHost } : {}) };
  // Two block storage backends on the host, so that tempest's multi-backend and migration tests run.
  config.blockStorage = { backends: [{ backendName: 'file' }, { backendName: 'file2' }] };
  const identity: Record<string, unknown> = {};
  if (o.securityCompliance) identity.securityCompliance = o.securityCompliance;
  if (o.secureRbac) config.secureRbac = true;
  // Zed's gate ran keystone without scope enforcement and the new defaults (tempest-config.ts).
  if (o.secureRbac === 'gate') identity.policy = { enforceScope: false, enforceNewDefaults: false };
  if (Object.keys(identity).length) config.identity = identity;
  // The gate's neutron.conf dns_domain (neutron-tempest-plugin's jobs; test_internal_dns expects it in resolv.conf).
  const dnsDomain = 'openstackgate.local';
  if (o.dataplane === 'linuxbridge')
    config.network = {
      dataplane: 'linuxbridge',
      dnsDomain,
      // DevStack's br-ex: the host reaches the floating range through its gateway (172.24.4.1/24 when free).
      externalUplink: { physnet: 'public', cidr: o.publicGatewayCidr ?? '172.24.4.1/24' },
      cleanupOnStop: true,
      // Real guests' taps are wired by the agent of their compute host.
      ...(o.driver === 'libvirt'
        ? {
            host: LIBVIRT_HOST,
            novaMetadataUrl: `http://127.0.0.1:${metadataPort}`,
            ...libvirtNetworkConfig(o.libvirtHosts ?? 1),
          }
        : {}),
      ...(runHost ? { host: runHost } : {}),
    };
  else config.network = { dnsDomain, ...(o.dataplane ? { dataplane: o.dataplane } : {}) };
  if (o.blockStorage) config.blockStorage = o.blockStorage;
  fs.writeFileSync(path.join(o.dataDir, 'stratus.yaml'), YAML.stringify(config));
  fs.mkdirSync(path.dirname(o.outputFile), { recursive: true });
  const out = fs.openSync(o.outputFile, 'w');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    // bcrypt at cost 4: tempest creates and authenticates hundreds of users.
    STRATUS_PASSWORD_HASH_ROUNDS: '4',
    // Keep the user's ~/.config/openstack/clouds.yaml as it is.
    STRATUS_USER_CLOUDS: '0',
  };
  delete env.STRATUS_DATA_DIR;
  delete env.STRATUS_PORT;
  delete env.STRATUS_CONFIG;
  const child = spawn(
    process.execPath,
    // --bare: the harness makes what tempest expects of DevStack itself (network.ts, compute.ts).
    [path.join(o.repoRoot, 'bin', 'stratus.js'), 'start', '--bare', '--data-dir', o.dataDir, '--port', String(o.port)],
    {
      cwd: o.repoRoot,
      env,
      stdio: ['ignore', out, out],
    },
  );
  fs.closeSync(out);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${o.port}`;
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  const cloudsFile = path.join(o.dataDir, 'clouds.yaml');
  try {
    await waitFor200(`${url}/identity/v3`, o.timeoutMs ?? 60_000, child);
    // clouds.yaml is written right after the listen; give it a moment.
    const deadline = Date.now() + 10_000;
    while (!fs.existsSync(cloudsFile)) {
      if (Date.now() > deadline) throw new Error(`${cloudsFile} was not written`);
      await sleep(100);
    }
  } catch (e) {
    await stop();
    const tail = fs.existsSync(o.outputFile)
      ? fs.readFileSync(o.outputFile, 'utf8').split('\n').slice(-30).join('\n')
      : '';
    throw new Error(`${(e as Error).message}\n--- ${o.outputFile} (end) ---\n${tail}`);
  }
  return { url, dataDir: o.dataDir, cloudsFile, outputFile: o.outputFile, stop };
}

/** The admin credentials of cloud `name` in a clouds.yaml. */
export function readCloudsYaml(file: string, name = 'stratus'): CloudCredentials {
  if (!fs.existsSync(file)) throw new Error(`no clouds.yaml at ${file} (give the cloud's with --clouds)`);
  const doc = YAML.parse(fs.readFileSync(file, 'utf8')) as {
    clouds?: Record<string, { auth?: Record<string, unknown>; region_name?: unknown } | undefined>;
  } | null;
  const cloud = doc?.clouds?.[name];
  if (!cloud) throw new Error(`${file} has no cloud named ${JSON.stringify(name)}`);
  const a = cloud.auth ?? {};
  for (const k of ['auth_url', 'username', 'password', 'project_name']) {
    if (!a[k]) throw new Error(`${file}: clouds.${name}.auth.${k} is missing`);
  }
  const creds: CloudCredentials = {
    authUrl: String(a.auth_url),
    username: String(a.username),
    password: String(a.password),
    projectName: String(a.project_name),
    userDomainName: String(a.user_domain_name ?? a.domain_name ?? 'Default'),
    projectDomainName: String(a.project_domain_name ?? a.domain_name ?? 'Default'),
  };
  if (cloud.region_name) creds.regionName = String(cloud.region_name);
  return creds;
}

/** `<auth_url>/auth/tokens` whether auth_url is given with or without /v3. */
export function tokensUrl(authUrl: string): string {
  const base = authUrl.replace(/\/+$/, '');
  return `${/\/v3$/.test(base) ? base : `${base}/v3`}/auth/tokens`;
}

/** Authenticates as the admin (project scope) and returns the token's service catalog. */
export async function fetchCatalog(c: CloudCredentials): Promise<{ token: string; catalog: CatalogEntry[] }> {
  const body = {
    auth: {
      identity: {
        methods: ['password'],
        password: { user: { name: c.username, password: c.password, domain: { name: c.userDomainName } } },
      },
      scope: { project: { name: c.projectName, domain: { name: c.projectDomainName } } },
    },
  };
  const res = await fetch(tokensUrl(c.authUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`POST ${tokensUrl(c.authUrl)} answered ${res.status}: ${text.slice(0, 500)}`);
  const token = res.headers.get('x-subject-token');
  if (!token) throw new Error('the token response has no X-Subject-Token header');
  const parsed = JSON.parse(text) as { token?: { catalog?: CatalogEntry[] } };
  const catalog = parsed.token?.catalog;
  if (!Array.isArray(catalog)) throw new Error('the token has no catalog');
  return { token, catalog };
}
