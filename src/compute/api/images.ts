// The image proxy (nova.api.openstack.compute.images and image_metadata), deprecated since 2.36
// (metadata since 2.39) but still what tempest's compute image tests use: list/detail with
// Nova's filters, show and delete, and the image's properties as metadata. Every call goes to
// the image service with the caller's own token, as Nova's glance client does.
import type { ImageRecord } from '../../core/clients/image.ts';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ComputeService } from '../service.ts';
import { ApiError } from '../../core/errors.ts';
import { badRequest, forbidden, isoZ, mv, notFound, queryOf, validateBody } from './common.ts';
import { META_ITEM_SCHEMA, METADATA_SCHEMA, type MetadataBody, type MetaItemBody } from './schemas/parameter_types.ts';

/** Nova's MAX_PROXY_API_SUPPORT_VERSION and MAX_IMAGE_META_PROXY_API_VERSION. */
const MAX_PROXY = '2.35';
const MAX_META_PROXY = '2.38';

/** Nova's filters → the image API's (property-* and changes-since translated as its glance client does). */
const FILTERS: Record<string, string> = {
  name: 'name',
  status: 'status',
  'changes-since': 'changes-since',
  server: 'property-instance_uuid',
  type: 'property-image_type',
  minRam: 'min_ram',
  minDisk: 'min_disk',
};

/** Nova's metadata_items quota on image properties (check_img_metadata_properties_quota). */
const METADATA_ITEMS = 128;

const STATUS: Record<string, string> = {
  active: 'ACTIVE',
  queued: 'SAVING',
  saving: 'SAVING',
  deleted: 'DELETED',
  pending_delete: 'DELETED',
  killed: 'ERROR',
};
const PROGRESS: Record<string, number> = { queued: 25, saving: 50, active: 100 };

/** What the proxy reads of Glance's answers: an image, a list, the image schema, or an error. */
type GlanceImage = ImageRecord & { created_at?: string; updated_at?: string };
type GlanceBody = GlanceImage & {
  images?: GlanceImage[];
  properties?: Record<string, unknown>;
  message?: string;
};

interface ImageCall {
  status: number;
  body: GlanceBody;
}

/** A call to the image service with the caller's own token. */

async function glance(
  svc: ComputeService,
  req: FastifyRequest,
  method: string,
  path: string,
  body?: unknown,
  contentType = 'application/json',
): Promise<ImageCall> {
  const image = svc.parts.clients.image;
  const o = { token: req.ctx?.token ?? '' };
  return body === undefined
    ? image.request<GlanceBody>(method, path, undefined, o)
    : image.raw<GlanceBody>(method, path, JSON.stringify(body), { 'Content-Type': contentType }, o);
}

/** The image schema's own properties: everything else on an image is one of its properties (Nova's is_base_property). */
let baseProperties: Set<string> | undefined;
async function baseOf(svc: ComputeService, req: FastifyRequest): Promise<Set<string>> {
  if (!baseProperties) {
    const r = await glance(svc, req, 'GET', '/v2/schemas/image');
    if (r.status !== 200) throw new ApiError(503, `image service answered ${r.status} for its image schema`);
    // Glance marks the common properties it documents (os_distro, instance_uuid, ...) is_base: false.
    baseProperties = new Set(
      Object.entries(r.body?.properties ?? {})
        .filter(([, s]) => (s as { is_base?: boolean } | null)?.is_base !== false)
        .map(([k]) => k),
    );
  }
  return baseProperties;
}

async function propertiesOf(
  svc: ComputeService,
  req: FastifyRequest,
  image: GlanceImage,
): Promise<Record<string, unknown>> {
  const base = await baseOf(svc, req);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(image)) if (!base.has(k)) out[k] = v;
  return out;
}

async function getImage(svc: ComputeService, req: FastifyRequest, id: string): Promise<GlanceImage> {
  const r = await glance(svc, req, 'GET', `/v2/images/${encodeURIComponent(id)}`);
  if (r.status === 404 || r.status === 400) throw notFound('Image not found.');
  if (r.status === 403) throw forbidden('You are not allowed to access the image.');
  if (r.status !== 200) throw new ApiError(503, `image service answered ${r.status}`);
  return r.body;
}

function imageLinks(req: FastifyRequest, svcImageBase: string, id: string) {
  return [
    { rel: 'self', href: `${req.baseUrl}/v2.1/images/${id}` },
    { rel: 'bookmark', href: `${req.baseUrl}/images/${id}` },
    { rel: 'alternate', type: 'application/vnd.openstack.image', href: `${svcImageBase}/images/${id}` },
  ];
}

