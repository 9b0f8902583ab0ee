// Block storage benchmark: Cinder v3 on Stratus with the `file` backend, all-in-one (one process,
// in-process bus, SQLite). Volume create → `available` latency against the machine's limit
// (`qemu-img create` of the same sparse file); attach/detach round trips through compute (fake
// virt driver); GET /volumes/detail with 1,000 volumes; backup and restore of a 1 GiB volume
// holding data (MB/s) against a plain object PUT/GET of the same bytes through the object store,
// and `dd` of the same bytes; a volume created from a 1 GiB image (raw, and the qcow2 of the same
// disk: random data in its first and last 256 MiB, zeros between) against `qemu-img convert -O raw`
// of the same image file on the same disk; 100 creates at once under a volumes quota of 10 (exactly
// 10 accepted); the Stratus process's peak RSS.
//
//   npm run bench -- block-storage [--quick] [--creates=N] [--list-volumes=N] [--backup-mib=N]
//                                  [--image-runs=N] [--only-image] [--image-direct] [--no-write]
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { procStatusKb, sleep, startConditions, stopAll } from './lib/proc.ts';
import { fmt, machineLine, Report } from './lib/report.ts';
import { login, startStratus, stratusAvailable, type Session, type Stratus } from './lib/stratus.ts';

interface Settings {
  creates: number;
  attaches: number;
  listVolumes: number;
  listReps: number;
  backupMib: number;
  imageRuns: number;
  /** The volume agent reads the image store's file (allowed_direct_url_schemes = file). */
  imageDirect: boolean;
  onlyImage: boolean;
  write: boolean;
}

function parseArgs(args: string[]): Settings {
  const s: Settings = {
    creates: 50,
    attaches: 10,
    listVolumes: 1000,
    listReps: 20,
    backupMib: 1024,
    imageRuns: 5,
    imageDirect: false,
    onlyImage: false,
    write: true,
  };
  for (const a of args) {
    const [k, v] = a.split('=', 2) as [string, string | undefined];
    const n = Number(v);
    if (k === '--quick')
      Object.assign(s, { creates: 10, attaches: 3, listVolumes: 200, listReps: 5, backupMib: 128, imageRuns: 3 });
    else if (k === '--creates') s.creates = n;
    else if (k === '--attaches') s.attaches = n;
    else if (k === '--list-volumes') s.listVolumes = n;
    else if (k === '--backup-mib') s.backupMib = n;
    else if (k === '--image-runs') s.imageRuns = n;
    else if (k === '--only-image') s.onlyImage = true;
    else if (k === '--image-direct') s.imageDirect = true;
    else if (k === '--no-write') s.write = false;
    else
      throw new Error(
        `block-storage: unknown option ${a} (options: --quick --creates=N --attaches=N --list-volumes=N --backup-mib=N --image-runs=N --only-image --image-direct --no-write)`,
      );
  }
  return s;
}

interface Answer {
  status: number;
  body: Record<string, unknown> & { [k: string]: unknown };
  ms: number;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

function request(url: string, method: string, headers: Record<string, string>, body?: unknown): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const t0 = performance.now();
    const req = http.request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname + u.search,
        method,
        agent,
        headers: {
          Accept: 'application/json',
          ...(data ? { 'Content-Type': 'application/json', 'Content-Length': String(data.length) } : {}),
          ...headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: Answer['body'] = {};
          try {
            parsed = text ? JSON.parse(text) : {};
          } catch {
            parsed = { text };
          }
          resolve({ status: res.statusCode ?? 0, body: parsed, ms: performance.now() - t0 });
        });
      },
    );
    req.on('error', reject);
    if (data) req.write(data);
    req.end();
  });
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : Number.NaN;
};

