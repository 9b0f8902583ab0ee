// Image benchmark: create an image, upload its data (PUT /v2/images/{id}/file) and
// download it (GET /v2/images/{id}/file) for 1 MiB, 100 MiB and 2 GiB on Stratus's
// Glance v2 API, side by side with the machine's limit (raw file copies; a bare
// node:http server streaming the same bytes into and out of files), with the Stratus
// process's peak RSS after each size. 2 GiB is skipped below 10 GiB free.
//
//   npm run bench -- image [--quick] [--sizes=1M,100M,2G] [--only=limit,stratus] [--no-write] [--wait-quiet[=S]]
import { fetchOnce } from './lib/load.ts';
import { GiB, keepAliveAgent, mbps, patternMd5, sizeLabel, timedGet, transfer } from './lib/blob.ts';
import { BlobBench, Report, parseArgs, repsFor, type StreamRow } from './lib/blob-bench.ts';
import { stopAll } from './lib/proc.ts';
import { fmt } from './lib/report.ts';

async function cells(b: BlobBench, live: boolean): Promise<void> {
  const s = b.s;
  const base = live ? b.session!.endpoint('image')! : '';
  const auth = { 'X-Auth-Token': b.session?.token ?? '' };
  if (live) b.log(`image service at ${base}`);
  const agent = keepAliveAgent();
  let failedAt: number | undefined;
  try {
    for (const size of s.sizes) {
      if (failedAt !== undefined) {
        b.skipped.push(`image ${sizeLabel(size)}: create or upload already failed at ${sizeLabel(failedAt)}`);
        continue;
      }
      if (await b.shouldSkip(size, 'image', s.minFreeForLargest)) continue;
      const reps = repsFor(size);
      const md5 = await patternMd5(size);
      const ids: string[] = [];
      const bare = b.bareCells(size);
      if (!live) {
        await bare.end();
        continue;
      }
      try {
        const create = await b.cell('create', undefined, size, reps, async (i) => {
          const t0 = performance.now();
          const r = await fetchOnce(`${base}/v2/images`, {
            method: 'POST',
            headers: { ...auth, 'Content-Type': 'application/json' },
            body: JSON.stringify({ name: `bench-${size}-${i}`, disk_format: 'raw', container_format: 'bare' }),
          });
          const ms = performance.now() - t0;
          if (r.status !== 201) return { ms, error: `POST /v2/images: HTTP ${r.status}: ${r.body.slice(0, 300)}` };
          const img = JSON.parse(r.body) as { id?: string; status?: string };
          if (!img.id) return { ms, error: `POST /v2/images: no id in ${r.body.slice(0, 200)}` };
          ids[i] = img.id;
          if (img.status !== 'queued') return { ms, error: `new image's status is ${img.status}, not queued` };
          return { ms };
        });
        if (create.error) {
          failedAt = size;
          continue;
        }
        const upload = await b.cell(
          'upload',
          'PUT',
          size,
          reps,
          async (i, signal) => {
            const t = await transfer(`${base}/v2/images/${ids[i]}/file`, {
              method: 'PUT',
              upload: size,
              headers: { ...auth, 'Content-Type': 'application/octet-stream' },
              agent,
              signal,
              maxMs: s.maxTransferMs,
            });
            if (t.error) return { ms: t.ms, error: t.error };
            if (t.status !== 204) return { ms: t.ms, error: `PUT file: HTTP ${t.status}: ${t.body.slice(0, 300)}` };
            // Not timed: the image must now be active, with the right size and checksum.
            const r = await fetchOnce(`${base}/v2/images/${ids[i]}`, { headers: auth });
            if (r.status !== 200) return { ms: t.ms, error: `GET image after upload: HTTP ${r.status}` };
            const img = JSON.parse(r.body) as { status?: string; size?: number; checksum?: string };
            if (img.status !== 'active')
              return { ms: t.ms, error: `image status ${img.status} after upload, not active` };
            if (img.size !== size) return { ms: t.ms, error: `image size ${img.size} after upload, not ${size}` };
            if (img.checksum !== md5)
              return { ms: t.ms, error: `image checksum ${img.checksum}, not the MD5 of the data (${md5})` };
            return { ms: t.ms };
          },
          { before: bare.put },
        );
        if (!create.error && !upload.error) {
          const both: StreamRow = {
            op: 'create + upload',
            limitOp: 'PUT',
            size,
            reps,
            ok: upload.ok,
            ms: create.ms + upload.ms,
            mbps: mbps(size, create.ms + upload.ms),
            hwmMb: upload.hwmMb,
            rssMaxMb: Math.max(create.rssMaxMb ?? 0, upload.rssMaxMb ?? 0),
          };
          b.streams.push(both);
        }
        b.rssPoint(`upload ${sizeLabel(size)}`, size);
        if (upload.error) {
          failedAt = size;
          continue;
        }
        await b.cell(
          'download',
          'GET',
          size,
          reps,
          async (i, signal) => {
            const t = await timedGet(`${base}/v2/images/${ids[i]}/file`, {
              headers: auth,
              agent,
              signal,
              maxMs: s.maxTransferMs,
            });
            if (t.error) return { ms: t.ms, error: `${t.error} (after ${t.received} bytes)` };
            if (t.status !== 200) return { ms: t.ms, error: `HTTP ${t.status}` };
            if (t.mismatchAt !== undefined)
              return { ms: t.ms, error: `data differs from what was uploaded at byte ${t.mismatchAt}` };
            if (t.received !== size) return { ms: t.ms, error: `got ${t.received} bytes, uploaded ${size}` };
            const cmd5 = t.headers['content-md5'];
            if (cmd5 !== undefined && cmd5 !== md5) return { ms: t.ms, error: `Content-MD5 ${cmd5}, not ${md5}` };
            return { ms: t.ms };
          },
          { before: bare.get },
        );
        b.rssPoint(`download ${sizeLabel(size)}`, size);
      } finally {
        await bare.end();
        for (const id of ids.filter(Boolean)) {
          const d = await fetchOnce(`${base}/v2/images/${id}`, { method: 'DELETE', headers: auth }).catch(
            (e: Error) => ({ status: 0, body: e.message }),
          );
          if (d.status !== 204)
            b.problems.push(`DELETE image (${sizeLabel(size)}) answered ${d.status}: ${d.body.slice(0, 200)}`);
        }
      }
    }
  } finally {
    agent.destroy();
  }
}

