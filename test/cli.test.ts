// The `stratus` command: options by parseArgs, the configuration's schema, clouds.yaml edits
// that keep the user's file, the data directory's lock, openrc, and the process's stops.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { configProblems } from '../src/devstack/config-schema.ts';
import { upsertClouds, openrcScript } from '../src/devstack/clouds-yaml.ts';
import { DataDirLock, DataDirLockedError, readRunInfo } from '../src/devstack/lock.ts';
import { FaultInjector, bodyName, globTest } from '../src/devstack/faults.ts';
import { errorReason, prettyStream } from '../src/devstack/console.ts';

process.env.STRATUS_CLI_NO_MAIN = '1';
const cli = await import('../src/cli.ts');

const root = path.resolve(import.meta.dirname, '..');
let tmp: string;
before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-cli-'));
});
after(() => fs.rmSync(tmp, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }));

describe('cli: options', () => {
  it('finds one- and two-word commands', () => {
    assert.deepEqual(cli.findCommand(['start', '--port', '1']), { name: 'start', rest: ['--port', '1'] });
    assert.deepEqual(cli.findCommand(['db', 'migrate']), { name: 'db migrate', rest: [] });
    assert.equal(cli.findCommand(['nope']).name, undefined);
    assert.equal(cli.parseCommand('snapshot save', ['/tmp/x.gz'])._arg, '/tmp/x.gz');
    assert.throws(() => cli.parseCommand('snapshot load', []), /expects one argument, FILE/);
    assert.throws(() => cli.parseCommand('status', ['extra']), /unexpected argument 'extra'/);
  });
  it('names an unknown option and a bad port', () => {
    assert.throws(() => cli.parseCommand('start', ['--prot', '1']), /Unknown option '--prot'/);
    assert.throws(
      () => cli.toFlags(cli.parseCommand('start', ['--port', 'abc'])),
      /--port: 'abc' is not a port number/,
    );
    assert.throws(() => cli.toFlags(cli.parseCommand('start', ['--port', '70000'])), /not a port number/);
    assert.deepEqual(cli.toFlags(cli.parseCommand('start', ['--port=8123', '--separate-ports', '--bus', 'memory'])), {
      port: 8123,
      separatePorts: true,
      transport: 'memory',
    });
    assert.equal(cli.parseCommand('start', ['--bare', '--ephemeral']).bare, true);
  });
  it('has a version', () => assert.match(cli.version(), /^\d+\.\d+\.\d+/));
});

describe('cli: configuration schema', () => {
  it('names unknown keys with the closest known one, and bad values', () => {
    assert.deepEqual(configProblems({ compute: { fakeHost: 2 } }, 'f.yaml'), [
      "f.yaml: unknown option 'compute.fakeHost' (did you mean 'compute.fakeHosts'?)",
    ]);
    assert.deepEqual(configProblems({ prot: 1 }, 'f.yaml'), ["f.yaml: unknown option 'prot' (did you mean 'port'?)"]);
    assert.match(configProblems({ port: 'abc' }, 'f.yaml')[0]!, /option 'port' must be integer \(got "abc"\)/);
    assert.match(configProblems({ network: { mtu: '1500' } }, 'f.yaml')[0]!, /network\.mtu' must be number/);
    assert.match(
      configProblems({ devstack: { faults: [{ action: 'explode' }] } }, 'f.yaml')[0]!,
      /devstack\.faults\.0\.action/,
    );
  });
  it('accepts the documented options and other services sections', () => {
    const ok = {
      port: 8000,
      bus: 'memory',
      roles: 'api,compute',
      identity: { securityCompliance: { lockoutFailureAttempts: 2 } },
      network: { flatNetworks: ['*'], quotas: { network: 10 }, host: 'h' },
      compute: {
        fakeHosts: 2,
        consoles: { spice: 'http://x/' },
        libvirt: { instancesPath: '/srv/a', hostInstancesPaths: { a: '/srv/a', b: '/srv/b' } },
      },
      image: { cache: true },
      devstack: { world: false, faultApi: true, faults: [{ service: 'compute', action: 'fail', status: 503 }] },
      volume: { anything: 1 },
    };
    assert.deepEqual(configProblems(ok, 'f.yaml', ['volume']), []);
  });
  it('refuses a bad config file before writing anything', () => {
    const dir = path.join(tmp, 'badcfg');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'stratus.yaml'), 'compute:\n  fakeHost: 2\n');
    assert.throws(() => cli.checkedConfig({ dataDir: dir }, {}), /unknown option 'compute\.fakeHost'/);
    assert.deepEqual(fs.readdirSync(dir), ['stratus.yaml']);
  });
});

