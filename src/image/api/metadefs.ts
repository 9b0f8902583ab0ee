// Metadata definitions (/v2/metadefs): namespaces with their objects, properties, tags and
// resource type associations, kept as one JSON document per namespace.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../../core/errors.ts';
import { now } from '../../core/db.ts';
import type { ImageService } from '../service.ts';
import { isAdmin, isotime } from '../images.ts';
import { RESOURCE_TYPES, type Namespace, type Stamp } from '../metadefs.ts';

// Request bodies as sent: Glance's metadef schemas are loose, and the handlers check the fields
// they rely on (need(), visibility, protected) one by one.
interface ObjectBody {
  name?: unknown;
  description?: string;
  required?: string[];
  properties?: Record<string, unknown>;
}
interface ResourceTypeBody {
  name?: unknown;
  prefix?: string;
  properties_target?: string;
}
interface NamespaceBody {
  namespace?: unknown;
  display_name?: string;
  description?: string;
  visibility?: string;
  protected?: boolean;
  owner?: string | null;
  resource_type_associations?: ResourceTypeBody[];
  properties?: Namespace['properties'];
  objects?: ObjectBody[];
  tags?: Array<{ name?: unknown }>;
}
type PropertyBody = { name?: string } & Record<string, unknown>;

const stamps = (s: Stamp) => ({ created_at: isotime(s.created_at), updated_at: isotime(s.updated_at) });

function nsView(n: Namespace, full = true) {
  const v: Record<string, unknown> = {
    namespace: n.namespace,
    visibility: n.visibility,
    protected: n.protected,
    owner: n.owner,
    ...stamps(n),
    self: `/v2/metadefs/namespaces/${n.namespace}`,
    schema: '/v2/schemas/metadefs/namespace',
  };
  if (n.display_name !== undefined) v.display_name = n.display_name;
  if (n.description !== undefined) v.description = n.description;
  if (n.resource_type_associations.length) v.resource_type_associations = n.resource_type_associations.map(rtView);
  if (full) {
    if (Object.keys(n.properties).length) v.properties = n.properties;
    if (n.objects.length) v.objects = n.objects.map((o) => objView(n, o));
    if (n.tags.length) v.tags = n.tags.map((t) => ({ name: t.name }));
  }
  return v;
}
const rtView = (r: Namespace['resource_type_associations'][number]) => ({
  name: r.name,
  ...(r.prefix !== undefined ? { prefix: r.prefix } : {}),
  ...(r.properties_target !== undefined ? { properties_target: r.properties_target } : {}),
  ...stamps(r),
});
const objView = (n: Namespace, o: Namespace['objects'][number]) => ({
  name: o.name,
  description: o.description,
  required: o.required ?? [],
  properties: o.properties ?? {},
  ...stamps(o),
  self: `/v2/metadefs/namespaces/${n.namespace}/objects/${o.name}`,
  schema: 'v2/schemas/metadefs/object',
});
const tagView = (t: Namespace['tags'][number]) => ({ name: t.name, ...stamps(t) });

function need(v: unknown, field: string): string {
  if (typeof v !== 'string' || !v.trim())
    throw new ApiError(400, `Provided object does not match schema: '${field}' is a required property`);
  if (v.length > 255) throw new ApiError(400, `Provided object does not match schema: '${field}' is too long`);
  return v;
}

const visibleNs = (n: Namespace, req: FastifyRequest) =>
  isAdmin(req.ctx) || n.visibility === 'public' || n.owner === req.ctx?.projectId;
const target = (n: Namespace) => ({ project_id: n.owner, visibility: n.visibility, namespace: n.namespace });

async function loadNamespace(svc: ImageService, req: FastifyRequest, name: string, rule: string): Promise<Namespace> {
  const n = await svc.metadefs.get(name);
  const notFound = () => new ApiError(404, `Metadata definition namespace=${name} was not found.`);
  if (!n || !visibleNs(n, req)) throw notFound();
  // Glance's MetadefAPIPolicy: refused by a namespace the caller cannot get is a 404, else 403.
  if (
    !req.allowed(rule, target(n)) &&
    (rule === 'get_metadef_namespace' || !req.allowed('get_metadef_namespace', target(n)))
  ) {
    req.authorized = true;
    throw notFound();
  }
  req.authorize(rule, target(n));
  return n;
}

const P = '/v2/metadefs/namespaces';

