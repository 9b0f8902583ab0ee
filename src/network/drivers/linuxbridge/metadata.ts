// The metadata proxy, as upstream's metadata agent: haproxy in the `qdhcp-` namespace listens on
// 169.254.169.254:80, adds `X-Neutron-Network-ID` and `X-Forwarded-For` and forwards to a unix
// socket of this process; here the guest's port is found by (network, source address) and the
// request goes on to Nova's metadata API with `X-Instance-ID`, `X-Tenant-ID` and
// `X-Instance-ID-Signature` (HMAC-SHA256 of the instance id with the shared secret).
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { processAlive, startDaemon } from '../../../core/hostns.ts';
import type { PortView } from '../../views.ts';
import { METADATA_IP } from './dhcp.ts';
import { signInstanceId } from '../../../core/metadata_secret.ts';

export function haproxyConfig(networkId: string, socket: string, pidFile: string): string {
  return [
    'global',
    '    daemon',
    `    pidfile ${pidFile}`,
    '    maxconn 1024',
    'defaults',
    '    mode http',
    '    timeout connect 5s',
    '    timeout client 30s',
    '    timeout server 30s',
    '    option http-server-close',
    '    option forwardfor',
    'listen metadata',
    `    bind ${METADATA_IP}:80`,
    `    server metadata ${socket}`,
    '    http-request del-header X-Neutron-Router-ID',
    `    http-request set-header X-Neutron-Network-ID ${networkId}`,
    '',
  ].join('\n');
}

export interface MetadataOptions {
  socket: string;
  /** Nova's metadata API (default http://127.0.0.1:8775). */
  novaUrl: string;
  secret: string;
  /** The port of a network with a fixed address (the DHCP caches). */
  lookup(networkId: string, ipAddress: string): PortView | undefined;
}

export class MetadataProxy {
  private server?: http.Server;
  constructor(private o: MetadataOptions) {}

  async start(): Promise<void> {
    fs.mkdirSync(path.dirname(this.o.socket), { recursive: true });
    fs.rmSync(this.o.socket, { force: true });
    this.server = http.createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.o.socket, () => resolve());
    });
    fs.chmodSync(this.o.socket, 0o666);
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (s) await new Promise<void>((r) => s.close(() => r()));
    s?.closeAllConnections();
    fs.rmSync(this.o.socket, { force: true });
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse) {
    const fail = (code: number, msg: string) => {
      res.writeHead(code, { 'content-type': 'text/plain' });
      res.end(`${msg}\n`);
    };
    const network = String(req.headers['x-neutron-network-id'] ?? '');
    const forwarded = String(req.headers['x-forwarded-for'] ?? '')
      .split(',')
      .pop()
      ?.trim();
    const port = forwarded ? this.o.lookup(network, forwarded) : undefined;
    if (!port?.device_id) return fail(404, 'Not Found');
    const target = new URL(req.url ?? '/', this.o.novaUrl);
    const headers: http.OutgoingHttpHeaders = { ...req.headers };
    delete headers.host;
    delete headers['x-neutron-network-id'];
    headers['x-forwarded-for'] = forwarded;
    headers['x-instance-id'] = port.device_id;
    headers['x-tenant-id'] = port.project_id ?? port.tenant_id ?? '';
    headers['x-instance-id-signature'] = signInstanceId(this.o.secret, port.device_id);
    const up = http.request(target, { method: req.method, headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => {
      if (!res.headersSent) fail(502, 'Bad Gateway');
      else res.destroy();
    });
    req.pipe(up);
  }
}

/** haproxy for one network's namespace (started if not running; the config is rewritten each time). */
export async function ensureHaproxy(ns: string, dir: string, networkId: string, socket: string): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  const pidFile = path.join(dir, 'haproxy.pid');
  const cfgFile = path.join(dir, 'haproxy.cfg');
  const cfg = haproxyConfig(networkId, socket, pidFile);
  let pid = 0;
  try {
    pid = Number(fs.readFileSync(pidFile, 'utf8').trim()) || 0;
  } catch {
    // not started yet
  }
  const same = fs.existsSync(cfgFile) && fs.readFileSync(cfgFile, 'utf8') === cfg;
  if (same && processAlive(pid, 'haproxy')) return;
  if (processAlive(pid, 'haproxy')) process.kill(pid, 'SIGTERM');
  fs.writeFileSync(cfgFile, cfg);
  await startDaemon(ns, ['haproxy', '-f', cfgFile], path.join(dir, 'haproxy.log'));
}

export function stopHaproxy(dir: string) {
  try {
    const pid = Number(fs.readFileSync(path.join(dir, 'haproxy.pid'), 'utf8').trim()) || 0;
    if (processAlive(pid, 'haproxy')) process.kill(pid, 'SIGTERM');
  } catch {
    // not running
  }
}