describe('cli: clouds.yaml and openrc', () => {
  const entry = (u: string) => ({
    auth: { auth_url: 'http://x/v3', username: u, password: 'p' },
    region_name: 'RegionOne',
    identity_api_version: 3,
    interface: 'public',
  });
  it('keeps comments and other clouds', () => {
    const f = path.join(tmp, 'clouds.yaml');
    fs.writeFileSync(
      f,
      '# my clouds\nclouds:\n  mine: # the lab\n    auth:\n      auth_url: http://lab/v3\n  stratus:\n    auth: {}\n',
    );
    assert.deepEqual(upsertClouds(f, { stratus: entry('admin'), devstack: entry('demo') }), { ok: true });
    const text = fs.readFileSync(f, 'utf8');
    assert.match(text, /# my clouds/);
    assert.match(text, /# the lab/);
    assert.match(text, /auth_url: http:\/\/lab\/v3/);
    assert.match(text, /username: demo/);
    assert.equal((text.match(/^ {2}stratus:/gm) ?? []).length, 1);
  });
  it('leaves a file that does not parse alone', () => {
    const f = path.join(tmp, 'broken.yaml');
    const broken = 'clouds:\n  mine: [unclosed\n';
    fs.writeFileSync(f, broken);
    const r = upsertClouds(f, { stratus: entry('admin') });
    assert.equal(r.ok, false);
    assert.equal(fs.readFileSync(f, 'utf8'), broken);
  });
  it("openrc takes a user and a project, as DevStack's", () => {
    const f = path.join(tmp, 'openrc');
    fs.writeFileSync(
      f,
      openrcScript({
        authUrl: 'http://x/v3',
        region: 'RegionOne',
        users: [
          { name: 'admin', password: 'a', project: 'admin' },
          { name: 'demo', password: "d'q", project: 'demo' },
        ],
      }),
    );
    const env = (args: string) =>
      execFileSync('bash', ['-c', `source ${f} ${args} && echo "$OS_USERNAME $OS_PASSWORD $OS_PROJECT_NAME"`], {
        encoding: 'utf8',
      }).trim();
    assert.equal(env(''), 'admin a admin');
    assert.equal(env('demo'), "demo d'q demo");
    assert.equal(env('demo admin'), "demo d'q admin");
  });
});

describe('cli: data directory lock', () => {
  it('refuses a second holder and takes over a stale lock', () => {
    const dir = path.join(tmp, 'lock');
    const a = new DataDirLock(dir);
    a.acquire();
    a.update({ url: 'http://127.0.0.1:1' });
    assert.equal(readRunInfo(dir)?.url, 'http://127.0.0.1:1');
    // Another process's lock: this test's parent is alive.
    fs.writeFileSync(a.file, JSON.stringify({ pid: process.ppid, startedAt: 'then' }));
    assert.throws(
      () => new DataDirLock(dir).acquire(),
      (e: Error) => e instanceof DataDirLockedError && /pid/.test(e.message),
    );
    // A dead process's lock is taken over.
    fs.writeFileSync(a.file, JSON.stringify({ pid: 2 ** 22 + 12345, startedAt: 'then' }));
    const b = new DataDirLock(dir);
    b.acquire();
    b.release();
    assert.equal(fs.existsSync(b.file), false);
  });
});

describe('cli: fault rules and console', () => {
  it('matches by service, method, path glob, body name, count', () => {
    const f = new FaultInjector([
      { service: 'compute', method: 'POST', path: '/v2.1/servers', name: 'fail-*', action: 'fail', count: 1 },
    ]);
    const req = (name: string) => ({
      service: { name: 'compute', type: 'compute' },
      method: 'POST',
      path: '/v2.1/servers',
      body: { server: { name } },
    });
    assert.equal(f.match(req('ok-1')), undefined);
    assert.equal(f.match(req('fail-1'))?.action, 'fail');
    assert.equal(f.match(req('fail-2')), undefined, 'count 1 is spent');
    assert.throws(() => f.add({ action: 'boom' } as never), /Invalid fault rule/);
    assert.equal(globTest('/v2.0/ports*', '/v2.0/ports.json'), true);
    assert.equal(bodyName({ name: 'img' }), 'img');
  });
  it('applies a rate', () => {
    let r = 0.7;
    const f = new FaultInjector([{ action: 'fail', rate: 0.5 }], () => r);
    assert.equal(f.match({ method: 'GET', path: '/' }), undefined);
    r = 0.2;
    assert.ok(f.match({ method: 'GET', path: '/' }));
  });
  it('prints one line per request with the reason of an error', async () => {
    let text = '';
    const s = prettyStream({ write: (x: string) => ((text += x), true) } as unknown as NodeJS.WritableStream, false);
    const rid = 'req-1';
    s.write(
      `${JSON.stringify({ level: 30, time: 0, request_id: rid, msg: 'error answer', reason: 'Network x not found.' })}\n`,
    );
    s.write(
      `${JSON.stringify({ level: 30, time: 0, request_id: rid, msg: 'request', method: 'GET', url: '/networking/v2.0/networks/x', status: 404, ms: 1.2 })}\n`,
    );
    await new Promise((r) => setImmediate(r));
    assert.match(text, /404 GET\s+\/networking\/v2\.0\/networks\/x 1\.2 ms — Network x not found\./);
    assert.equal(errorReason('{"NeutronError": {"type": "X", "message": "m", "detail": ""}}'), 'm');
    assert.equal(errorReason('<html><h1>Not Found</h1><p>nope</p></html>'), 'Not Found nope');
  });
});

describe('cli: the process', () => {
  const bin = path.join(root, 'bin', 'stratus.js');
  const run = (args: string[]) =>
    new Promise<{ code: number | null; out: string }>((resolve) => {
      const p = spawn(process.execPath, [bin, ...args], {
        env: { ...process.env, STRATUS_USER_CLOUDS: '0', STRATUS_CLI_NO_MAIN: '' },
      });
      let out = '';
      p.stdout.on('data', (d) => (out += d));
      p.stderr.on('data', (d) => (out += d));
      p.on('exit', (code) => resolve({ code, out }));
    });
  it('answers --version and per-command --help', async () => {
    assert.match((await run(['--version'])).out, /^stratus \d/);
    const h = await run(['start', '--help']);
    assert.equal(h.code, 0);
    assert.match(h.out, /Usage: stratus start/);
    assert.match(h.out, /--bare/);
    const bad = await run(['start', '--port', 'abc']);
    assert.equal(bad.code, 2);
    assert.match(bad.out, /--port: 'abc' is not a port number/);
  });
  it('stops within 2 s of a SIGINT right after the banner, and refuses a second start on the data directory', async () => {
    const dir = path.join(tmp, 'proc');
    const p = spawn(process.execPath, [bin, 'start', '--bare', '--data-dir', dir, '--port', '0'], {
      env: { ...process.env, STRATUS_USER_CLOUDS: '0', STRATUS_PASSWORD_HASH_ROUNDS: '4', STRATUS_CLI_NO_MAIN: '' },
    });
    let out = '';
    p.stderr.on('data', (d) => (out += d));
    await new Promise<void>((resolve, reject) => {
      p.stdout.on('data', (d) => {
        out += d;
        if (out.includes('is running')) resolve();
      });
      p.on('exit', () => reject(new Error(out)));
    });
    const second = await run(['start', '--bare', '--data-dir', dir, '--port', '0']);
    assert.equal(second.code, 1);
    assert.match(second.out, /another Stratus \(pid \d+.*is running on the data directory/);
    const t0 = Date.now();
    const exited = new Promise<number | null>((r) => p.on('exit', (c) => r(c)));
    p.kill('SIGINT');
    assert.equal(await exited, 0);
    // Stops at once rather than after a shutdown timeout (loose bound: files run two at a time).
    assert.ok(Date.now() - t0 < 10_000, `stopped in ${Date.now() - t0} ms`);
    assert.equal(fs.existsSync(path.join(dir, 'stratus.pid')), false);
  });
});