function findObj(n: Namespace, name: string) {
  const o = n.objects.find((x) => x.name === name);
  if (!o) throw new ApiError(404, `Metadata definition object=${name} not found in namespace=${n.namespace}.`);
  return o;
}

function findProp(n: Namespace, name: string) {
  const p = n.properties[name];
  if (!p) throw new ApiError(404, `Metadata definition property=${name} not found in namespace=${n.namespace}.`);
  return p;
}

function findTag(n: Namespace, name: string) {
  const t = n.tags.find((x) => x.name === name);
  if (!t) throw new ApiError(404, `Metadata tag with name=${name} was not found in namespace=${n.namespace}.`);
  return t;
}

/** The metadef schemas by the name in their URL. */
const SCHEMAS: Record<string, string> = {
  namespace: 'namespace',
  namespaces: 'namespaces',
  resource_type: 'resource_type_association',
  resource_types: 'resource_type_associations',
  object: 'object',
  objects: 'objects',
  property: 'property',
  properties: 'properties',
  tag: 'tag',
  tags: 'tags',
};

export async function listNamespaces(svc: ImageService, req: FastifyRequest) {
  req.authorize('get_metadef_namespaces', { project_id: req.ctx?.projectId });
  const q = req.query as Record<string, string>;
  let list = (await svc.metadefs.list()).filter((n) => visibleNs(n, req));
  if (q.visibility) list = list.filter((n) => n.visibility === q.visibility);
  if (q.resource_types) {
    const want = q.resource_types.split(',');
    list = list.filter((n) => n.resource_type_associations.some((r) => want.includes(r.name)));
  }
  const dir = q.sort_dir === 'asc' ? 1 : -1,
    key = (q.sort_key ?? 'created_at') as keyof Namespace;
  list.sort((a, b) => (String(a[key]) < String(b[key]) ? -dir : String(a[key]) > String(b[key]) ? dir : 0));
  if (q.marker) {
    const i = list.findIndex((n) => n.namespace === q.marker);
    if (i < 0) throw new ApiError(400, `Invalid marker ${q.marker}`);
    list = list.slice(i + 1);
  }
  const limit = q.limit ? Number(q.limit) : 1000;
  if (!Number.isInteger(limit) || limit < 0) throw new ApiError(400, 'limit param must be an integer');
  const page = list.slice(0, limit);
  const body: Record<string, unknown> = {
    namespaces: page.map((n) => nsView(n, false)),
    first: P,
    schema: '/v2/schemas/metadefs/namespaces',
  };
  if (page.length === limit && list.length > limit)
    body.next = `${P}?marker=${encodeURIComponent(page[page.length - 1]!.namespace)}&limit=${limit}`;
  return body;
}

export async function createNamespace(svc: ImageService, req: FastifyRequest, reply: FastifyReply) {
  req.authorize('add_metadef_namespace', { project_id: req.ctx?.projectId });
  const b = (req.body ?? {}) as NamespaceBody;
  const t = now();
  const n: Namespace = {
    namespace: need(b.namespace, 'namespace'),
    display_name: b.display_name,
    description: b.description,
    visibility: b.visibility ?? 'private',
    protected: b.protected ?? false,
    owner: b.owner ?? req.ctx?.projectId ?? null,
    resource_type_associations: (b.resource_type_associations ?? []).map((r) => ({
      name: need(r.name, 'name'),
      prefix: r.prefix,
      properties_target: r.properties_target,
      created_at: t,
      updated_at: t,
    })),
    properties: b.properties ?? {},
    objects: (b.objects ?? []).map((o) => ({ ...o, name: need(o.name, 'name'), created_at: t, updated_at: t })),
    tags: (b.tags ?? []).map((x) => ({ name: need(x.name, 'name'), created_at: t, updated_at: t })),
    created_at: t,
    updated_at: t,
  };
  if (!['public', 'private'].includes(n.visibility))
    throw new ApiError(
      400,
      `Provided object does not match schema 'namespace': '${n.visibility}' is not one of ['public', 'private']`,
    );
  if (typeof n.protected !== 'boolean')
    throw new ApiError(400, "Provided object does not match schema 'namespace': 'protected' is not of type 'boolean'");
  await svc.metadefs.insert(n);
  reply.code(201);
  return nsView(n);
}

export async function showNamespace(svc: ImageService, req: FastifyRequest<{ Params: { ns: string } }>) {
  return nsView(await loadNamespace(svc, req, req.params.ns, 'get_metadef_namespace'));
}

