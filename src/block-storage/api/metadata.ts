// The metadata of a volume or a snapshot (cinder/api/v3/volume_metadata.py, snapshot_metadata.py: one
// controller written twice upstream): list, merge, replace, show, set and delete one key. What differs
// between the two resources is what `MetadataResource` says.
import type { FastifyRequest } from 'fastify';
import { json } from '../../core/db.ts';
import type { ApiError } from '../../core/errors.ts';
import { validate } from '../../core/validate.ts';
import type { BlockStorageService } from '../service.ts';
import { badRequest } from './common.ts';
import { metadataSchema } from './schemas.ts';

type Meta = Record<string, string>;

export interface MetadataResource<R extends { id: string; metadata: string | null }> {
  /** The resource the request names, visible to its caller, once the policy `rule` allows it. */
  target(svc: BlockStorageService, req: FastifyRequest, rule: string): Promise<R>;
  /** The policy rules of reading, adding to (POST), changing (PUT) and deleting the metadata. */
  rules: { get: string; create: string; update: string; delete: string };
  /** Refuses a change the resource's state does not allow (a volume in maintenance). */
  checkWritable?(r: R): void;
  save(svc: BlockStorageService, id: string, metadata: string): Promise<unknown>;
  /** The 404 of a key the resource does not have. */
  notFound(id: string, key: string): ApiError;
}

/** The six handlers of a resource's metadata routes. */
export function metadataHandlers<R extends { id: string; metadata: string | null }>(m: MetadataResource<R>) {
  const writable = async (svc: BlockStorageService, req: FastifyRequest, rule: string) => {
    const r = await m.target(svc, req, rule);
    m.checkWritable?.(r);
    return r;
  };
  const keyOf = (req: FastifyRequest) => (req.params as { key: string }).key;
  return {
    async list(svc: BlockStorageService, req: FastifyRequest) {
      const r = await m.target(svc, req, m.rules.get);
      return { metadata: json(r.metadata, {}) };
    },
    async create(svc: BlockStorageService, req: FastifyRequest) {
      const body = validate<{ metadata: Meta }>(req.body, metadataSchema('metadata'));
      const r = await writable(svc, req, m.rules.create);
      const meta = { ...json<Meta>(r.metadata, {}), ...body.metadata };
      await m.save(svc, r.id, JSON.stringify(meta));
      return { metadata: meta };
    },
    async replace(svc: BlockStorageService, req: FastifyRequest) {
      const body = validate<{ metadata: Meta }>(req.body, metadataSchema('metadata'));
      const r = await writable(svc, req, m.rules.update);
      await m.save(svc, r.id, JSON.stringify(body.metadata));
      return { metadata: body.metadata };
    },
    async show(svc: BlockStorageService, req: FastifyRequest) {
      const key = keyOf(req);
      const r = await m.target(svc, req, m.rules.get);
      const meta = json<Meta>(r.metadata, {});
      if (!(key in meta)) throw m.notFound(r.id, key);
      return { meta: { [key]: meta[key] } };
    },
    async update(svc: BlockStorageService, req: FastifyRequest) {
      const key = keyOf(req);
      const body = validate<{ meta: Meta }>(req.body, metadataSchema('meta'));
      const keys = Object.keys(body.meta);
      if (keys.length > 1) throw badRequest('Request body contains too many items.');
      if (keys[0] !== key) throw badRequest('Request body and URI mismatch');
      const r = await writable(svc, req, m.rules.update);
      const meta = { ...json<Meta>(r.metadata, {}), ...body.meta };
      await m.save(svc, r.id, JSON.stringify(meta));
      return { meta: body.meta };
    },
    async delete(svc: BlockStorageService, req: FastifyRequest) {
      const key = keyOf(req);
      const r = await writable(svc, req, m.rules.delete);
      const meta = json<Meta>(r.metadata, {});
      if (!(key in meta)) throw m.notFound(r.id, key);
      delete meta[key];
      await m.save(svc, r.id, JSON.stringify(meta));
      return null;
    },
  };
}
