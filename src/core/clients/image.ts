// The image service (Glance v2) as the other services call it: image records, their data, lists.
import { type CallOptions, RestClient, type RestAnswer, query, seg } from './rest.ts';
import type { ServiceSession } from './session.ts';

/** An image as Glance v2 shows it: the standard fields and every extra property at the top level. */
export interface ImageRecord {
  id: string;
  name: string | null;
  status: string;
  disk_format: string | null;
  container_format: string | null;
  size: number | null;
  min_disk?: number;
  min_ram?: number;
  [property: string]: unknown;
}

/** The fields Glance v2 shows of every image (its schema's base properties); the others of a record are its properties. */
export const IMAGE_BASE_FIELDS: ReadonlySet<string> = new Set([
  'id',
  'name',
  'status',
  'visibility',
  'protected',
  'checksum',
  'os_hash_algo',
  'os_hash_value',
  'owner',
  'size',
  'virtual_size',
  'min_ram',
  'min_disk',
  'disk_format',
  'container_format',
  'created_at',
  'updated_at',
  'tags',
  'self',
  'file',
  'schema',
  'direct_url',
  'locations',
  'os_hidden',
  'stores',
]);

/** An image record's own properties (hw_*, os_distro, user properties): what is not a base field. */
export function imageProperties(r: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(r).filter(([k]) => !IMAGE_BASE_FIELDS.has(k)));
}

export class ImageClient extends RestClient {
  constructor(session: ServiceSession) {
    super(session, 'image');
  }

  getImage(id: string, o?: CallOptions): Promise<RestAnswer<ImageRecord>> {
    return this.request('GET', `/v2/images/${seg(id)}`, undefined, o);
  }
  createImage(meta: Record<string, unknown>, o?: CallOptions): Promise<RestAnswer<ImageRecord>> {
    return this.request('POST', '/v2/images', meta, o);
  }
  /** A JSON patch (Glance's openstack-images-v2.1 media type). */
  patchImage(id: string, ops: Array<{ op: string; path: string; value?: unknown }>): Promise<RestAnswer<ImageRecord>> {
    return this.raw('PATCH', `/v2/images/${seg(id)}`, JSON.stringify(ops), {
      'Content-Type': 'application/openstack-images-v2.1-json-patch',
    });
  }
  uploadData(id: string, data: Uint8Array | { file: string }): Promise<RestAnswer> {
    return this.raw('PUT', `/v2/images/${seg(id)}/file`, data, { 'Content-Type': 'application/octet-stream' });
  }
  /** Shares an image with a project (POST /v2/images/{id}/members). */
  addMember(id: string, member: string, o?: CallOptions): Promise<RestAnswer> {
    return this.request('POST', `/v2/images/${seg(id)}/members`, { member }, o);
  }
  /** A member's status on a shared image ('accepted', ...). */
  updateMember(id: string, member: string, status: string, o?: CallOptions): Promise<RestAnswer> {
    return this.request('PUT', `/v2/images/${seg(id)}/members/${seg(member)}`, { status }, o);
  }
  /** Streams an image's data into a file (GET /v2/images/{id}/file); throws on any other answer than 200. */
  async downloadTo(id: string, file: string): Promise<void> {
    const { createWriteStream } = await import('node:fs');
    const { pipeline } = await import('node:stream/promises');
    const { Readable } = await import('node:stream');
    const base = await this.baseUrl();
    const res = await fetch(`${base}/v2/images/${seg(id)}/file`, {
      headers: { 'X-Auth-Token': await this.session.token() },
    });
    if (res.status !== 200 || !res.body) throw new Error(`image GET /v2/images/${id}/file answered ${res.status}`);
    await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), createWriteStream(file));
  }
  deleteImage(id: string, o?: CallOptions): Promise<RestAnswer> {
    return this.request('DELETE', `/v2/images/${seg(id)}`, undefined, o);
  }
  listImages(
    filters: Record<string, string | undefined>,
    o?: CallOptions,
  ): Promise<RestAnswer<{ images: ImageRecord[] }>> {
    return this.request('GET', `/v2/images${query(filters)}`, undefined, o);
  }
}