export async function updateNamespace(svc: ImageService, req: FastifyRequest<{ Params: { ns: string } }>) {
  const n = await loadNamespace(svc, req, req.params.ns, 'modify_metadef_namespace');
  const b = (req.body ?? {}) as NamespaceBody;
  const old = n.namespace;
  n.namespace = need(b.namespace ?? n.namespace, 'namespace');
  for (const k of ['display_name', 'description', 'visibility', 'protected', 'owner'] as const)
    if (b[k] !== undefined) (n as unknown as Record<string, unknown>)[k] = b[k];
  await svc.metadefs.save(n, old);
  return nsView(n);
}

export async function deleteNamespace(
  svc: ImageService,
  req: FastifyRequest<{ Params: { ns: string } }>,
  reply: FastifyReply,
) {
  const n = await loadNamespace(svc, req, req.params.ns, 'delete_metadef_namespace');
  if (n.protected) throw new ApiError(403, `Namespace ${n.namespace} is protected and cannot be deleted.`);
  await svc.metadefs.delete(n.namespace);
  return reply.code(204).send();
}

// Objects
export async function listObjects(svc: ImageService, req: FastifyRequest<{ Params: { ns: string } }>) {
  const n = await loadNamespace(svc, req, req.params.ns, 'get_metadef_objects');
  return { objects: n.objects.map((o) => objView(n, o)), schema: 'v2/schemas/metadefs/objects' };
}

export async function createObject(
  svc: ImageService,
  req: FastifyRequest<{ Params: { ns: string } }>,
  reply: FastifyReply,
) {
  const n = await loadNamespace(svc, req, req.params.ns, 'add_metadef_object');
  const b = (req.body ?? {}) as ObjectBody;
  const name = need(b.name, 'name');
  if (n.objects.some((o) => o.name === name))
    throw new ApiError(
      409,
      `A metadata definition object with name=${name} already exists in namespace=${n.namespace}.`,
    );
  const t = now();
  const o = {
    name,
    description: b.description,
    required: b.required ?? [],
    properties: b.properties ?? {},
    created_at: t,
    updated_at: t,
  };
  n.objects.push(o);
  await svc.metadefs.save(n);
  reply.code(201);
  return objView(n, o);
}

export async function deleteObjects(
  svc: ImageService,
  req: FastifyRequest<{ Params: { ns: string } }>,
  reply: FastifyReply,
) {
  const n = await loadNamespace(svc, req, req.params.ns, 'delete_metadef_namespace');
  n.objects = [];
  await svc.metadefs.save(n);
  return reply.code(204).send();
}

export async function showObject(svc: ImageService, req: FastifyRequest<{ Params: { ns: string; name: string } }>) {
  const n = await loadNamespace(svc, req, req.params.ns, 'get_metadef_object');
  return objView(n, findObj(n, req.params.name));
}

export async function updateObject(svc: ImageService, req: FastifyRequest<{ Params: { ns: string; name: string } }>) {
  const n = await loadNamespace(svc, req, req.params.ns, 'modify_metadef_object');
  const o = findObj(n, req.params.name);
  const b = (req.body ?? {}) as ObjectBody;
  const name = need(b.name ?? o.name, 'name');
  if (name !== o.name && n.objects.some((x) => x.name === name))
    throw new ApiError(
      409,
      `A metadata definition object with name=${name} already exists in namespace=${n.namespace}.`,
    );
  Object.assign(o, {
    name,
    description: b.description ?? o.description,
    required: b.required ?? o.required,
    properties: b.properties ?? o.properties,
    updated_at: now(),
  });
  await svc.metadefs.save(n);
  return objView(n, o);
}

export async function deleteObject(
  svc: ImageService,
  req: FastifyRequest<{ Params: { ns: string; name: string } }>,
  reply: FastifyReply,
) {
  const n = await loadNamespace(svc, req, req.params.ns, 'delete_metadef_object');
  const o = findObj(n, req.params.name);
  n.objects = n.objects.filter((x) => x !== o);
  await svc.metadefs.save(n);
  return reply.code(204).send();
}

// Properties
export async function listProperties(svc: ImageService, req: FastifyRequest<{ Params: { ns: string } }>) {
  const n = await loadNamespace(svc, req, req.params.ns, 'get_metadef_properties');
  return { properties: n.properties };
}

