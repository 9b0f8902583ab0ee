// Object writes: PUT (streamed to the driver, ETag checked, quotas), server-side copy,
// delete, object versioning (X-Versions-Location stack mode, X-History-Location) and
// expiring objects (X-Delete-At / X-Delete-After, reaped periodically).
import type { IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import { ApiError } from '../core/errors.ts';
import type { ObjectStoreService } from './service.ts';
import { authorize, loadAccountAcls } from './acl.ts';
import type { SwiftRequest, SwiftResponse } from './request.ts';
import { isoOf, newObjectRow, xTimestamp, type ContainerRow, type Meta, type ObjectRow } from './store.ts';
import { PLAIN_ERROR } from './symlink.ts';
import { CONSTRAINTS, applyMeta, bodyStream, guessContentType, hdr, httpDate, truthy } from './api/common.ts';

const OBJECT_SYSTEM = ['content-disposition', 'content-encoding', 'x-object-manifest'];
const HTML = 'text/html; charset=UTF-8';

export interface ObjectRef {
  account: string;
  container: string;
  object: string;
}

/** A version's name in the versions container: 3 hex digits of the name length, the name, '/', the timestamp. */
export const versionPrefix = (name: string) => Buffer.byteLength(name).toString(16).padStart(3, '0') + name + '/';

export class ObjectWriter {
  constructor(private s: ObjectStoreService) {}

  deleteAtFrom(req: { headers: IncomingHttpHeaders }): number | undefined {
    const at = hdr(req, 'x-delete-at'),
      after = hdr(req, 'x-delete-after');
    const nowSec = Date.now() / 1000;
    if (after !== undefined) {
      if (!/^\d+$/.test(after)) throw new ApiError(400, 'Non-integer X-Delete-After');
      return Math.floor(nowSec + Number(after));
    }
    if (at !== undefined) {
      if (!/^\d+(\.\d+)?$/.test(at)) throw new ApiError(400, 'Non-integer X-Delete-At');
      const v = Math.floor(Number(at));
      if (v <= nowSec) throw new ApiError(400, 'X-Delete-At in past');
      return v;
    }
    return undefined;
  }

  private checkName(object: string) {
    if (!object) throw new ApiError(400, 'Object name cannot be empty');
    if (Buffer.byteLength(object) > CONSTRAINTS.max_object_name_length)
      throw new ApiError(
        400,
        `Object name length of ${Buffer.byteLength(object)} longer than ${CONSTRAINTS.max_object_name_length}`,
      );
  }

  /** Container and account quotas for `extraBytes` more bytes and `extraObjects` more objects. */
  async checkQuotas(c: ContainerRow, extraBytes: number, extraObjects: number) {
    const qb = c.metadata['x-container-meta-quota-bytes'],
      qc = c.metadata['x-container-meta-quota-count'];
    if (qb !== undefined || qc !== undefined) {
      const st = await this.s.store.containerStats(c.account, c.name);
      if (qb !== undefined && st.bytes + extraBytes > Number(qb)) throw new ApiError(413, 'Upload exceeds quota.');
      if (qc !== undefined && st.objects + extraObjects > Number(qc)) throw new ApiError(413, 'Upload exceeds quota.');
    }
    const a = await this.s.store.getAccount(c.account);
    const aq = a?.metadata['x-account-meta-quota-bytes'];
    if (aq !== undefined && aq !== '') {
      const st = await this.s.store.accountStats(c.account);
      if (st.bytes + extraBytes > Number(aq)) throw new ApiError(413, 'Upload exceeds quota.');
    }
  }

  async put(req: SwiftRequest, account: string, container: string, object: string): Promise<SwiftResponse> {
    if (req.query['multipart-manifest'] === 'put') return this.s.large.putSlo(req, account, container, object);
    const c = await this.s.store.getContainer(account, container);
    const temp = await this.s.tempurl.check(req, account, container, object);
    if (!temp) authorize(req, account, 'write', c);
    if (!c) throw new ApiError(404, 'The resource could not be found.');
    this.checkName(object);
    const copyFrom = hdr(req, 'x-copy-from');
    let link: { meta: Meta; contentType?: string } | undefined;
    if (req.headers['x-symlink-target'] !== undefined) {
      if (temp || copyFrom !== undefined)
        throw new ApiError(400, 'Symlink requests require a zero byte body', 'text/plain', { [PLAIN_ERROR]: '1' });
      link = await this.s.symlinks.prepare(req, account, container, object);
    }
    if (copyFrom !== undefined) {
      if (hdr(req, 'content-length') && hdr(req, 'content-length') !== '0')
        throw new ApiError(400, 'Copy requests require a zero byte body');
      const src = decodeURIComponent(copyFrom).replace(/^\//, '');
      const i = src.indexOf('/');
      if (i <= 0 || i === src.length - 1)
        throw new ApiError(412, 'X-Copy-From header must be of the form <container name>/<object name>');
      return this.copy(
        req,
        { account: hdr(req, 'x-copy-from-account') ?? account, container: src.slice(0, i), object: src.slice(i + 1) },
        { account, container, object },
      );
    }
    const cl = hdr(req, 'content-length');
    const chunked = /chunked/i.test(hdr(req, 'transfer-encoding') ?? '');
    if (cl === undefined && !chunked) throw new ApiError(411, 'Length Required');
    if (cl !== undefined && !/^\d+$/.test(cl)) throw new ApiError(400, 'Invalid Content-Length');
    const length = cl !== undefined ? Number(cl) : undefined;
    if (length !== undefined && length > CONSTRAINTS.max_file_size)
      throw new ApiError(413, 'Your request is too large.');
    const existing = await this.s.store.getObject(account, container, object);
    const liveExisting =
      existing && (existing.delete_at === null || existing.delete_at > Date.now() / 1000) ? existing : undefined;
    const inm = hdr(req, 'if-none-match');
    if (inm !== undefined) {
      if (inm.trim() !== '*') throw new ApiError(400, 'If-None-Match only supports *');
      if (liveExisting) throw new ApiError(412, 'A precondition for this request was not met.');
    }
    const deleteAt = this.deleteAtFrom(req);
    await this.checkQuotas(c, length ?? 0, liveExisting ? 0 : 1);
    const metadata = applyMeta(req, 'object', {}, OBJECT_SYSTEM);
    if (
      metadata['x-object-manifest'] !== undefined &&
      !/^[^/]+\/.*/.test(decodeURIComponent(metadata['x-object-manifest']))
    ) {
      throw new ApiError(400, 'X-Object-Manifest must be in the format container/prefix');
    }
    const body = bodyStream(req) ?? Readable.from([]);
    const res = await this.s.backend.put(body, { maxBytes: CONSTRAINTS.max_file_size });
    try {
      if (length !== undefined && res.bytes !== length) throw new ApiError(499, 'Client Disconnect');
      if (link && res.bytes > 0)
        throw new ApiError(400, 'Symlink requests require a zero byte body', 'text/plain', { [PLAIN_ERROR]: '1' });
      const etag = hdr(req, 'etag');
      if (etag !== undefined && etag.replace(/^"(.*)"$/, '$1').toLowerCase() !== res.etag)
        throw new ApiError(422, 'Unprocessable Entity');
      if (length === undefined) await this.checkQuotas(c, res.bytes, liveExisting ? 0 : 1);
    } catch (e) {
      await this.s.backend.delete(res.blob);
      throw e;
    }
    let contentType = hdr(req, 'content-type');
    if (link) Object.assign(metadata, link.meta);
    if (link?.contentType) contentType = link.contentType;
    else if (!contentType || truthy(hdr(req, 'x-detect-content-type'))) contentType = guessContentType(object);
    const row = newObjectRow({ account, container, name: object }, res, {
      content_type: contentType,
      metadata,
      delete_at: deleteAt ?? null,
    });
    await this.store(c, row, liveExisting);
    return {
      status: 201,
      headers: {
        'content-type': HTML,
        etag: res.etag,
        'last-modified': httpDate(row.timestamp),
        'content-length': '0',
      },
    };
  }

  /** Writes a new row over whatever object has its name now (archived when the container keeps versions). */
  async storeReplacing(c: ContainerRow, row: ObjectRow) {
    await this.store(c, row, await this.s.store.getObject(row.account, row.container, row.name));
  }

  /** Writes a row, archiving the object it replaces when the container keeps versions. */
  async store(c: ContainerRow, row: ObjectRow, existing: ObjectRow | undefined) {
    const archived = existing ? await this.archive(c, existing) : false;
    const old = await this.s.store.putObject(row);
    if (old && !archived) await this.s.backend.delete(old);
  }

  /** Moves the current object's bytes into the versions/history container; true when done. */
  private async archive(c: ContainerRow, o: ObjectRow): Promise<boolean> {
    const loc = c.metadata['x-versions-location'] ?? c.metadata['x-history-location'];
    if (!loc) return false;
    const vc = await this.s.store.getContainer(c.account, decodeURIComponent(loc));
    if (!vc) return false;
    const ts = xTimestamp();
    await this.s.store.putObject({
      ...o,
      container: vc.name,
      name: versionPrefix(o.name) + o.timestamp,
      timestamp: ts,
      last_modified: isoOf(ts),
    });
    return true;
  }

  /** DELETE: with X-Versions-Location the previous version comes back; with X-History-Location the current one is archived. */
  async remove(c: ContainerRow | undefined, o: ObjectRow) {
    if (c?.metadata['x-history-location']) {
      const archived = await this.archive(c, o);
      const blob = await this.s.store.deleteObject(o.account, o.container, o.name, o.blob);
      if (blob && !archived) await this.s.backend.delete(blob);
      return;
    }
    const blob = await this.s.store.deleteObject(o.account, o.container, o.name, o.blob);
    if (blob) await this.s.backend.delete(blob);
    const loc = c?.metadata['x-versions-location'];
    if (!loc) return;
    const vname = decodeURIComponent(loc);
    const versions = await this.s.store.list('objects', o.account, vname, {
      prefix: versionPrefix(o.name),
      limit: 1,
      reverse: true,
    });
    const prev = versions[0] as ObjectRow | undefined;
    if (!prev) return;
    const ts = xTimestamp();
    await this.s.store.putObject({
      ...prev,
      container: o.container,
      name: o.name,
      timestamp: ts,
      last_modified: isoOf(ts),
    });
    await this.s.store.deleteObject(o.account, vname, prev.name, prev.blob);
  }

  /** Server-side copy (COPY with Destination, or PUT with X-Copy-From). */
  async copy(req: SwiftRequest, src: ObjectRef, dst: ObjectRef): Promise<SwiftResponse> {
    await loadAccountAcls(req, this.s.store, src.account, dst.account);
    const sc = await this.s.store.getContainer(src.account, src.container);
    authorize(req, src.account, 'read', sc);
    const dc = await this.s.store.getContainer(dst.account, dst.container);
    authorize(req, dst.account, 'write', dc);
    this.checkName(dst.object);
    let so = await this.s.store.getObject(src.account, src.container, src.object);
    if (!so || (so.delete_at !== null && so.delete_at <= Date.now() / 1000))
      throw new ApiError(404, 'The resource could not be found.');
    // A link is copied as its target unless ?symlink=get asks for the link itself.
    if (this.s.symlinks.isLink(so) && req.query.symlink !== 'get') so = (await this.s.symlinks.resolve(req, so)).row;
    if (!dc) throw new ApiError(404, 'The resource could not be found.');
    const manifestGet = req.query['multipart-manifest'] === 'get';
    const whole = manifestGet ? null : await this.s.large.wholeSize(so);
    await this.checkQuotas(dc, whole ?? so.bytes, 1);
    const stream = manifestGet ? this.s.backend.get(so.blob) : await this.s.large.open(so);
    const res = await this.s.backend.put(stream, { maxBytes: CONSTRAINTS.max_file_size });
    const fresh = truthy(hdr(req, 'x-fresh-metadata'));
    let base: Meta = {};
    if (!fresh) base = { ...so.metadata };
    else for (const [k, v] of Object.entries(so.metadata)) if (k.startsWith('x-object-sysmeta-')) base[k] = v;
    // A copy of a large object is a plain object holding its content, not a manifest.
    if (!manifestGet) {
      delete base['x-object-manifest'];
      delete base['x-static-large-object'];
    }
    const metadata = applyMeta(req, 'object', base, OBJECT_SYSTEM);
    const deleteAt = this.deleteAtFrom(req);
    const ctype =
      hdr(req, 'content-type') && req.method !== 'COPY'
        ? hdr(req, 'content-type')!
        : (hdr(req, 'content-type') ?? so.content_type);
    const row = newObjectRow({ account: dst.account, container: dst.container, name: dst.object }, res, {
      content_type: ctype,
      metadata,
      delete_at: deleteAt ?? null,
    });
    await this.storeReplacing(dc, row);
    const headers: Record<string, string> = {
      'content-type': HTML,
      etag: res.etag,
      'last-modified': httpDate(row.timestamp),
      'content-length': '0',
      'x-copied-from': `${encodeURIComponent(src.container)}/${encodeURIComponent(src.object).replace(/%2F/g, '/')}`,
      'x-copied-from-last-modified': httpDate(so.timestamp),
      ...(src.account !== dst.account ? { 'x-copied-from-account': src.account } : {}),
    };
    for (const [k, v] of Object.entries(metadata)) if (!k.startsWith('x-object-sysmeta-')) headers[k] = v;
    return { status: 201, headers };
  }

  /** The expirer: deletes objects whose X-Delete-At has passed. */
  async reap() {
    for (;;) {
      const batch = await this.s.store.expired(Math.floor(Date.now() / 1000), 500);
      if (!batch.length) return;
      for (const o of batch) {
        const blob = await this.s.store.deleteObject(o.account, o.container, o.name, o.blob);
        if (blob) await this.s.backend.delete(blob);
      }
      if (batch.length < 500) return;
    }
  }
}