class Cinder {
  constructor(
    private sess: Session,
    private base: string,
  ) {}
  call(method: string, p: string, body?: unknown, version = '3.70') {
    return request(
      `${this.base}${p}`,
      method,
      { 'X-Auth-Token': this.sess.token, 'OpenStack-API-Version': `volume ${version}` },
      body,
    );
  }
  async waitVolume(id: string, status: string, pollMs = 2): Promise<Record<string, unknown>> {
    for (;;) {
      const r = await this.call('GET', `/volumes/${id}`);
      const v = r.body.volume as Record<string, unknown> | undefined;
      if (v?.status === status) return v;
      if (typeof v?.status === 'string' && v.status.startsWith('error')) throw new Error(`volume ${id} is ${v.status}`);
      await sleep(pollMs);
    }
  }
  async waitBackup(id: string): Promise<void> {
    for (;;) {
      const b = (await this.call('GET', `/backups/${id}`)).body.backup as Record<string, unknown> | undefined;
      if (b?.status === 'available') return;
      if (b?.status === 'error') throw new Error(`backup ${id}: ${String(b.fail_reason)}`);
      await sleep(20);
    }
  }
}

/** Fills the first `mib` MiB of a file with non-zero, incompressible-ish bytes (a pattern per MiB). */
function fill(file: string, mib: number) {
  const fd = fs.openSync(file, 'r+');
  const buf = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < mib; i++) {
    for (let j = 0; j < buf.length; j += 4) buf.writeUInt32LE((i * 2654435761 + j * 40503) >>> 0, j);
    fs.writeSync(fd, buf, 0, buf.length, i * buf.length);
  }
  fs.fsyncSync(fd);
  fs.closeSync(fd);
}

export async function run(args: string[]): Promise<void> {
  const s = parseArgs(args);
  if (!stratusAvailable()) throw new Error('block-storage: bin/stratus.js is missing');
  const report = new Report('block-storage', 'Block storage (Cinder v3, file backend)');
  const log = (m: string) => console.log(`[bench block-storage] ${m}`);
  const conditions = await startConditions(0, log);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-cinder-'));
  const limitDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-cinder-limit-'));
  let st: Stratus | undefined;
  const rows: string[][] = [];
  const row = (op: string, detail: string, xs: number[]) =>
    rows.push([op, detail, String(xs.length), fmt(pct(xs, 50), 1), fmt(pct(xs, 99), 1)]);
  try {
    if (s.imageDirect)
      fs.writeFileSync(
        path.join(dataDir, 'stratus.yaml'),
        'image:\n  showDirectUrl: true\nblockStorage:\n  allowedDirectUrlSchemes: [file]\n',
      );
    st = await startStratus({ dataDir, logFile: path.join(limitDir, 'stratus.log') });
    // The first start bootstraps and writes clouds.yaml just after the API answers.
    for (let i = 0; i < 300 && !fs.existsSync(path.join(dataDir, 'clouds.yaml')); i++) await sleep(100);
    await sleep(500);
    const sess = await login(st);
    const base = sess.endpoint('block-storage') ?? sess.endpoint('volumev3');
    if (!base) throw new Error('no block-storage endpoint in the catalog');
    const c = new Cinder(sess, base);
    const q = await c.call('PUT', `/os-quota-sets/${sess.projectId}`, {
      quota_set: { volumes: -1, gigabytes: -1, snapshots: -1, backups: -1, backup_gigabytes: -1 },
    });
    if (q.status !== 200) throw new Error(`quota update answered ${q.status}`);
    const hwm = () => procStatusKb(st!.server.pid, 'VmHWM') / 1024;

    const tp: string[][] = [];
    // First, while the project has no volume (a quota below the usage is refused, as in Cinder).
    const race = s.onlyImage ? [] : await quotaRace(c, sess, log);
    if (!s.onlyImage) await volumesAndBackups(s, c, sess, dataDir, limitDir, row, tp);
    await imageToVolume(s, c, sess, dataDir, limitDir, tp, log);

    report
      .text(machineLine())
      .bullets(conditions)
      .heading('Latency (ms)')
      .table(['op', 'detail', 'n', 'p50', 'p99'], rows, ['l', 'l', 'r', 'r', 'r'])
      .heading('Throughput')
      .table(['op', 'detail', 'ms', 'MB/s'], tp, ['l', 'l', 'r', 'r'])
      .heading('Quota under concurrent creates')
      .table(['creates', 'quota', 'accepted (202)', 'refused (413)', 'other', 'in use after', 'ms'], race, [
        'r',
        'r',
        'r',
        'r',
        'r',
        'r',
        'r',
      ])
      .heading('Memory')
      .text(`Stratus peak RSS (VmHWM) at the end: ${fmt(hwm(), 0)} MB.`);
  } finally {
    await stopAll();
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.rmSync(limitDir, { recursive: true, force: true });
  }
  report.write({ file: s.write });
}