export async function run(args: string[]): Promise<void> {
  const s = parseArgs('image', args, { minFreeForLargest: 10 * GiB });
  const b = new BlobBench('image', s);
  try {
    await b.before();
    await b.measureLimits();
    b.hash = 'md5,sha512';
    b.checkDurability(['src/image']);
    await b.withServers('image', (live) => cells(b, live));
  } finally {
    await stopAll();
  }
  b.conditions.push(
    `load average at end: ${(await import('node:os'))
      .loadavg()
      .map((l) => fmt(l))
      .join(' ')}`,
  );

  const rep = new Report('image', `Image benchmark — ${b.startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC`);
  b.header(
    rep,
    "Stratus: `node bin/stratus.js start` on a fresh data directory (SQLite, default image store), Glance v2 API at the catalog's image endpoint, admin token. " +
      'create: POST /v2/images (raw/bare), 201, status queued; upload: PUT /v2/images/{id}/file (Content-Length, application/octet-stream), 204, ' +
      'then (not timed) the image must be active with the right size and checksum (MD5); download: GET /v2/images/{id}/file, every byte checked. ' +
      '"create + upload" adds the medians of both. 2 GiB only with 10 GiB free.',
  );
  b.limitTables(rep);
  b.streamTable(rep, 'Stratus image: streaming');
  b.rssTable(rep);
  b.finish(rep, b.streamGoals(['upload', 'download']));
}