export async function createProperty(
  svc: ImageService,
  req: FastifyRequest<{ Params: { ns: string } }>,
  reply: FastifyReply,
) {
  const n = await loadNamespace(svc, req, req.params.ns, 'add_metadef_property');
  const { name: sent, ...def } = (req.body ?? {}) as PropertyBody;
  const name = need(sent, 'name');
  if (typeof def.title !== 'string' || typeof def.type !== 'string')
    throw new ApiError(
      400,
      "Provided object does not match schema 'property': 'title' and 'type' are required properties",
    );
  if (n.properties[name])
    throw new ApiError(
      409,
      `A metadata definition property with name=${name} already exists in namespace=${n.namespace}.`,
    );
  n.properties[name] = def;
  await svc.metadefs.save(n);
  reply.code(201);
  return { name, ...def };
}

export async function deleteProperties(
  svc: ImageService,
  req: FastifyRequest<{ Params: { ns: string } }>,
  reply: FastifyReply,
) {
  const n = await loadNamespace(svc, req, req.params.ns, 'delete_metadef_namespace');
  n.properties = {};
  await svc.metadefs.save(n);
  return reply.code(204).send();
}

export async function showProperty(svc: ImageService, req: FastifyRequest<{ Params: { ns: string; name: string } }>) {
  const n = await loadNamespace(svc, req, req.params.ns, 'get_metadef_property');
  const rt = (req.query as Record<string, string>).resource_type as string | undefined;
  let name = req.params.name;
  const prefix = rt && n.resource_type_associations.find((r) => r.name === rt)?.prefix;
  if (prefix && name.startsWith(prefix)) name = name.slice(prefix.length);
  return { name, ...findProp(n, name) };
}

export async function updateProperty(svc: ImageService, req: FastifyRequest<{ Params: { ns: string; name: string } }>) {
  const n = await loadNamespace(svc, req, req.params.ns, 'modify_metadef_property');
  findProp(n, req.params.name);
  const { name = req.params.name, ...def } = (req.body ?? {}) as PropertyBody;
  if (name !== req.params.name && n.properties[name])
    throw new ApiError(
      409,
      `A metadata definition property with name=${name} already exists in namespace=${n.namespace}.`,
    );
  delete n.properties[req.params.name];
  n.properties[name] = def;
  await svc.metadefs.save(n);
  return { name, ...def };
}

export async function deleteProperty(
  svc: ImageService,
  req: FastifyRequest<{ Params: { ns: string; name: string } }>,
  reply: FastifyReply,
) {
  const n = await loadNamespace(svc, req, req.params.ns, 'remove_metadef_property');
  findProp(n, req.params.name);
  delete n.properties[req.params.name];
  await svc.metadefs.save(n);
  return reply.code(204).send();
}

// Tags
export async function listTags(svc: ImageService, req: FastifyRequest<{ Params: { ns: string } }>) {
  const n = await loadNamespace(svc, req, req.params.ns, 'get_metadef_tags');
  return { tags: n.tags.map(tagView) };
}

export async function createTags(
  svc: ImageService,
  req: FastifyRequest<{ Params: { ns: string } }>,
  reply: FastifyReply,
) {
  const n = await loadNamespace(svc, req, req.params.ns, 'add_metadef_tags');
  const list = (req.body as NamespaceBody | undefined)?.tags ?? [];
  const t = now();
  const names = list.map((x) => need(x?.name, 'name'));
  if (new Set(names).size !== names.length) throw new ApiError(409, 'Duplicate tags in the request.');
  const append = String(req.headers['x-openstack-append'] ?? '').toLowerCase() === 'true';
  if (append) {
    for (const nm of names)
      if (n.tags.some((x) => x.name === nm))
        throw new ApiError(409, `A metadata tag with name=${nm} already exists in namespace=${n.namespace}.`);
  }
  n.tags = [...(append ? n.tags : []), ...names.map((name) => ({ name, created_at: t, updated_at: t }))];
  await svc.metadefs.save(n);
  reply.code(201);
  return { tags: names.map((name) => ({ name })) };
}

export async function deleteTags(
  svc: ImageService,
  req: FastifyRequest<{ Params: { ns: string } }>,
  reply: FastifyReply,
) {
  const n = await loadNamespace(svc, req, req.params.ns, 'delete_metadef_tags');
  n.tags = [];
  await svc.metadefs.save(n);
  return reply.code(204).send();
}

export async function showTag(svc: ImageService, req: FastifyRequest<{ Params: { ns: string; name: string } }>) {
  const n = await loadNamespace(svc, req, req.params.ns, 'get_metadef_tag');
  return tagView(findTag(n, req.params.name));
}

