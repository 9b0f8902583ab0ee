// Bulk operations: POST ?bulk-delete (a newline-separated list of /container[/object]) and
// PUT ?extract-archive=tar|tar.gz|tar.bz2 (each file of the archive becomes an object,
// streamed from the archive to the driver, never held whole); tar.bz2 through bzip2.ts, no system binary.
import zlib from 'node:zlib';
import { Readable } from 'node:stream';
import { ApiError } from '../core/errors.ts';
import { Bzip2Error, bunzip2 } from './bzip2.ts';
import type { ObjectStoreService } from './service.ts';
import { authorize } from './acl.ts';
import type { SwiftRequest, SwiftResponse } from './request.ts';
import { newObjectRow } from './store.ts';
import { CONSTRAINTS, applyMeta, guessContentType, hdr, xmlEscape } from './api/common.ts';

export const MAX_DELETES_PER_REQUEST = 10000;
export const MAX_CONTAINERS_PER_EXTRACTION = 10000;
export const MAX_FAILED_EXTRACTIONS = 1000;

/** A broken archive: the answer is 400 with 'Invalid Tar File: <why>', as upstream's tarfile errors. */
class ArchiveError extends ApiError {
  constructor(why: string) {
    super(400, `Invalid Tar File: ${why}`);
  }
}

/** The archive's tar stream: the body as is, gunzipped, or bunzip2ed (bzip2.ts); close() stops the decoder. */
function tarStream(kind: string, body: Readable): { stream: AsyncIterable<Buffer>; close: () => void } {
  if (kind === 'tar') return { stream: body, close: () => {} };
  if (kind === 'tar.gz') {
    const gunzip = zlib.createGunzip();
    body.pipe(gunzip);
    return {
      stream: gunzip,
      close: () => {
        body.unpipe(gunzip);
        gunzip.destroy();
      },
    };
  }
  // bzip2: decoded here (bzip2.ts), no system binary needed.
  let stopped = false;
  async function* out() {
    try {
      // The request's stream is read, never destroyed (that would drop the connection before the answer).
      for await (const chunk of bunzip2(body.iterator({ destroyOnReturn: false }))) {
        if (stopped) return;
        yield chunk;
      }
    } catch (e) {
      if (e instanceof Bzip2Error) throw new ArchiveError(e.message);
      throw e;
    }
  }
  return {
    stream: out(),
    close: () => {
      stopped = true;
    },
  };
}

/** Pulls exact byte counts out of an async byte stream. */
class ByteReader {
  private buf: Buffer = Buffer.alloc(0);
  private it: AsyncIterator<Buffer>;
  private done = false;
  constructor(src: AsyncIterable<Buffer>) {
    this.it = src[Symbol.asyncIterator]();
  }
  private async fill(n: number) {
    while (this.buf.length < n && !this.done) {
      let r: IteratorResult<Buffer>;
      try {
        r = await this.it.next();
      } catch (e) {
        throw e instanceof ApiError ? e : new ArchiveError((e as Error).message);
      }
      if (r.done) this.done = true;
      else this.buf = this.buf.length ? Buffer.concat([this.buf, r.value]) : r.value;
    }
  }
  async read(n: number): Promise<Buffer> {
    await this.fill(n);
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(out.length);
    return out;
  }
  async *chunks(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (!this.buf.length) await this.fill(1);
      if (!this.buf.length) throw new ArchiveError('unexpected end of data');
      const take = this.buf.subarray(0, Math.min(left, this.buf.length));
      this.buf = this.buf.subarray(take.length);
      left -= take.length;
      yield take;
    }
  }
  async skip(n: number) {
    for await (const _ of this.chunks(n)) {
      /* discard */
    }
  }
}

const cstr = (b: Buffer) => {
  const i = b.indexOf(0);
  return b.subarray(0, i < 0 ? b.length : i).toString('utf8');
};
const octal = (b: Buffer) => parseInt(cstr(b).trim() || '0', 8);