async function detailView(svc: ComputeService, req: FastifyRequest, image: GlanceImage, imageBase: string) {
  const metadata = await propertiesOf(svc, req, image);
  const out: Record<string, unknown> = {
    id: image.id,
    name: image.name ?? null,
    minRam: Number(image.min_ram ?? 0),
    minDisk: Number(image.min_disk ?? 0),
    metadata,
    created: isoZ(image.created_at),
    updated: isoZ(image.updated_at),
    status: STATUS[image.status] ?? 'UNKNOWN',
    progress: PROGRESS[image.status] ?? 0,
    'OS-EXT-IMG-SIZE:size': image.size ?? 0,
    links: imageLinks(req, imageBase, image.id),
  };
  const server = metadata.instance_uuid;
  if (typeof server === 'string') {
    out.server = {
      id: server,
      links: [
        { rel: 'self', href: `${req.baseUrl}/v2.1/servers/${server}` },
        { rel: 'bookmark', href: `${req.baseUrl}/servers/${server}` },
      ],
    };
  }
  const adc = metadata.auto_disk_config;
  if (adc !== undefined && adc !== null)
    out['OS-DCF:diskConfig'] = /^(1|t|true|on|y|yes)$/i.test(String(adc)) ? 'AUTO' : 'MANUAL';
  return out;
}

/** Refuses microversions past the proxy's last one as Nova does (the method is not there: 404). */
function proxyVersion(req: FastifyRequest, max: string) {
  req.authorized = true;
  if (mv(req).cmp(max) > 0) throw notFound('The resource could not be found.');
}

/** Replaces the image's properties by `wanted` with a JSON patch (Nova's update with purge_props). */
async function setProperties(
  svc: ComputeService,
  req: FastifyRequest,
  id: string,
  current: Record<string, unknown>,
  wanted: Record<string, unknown>,
) {
  if (Object.keys(wanted).length > METADATA_ITEMS)
    throw forbidden(
      `Quota exceeded for metadata_items: Requested ${Object.keys(wanted).length}, but already used 0 of ${METADATA_ITEMS} metadata_items`,
    );
  const ops: Array<Record<string, unknown>> = [];
  for (const k of Object.keys(current)) if (!(k in wanted)) ops.push({ op: 'remove', path: `/${k}` });
  for (const [k, v] of Object.entries(wanted))
    if (current[k] !== v) ops.push({ op: k in current ? 'replace' : 'add', path: `/${k}`, value: v });
  if (!ops.length) return;
  const r = await glance(
    svc,
    req,
    'PATCH',
    `/v2/images/${encodeURIComponent(id)}`,
    ops,
    'application/openstack-images-v2.1-json-patch',
  );
  if (r.status === 403) throw forbidden('You are not authorized to access image ' + id + '.');
  if (r.status === 404) throw notFound('Image not found.');
  if (r.status === 400 || r.status === 409 || r.status === 413)
    throw badRequest(typeof r.body === 'string' ? r.body : (r.body?.message ?? `image service answered ${r.status}`));
  if (r.status !== 200) throw new ApiError(503, `image service answered ${r.status}`);
}

export type ImageParams = { Params: { id: string; key: string } };
type P = ImageParams;

const imageBase = (svc: ComputeService) => svc.parts.clients.image.baseUrl();