export async function createTag(
  svc: ImageService,
  req: FastifyRequest<{ Params: { ns: string; name: string } }>,
  reply: FastifyReply,
) {
  const n = await loadNamespace(svc, req, req.params.ns, 'add_metadef_tag');
  const name = need(req.params.name, 'name');
  if (n.tags.some((x) => x.name === name))
    throw new ApiError(409, `A metadata tag with name=${name} already exists in namespace=${n.namespace}.`);
  const t = now();
  const tag = { name, created_at: t, updated_at: t };
  n.tags.push(tag);
  await svc.metadefs.save(n);
  reply.code(201);
  return tagView(tag);
}

export async function updateTag(svc: ImageService, req: FastifyRequest<{ Params: { ns: string; name: string } }>) {
  const n = await loadNamespace(svc, req, req.params.ns, 'modify_metadef_tag');
  const tag = findTag(n, req.params.name);
  const name = need((req.body as { name?: unknown } | undefined)?.name, 'name');
  if (name !== tag.name && n.tags.some((x) => x.name === name))
    throw new ApiError(409, `A metadata tag with name=${name} already exists in namespace=${n.namespace}.`);
  tag.name = name;
  tag.updated_at = now();
  await svc.metadefs.save(n);
  return tagView(tag);
}

export async function deleteTag(
  svc: ImageService,
  req: FastifyRequest<{ Params: { ns: string; name: string } }>,
  reply: FastifyReply,
) {
  const n = await loadNamespace(svc, req, req.params.ns, 'delete_metadef_tag');
  const tag = findTag(n, req.params.name);
  n.tags = n.tags.filter((x) => x !== tag);
  await svc.metadefs.save(n);
  return reply.code(204).send();
}

// Resource types
export async function listResourceTypes(svc: ImageService, req: FastifyRequest) {
  req.authorize('list_metadef_resource_types', { project_id: req.ctx?.projectId });
  // Glance creates a resource type the first time a namespace is associated with it.
  const t = '2014-08-28T17:13:06Z';
  const seen = new Map<string, string>(RESOURCE_TYPES.map((n) => [n, t]));
  for (const n of await svc.metadefs.list()) {
    for (const a of n.resource_type_associations) if (!seen.has(a.name)) seen.set(a.name, a.created_at);
  }
  return {
    resource_types: [...seen].map(([name, at]) => ({ name, created_at: isotime(at), updated_at: isotime(at) })),
  };
}

export async function listResourceTypeAssociations(svc: ImageService, req: FastifyRequest<{ Params: { ns: string } }>) {
  const n = await loadNamespace(svc, req, req.params.ns, 'get_metadef_resource_type');
  return { resource_type_associations: n.resource_type_associations.map(rtView) };
}

export async function createResourceTypeAssociation(
  svc: ImageService,
  req: FastifyRequest<{ Params: { ns: string } }>,
  reply: FastifyReply,
) {
  const n = await loadNamespace(svc, req, req.params.ns, 'add_metadef_resource_type_association');
  const b = (req.body ?? {}) as ResourceTypeBody;
  const name = need(b.name, 'name');
  if (n.resource_type_associations.some((r) => r.name === name))
    throw new ApiError(
      409,
      `The metadata definition resource-type association of resource-type=${name} to namespace=${n.namespace}, already exists.`,
    );
  const t = now();
  const r = { name, prefix: b.prefix, properties_target: b.properties_target, created_at: t, updated_at: t };
  n.resource_type_associations.push(r);
  await svc.metadefs.save(n);
  reply.code(201);
  return rtView(r);
}

export async function deleteResourceTypeAssociation(
  svc: ImageService,
  req: FastifyRequest<{ Params: { ns: string; name: string } }>,
  reply: FastifyReply,
) {
  const n = await loadNamespace(svc, req, req.params.ns, 'remove_metadef_resource_type_association');
  if (!n.resource_type_associations.some((r) => r.name === req.params.name))
    throw new ApiError(404, `Failed to find resource type ${req.params.name} in namespace ${n.namespace}.`);
  n.resource_type_associations = n.resource_type_associations.filter((r) => r.name !== req.params.name);
  await svc.metadefs.save(n);
  return reply.code(204).send();
}

export async function showMetadefSchema(_svc: ImageService, req: FastifyRequest<{ Params: { kind: string } }>) {
  const name = SCHEMAS[req.params.kind];
  if (!name) throw new ApiError(404, 'The resource could not be found.');
  return { name, properties: {}, additionalProperties: false };
}
