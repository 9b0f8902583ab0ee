// A private RabbitMQ broker for tests: Debian's rabbitmq-server on loopback with its own node
// name, ports and directories (never the system's), started and stopped by the test.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

const SERVER = '/usr/lib/rabbitmq/bin/rabbitmq-server';

/** Why the broker cannot run here (undefined when it can). Installs the package when root may. */
export function rabbitmqUnavailable(): string | undefined {
  if (fs.existsSync(SERVER)) return undefined;
  if (process.getuid?.() === 0 && process.env.STRATUS_TEST_NO_INSTALL !== '1') {
    const r = spawnSync('apt-get', ['install', '-y', '-q', 'rabbitmq-server'], {
      stdio: 'ignore',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      timeout: 300_000,
    });
    if (r.status === 0 && fs.existsSync(SERVER)) return undefined;
  }
  return "Debian's rabbitmq-server is not installed and could not be installed (apt-get install rabbitmq-server; CI installs it)";
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

async function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export class TestBroker {
  private proc?: ChildProcess;
  url = '';
  port = 0;
  private distPort = 0;
  readonly dir: string;
  readonly node: string;

  constructor() {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-rabbitmq-'));
    this.node = `stratus-test-${process.pid}-${Math.random().toString(36).slice(2, 7)}@localhost`;
    fs.writeFileSync(path.join(this.dir, 'enabled_plugins'), '[].\n');
  }

  /** Starts the broker (the same node, the same data, on a restart) and waits until it accepts AMQP. */
  async start(timeoutMs = 120_000) {
    if (!this.port) {
      this.port = await freePort();
      this.distPort = await freePort();
    }
    this.url = `amqp://guest:guest@127.0.0.1:${this.port}/`;
    const env = {
      ...process.env,
      HOME: this.dir,
      RABBITMQ_NODENAME: this.node,
      RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
      RABBITMQ_NODE_PORT: String(this.port),
      RABBITMQ_DIST_PORT: String(this.distPort),
      RABBITMQ_MNESIA_BASE: path.join(this.dir, 'mnesia'),
      RABBITMQ_LOG_BASE: path.join(this.dir, 'log'),
      RABBITMQ_ENABLED_PLUGINS_FILE: path.join(this.dir, 'enabled_plugins'),
      RABBITMQ_PID_FILE: path.join(this.dir, 'pid'),
      RABBITMQ_CONFIG_FILE: path.join(this.dir, 'rabbitmq'),
      RABBITMQ_ADVANCED_CONFIG_FILE: path.join(this.dir, 'advanced.config'),
      RABBITMQ_CONF_ENV_FILE: path.join(this.dir, 'rabbitmq-env.conf'),
    };
    const out = fs.openSync(path.join(this.dir, 'server.out'), 'a');
    this.proc = spawn(SERVER, [], { env, cwd: this.dir, detached: true, stdio: ['ignore', out, out] });
    fs.closeSync(out);
    const proc = this.proc;
    let exited = false;
    proc.once('exit', () => {
      exited = true;
    });
    const deadline = Date.now() + timeoutMs;
    while (!(await portOpen(this.port))) {
      if (exited)
        throw new Error(
          `rabbitmq-server exited: ${fs.readFileSync(path.join(this.dir, 'server.out'), 'utf8').slice(-2000)}`,
        );
      if (Date.now() > deadline) throw new Error('rabbitmq-server did not start in time');
      await new Promise((r) => setTimeout(r, 300));
    }
  }

  /** Kills the broker at once (SIGKILL to its process group): what it confirmed must be on disk. */
  async kill() {
    const p = this.proc;
    if (!p?.pid || p.exitCode !== null) return;
    const gone = new Promise((r) => p.once('exit', r));
    try {
      process.kill(-p.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
    await gone;
    // Erlang's helper processes of this node (inet_gethost, the disk monitor) go with its group.
    while (await portOpen(this.port)) await new Promise((r) => setTimeout(r, 100));
  }

  async stop() {
    await this.kill();
    fs.rmSync(this.dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  }
}