// 6. 100 creates at once under a volumes quota of 10: exactly 10 are accepted (the reservation is
// atomic), the rest answer 413, and the usage says 10.
async function quotaRace(c: Cinder, sess: Session, log: (m: string) => void): Promise<string[][]> {
  const n = 100;
  const quota = 10;
  const q = await c.call('PUT', `/os-quota-sets/${sess.projectId}`, { quota_set: { volumes: quota } });
  if (q.status !== 200) throw new Error(`quota update answered ${q.status}: ${JSON.stringify(q.body)}`);
  const t0 = performance.now();
  const rs = await Promise.all(
    Array.from({ length: n }, (_, i) => c.call('POST', '/volumes', { volume: { size: 1, name: `race-${i}` } })),
  );
  const ms = performance.now() - t0;
  const ok = rs.filter((r) => r.status === 202);
  const refused = rs.filter((r) => r.status === 413).length;
  const usage = await c.call('GET', `/os-quota-sets/${sess.projectId}?usage=True`);
  const inUse = (usage.body.quota_set as { volumes: { in_use: number } }).volumes.in_use;
  log(`${n} concurrent creates under a quota of ${quota}: ${ok.length} accepted, ${refused} refused, in use ${inUse}`);
  for (const r of ok) {
    const id = (r.body.volume as { id: string }).id;
    await c.waitVolume(id, 'available');
    await c.call('DELETE', `/volumes/${id}`);
  }
  await c.call('PUT', `/os-quota-sets/${sess.projectId}`, { quota_set: { volumes: -1 } });
  return [
    [
      String(n),
      String(quota),
      String(ok.length),
      String(refused),
      String(n - ok.length - refused),
      String(inUse),
      fmt(ms, 0),
    ],
  ];
}

