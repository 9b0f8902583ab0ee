// Form POST (the formpost middleware): a browser uploads files straight into a container
// with a multipart/form-data POST signed by the account's or container's Temp-URL-Key:
// HMAC over "path\nredirect\nmax_file_size\nmax_file_count\nexpires". Files stream from
// the form to the driver one after the other, never held whole.
import { ApiError } from '../core/errors.ts';
import type { ObjectStoreService } from './service.ts';
import { sigMatches } from './tempurl.ts';
import { newObjectRow } from './store.ts';
import { guessContentType, hdr } from './api/common.ts';
import type { SwiftRequest, SwiftResponse } from './request.ts';

/** A streaming multipart/form-data reader. */
class MultipartReader {
  private buf: Buffer;
  private done = false;
  private it: AsyncIterator<Buffer>;
  private delim: Buffer;
  constructor(src: AsyncIterable<Buffer>, boundary: string) {
    this.it = src[Symbol.asyncIterator]();
    this.delim = Buffer.from(`\r\n--${boundary}`);
    this.buf = Buffer.from('\r\n'); // the first delimiter has no CRLF of its own
  }
  private async more(): Promise<boolean> {
    if (this.done) return false;
    const r = await this.it.next();
    if (r.done) {
      this.done = true;
      return false;
    }
    this.buf = Buffer.concat([this.buf, r.value]);
    return true;
  }
  /** Skips the preamble up to the first delimiter. */
  async start() {
    for (;;) {
      const i = this.buf.indexOf(this.delim);
      if (i >= 0) {
        this.buf = this.buf.subarray(i + this.delim.length);
        return;
      }
      if (this.buf.length > this.delim.length) this.buf = this.buf.subarray(this.buf.length - this.delim.length);
      if (!(await this.more())) throw new ApiError(400, 'FormPost: invalid starting boundary');
    }
  }
  /** Headers of the next part, or null at the closing delimiter. */
  async nextPart(): Promise<Record<string, string> | null> {
    while (this.buf.length < 2) if (!(await this.more())) return null;
    if (this.buf[0] === 0x2d && this.buf[1] === 0x2d) return null;
    for (;;) {
      const i = this.buf.indexOf('\r\n\r\n');
      if (i >= 0) {
        const lines = this.buf.subarray(0, i).toString('utf8').split('\r\n').filter(Boolean);
        this.buf = this.buf.subarray(i + 4);
        const h: Record<string, string> = {};
        for (const l of lines) {
          const j = l.indexOf(':');
          if (j > 0) h[l.slice(0, j).trim().toLowerCase()] = l.slice(j + 1).trim();
        }
        return h;
      }
      if (this.buf.length > 16384) throw new ApiError(400, 'FormPost: headers too long');
      if (!(await this.more())) throw new ApiError(400, 'FormPost: truncated form');
    }
  }
  /** The current part's bytes, up to the next delimiter. */
  async *body(): AsyncGenerator<Buffer> {
    for (;;) {
      const i = this.buf.indexOf(this.delim);
      if (i >= 0) {
        if (i > 0) yield this.buf.subarray(0, i);
        this.buf = this.buf.subarray(i + this.delim.length);
        return;
      }
      const keep = this.delim.length - 1;
      if (this.buf.length > keep) {
        const out = this.buf.subarray(0, this.buf.length - keep);
        this.buf = this.buf.subarray(this.buf.length - keep);
        yield out;
      }
      if (!(await this.more())) throw new ApiError(400, 'FormPost: truncated form');
    }
  }
  async text(max = 8192): Promise<string> {
    const parts: Buffer[] = [];
    let n = 0;
    for await (const b of this.body()) {
      n += b.length;
      if (n > max) throw new ApiError(400, 'FormPost: field too long');
      parts.push(b);
    }
    return Buffer.concat(parts).toString('utf8');
  }
}

const param = (h: string | undefined, name: string) => {
  const m = new RegExp(`${name}="([^"]*)"`, 'i').exec(h ?? '') ?? new RegExp(`${name}=([^;\\s]*)`, 'i').exec(h ?? '');
  return m?.[1];
};

export class FormPost {
  constructor(private s: ObjectStoreService) {}

