// The image service as the volume agent needs it: an image's data into a local file (for
// create-from-image) and a local file up into an image (upload-to-image), streamed, with the
// service token (core/clients/session.ts).
//
// The download runs in a thread of its own over node:http (not fetch(), whose web streams cost
// more than the copy); blocks of zeros are not written (the file stays sparse, as qemu-img
// convert leaves it), so a raw image can be written straight into a raw volume file with no
// temporary copy and no conversion.
import fs from 'node:fs';
import { Readable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { ImageClient } from '../core/clients/image.ts';
import type { ServiceSession } from '../core/clients/session.ts';

export class VolumeImages {
  readonly client: ImageClient;
  constructor(private session: ServiceSession) {
    this.client = new ImageClient(session);
  }

  /**
   * The image's data into the new file `to`, sparse: blocks of zeros are skipped and the file is
   * truncated to the image's size at the end. Answers the number of bytes.
   */
  async download(imageId: string, to: string): Promise<number> {
    const base = (await this.client.baseUrl()).replace(/\/+$/, '');
    const url = `${base}/v2/images/${encodeURIComponent(imageId)}/file`;
    const token = await this.session.token();
    const w = new Worker(DOWNLOAD_WORKER, { eval: true, name: 'image-download', workerData: { url, token, to } });
    return new Promise<number>((resolve, reject) => {
      let answered = false;
      w.once('message', (m: { bytes?: number; error?: string }) => {
        answered = true;
        if (m.bytes !== undefined) resolve(m.bytes);
        else reject(new Error(`image ${imageId}: ${m.error}`));
      });
      w.once('error', (e) => {
        answered = true;
        reject(e);
      });
      w.once('exit', (code) => {
        if (!answered) reject(new Error(`image ${imageId}: the download thread exited (code ${code})`));
      });
    });
  }

  async upload(imageId: string, from: string) {
    const base = (await this.client.baseUrl()).replace(/\/+$/, '');
    const size = (await fs.promises.stat(from)).size;
    const res = await this.session.fetch(`${base}/v2/images/${encodeURIComponent(imageId)}/file`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(size) },
      body: Readable.toWeb(fs.createReadStream(from)) as unknown as BodyInit,
      duplex: 'half',
    } as RequestInit);
    if (res.status >= 300) throw new Error(`image ${imageId} upload answered ${res.status}: ${await res.text()}`);
  }
}

// The download thread: its own event loop, so that in the all-in-one process (the image API
// serving the same bytes on the main thread) a piece of 64 KiB does not wait for a turn of the
// main loop. The answer's pieces are gathered into 4 MiB and written at their offset, runs of
// non-zero 64 KiB blocks only.
const DOWNLOAD_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const http = require('node:http');
const https = require('node:https');
const BLOCK = 64 * 1024;
const ZEROS = Buffer.alloc(BLOCK);
async function main() {
  const { url, token, to } = workerData;
  const u = new URL(url);
  const res = await new Promise((resolve, reject) => {
    const req = (u.protocol === 'https:' ? https : http).request(u, { headers: { 'X-Auth-Token': token } }, resolve);
    req.once('error', reject);
    req.end();
  });
  if (res.statusCode !== 200) {
    res.resume();
    throw new Error('data answered ' + res.statusCode);
  }
  const fh = await fs.promises.open(to, 'wx');
  const buf = Buffer.allocUnsafe(4 * 1024 * 1024);
  let filled = 0;
  let at = 0;
  const flush = async () => {
    let run = -1;
    for (let off = 0; off < filled; off += BLOCK) {
      const end = Math.min(off + BLOCK, filled);
      const zero = buf.compare(ZEROS, 0, end - off, off, end) === 0;
      if (!zero && run < 0) run = off;
      else if (zero && run >= 0) {
        await fh.write(buf, run, off - run, at + run);
        run = -1;
      }
    }
    if (run >= 0) await fh.write(buf, run, filled - run, at + run);
    at += filled;
    filled = 0;
  };
  try {
    for await (const piece of res) {
      let from = 0;
      while (from < piece.length) {
        const n = Math.min(piece.length - from, buf.length - filled);
        piece.copy(buf, filled, from, from + n);
        filled += n;
        from += n;
        if (filled === buf.length) await flush();
      }
    }
    await flush();
    await fh.truncate(at);
  } finally {
    await fh.close();
  }
  const len = Number(res.headers['content-length']);
  if (Number.isSafeInteger(len) && len !== at) throw new Error(at + ' of ' + len + ' bytes');
  return at;
}
main().then(
  (bytes) => parentPort.postMessage({ bytes }),
  (e) => parentPort.postMessage({ error: String((e && e.message) || e) }),
);
`;