async function volumesAndBackups(
  s: Settings,
  c: Cinder,
  sess: Session,
  dataDir: string,
  limitDir: string,
  row: (op: string, detail: string, xs: number[]) => void,
  tp: string[][],
) {
  // 1. create → available, one after the other; the limit: qemu-img create of the same file.
  const creates: number[] = [];
  const made: string[] = [];
  for (let i = 0; i < s.creates; i++) {
    const t0 = performance.now();
    const r = await c.call('POST', '/volumes', { volume: { size: 1, name: `bench-${i}` } });
    if (r.status !== 202) throw new Error(`create answered ${r.status}: ${JSON.stringify(r.body)}`);
    const id = (r.body.volume as { id: string }).id;
    await c.waitVolume(id, 'available');
    creates.push(performance.now() - t0);
    made.push(id);
  }
  row('volume create → available', '1 GiB, file backend (raw sparse)', creates);
  const limit: number[] = [];
  for (let i = 0; i < s.creates; i++) {
    const t0 = performance.now();
    const p = spawnSync('qemu-img', ['create', '-q', '-f', 'raw', path.join(limitDir, `v${i}`), '1G']);
    if (p.status !== 0) throw new Error(`qemu-img create: ${p.stderr}`);
    limit.push(performance.now() - t0);
  }
  row('limit: qemu-img create', '1 GiB raw, same disk', limit);

  // 2. attach/detach through compute (fake virt driver).
  const nova = sess.endpoint('compute');
  const img = sess.endpoint('image');
  if (nova && img) {
    const auth = { 'X-Auth-Token': sess.token };
    const im = await request(`${img}/v2/images`, 'POST', auth, {
      name: 'bench',
      disk_format: 'raw',
      container_format: 'bare',
    });
    const imageId = (im.body as { id: string }).id;
    await fetch(`${img}/v2/images/${imageId}/file`, {
      method: 'PUT',
      headers: { ...auth, 'Content-Type': 'application/octet-stream' },
      body: new Uint8Array(1024),
    });
    const nv = { ...auth, 'OpenStack-API-Version': 'compute 2.79' };
    const sv = await request(`${nova}/servers`, 'POST', nv, {
      server: { name: 'bench', imageRef: imageId, flavorRef: '1', networks: 'none' },
    });
    if (sv.status !== 202) throw new Error(`server create answered ${sv.status}: ${JSON.stringify(sv.body)}`);
    const server = (sv.body.server as { id: string }).id;
    for (;;) {
      const x = (await request(`${nova}/servers/${server}`, 'GET', nv)).body.server as Record<string, unknown>;
      if (x.status === 'ACTIVE' && !x['OS-EXT-STS:task_state']) break;
      if (x.status === 'ERROR') throw new Error('bench server went to ERROR');
      await sleep(20);
    }
    const rounds: number[] = [];
    const vol = made[0]!;
    for (let i = 0; i < s.attaches; i++) {
      const t0 = performance.now();
      const a = await request(`${nova}/servers/${server}/os-volume_attachments`, 'POST', nv, {
        volumeAttachment: { volumeId: vol },
      });
      if (a.status !== 200) throw new Error(`attach answered ${a.status}: ${JSON.stringify(a.body)}`);
      await c.waitVolume(vol, 'in-use');
      const d = await request(`${nova}/servers/${server}/os-volume_attachments/${vol}`, 'DELETE', nv);
      if (d.status !== 202) throw new Error(`detach answered ${d.status}`);
      await c.waitVolume(vol, 'available');
      rounds.push(performance.now() - t0);
    }
    row('attach + detach round trip', 'os-volume_attachments → in-use → available', rounds);
    await request(`${nova}/servers/${server}`, 'DELETE', nv);
  }

  // 3. the list with N volumes.
  for (let i = made.length; i < s.listVolumes; i += 25) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(25, s.listVolumes - i) }, (_, k) =>
        c.call('POST', '/volumes', { volume: { size: 1, name: `fill-${i + k}` } }),
      ),
    );
    for (const r of batch) if (r.status !== 202) throw new Error(`fill create answered ${r.status}`);
    for (const r of batch) made.push((r.body.volume as { id: string }).id);
  }
  for (const id of made.slice(-25)) await c.waitVolume(id, 'available', 20);
  const lists: number[] = [];
  let listed = 0;
  for (let i = 0; i < s.listReps; i++) {
    const r = await c.call('GET', `/volumes/detail?limit=${s.listVolumes}`);
    listed = (r.body.volumes as unknown[]).length;
    lists.push(r.ms);
  }
  row(`GET /volumes/detail?limit=${s.listVolumes}`, `${listed} volumes in the project`, lists);

  // 4. backup and restore of a volume holding data; the limits: an object PUT/GET and dd.
  const mib = s.backupMib;
  const gib = Math.max(1, Math.ceil(mib / 1024));
  const bv = await c.call('POST', '/volumes', { volume: { size: gib, name: 'bench-backup' } });
  const bvId = (bv.body.volume as { id: string }).id;
  await c.waitVolume(bvId, 'available');
  const file = path.join(dataDir, 'volumes', `volume-${bvId}`);
  fill(file, mib);
  let t0 = performance.now();
  const bk = await c.call('POST', '/backups', { backup: { volume_id: bvId, name: 'bench' } });
  if (bk.status !== 202) throw new Error(`backup answered ${bk.status}: ${JSON.stringify(bk.body)}`);
  const bkId = (bk.body.backup as { id: string }).id;
  await c.waitBackup(bkId);
  const backupMs = performance.now() - t0;
  t0 = performance.now();
  const rs = await c.call('POST', `/backups/${bkId}/restore`, { restore: { name: 'bench-restored' } });
  if (rs.status !== 202) throw new Error(`restore answered ${rs.status}: ${JSON.stringify(rs.body)}`);
  const restoredId = (rs.body.restore as { volume_id: string }).volume_id;
  await c.waitVolume(restoredId, 'available', 20);
  const restoreMs = performance.now() - t0;
  const cmp = spawnSync('qemu-img', [
    'compare',
    '-q',
    '-f',
    'raw',
    '-F',
    'raw',
    file,
    path.join(dataDir, 'volumes', `volume-${restoredId}`),
  ]);
  const identical = cmp.status === 0 ? 'byte-identical' : 'DIFFERS';
  const mbs = (ms: number) => fmt(mib / (ms / 1000), 0);
  tp.push(
    [
      'backup (Swift chunks, zlib, sha256)',
      `${mib} MiB of data in a ${gib} GiB volume`,
      fmt(backupMs, 0),
      mbs(backupMs),
    ],
    ['restore to a new volume', identical, fmt(restoreMs, 0), mbs(restoreMs)],
  );
  const swift = sess.endpoint('object-store');
  if (swift) {
    const data = fs.readFileSync(file).subarray(0, mib * 1024 * 1024);
    const auth = { 'X-Auth-Token': sess.token };
    await request(`${swift}/bench-limit`, 'PUT', auth);
    t0 = performance.now();
    const put = await fetch(`${swift}/bench-limit/blob`, { method: 'PUT', headers: auth, body: data });
    const putMs = performance.now() - t0;
    t0 = performance.now();
    const got = await fetch(`${swift}/bench-limit/blob`, { headers: auth }).then((r) => r.arrayBuffer());
    const getMs = performance.now() - t0;
    if (put.status === 201 && got.byteLength === data.length) {
      tp.push(['limit: object PUT of the same bytes', 'one object, object store API', fmt(putMs, 0), mbs(putMs)]);
      tp.push(['limit: object GET of the same bytes', 'one object, object store API', fmt(getMs, 0), mbs(getMs)]);
    }
    await fetch(`${swift}/bench-limit/blob`, { method: 'DELETE', headers: auth });
  }
  t0 = performance.now();
  const dd = spawnSync(
    'dd',
    [`if=${file}`, `of=${path.join(limitDir, 'dd')}`, 'bs=4M', `count=${mib / 4}`, 'conv=fsync'],
    {
      stdio: 'ignore',
    },
  );
  const ddMs = performance.now() - t0;
  if (dd.status === 0) tp.push(['limit: dd of the same bytes', 'bs=4M conv=fsync, same disk', fmt(ddMs, 0), mbs(ddMs)]);
}