  /** The answer to a POST of an HTML form (multipart/form-data), or undefined for any other POST. */
  async maybeHandle(
    req: SwiftRequest,
    account: string,
    container: string,
    object: string,
  ): Promise<SwiftResponse | undefined> {
    const ctype = hdr(req, 'content-type') ?? '';
    if (!/^multipart\/form-data/i.test(ctype)) return undefined;
    const boundary = param(ctype, 'boundary');
    if (!boundary) throw new ApiError(400, 'FormPost: invalid boundary');
    const src = req.body as AsyncIterable<Buffer>;
    if (!src || typeof (src as Partial<AsyncIterable<Buffer>>)[Symbol.asyncIterator] !== 'function')
      throw new ApiError(400, 'FormPost: empty form');
    const reader = new MultipartReader(src, boundary);
    await reader.start();
    const fields: Record<string, string> = {};
    let verified = false,
      files = 0;
    let status = 201,
      message = '';
    const a = await this.s.store.getAccount(account);
    const c = await this.s.store.getContainer(account, container);
    const keys = [
      a?.metadata['x-account-meta-temp-url-key'],
      a?.metadata['x-account-meta-temp-url-key-2'],
      c?.metadata['x-container-meta-temp-url-key'],
      c?.metadata['x-container-meta-temp-url-key-2'],
    ].filter((k): k is string => !!k);
    const verify = () => {
      if (verified) return;
      const expires = Number(fields.expires);
      if (!Number.isFinite(expires) || expires < Date.now() / 1000) throw new ApiError(401, 'FormPost: Form Expired');
      const path = `/v1/${account}/${container}/${object}`;
      const msg = (p: string) =>
        `${p}\n${fields.redirect ?? ''}\n${fields.max_file_size ?? ''}\n${fields.max_file_count ?? ''}\n${fields.expires ?? ''}`;
      if (!keys.length || !sigMatches(fields.signature ?? '', keys, [msg(path), msg(req.servicePrefix + path)]))
        throw new ApiError(401, 'FormPost: Invalid Signature');
      verified = true;
    };
    for (;;) {
      const h = await reader.nextPart();
      if (!h) break;
      const disp = h['content-disposition'];
      const name = param(disp, 'name') ?? '';
      const filename = param(disp, 'filename');
      if (filename === undefined) {
        fields[name] = await reader.text();
        continue;
      }
      verify();
      if (!filename) {
        for await (const _ of reader.body()) {
          /* an empty file input */
        }
        continue;
      }
      files++;
      if (files > Number(fields.max_file_count ?? 1)) {
        status = 400;
        message = 'max file count exceeded';
        for await (const _ of reader.body()) {
          /* drop */
        }
        continue;
      }
      if (!c) throw new ApiError(404, 'The resource could not be found.');
      const maxBytes = Number(fields.max_file_size ?? 0);
      const objName = object + filename;
      let res;
      try {
        res = await this.s.backend.put(reader.body(), { maxBytes });
      } catch (e) {
        if (e instanceof ApiError && e.status === 413) throw new ApiError(400, 'FormPost: max_file_size exceeded');
        throw e;
      }
      await this.s.objects.storeReplacing(
        c,
        newObjectRow({ account, container, name: objName }, res, {
          content_type:
            (h['content-type'] && h['content-type'] !== 'application/octet-stream'
              ? h['content-type']
              : guessContentType(objName)) || 'application/octet-stream',
          metadata: {},
          delete_at: fields.x_delete_after
            ? Math.floor(Date.now() / 1000 + Number(fields.x_delete_after))
            : fields.x_delete_at
              ? Number(fields.x_delete_at)
              : null,
        }),
      );
    }
    verify();
    req.context.enforced = true;
    const redirect = fields.redirect;
    if (redirect) {
      const sep = redirect.includes('?') ? '&' : '?';
      return {
        status: 303,
        headers: { location: `${redirect}${sep}status=${status}&message=${encodeURIComponent(message)}` },
        type: 'text/html; charset=UTF-8',
        body: `<html><body><p><a href="${redirect}">Click to continue...</a></p></body></html>`,
      };
    }
    const title = status === 201 ? 'Created' : 'Bad Request';
    return {
      status,
      type: 'text/html; charset=UTF-8',
      body: `<html><h1>${title}</h1><p>FormPost: ${message || 'Files uploaded'}</p></html>`,
    };
  }
}