/** The bulk middleware's result body, in the format the Accept header asks for. */
export function bulkResult(acceptHeader: string | undefined, r: Record<string, unknown>): SwiftResponse {
  const accept = acceptHeader ?? '';
  if (/json/.test(accept)) return { status: 200, type: 'application/json; charset=utf-8', body: JSON.stringify(r) };
  if (/xml/.test(accept)) {
    const tag = (k: string) => k.toLowerCase().replace(/ /g, '_');
    return {
      status: 200,
      type: 'application/xml; charset=utf-8',
      body: `<?xml version="1.0" encoding="UTF-8"?>\n<delete>${Object.entries(r)
        .map(
          ([k, v]) =>
            `<${tag(k)}>${Array.isArray(v) ? v.map((e) => `<object><name>${xmlEscape(String(e[0]))}</name><status>${xmlEscape(String(e[1]))}</status></object>`).join('') : xmlEscape(String(v))}</${tag(k)}>`,
        )
        .join('')}</delete>\n`,
    };
  }
  return {
    status: 200,
    type: 'text/plain; charset=utf-8',
    body:
      Object.entries(r)
        .map(([k, v]) => `${k}: ${Array.isArray(v) ? v.map((e) => e.join(', ')).join('\n') : v}`)
        .join('\n') + '\n',
  };
}

export class Bulk {
  constructor(private s: ObjectStoreService) {}