/**
 * A 1 GiB disk with real content: random bytes in its first and last 256 MiB, a hole between
 * (zeros), as the raw file and its qcow2.
 */
function makeImageDisk(dir: string): { raw: string; qcow2: string } {
  const raw = path.join(dir, 'disk.raw');
  const fd = fs.openSync(raw, 'w');
  const buf = Buffer.alloc(16 * 1024 * 1024);
  const quarter = 256 * 1024 * 1024;
  for (const start of [0, 3 * quarter])
    for (let off = 0; off < quarter; off += buf.length) {
      crypto.randomFillSync(buf);
      fs.writeSync(fd, buf, 0, buf.length, start + off);
    }
  fs.ftruncateSync(fd, 4 * quarter);
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  const qcow2 = path.join(dir, 'disk.qcow2');
  const p = spawnSync('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', raw, qcow2]);
  if (p.status !== 0) throw new Error(`qemu-img convert: ${p.stderr}`);
  return { raw, qcow2 };
}

async function uploadImage(sess: Session, name: string, file: string, diskFormat: string): Promise<string> {
  const img = sess.endpoint('image');
  if (!img) throw new Error('no image endpoint in the catalog');
  const auth = { 'X-Auth-Token': sess.token };
  const im = await request(`${img}/v2/images`, 'POST', auth, {
    name,
    disk_format: diskFormat,
    container_format: 'bare',
  });
  if (im.status !== 201) throw new Error(`image create answered ${im.status}`);
  const id = (im.body as { id: string }).id;
  const put = await fetch(`${img}/v2/images/${id}/file`, {
    method: 'PUT',
    headers: { ...auth, 'Content-Type': 'application/octet-stream', 'Content-Length': String(fs.statSync(file).size) },
    body: Readable.toWeb(fs.createReadStream(file)) as unknown as BodyInit,
    duplex: 'half',
  } as RequestInit);
  if (put.status !== 204) throw new Error(`image upload answered ${put.status}`);
  return id;
}

