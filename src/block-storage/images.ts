// The image service as the volume agent needs it: an image's data into a local file (for
// create-from-image) and a local file up into an image (upload-to-image), streamed, with the
// service token (core/clients/session.ts).
import fs from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { ImageClient } from '../core/clients/image.ts';
import type { ServiceSession } from '../core/clients/session.ts';

export class VolumeImages {
  readonly client: ImageClient;
  constructor(private session: ServiceSession) {
    this.client = new ImageClient(session);
  }

  async download(imageId: string, to: string) {
    const base = (await this.client.baseUrl()).replace(/\/+$/, '');
    const res = await this.session.fetch(`${base}/v2/images/${encodeURIComponent(imageId)}/file`);
    if (res.status !== 200 || !res.body) throw new Error(`image ${imageId} data answered ${res.status}`);
    await pipeline(Readable.fromWeb(res.body as WebReadableStream<Uint8Array>), fs.createWriteStream(to));
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
