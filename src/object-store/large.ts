// Large objects: DLO (X-Object-Manifest: container/prefix, segments listed at read time)
// and SLO (multipart-manifest=put|get|delete, a JSON manifest checked against each
// segment's ETag and size). Reads stream segment after segment, ranges included.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { ApiError } from '../core/errors.ts';
import type { ObjectStoreService } from './service.ts';
import { authorize } from './acl.ts';
import type { SwiftRequest, SwiftResponse } from './request.ts';
import { bulkResult } from './bulk.ts';
import { newObjectRow, type ObjectRow } from './store.ts';
import { applyMeta, bodyStream, hdr, httpDate } from './api/common.ts';

interface Segment {
  row: ObjectRow;
  start: number;
  end: number;
} // inclusive range within the segment
interface SloEntry {
  name: string;
  hash: string;
  bytes: number;
  content_type?: string;
  last_modified?: string;
  range?: string;
}

const MAX_MANIFEST_BYTES = 8 * 1024 * 1024;
const MAX_SEGMENTS = 1000;

async function readAll(stream: AsyncIterable<Buffer>, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of stream) {
    n += c.length;
    if (n > max) throw new ApiError(413, 'Manifest File > 8388608 bytes');
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

export class LargeObjects {
  constructor(private s: ObjectStoreService) {}

  isDlo(o: ObjectRow) {
    return o.metadata['x-object-manifest'] !== undefined;
  }
  isSlo(o: ObjectRow) {
    return !!o.metadata['x-static-large-object'];
  }

  private async sloEntries(o: ObjectRow): Promise<SloEntry[]> {
    const buf = await readAll(this.s.backend.get(o.blob), MAX_MANIFEST_BYTES);
    return JSON.parse(buf.toString('utf8')) as SloEntry[];
  }

  /** The plain objects making up a large object, in order, each with its byte range. */
  async segments(o: ObjectRow, depth = 0): Promise<Segment[]> {
    if (depth > 10) throw new ApiError(409, 'Max recursion depth exceeded');
    if (this.isDlo(o)) {
      const spec = decodeURIComponent(o.metadata['x-object-manifest']!);
      const i = spec.indexOf('/');
      const container = spec.slice(0, i),
        prefix = spec.slice(i + 1);
      const out: Segment[] = [];
      let marker: string | undefined;
      for (;;) {
        const rows = (await this.s.store.list('objects', o.account, container, {
          prefix,
          marker,
          limit: 1000,
        })) as ObjectRow[];
        for (const r of rows) {
          if (r.delete_at !== null && r.delete_at <= Date.now() / 1000) continue;
          // Segments are read raw (as with multipart-manifest=get): a manifest among them is its own bytes.
          if (this.isSlo(r)) out.push(...(await this.segments(r, depth + 1)));
          else if (r.bytes > 0) out.push({ row: r, start: 0, end: r.bytes - 1 });
        }
        if (rows.length < 1000) break;
        marker = rows[rows.length - 1]!.name;
      }
      return out;
    }
    if (this.isSlo(o)) {
      const out: Segment[] = [];
      for (const e of await this.sloEntries(o)) {
        const m = /^\/([^/]+)\/(.+)$/.exec(e.name);
        if (!m) continue;
        const r = await this.s.store.getObject(o.account, m[1]!, m[2]!);
        if (!r) throw new ApiError(409, `Segment ${e.name} is missing`);
        const sub = this.isSlo(r) ? await this.segments(r, depth + 1) : [{ row: r, start: 0, end: r.bytes - 1 }];
        if (e.range) {
          const [a, b] = e.range.split('-').map(Number) as [number, number];
          let pos = 0;
          for (const sg of sub) {
            const len = sg.end - sg.start + 1;
            const lo = Math.max(a, pos),
              hi = Math.min(b, pos + len - 1);
            if (lo <= hi) out.push({ row: sg.row, start: sg.start + lo - pos, end: sg.start + hi - pos });
            pos += len;
          }
        } else out.push(...sub);
      }
      return out;
    }
    return [{ row: o, start: 0, end: o.bytes - 1 }];
  }

  /** Size of the content a GET returns (null for plain objects: their own bytes). */
  async wholeSize(o: ObjectRow): Promise<number | null> {
    if (!this.isDlo(o) && !this.isSlo(o)) return null;
    return (await this.segments(o)).reduce((n, sg) => n + sg.end - sg.start + 1, 0);
  }

  private stream(segs: Segment[], range?: { start: number; end: number }): Readable {
    const backend = this.s.backend;
    async function* gen() {
      let pos = 0;
      for (const sg of segs) {
        const len = sg.end - sg.start + 1;
        if (len <= 0) continue;
        const lo = range ? Math.max(range.start, pos) : pos,
          hi = range ? Math.min(range.end, pos + len - 1) : pos + len - 1;
        if (lo <= hi) yield* backend.get(sg.row.blob, { start: sg.start + lo - pos, end: sg.start + hi - pos });
        pos += len;
        if (range && pos > range.end) break;
      }
    }
    return Readable.from(gen());
  }

  /** The whole content of any object, as a stream. */
  async open(o: ObjectRow): Promise<Readable> {
    if (!this.isDlo(o) && !this.isSlo(o)) return this.s.backend.get(o.blob);
    return this.stream(await this.segments(o));
  }

  /** An SLO's manifest (?multipart-manifest=get), as stored or (raw) as a PUT takes it. */
  async manifest(o: ObjectRow, raw: boolean, head: boolean): Promise<SwiftResponse> {
    let entries = await this.sloEntries(o);
    const body = raw
      ? JSON.stringify(
          entries.map((e) => ({
            path: e.name,
            etag: e.hash,
            size_bytes: e.bytes,
            ...(e.range ? { range: e.range } : {}),
          })),
        )
      : JSON.stringify(entries);
    entries = [];
    const headers: Record<string, string> = {
      'x-static-large-object': 'True',
      'last-modified': httpDate(o.timestamp),
      'x-timestamp': o.timestamp,
      etag: createHash('md5').update(body).digest('hex'),
    };
    for (const [k, v] of Object.entries(o.metadata)) if (k.startsWith('x-object-meta-')) headers[k] = v;
    headers['content-type'] = 'application/json; charset=utf-8';
    headers['content-length'] = String(Buffer.byteLength(body));
    return { status: 200, headers, body: head ? undefined : body };
  }

  /** A DLO or SLO as one object: its size, ETag and a reader of its segments (undefined for a plain object). */
  async view(
    o: ObjectRow,
  ): Promise<{ row: ObjectRow; size: number; open: (r?: { start: number; end: number }) => Readable } | undefined> {
    if (!this.isDlo(o) && !this.isSlo(o)) return undefined;
    const segs = await this.segments(o);
    const size = segs.reduce((n, sg) => n + sg.end - sg.start + 1, 0);
    const row: ObjectRow = { ...o, bytes: size };
    if (this.isDlo(o))
      row.etag = createHash('md5')
        .update(segs.map((sg) => sg.row.etag).join(''))
        .digest('hex');
    return { row, size, open: (range) => this.stream(segs, range) };
  }

  async putSlo(req: SwiftRequest, account: string, container: string, object: string): Promise<SwiftResponse> {
    const c = await this.s.store.getContainer(account, container);
    authorize(req, account, 'write', c);
    if (!c) throw new ApiError(404, 'The resource could not be found.');
    const stream = bodyStream(req);
    const body = stream ? await readAll(stream, MAX_MANIFEST_BYTES) : Buffer.alloc(0);
    // A manifest entry as clients send it; every field is checked below.
    let parsed: Array<{ path?: unknown; etag?: unknown; size_bytes?: unknown; range?: unknown } | null>;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      throw new ApiError(400, 'Manifest must be valid JSON.\n');
    }
    if (!Array.isArray(parsed) || !parsed.length) throw new ApiError(400, 'Manifest must be a list.\n');
    if (parsed.length > MAX_SEGMENTS) throw new ApiError(413, `Too many segments; max ${MAX_SEGMENTS}\n`);
    const errors: string[] = [];
    const entries: SloEntry[] = [];
    let total = 0;
    const md5 = createHash('md5');
    for (const [i, seg] of parsed.entries()) {
      const p = typeof seg?.path === 'string' ? seg.path.replace(/^\//, '') : '';
      const j = p.indexOf('/');
      if (!seg || j <= 0) {
        errors.push(`Index ${i}: path does not refer to an object. Path must be of the form /container/object.`);
        continue;
      }
      const sc = p.slice(0, j),
        so = p.slice(j + 1);
      const r = await this.s.store.getObject(account, decodeURIComponent(sc), decodeURIComponent(so));
      if (!r) {
        errors.push(`/${p}, 404 Not Found`);
        continue;
      }
      const segBytes = (await this.wholeSize(r)) ?? r.bytes;
      if (seg.etag != null && String(seg.etag).replace(/"/g, '') !== r.etag) {
        errors.push(`/${p}, Etag Mismatch`);
        continue;
      }
      if (seg.size_bytes != null && Number(seg.size_bytes) !== segBytes) {
        errors.push(`/${p}, Size Mismatch`);
        continue;
      }
      let bytes = segBytes;
      let range: string | undefined;
      if (seg.range) {
        const m = /^(\d*)-(\d*)$/.exec(String(seg.range));
        if (!m) {
          errors.push(`Index ${i}: invalid range`);
          continue;
        }
        const a = m[1] === '' ? segBytes - Number(m[2]) : Number(m[1]);
        const b = m[1] === '' || m[2] === '' ? segBytes - 1 : Math.min(Number(m[2]), segBytes - 1);
        if (a < 0 || a > b) {
          errors.push(`Index ${i}: unsatisfiable range`);
          continue;
        }
        range = `${a}-${b}`;
        bytes = b - a + 1;
      }
      total += bytes;
      md5.update(range ? `${r.etag}:${range};` : r.etag);
      entries.push({
        name: `/${decodeURIComponent(sc)}/${decodeURIComponent(so)}`,
        hash: r.etag,
        bytes: segBytes,
        content_type: r.content_type,
        last_modified: r.last_modified,
        ...(range ? { range } : {}),
      });
    }
    if (errors.length) throw new ApiError(400, `Errors:\n${errors.join('\n')}`);
    const etag = md5.digest('hex');
    const want = hdr(req, 'etag');
    if (want && want.replace(/"/g, '') !== etag) throw new ApiError(422, 'Unprocessable Entity');
    const res = await this.s.backend.put(Readable.from([Buffer.from(JSON.stringify(entries))]));
    const metadata = applyMeta(req, 'object', {}, ['content-disposition', 'content-encoding']);
    metadata['x-static-large-object'] = 'True';
    // The manifest's stored bytes are the segment list; its ETag and size are the whole object's.
    const row = newObjectRow(
      { account, container, name: object },
      { blob: res.blob, etag, bytes: total },
      {
        content_type: hdr(req, 'content-type') || 'application/octet-stream',
        metadata,
        delete_at: this.s.objects.deleteAtFrom(req) ?? null,
      },
    );
    await this.s.objects.storeReplacing(c, row);
    return {
      status: 201,
      headers: {
        'content-type': 'text/html; charset=UTF-8',
        etag: `"${etag}"`,
        'last-modified': httpDate(row.timestamp),
        'content-length': '0',
      },
    };
  }

  async deleteSlo(req: SwiftRequest, account: string, container: string, object: string): Promise<SwiftResponse> {
    const c = await this.s.store.getContainer(account, container);
    authorize(req, account, 'write', c);
    const o = await this.s.store.getObject(account, container, object);
    if (!o) throw new ApiError(404, 'The resource could not be found.');
    let deleted = 0,
      notFound = 0;
    if (this.isSlo(o)) {
      for (const e of await this.sloEntries(o)) {
        const m = /^\/([^/]+)\/(.+)$/.exec(e.name);
        const r = m ? await this.s.store.getObject(account, m[1]!, m[2]!) : undefined;
        if (!r) {
          notFound++;
          continue;
        }
        const blob = await this.s.store.deleteObject(account, r.container, r.name, r.blob);
        if (blob) {
          await this.s.backend.delete(blob);
          deleted++;
        }
      }
    }
    const blob = await this.s.store.deleteObject(account, container, object, o.blob);
    if (blob) {
      await this.s.backend.delete(blob);
      deleted++;
    }
    return bulkResult(hdr(req, 'accept'), {
      'Number Deleted': deleted,
      'Number Not Found': notFound,
      'Response Status': '200 OK',
      'Response Body': '',
      Errors: [],
    });
  }
}