  async bulkDelete(req: SwiftRequest, account: string): Promise<SwiftResponse> {
    const chunks: Buffer[] = [];
    let n = 0;
    const body = req.body as AsyncIterable<Buffer> | undefined;
    if (body && typeof (body as Partial<AsyncIterable<Buffer>>)[Symbol.asyncIterator] === 'function') {
      for await (const c of body) {
        n += c.length;
        if (n > MAX_DELETES_PER_REQUEST * (CONSTRAINTS.max_object_name_length + 260))
          throw new ApiError(413, 'Request Entity Too Large');
        chunks.push(c);
      }
    }
    const lines = Buffer.concat(chunks)
      .toString('utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
    if (lines.length > MAX_DELETES_PER_REQUEST)
      throw new ApiError(413, `Maximum Bulk Deletes: ${MAX_DELETES_PER_REQUEST} per request`);
    let deleted = 0,
      notFound = 0;
    const errors: Array<[string, string]> = [];
    for (const line of lines) {
      const path = decodeURIComponent(line).replace(/^\//, '');
      const i = path.indexOf('/');
      const container = i < 0 ? path : path.slice(0, i),
        object = i < 0 ? '' : path.slice(i + 1);
      try {
        const c = await this.s.store.getContainer(account, container);
        if (!object) {
          authorize(req, account, 'admin');
          if (!c) {
            notFound++;
            continue;
          }
          if ((await this.s.store.containerStats(account, container)).objects > 0) {
            errors.push([`/${path}`, '409 Conflict']);
            continue;
          }
          await this.s.store.deleteContainer(account, container);
          deleted++;
        } else {
          authorize(req, account, 'write', c);
          const o = await this.s.store.getObject(account, container, object);
          if (!o) {
            notFound++;
            continue;
          }
          await this.s.objects.remove(c, o);
          deleted++;
        }
      } catch (e) {
        const st = e instanceof ApiError ? e.status : 500;
        errors.push([`/${path}`, st === 401 ? '401 Unauthorized' : st === 403 ? '403 Forbidden' : `${st} Error`]);
      }
    }
    const status = errors.length
      ? errors.every((e) => e[1].startsWith('409'))
        ? '409 Conflict'
        : errors[0]![1]
      : '200 OK';
    return bulkResult(hdr(req, 'accept'), {
      'Number Deleted': deleted,
      'Number Not Found': notFound,
      'Response Body': '',
      'Response Status': errors.length ? status : '200 OK',
      Errors: errors,
    });
  }

  async extractArchive(req: SwiftRequest, account: string, base: string): Promise<SwiftResponse> {
    const kind = String(req.query['extract-archive'])
      .toLowerCase()
      .replace(/^\.+|\.+$/g, '');
    if (!['tar', 'tar.gz', 'tar.bz2'].includes(kind)) throw new ApiError(400, 'Unsupported archive format');
    if (hdr(req, 'content-length') === undefined && !/chunked/i.test(hdr(req, 'transfer-encoding') ?? ''))
      throw new ApiError(411, 'Length Required');
    // Each object gets the request's user metadata and expiry, as upstream's subrequests do.
    const metadata = applyMeta(req, 'object', {});
    const deleteAt = this.s.objects.deleteAtFrom(req) ?? null;
    const given = req.body as Partial<Readable> | null | undefined;
    const body: Readable = given && typeof given.pipe === 'function' ? (given as Readable) : Readable.from([]);
    const tar = tarStream(kind, body);
    try {
      return await this.extract(req, account, base, tar.stream, metadata, deleteAt);
    } finally {
      tar.close();
    }
  }

  private async extract(
    req: SwiftRequest,
    account: string,
    base: string,
    src: AsyncIterable<Buffer>,
    metadata: Record<string, string>,
    deleteAt: number | null,
  ): Promise<SwiftResponse> {
    base = base.replace(/\/+$/, '');
    const reader = new ByteReader(src);
    let created = 0;
    const errors: Array<[string, string]> = [];
    let longName: string | undefined, paxPath: string | undefined;
    try {
      for (;;) {
        const h = await reader.read(512);
        if (h.length < 512 || h.every((b) => b === 0)) break;
        const size = octal(h.subarray(124, 136));
        const type = String.fromCharCode(h[156] || 48);
        const prefix =
          h.subarray(257, 263).toString() === 'ustar\0' || h.subarray(257, 262).toString() === 'ustar'
            ? cstr(h.subarray(345, 500))
            : '';
        let name = longName ?? paxPath ?? (prefix ? `${prefix}/${cstr(h.subarray(0, 100))}` : cstr(h.subarray(0, 100)));
        const pad = (512 - (size % 512)) % 512;
        if (type === 'L' || type === 'x' || type === 'g') {
          const data = Buffer.concat(await arr(reader.chunks(size)));
          await reader.skip(pad);
          if (type === 'L') longName = cstr(data);
          if (type === 'x') {
            const m = /\d+ path=([^\n]*)\n/.exec(data.toString('utf8'));
            if (m) paxPath = m[1];
          }
          continue;
        }
        longName = undefined;
        paxPath = undefined;
        if (type !== '0' && type !== '\0' && type !== '7') {
          await reader.skip(size + pad);
          continue;
        }
        name = (base ? `${base}/${name}` : name).replace(/^\.?\//, '').replace(/^\/+/, '');
        const i = name.indexOf('/');
        const container = i < 0 ? '' : name.slice(0, i),
          object = i < 0 ? '' : name.slice(i + 1);
        // A file at the archive's top level maps to no container: skipped, as upstream does.
        if (!container || !object) {
          await reader.skip(size + pad);
          continue;
        }
        let consumed = false;
        try {
          let c = await this.s.store.getContainer(account, container);
          if (!c) {
            authorize(req, account, 'admin');
            if (container.length > CONSTRAINTS.max_container_name_length) throw new ApiError(400, 'bad container');
            await this.s.store.createContainer(account, container, {});
            c = (await this.s.store.getContainer(account, container))!;
          }
          authorize(req, account, 'write', c);
          await this.s.objects.checkQuotas(c, size, 1);
          consumed = true;
          const res = await this.s.backend.put(reader.chunks(size));
          await this.s.objects.storeReplacing(
            c,
            newObjectRow({ account, container, name: object }, res, {
              content_type: guessContentType(object),
              metadata,
              delete_at: deleteAt,
            }),
          );
          created++;
        } catch (e) {
          const st = e instanceof ApiError ? e.status : 500;
          errors.push([
            `/${name}`,
            st === 401
              ? '401 Unauthorized'
              : st === 403
                ? '403 Forbidden'
                : st === 413
                  ? '413 Request Entity Too Large'
                  : `${st} Error`,
          ]);
          if (errors.length > MAX_FAILED_EXTRACTIONS) break;
          if (consumed) throw e;
          await reader.skip(size + pad);
          continue;
        }
        await reader.skip(pad);
      }
    } catch (e) {
      if (e instanceof ApiError)
        return bulkResult(hdr(req, 'accept'), {
          'Number Files Created': created,
          'Response Body': e.message,
          'Response Status': `${e.status} ${e.title}`,
          Errors: errors,
        });
      throw e;
    }
    if (!errors.length && !created)
      return bulkResult(hdr(req, 'accept'), {
        'Number Files Created': 0,
        'Response Body': 'Invalid Tar File: No Valid Files',
        'Response Status': '400 Bad Request',
        Errors: [],
      });
    const status = errors.length
      ? errors.some((e) => e[1].startsWith('5'))
        ? '502 Bad Gateway'
        : '400 Bad Request'
      : '201 Created';
    return bulkResult(hdr(req, 'accept'), {
      'Number Files Created': created,
      'Response Body': '',
      'Response Status': status,
      Errors: errors,
    });
  }
}

async function arr(g: AsyncGenerator<Buffer>) {
  const out: Buffer[] = [];
  for await (const c of g) out.push(c);
  return out;
}