// 5. a volume from a 1 GiB image (upload once, not timed) against qemu-img convert -O raw of the
// same image file to the same file system; each run alternates ours and the limit.
async function imageToVolume(
  s: Settings,
  c: Cinder,
  sess: Session,
  dataDir: string,
  limitDir: string,
  tp: string[][],
  log: (m: string) => void,
) {
  if (s.imageRuns <= 0) return;
  const disk = makeImageDisk(limitDir);
  const volumesDir = path.join(dataDir, 'volumes');
  for (const [fmtName, file] of [
    ['raw', disk.raw],
    ['qcow2', disk.qcow2],
  ] as const) {
    const imageId = await uploadImage(sess, `bench-${fmtName}`, file, fmtName);
    const ours: number[] = [];
    const limit: number[] = [];
    let identical = true;
    for (let i = 0; i < s.imageRuns; i++) {
      let t0 = performance.now();
      const r = await c.call('POST', '/volumes', { volume: { size: 1, name: `bench-img-${i}`, imageRef: imageId } });
      if (r.status !== 202) throw new Error(`create from image answered ${r.status}: ${JSON.stringify(r.body)}`);
      const id = (r.body.volume as { id: string }).id;
      await c.waitVolume(id, 'available', 5);
      ours.push(performance.now() - t0);
      const vfile = path.join(volumesDir, `volume-${id}`);
      if (i === 0) {
        const cmp = spawnSync('qemu-img', ['compare', '-q', '-f', 'raw', '-F', 'raw', disk.raw, vfile]);
        identical = cmp.status === 0;
      }
      await c.call('DELETE', `/volumes/${id}`);
      const out = path.join(limitDir, 'converted.raw');
      t0 = performance.now();
      const p = spawnSync('qemu-img', ['convert', '-q', '-f', fmtName, '-O', 'raw', file, out]);
      limit.push(performance.now() - t0);
      if (p.status !== 0) throw new Error(`qemu-img convert: ${p.stderr}`);
      fs.rmSync(out, { force: true });
      log(
        `image → volume (${fmtName}) run ${i + 1}: ${fmt(ours.at(-1)!, 0)} ms, qemu-img convert ${fmt(limit.at(-1)!, 0)} ms`,
      );
    }
    const mbs = (ms: number) => fmt(1024 / (ms / 1000), 0);
    const o50 = pct(ours, 50);
    const l50 = pct(limit, 50);
    tp.push([
      `volume create --image → available (${fmtName}${s.imageDirect ? ', read from the image store: allowed_direct_url_schemes = file' : ', through the image API'})`,
      `1 GiB image (${fmtName}: 512 MiB random data, 512 MiB zeros), p50 of ${ours.length}, ${identical ? 'byte-identical' : 'DIFFERS'}`,
      fmt(o50, 0),
      mbs(o50),
    ]);
    tp.push([
      `limit: qemu-img convert -O raw (${fmtName})`,
      `the same image file, same disk, p50 of ${limit.length}; ours: ${fmt((100 * l50) / o50, 0)} %`,
      fmt(l50, 0),
      mbs(l50),
    ]);
    await request(`${sess.endpoint('image')}/v2/images/${imageId}`, 'DELETE', { 'X-Auth-Token': sess.token });
  }
}
