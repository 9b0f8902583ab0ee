// The test guest's QEMU guest agent (/bin/qemu-ga, guest/init.ts), which Nova's changePassword
// reaches through libvirt (`virsh set-user-password` → guest-set-user-password). The guest boots
// under plain QEMU (TCG, user-mode network, no libvirt): the agent's port is a unix socket this
// test speaks the protocol on, then dropbear lets root in with the new password and no other.
// Needs qemu-system-x86_64 and the guest's build tools; skipped with the reason otherwise. ~1 minute.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { buildGuest, missingGuestTools, type GuestFiles } from '../src/compute/guest/build.ts';
import { GUEST_MARKERS } from '../src/compute/guest/init.ts';

const run = promisify(execFile);
const QEMU = '/usr/bin/qemu-system-x86_64';
const DBCLIENT = '/usr/bin/dbclient';
const skip = !fs.existsSync(QEMU)
  ? 'needs qemu-system-x86 (qemu-system-x86_64)'
  : !fs.existsSync(DBCLIENT)
    ? 'needs dropbear-bin (dbclient)'
    : missingGuestTools().length
      ? `needs the Debian packages ${missingGuestTools().join(' ')}`
      : false;

/** The test guest is cached across runs (STRATUS_GUEST_DIR, default in the temp dir), as test/libvirt-driver's. */
const GUEST_DIR = process.env.STRATUS_GUEST_DIR ?? path.join(os.tmpdir(), 'stratus-guest-cache');

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

describe('the test guest’s QEMU guest agent', { skip }, () => {
  let dir: string;
  let files: GuestFiles;
  let qemu: ChildProcess | undefined;
  let sshPort: number;
  let agent: net.Socket;
  const consoleLog = () =>
    fs.existsSync(path.join(dir, 'console.log')) ? fs.readFileSync(path.join(dir, 'console.log'), 'utf8') : '';
  const untilLog = async (text: string, ms = 120_000) => {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      if (consoleLog().includes(text)) return;
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.fail(`console never showed '${text}':\n${consoleLog().slice(-2000)}`);
  };
  /** One command, one JSON line back (after 0xFF for guest-sync-delimited). */
  const ask = (cmd: object) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      let buf = '';
      const onData = (d: Buffer) => {
        buf += d.toString('latin1');
        const nl = buf.indexOf('\n');
        if (nl < 0) return;
        agent.off('data', onData);
        clearTimeout(t);
        resolve(JSON.parse(buf.slice(0, nl).replace(/^\xff/, '')) as Record<string, unknown>);
      };
      const t = setTimeout(() => {
        agent.off('data', onData);
        reject(new Error(`no answer to ${JSON.stringify(cmd)} (${JSON.stringify(buf)})`));
      }, 15_000);
      agent.on('data', onData);
      agent.write(`${JSON.stringify(cmd)}\n`);
    });
  const ssh = (password: string, command: string) =>
    run(DBCLIENT, ['-y', '-y', '-p', String(sshPort), 'root@127.0.0.1', command], {
      env: { ...process.env, DROPBEAR_PASSWORD: password },
      timeout: 30_000,
    });

  before(async () => {
    files = await buildGuest(GUEST_DIR);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-qga-'));
    sshPort = await freePort();
    const sock = path.join(dir, 'qga.sock');
    qemu = spawn(
      QEMU,
      [
        ...['-machine', 'pc,accel=tcg', '-m', '256', '-nodefaults', '-no-reboot', '-display', 'none'],
        ...['-kernel', files.kernel, '-initrd', files.ramdisk, '-append', 'console=ttyS0 no_timer_check'],
        ...['-serial', `file:${path.join(dir, 'console.log')}`, '-monitor', 'none'],
        ...['-device', 'virtio-serial', '-chardev', `socket,id=qga,path=${sock},server=on,wait=off`],
        ...['-device', 'virtserialport,chardev=qga,name=org.qemu.guest_agent.0'],
        ...['-netdev', `user,id=n0,hostfwd=tcp:127.0.0.1:${sshPort}-:22`, '-device', 'virtio-net-pci,netdev=n0'],
      ],
      { stdio: 'ignore' },
    );
    await untilLog(GUEST_MARKERS.ready);
    assert.match(consoleLog(), /stratus-guest: guest-agent/);
    agent = net.connect(sock);
    await new Promise((resolve, reject) => agent.once('connect', resolve).once('error', reject));
  });

  after(async () => {
    agent?.destroy();
    if (qemu && qemu.exitCode === null) {
      const gone = new Promise((r) => qemu!.once('exit', r));
      qemu.kill('SIGKILL');
      await gone;
    }
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('answers guest-sync, guest-sync-delimited and guest-ping; an unknown command is CommandNotFound', async () => {
    assert.deepEqual(await ask({ execute: 'guest-sync', arguments: { id: 987654321 } }), { return: 987654321 });
    assert.deepEqual(await ask({ execute: 'guest-sync-delimited', arguments: { id: 42 } }), { return: 42 });
    assert.deepEqual(await ask({ execute: 'guest-ping' }), { return: {} });
    const e = (await ask({ execute: 'guest-get-time' })) as { error?: { class: string } };
    assert.equal(e.error?.class, 'CommandNotFound');
  });

  it('sets root’s password (guest-set-user-password, as virsh set-user-password sends it): SSH takes it, and no other', async () => {
    const password = Buffer.from('Newpass1234').toString('base64');
    assert.deepEqual(
      await ask({ execute: 'guest-set-user-password', arguments: { crypted: false, username: 'root', password } }),
      { return: {} },
    );
    await untilLog('stratus-guest: password of root set', 10_000);
    const r = await ssh('Newpass1234', 'id -u');
    assert.equal(r.stdout.trim(), '0');
    await assert.rejects(ssh('wrong-password', 'id -u'));
    const e = (await ask({
      execute: 'guest-set-user-password',
      arguments: { crypted: false, username: 'nobody', password },
    })) as { error?: { class: string } };
    assert.equal(e.error?.class, 'GenericError');
  });
});
