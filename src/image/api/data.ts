// Image data: PUT /file streams into the default store (queued → saving → active) hashing on
// the way (md5 checksum, sha512 os_hash_value, size, qcow2 virtual size); GET /file streams
// back, whole or a byte range. A failed or interrupted upload leaves the image queued and
// no bytes behind.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../../core/errors.ts';
import type { ImageService } from '../service.ts';
import { runImport } from '../import_flow.ts';
import { isAdmin } from '../images.ts';
import { taskView } from './tasks.ts';
import { isUuidLike } from '../../core/validate.ts';
import { imageTarget, findImage } from './policy.ts';
import { ImageHasher, saveData, setProperties, storeOf } from '../stores.ts';

function checkContentType(req: FastifyRequest) {
  const ct = (req.headers['content-type'] ?? 'application/octet-stream').split(';')[0]!.trim().toLowerCase();
  if (ct !== 'application/octet-stream')
    throw new ApiError(415, `Content-Type must be application/octet-stream, not ${ct}`);
}

function checkLength(req: FastifyRequest, cap: number) {
  const len = Number(req.headers['content-length']);
  if (Number.isFinite(len) && len > cap)
    throw new ApiError(
      413,
      `Image exceeds the storage quota: The size of the data ${len} will exceed the limit. ${cap} bytes remaining.`,
    );
}

function parseRange(header: string, size: number): { start: number; end: number } {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) throw new ApiError(416, 'Requested range not satisfiable');
  let start: number, end: number;
  if (m[1] === '') {
    const n = Number(m[2]);
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start > end || start >= size) throw new ApiError(416, 'Requested range not satisfiable');
  return { start, end };
}

/** An import request's body, as sent (its fields are checked below, as Glance's import does). */
interface ImportBody {
  method?: Record<string, unknown> & {
    name?: string;
    uri?: string;
    glance_image_id?: string;
    glance_service_interface?: string;
  };
  all_stores?: boolean;
  stores?: string[];
}

export async function listImageTasks(svc: ImageService, req: FastifyRequest<{ Params: { id: string } }>) {
  const img = await findImage(svc, req.context, req.params.id, 'get_image');
  const rows = await svc.tasks.forImage(img.id);
  return { tasks: rows.map(taskView) };
}

export async function uploadImageData(
  svc: ImageService,
  req: FastifyRequest<{ Params: { id: string } }>,
  reply: FastifyReply,
) {
  await svc.quotas?.enforce(req.ctx!.projectId, { image_size_total: 0 });
  const img = await findImage(svc, req.context, req.params.id, 'upload_image');
  checkContentType(req);
  checkLength(req, svc.sizeCap);
  if (img.status !== 'queued' || !(await svc.repo.transition(img.id, ['queued'], 'saving'))) {
    throw new ApiError(409, `Image status transition from ${img.status} to saving is not allowed`);
  }
  // The image now counts as uploading: over the limit, it goes back to queued.
  await svc.quotas?.enforce(req.ctx!.projectId, { image_count_uploading: 0 }).catch(async (e) => {
    await svc.repo.transition(img.id, ['saving'], 'queued');
    throw e;
  });
  // Glance's multi-store upload names its store in X-Image-Meta-Store.
  const store =
    typeof req.headers['x-image-meta-store'] === 'string' ? req.headers['x-image-meta-store'] : svc.defaultStore;
  if (!svc.stores.has(store)) {
    await svc.repo.transition(img.id, ['saving'], 'queued');
    throw new ApiError(400, `Store for identifier ${store} not found`);
  }
  await saveData(svc, img, req.body as Readable, store, ['saving'], 'queued');
  return reply.code(204).send();
}

export async function downloadImageData(
  svc: ImageService,
  req: FastifyRequest<{ Params: { id: string } }>,
  reply: FastifyReply,
) {
  const img = await findImage(svc, req.context, req.params.id, 'download_image');
  if (img.status === 'deactivated' && !isAdmin(req.ctx))
    throw new ApiError(403, 'The requested image has been deactivated. Image data download is forbidden.');
  const loc = img.locations[0];
  if (!loc || (img.status !== 'active' && img.status !== 'deactivated')) return reply.code(204).send();
  const size = img.size ?? 0;
  const range = typeof req.headers.range === 'string' && size > 0 ? parseRange(req.headers.range, size) : undefined;
  // A cached copy first; a whole download from a remote store fills the cache on the way.
  let stream = await svc.cache?.open(img.id, range);
  if (!stream) {
    stream = await storeOf(svc, loc.store).get(loc.url, range);
    if (svc.cache && !range && loc.store !== 'file' && img.status === 'active') stream = svc.cache.tee(img, stream);
  }
  reply.header('Content-Type', 'application/octet-stream');
  if (range) {
    reply
      .code(206)
      .header('Content-Range', `bytes ${range.start}-${range.end}/${size}`)
      .header('Content-Length', String(range.end - range.start + 1));
  } else {
    reply.code(200).header('Content-Length', String(size));
    if (img.checksum) reply.header('Content-MD5', img.checksum);
  }
  return reply.send(stream);
}