const list = async (svc: ComputeService, req: FastifyRequest, detail: boolean) => {
  proxyVersion(req, MAX_PROXY);
  const q = queryOf(req);
  const out = new URLSearchParams();
  for (const [param, value] of q) {
    const name = FILTERS[param] ?? (param.startsWith('property-') ? param : undefined);
    if (!name) continue;
    if (name === 'changes-since') out.set('updated_at', `gte:${value}`);
    else if (name === 'status') out.set('status', value.toLowerCase());
    else if (name === 'property-instance_uuid') out.set('instance_uuid', value.split('/').pop()!);
    else if (name.startsWith('property-')) out.set(name.slice('property-'.length), value);
    else out.set(name, value);
  }
  for (const p of ['limit', 'marker']) {
    const v = q.get(p);
    if (v !== null) out.set(p, v);
  }
  const limit = q.get('limit');
  if (limit !== null && !/^\d+$/.test(limit)) throw badRequest('limit param must be an integer');
  const r = await glance(svc, req, 'GET', `/v2/images?${out.toString()}`);
  if (r.status === 400) throw badRequest(typeof r.body === 'string' ? r.body : (r.body?.message ?? 'Invalid filter'));
  if (r.status !== 200) throw new ApiError(503, `image service answered ${r.status}`);
  const base = await imageBase(svc);
  const images = (r.body.images ?? []) as ImageRecord[];
  const listed = detail
    ? await Promise.all(images.map((i) => detailView(svc, req, i, base)))
    : images.map((i) => ({ id: i.id, name: i.name ?? null, links: imageLinks(req, base, i.id) }));
  const body: Record<string, unknown> = { images: listed };
  if (limit !== null && images.length && images.length >= Number(limit)) {
    const next = new URLSearchParams(q);
    next.set('marker', images[images.length - 1].id);
    body.images_links = [
      { rel: 'next', href: `${req.baseUrl}/v2.1/images${detail ? '/detail' : ''}?${next.toString()}` },
    ];
  }
  return body;
};
export async function listImages(svc: ComputeService, req: FastifyRequest) {
  return list(svc, req, false);
}
export async function listImagesDetail(svc: ComputeService, req: FastifyRequest) {
  return list(svc, req, true);
}
export async function showImage(svc: ComputeService, req: FastifyRequest<P>) {
  proxyVersion(req, MAX_PROXY);
  return { image: await detailView(svc, req, await getImage(svc, req, req.params.id), await imageBase(svc)) };
}
export async function deleteImage(svc: ComputeService, req: FastifyRequest<P>, reply: FastifyReply) {
  proxyVersion(req, MAX_PROXY);
  const r = await glance(svc, req, 'DELETE', `/v2/images/${encodeURIComponent(req.params.id)}`);
  if (r.status === 404 || r.status === 400) throw notFound('Image not found.');
  if (r.status === 403) throw forbidden('You are not allowed to delete the image.');
  if (r.status !== 204) throw new ApiError(503, `image service answered ${r.status}`);
  return reply.code(204).send();
}

// ---- metadata ----
const props = async (svc: ComputeService, req: FastifyRequest, id: string) =>
  propertiesOf(svc, req, await getImage(svc, req, id));
export async function listImageMetadata(svc: ComputeService, req: FastifyRequest<P>) {
  proxyVersion(req, MAX_META_PROXY);
  return { metadata: await props(svc, req, req.params.id) };
}
export async function showImageMetadata(svc: ComputeService, req: FastifyRequest<P>) {
  proxyVersion(req, MAX_META_PROXY);
  const m = await props(svc, req, req.params.id);
  if (!(req.params.key in m)) throw notFound('The resource could not be found.');
  return { meta: { [req.params.key]: m[req.params.key] } };
}
export async function createImageMetadata(svc: ComputeService, req: FastifyRequest<P>) {
  proxyVersion(req, MAX_META_PROXY);
  const body = validateBody<MetadataBody>(req, METADATA_SCHEMA);
  const current = await props(svc, req, req.params.id);
  const wanted = { ...current, ...body.metadata };
  await setProperties(svc, req, req.params.id, current, wanted);
  return { metadata: wanted };
}
export async function replaceImageMetadata(svc: ComputeService, req: FastifyRequest<P>) {
  proxyVersion(req, MAX_META_PROXY);
  const body = validateBody<MetadataBody>(req, METADATA_SCHEMA);
  const current = await props(svc, req, req.params.id);
  await setProperties(svc, req, req.params.id, current, body.metadata);
  return { metadata: body.metadata };
}
export async function updateImageMetadataItem(svc: ComputeService, req: FastifyRequest<P>) {
  proxyVersion(req, MAX_META_PROXY);
  const body = validateBody<MetaItemBody>(req, META_ITEM_SCHEMA);
  if (!(req.params.key in body.meta)) throw badRequest('Request body and URI mismatch');
  const current = await props(svc, req, req.params.id);
  await setProperties(svc, req, req.params.id, current, { ...current, ...body.meta });
  return { meta: body.meta };
}
export async function deleteImageMetadataItem(svc: ComputeService, req: FastifyRequest<P>, reply: FastifyReply) {
  proxyVersion(req, MAX_META_PROXY);
  const current = await props(svc, req, req.params.id);
  if (!(req.params.key in current)) throw notFound('Invalid metadata key');
  const wanted = { ...current };
  delete wanted[req.params.key];
  await setProperties(svc, req, req.params.id, current, wanted);
  return reply.code(204).send();
}
