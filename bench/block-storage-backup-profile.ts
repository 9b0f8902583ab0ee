// Profiles the backup and restore path: one all-in-one Stratus started under `node --cpu-prof`
// (its profile in the directory given), a volume of `--mib` MiB of data backed up, restored,
// and the same bytes PUT and GET as one object; alternated `--reps` times, each run's seconds
// printed, so that the ratios come from neighbouring runs of a loaded machine.
//
//   node --import tsx bench/block-storage-backup-profile.ts [--mib=N] [--reps=N] [--prof-dir=DIR]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stopAll, sleep } from './lib/proc.ts';
import { login, startStratus } from './lib/stratus.ts';

const arg = (k: string, d: string) => process.argv.find((a) => a.startsWith(`--${k}=`))?.split('=')[1] ?? d;
const mib = Number(arg('mib', '512'));
const reps = Number(arg('reps', '2'));
const profDir = arg('prof-dir', '');

async function main() {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-cinder-prof-'));
  try {
    const st = await startStratus({
      dataDir,
      logFile: path.join(dataDir, 'stratus.log'),
      nodeArgs: profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [],
    });
    for (let i = 0; i < 300 && !fs.existsSync(path.join(dataDir, 'clouds.yaml')); i++) await sleep(100);
    await sleep(500);
    const sess = await login(st);
    const base = sess.endpoint('block-storage') ?? sess.endpoint('volumev3');
    const swift = sess.endpoint('object-store')!;
    const h = {
      'X-Auth-Token': sess.token,
      'Content-Type': 'application/json',
      'OpenStack-API-Version': 'volume 3.62',
    };
    const call = async (method: string, p: string, body?: unknown) => {
      const r = await fetch(`${base}${p}`, { method, headers: h, body: body ? JSON.stringify(body) : undefined });
      const t = await r.text();
      return t ? JSON.parse(t) : {};
    };
    const wait = async (p: string, key: string, want: string) => {
      for (;;) {
        const x = (await call('GET', p))[key];
        if (x.status === want) return;
        if (x.status === 'error') throw new Error(`${p} error`);
        await sleep(50);
      }
    };
    await call('PUT', `/os-quota-sets/${sess.projectId}`, {
      quota_set: { volumes: -1, gigabytes: -1, backups: -1, backup_gigabytes: -1 },
    });
    const v = (await call('POST', '/volumes', { volume: { size: Math.max(1, Math.ceil(mib / 1024)) } })).volume;
    await wait(`/volumes/${v.id}`, 'volume', 'available');
    const file = path.join(dataDir, 'volumes', `volume-${v.id}`);
    const fd = fs.openSync(file, 'r+');
    const buf = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < mib; i++) {
      for (let j = 0; j < buf.length; j += 4) buf.writeUInt32LE((i * 2654435761 + j * 40503) >>> 0, j);
      fs.writeSync(fd, buf, 0, buf.length, i * buf.length);
    }
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    const data = fs.readFileSync(file).subarray(0, mib * 1024 * 1024);
    const auth = { 'X-Auth-Token': sess.token };
    await fetch(`${swift}/bench-limit`, { method: 'PUT', headers: auth });
    const s = (t0: number) => (performance.now() - t0) / 1000;
    for (let r = 0; r < reps; r++) {
      let t0 = performance.now();
      const b = (await call('POST', '/backups', { backup: { volume_id: v.id } })).backup;
      await wait(`/backups/${b.id}`, 'backup', 'available');
      const backup = s(t0);
      t0 = performance.now();
      const rs = (await call('POST', `/backups/${b.id}/restore`, { restore: {} })).restore;
      await wait(`/volumes/${rs.volume_id}`, 'volume', 'available');
      const restore = s(t0);
      t0 = performance.now();
      await (await fetch(`${swift}/bench-limit/blob`, { method: 'PUT', headers: auth, body: data })).arrayBuffer();
      const put = s(t0);
      t0 = performance.now();
      await (await fetch(`${swift}/bench-limit/blob`, { headers: auth })).arrayBuffer();
      const get = s(t0);
      console.log(
        `rep ${r}: backup ${backup.toFixed(2)} s, PUT ${put.toFixed(2)} s (${((put / backup) * 100).toFixed(0)} %); ` +
          `restore ${restore.toFixed(2)} s, GET ${get.toFixed(2)} s (${((get / restore) * 100).toFixed(0)} %); load ${os.loadavg()[0]!.toFixed(1)}`,
      );
      await call('DELETE', `/volumes/${rs.volume_id}`);
      await call('DELETE', `/backups/${b.id}`);
      await sleep(1000);
    }
  } finally {
    await stopAll();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}
await main();