// Interoperable import: stage the bytes, then import them into a store.
export async function stageImageData(
  svc: ImageService,
  req: FastifyRequest<{ Params: { id: string } }>,
  reply: FastifyReply,
) {
  await svc.quotas?.enforce(req.ctx!.projectId, { image_stage_total: 0 });
  const img = await findImage(svc, req.context, req.params.id, 'modify_image');
  checkContentType(req);
  checkLength(req, svc.sizeCap);
  if (img.status !== 'queued' || !(await svc.repo.transition(img.id, ['queued'], 'uploading'))) {
    throw new ApiError(409, `Image status transition from ${img.status} to uploading is not allowed`);
  }
  await svc.quotas?.enforce(req.ctx!.projectId, { image_count_uploading: 0 }).catch(async (e) => {
    await svc.repo.transition(img.id, ['uploading'], 'queued');
    throw e;
  });
  await fsp.mkdir(svc.stagingDir, { recursive: true });
  const staged = path.join(svc.stagingDir, img.id);
  const tmp = `${staged}.tmp-${randomUUID()}`;
  const hasher = new ImageHasher(svc.sizeCap, { hash: false });
  try {
    await pipeline(hasher.pass(req.body as Readable), fs.createWriteStream(tmp, { flags: 'wx', mode: 0o600 }));
    const fd = await fsp.open(tmp, 'r+');
    try {
      await fd.sync();
    } finally {
      await fd.close();
    }
    await fsp.rename(tmp, staged);
  } catch (e) {
    await fsp.rm(tmp, { force: true });
    await svc.repo.transition(img.id, ['uploading'], 'queued');
    throw e;
  }
  await svc.repo.transition(img.id, ['uploading'], 'uploading', { size: hasher.size });
  return reply.code(204).send();
}

export async function importImage(
  svc: ImageService,
  req: FastifyRequest<{ Params: { id: string } }>,
  reply: FastifyReply,
) {
  await svc.quotas?.enforce(req.ctx!.projectId, { image_size_total: 0 });
  const img = await findImage(svc, req.context, req.params.id, 'modify_image');
  const body = (req.body ?? {}) as ImportBody;
  const sent = body?.method?.name;
  if (!(['glance-direct', 'web-download', 'copy-image', 'glance-download'] as unknown[]).includes(sent))
    throw new ApiError(400, `Import method ${sent} is not valid.`);
  // A valid method name means a method object was sent.
  const method = sent as string;
  const im = body.method as NonNullable<ImportBody['method']>;
  const storesAsked: string[] = body.all_stores
    ? [...svc.stores.keys()]
    : (body.stores ?? [
        typeof req.headers['x-image-meta-store'] === 'string' ? req.headers['x-image-meta-store'] : svc.defaultStore,
      ]);
  for (const s of storesAsked) if (!svc.stores.has(s)) throw new ApiError(409, `Unknown store ${s}.`);
  if (method === 'copy-image') {
    req.authorize('copy_image', await imageTarget(svc, img, req.context));
    if (img.status !== 'active') throw new ApiError(409, 'Only images with status active can be targeted for copying');
  } else {
    if (img.status === 'active') throw new ApiError(409, 'Image with status active cannot be target for import');
    if (method === 'glance-direct' && img.status !== 'uploading')
      throw new ApiError(409, "Image needs to be staged before 'glance-direct' method can be used");
    if ((method === 'web-download' || method === 'glance-download') && img.status !== 'queued')
      throw new ApiError(409, `Image needs to be in 'queued' state to use '${method}' method`);
    if (!img.container_format) throw new ApiError(400, "'container_format' needs to be set before import");
    if (!img.disk_format) throw new ApiError(400, "'disk_format' needs to be set before import");
    if (method === 'glance-download') {
      for (const k of ['glance_region', 'glance_image_id'])
        if (!(k in im)) throw new ApiError(400, `'${k}' needs to be set for glance-download import method`);
      if (
        typeof im.glance_image_id !== 'string' ||
        !isUuidLike(
          im.glance_image_id
            .replace(/^urn:uuid:/, '')
            .replace(/^\{/, '')
            .replace(/\}$/, ''),
        )
      ) {
        throw new ApiError(400, `Remote image id does not look like a UUID: ${im.glance_image_id}`);
      }
      im.glance_service_interface ??= 'public';
    }
    if (method === 'web-download' && (typeof im.uri !== 'string' || !/^https?:\/\//.test(im.uri)))
      throw new ApiError(400, 'URI for web-download does not pass filtering: ' + String(im.uri));
  }
  const from = img.status;
  const targets =
    method === 'copy-image' ? storesAsked.filter((s) => !img.locations.some((l) => l.store === s)) : storesAsked;
  if (method !== 'copy-image' && !(await svc.repo.transition(img.id, [from], 'importing')))
    throw new ApiError(409, 'Image status changed during the import request.');
  // Runs after the 202, as Glance's api_image_import task does; the task records the outcome.
  const taskId = randomUUID();
  const t = new Date().toISOString();
  await svc.tasks.insert({
    id: taskId,
    type: 'api_image_import',
    status: 'processing',
    owner: req.ctx!.projectId ?? null,
    input: JSON.stringify({ image_id: img.id, import_req: body, backend: storesAsked }),
    result: null,
    message: '',
    image_id: img.id,
    request_id: req.id,
    user_id: req.ctx!.userId,
    expires_at: null,
    created_at: t,
    updated_at: t,
  });
  await setProperties(svc, img.id, (p) => {
    p.os_glance_importing_to_stores = targets.join(',');
    p.os_glance_failed_import = '';
    p.os_glance_import_task = taskId;
  });
  const finish = (status: 'success' | 'failure', message: string) => svc.tasks.finish(taskId, status, message);
  const remote =
    method === 'glance-download'
      ? {
          imageId: im.glance_image_id as string,
          region: String(im.glance_region),
          interface: String(im.glance_service_interface),
          token: String(req.headers['x-auth-token'] ?? ''),
        }
      : undefined;
  void runImport(svc, img, method, targets, im.uri, from, remote)
    .then(() => finish('success', ''))
    .catch(async (e) => {
      svc.ctx.log.warn({ err: e, image: img.id }, 'image import failed');
      await finish('failure', String(e?.message ?? e));
    });
  return reply.code(202).send();
}
