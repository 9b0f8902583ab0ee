// Images: rows, visibility, the view Glance renders, and the create/patch rules (read-only and
// reserved attributes, the image schema's types) as glance/api/v2/images.py applies them.
import { randomUUID } from 'node:crypto';
import type { Insertable, Kysely, Selectable, Updateable } from 'kysely';
import type { ImageDb, ImageTable, ImageMemberTable } from './db/schema.ts';
import type { AuthContext } from '../core/auth.ts';
import { ApiError } from '../core/errors.ts';
import { bool, json, now } from '../core/db.ts';
import type { PropertyGuard } from './protections.ts';
import { isUuidLike } from '../core/validate.ts';

export const DISK_FORMATS = ['ami', 'ari', 'aki', 'vhd', 'vhdx', 'vmdk', 'raw', 'qcow2', 'vdi', 'iso', 'ploop'];
export const CONTAINER_FORMATS = ['ami', 'ari', 'aki', 'bare', 'ovf', 'ova', 'docker', 'compressed'];
export const VISIBILITIES = ['public', 'private', 'shared', 'community'];
const DISALLOWED = ['direct_url', 'self', 'file', 'schema', 'stores'];
export const READONLY = [
  'created_at',
  'updated_at',
  'status',
  'checksum',
  'size',
  'virtual_size',
  'direct_url',
  'self',
  'file',
  'schema',
  'id',
  'os_hash_algo',
  'os_hash_value',
];
const RESERVED = ['location', 'deleted', 'deleted_at'];
const RESERVED_NS = 'os_glance';
export const BASE = [
  'checksum',
  'created_at',
  'container_format',
  'disk_format',
  'id',
  'min_disk',
  'min_ram',
  'name',
  'size',
  'virtual_size',
  'status',
  'tags',
  'owner',
  'updated_at',
  'visibility',
  'protected',
  'os_hidden',
];
export const SORT_KEYS = [
  'name',
  'status',
  'container_format',
  'disk_format',
  'size',
  'id',
  'created_at',
  'updated_at',
];
/** Glance's image_property_quota, image_tag_quota, image_member_quota defaults. */
export const PROPERTY_QUOTA = 128,
  TAG_QUOTA = 128,
  MEMBER_QUOTA = 128;

export interface Image {
  id: string;
  name: string | null;
  disk_format: string | null;
  container_format: string | null;
  size: number | null;
  virtual_size: number | null;
  status: string;
  visibility: string;
  checksum: string | null;
  os_hash_algo: string | null;
  os_hash_value: string | null;
  min_disk: number;
  min_ram: number;
  protected: boolean;
  os_hidden: boolean;
  owner: string | null;
  properties: Record<string, string>;
  tags: string[];
  locations: Location[];
  created_at: string;
  updated_at: string;
}

/** Where an image's bytes are: the store that reads them, its URL, and the location's metadata. */
export interface Location {
  store: string;
  url: string;
  metadata?: Record<string, unknown>;
}

/** What an image view shows beyond the base attributes (Glance's show_multiple_locations, show_image_direct_url). */
export interface ViewOptions {
  locations?: boolean;
  directUrl?: boolean;
}

const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));

export function fromRow(r: Selectable<ImageTable>): Image {
  return {
    id: r.id,
    name: r.name ?? null,
    disk_format: r.disk_format ?? null,
    container_format: r.container_format ?? null,
    size: num(r.size),
    virtual_size: num(r.virtual_size),
    status: r.status,
    visibility: r.visibility,
    checksum: r.checksum ?? null,
    os_hash_algo: r.os_hash_algo ?? null,
    os_hash_value: r.os_hash_value ?? null,
    min_disk: Number(r.min_disk),
    min_ram: Number(r.min_ram),
    protected: bool(r.protected),
    os_hidden: bool(r.os_hidden),
    owner: r.owner ?? null,
    properties: json(r.properties, {}),
    tags: json(r.tags, []),
    locations: json(r.locations, []),
    created_at: r.created_at,
    updated_at: r.updated_at,
  };
}

export function toRow(i: Image): Insertable<ImageTable> {
  return {
    id: i.id,
    name: i.name,
    disk_format: i.disk_format,
    container_format: i.container_format,
    size: i.size,
    virtual_size: i.virtual_size,
    status: i.status,
    visibility: i.visibility,
    checksum: i.checksum,
    os_hash_algo: i.os_hash_algo,
    os_hash_value: i.os_hash_value,
    min_disk: i.min_disk,
    min_ram: i.min_ram,
    protected: i.protected ? 1 : 0,
    os_hidden: i.os_hidden ? 1 : 0,
    owner: i.owner,
    properties: JSON.stringify(i.properties),
    tags: JSON.stringify(i.tags),
    locations: JSON.stringify(i.locations),
    created_at: i.created_at,
    updated_at: i.updated_at,
  };
}

/** Glance's timeutils.isotime: seconds precision, Z. */
export const isotime = (s: string) => s.replace(/\.\d+Z$/, 'Z');

export function imageView(i: Image, opts: ViewOptions = {}): Record<string, unknown> {
  const v: Record<string, unknown> = { ...i.properties };
  for (const k of [
    'name',
    'disk_format',
    'container_format',
    'visibility',
    'size',
    'virtual_size',
    'status',
    'checksum',
    'protected',
    'min_ram',
    'min_disk',
    'owner',
    'os_hidden',
    'os_hash_algo',
    'os_hash_value',
  ] as const)
    v[k] = i[k];
  v.id = i.id;
  v.created_at = isotime(i.created_at);
  v.updated_at = isotime(i.updated_at);
  v.tags = [...i.tags];
  v.self = `/v2/images/${i.id}`;
  v.file = `/v2/images/${i.id}/file`;
  v.schema = '/v2/schemas/image';
  if (opts.locations) v.locations = i.locations.map(locationView);
  if (opts.directUrl && i.locations.length) v.direct_url = i.locations[0]!.url;
  // Multi-store Glance names the stores the data is in; read-only http locations are in none.
  const stores = [...new Set(i.locations.map((l) => l.store).filter((s) => s !== 'http'))];
  if (stores.length) v.stores = stores.join(',');
  return v;
}

/** A location as Glance shows it: url and metadata (with the store for data Glance wrote itself). */
export function locationView(l: Location) {
  return { url: l.url, metadata: l.metadata ?? (l.store === 'http' ? {} : { store: l.store }) };
}

export function isAdmin(ctx: AuthContext | undefined) {
  return !!ctx?.roles.includes('admin');
}

const schemaError = (msg: string) => new ApiError(400, `Provided object does not match schema 'image': ${msg}`);

/** The image schema's checks for one base or extra attribute. */
export function validateAttribute(key: string, value: unknown) {
  const str = (max: number, nullable = true) => {
    if (value === null && nullable) return;
    if (typeof value !== 'string') throw schemaError(`${JSON.stringify(value)} is not of type 'string'`);
    if (value.length > max) throw schemaError(`'${value}' is too long`);
  };
  switch (key) {
    case 'name':
    case 'owner':
      return str(255);
    case 'id':
      if (typeof value !== 'string' || !isUuidLike(value))
        throw schemaError(`'${String(value)}' does not match the uuid pattern`);
      return;
    case 'visibility':
      if (typeof value !== 'string' || !VISIBILITIES.includes(value))
        throw schemaError(`${JSON.stringify(value)} is not one of ${JSON.stringify(VISIBILITIES)}`);
      return;
    case 'protected':
    case 'os_hidden':
      if (typeof value !== 'boolean') throw schemaError(`${JSON.stringify(value)} is not of type 'boolean'`);
      return;
    case 'min_ram':
    case 'min_disk':
      if (typeof value !== 'number' || !Number.isInteger(value))
        throw schemaError(`${JSON.stringify(value)} is not of type 'integer'`);
      if (value < 0) throw schemaError(`${value} is less than the minimum of 0`);
      if (value > 2 ** 31 - 1) throw schemaError(`${value} is greater than the maximum of 2147483647`);
      return;
    case 'disk_format':
      if (value !== null && (typeof value !== 'string' || !DISK_FORMATS.includes(value)))
        throw schemaError(`${JSON.stringify(value)} is not one of ${JSON.stringify([null, ...DISK_FORMATS])}`);
      return;
    case 'container_format':
      if (value !== null && (typeof value !== 'string' || !CONTAINER_FORMATS.includes(value)))
        throw schemaError(`${JSON.stringify(value)} is not one of ${JSON.stringify([null, ...CONTAINER_FORMATS])}`);
      return;
    case 'tags':
      if (!Array.isArray(value)) throw schemaError(`${JSON.stringify(value)} is not of type 'array'`);
      for (const t of value) {
        if (typeof t !== 'string') throw schemaError(`${JSON.stringify(t)} is not of type 'string'`);
        if (t.length > 255) throw schemaError(`'${t}' is too long`);
      }
      return;
    default:
      if (typeof value !== 'string') throw schemaError(`${JSON.stringify(value)} is not of type 'string'`);
  }
}

function checkQuotas(i: Image) {
  if (Object.keys(i.properties).length > PROPERTY_QUOTA)
    throw new ApiError(
      413,
      `Maximum number of image properties exceeded. (attempted ${Object.keys(i.properties).length}, max ${PROPERTY_QUOTA})`,
    );
  if (i.tags.length > TAG_QUOTA)
    throw new ApiError(413, `Maximum number of tags exceeded. (attempted ${i.tags.length}, max ${TAG_QUOTA})`);
}

/** Builds a new image from a create body (POST /v2/images). Policy is checked by the caller. */
export function newImage(body: unknown, ctx: AuthContext): Image {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new ApiError(400, 'Body expected in request.');
  const b = { ...(body as Record<string, unknown>) };
  for (const k of DISALLOWED) if (k in b) throw new ApiError(403, `Attribute '${k}' is read-only.`);
  for (const [k, v] of Object.entries(b)) validateAttribute(k, v);
  for (const k of READONLY) if (k !== 'id' && k in b) throw new ApiError(403, `Attribute '${k}' is read-only.`);
  const t = now();
  const img: Image = {
    id: typeof b.id === 'string' ? b.id : randomUUID(),
    name: (b.name as string) ?? null,
    disk_format: (b.disk_format as string) ?? null,
    container_format: (b.container_format as string) ?? null,
    size: null,
    virtual_size: null,
    status: 'queued',
    visibility: (b.visibility as string) ?? 'shared',
    checksum: null,
    os_hash_algo: null,
    os_hash_value: null,
    min_disk: (b.min_disk as number) ?? 0,
    min_ram: (b.min_ram as number) ?? 0,
    protected: (b.protected as boolean) ?? false,
    os_hidden: (b.os_hidden as boolean) ?? false,
    owner: b.owner !== undefined ? (b.owner as string | null) : (ctx.projectId ?? null),
    properties: {},
    tags: [...new Set((b.tags as string[]) ?? [])],
    locations: [],
    created_at: t,
    updated_at: t,
  };
  for (const [k, v] of Object.entries(b)) {
    if (BASE.includes(k)) continue;
    if (k.length > 255) throw new ApiError(400, 'Custom property should not be greater than 255 characters.');
    if (RESERVED.includes(k) || k.startsWith(RESERVED_NS)) throw new ApiError(403, `Attribute '${k}' is reserved.`);
    img.properties[k] = v as string;
  }
  checkQuotas(img);
  return img;
}

export interface Change {
  op: 'add' | 'replace' | 'remove';
  path: string[];
  value?: unknown;
  draft?: 4 | 10;
}

function decodePointer(p: unknown): string[] {
  if (typeof p !== 'string') throw new ApiError(400, "Unable to find 'path' in JSON Schema change");
  if (!p.startsWith('/')) throw new ApiError(400, `Pointer \`${p}\` does not start with "/".`);
  if (/\/\s*?\//.test(p.slice(1))) throw new ApiError(400, `Pointer \`${p}\` contains adjacent "/".`);
  if (p.length > 1 && p.endsWith('/')) throw new ApiError(400, `Pointer \`${p}\` end with "/".`);
  if (/~[^01]/.test(p) || p.endsWith('~'))
    throw new ApiError(400, `Pointer \`${p}\` contains "~" not part of a recognized escape sequence.`);
  return p
    .replace(/^\/+/, '')
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~').trim());
}

/** Parses and validates a JSON patch body (the deserializer's part of PATCH). */
export function parseChanges(body: unknown, draft: 4 | 10 = 10): Change[] {
  if (!Array.isArray(body)) throw new ApiError(400, 'Request body must be a JSON array of operation objects.');
  const out: Change[] = [];
  for (const raw of body) {
    if (!raw || typeof raw !== 'object' || Array.isArray(raw))
      throw new ApiError(400, 'Operations must be JSON objects.');
    const fields = raw as Record<string, unknown>;
    let op: Change['op'], rawPath: unknown;
    if (draft === 4) {
      // The v2.0 patch media type names the operation by its key: {"replace": "/name", "value": ...}.
      const ops = ['add', 'remove', 'replace'].filter((k) => k in raw);
      if (ops.length > 1)
        throw new ApiError(400, 'Operation objects must contain only one member named "add", "remove", or "replace".');
      if (!ops.length)
        throw new ApiError(
          400,
          'Operation objects must contain exactly one member named "add", "remove", or "replace".',
        );
      op = ops[0] as Change['op'];
      rawPath = fields[op];
    } else {
      op = fields.op as Change['op'];
      if (op === undefined)
        throw new ApiError(
          400,
          'Unable to find `op` in JSON Schema change. It must be one of the following: add, remove, replace.',
        );
      if (!['add', 'remove', 'replace'].includes(op))
        throw new ApiError(400, `Invalid operation: \`${op}\`. It must be one of the following: add, remove, replace.`);
      if (!('path' in raw)) throw new ApiError(400, "Unable to find 'path' in JSON Schema change");
      rawPath = fields.path;
    }
    const path = decodePointer(rawPath);
    const depth = path[0] === 'locations' ? ({ add: 2, remove: 2, replace: 1 } as Record<string, number>)[op] : 1;
    if (path.length !== depth || !path[0])
      throw new ApiError(400, `Invalid JSON pointer for this resource: '/${path.join('/')}'`);
    const c: Change = { op, path, draft };
    if (op !== 'remove') {
      if (!('value' in raw)) throw new ApiError(400, `Operation "${op}" requires a member named "value".`);
      c.value = fields.value;
    }
    const root = path[0]!;
    if (READONLY.includes(root) || DISALLOWED.includes(root))
      throw new ApiError(403, `Attribute '${root}' is read-only.`);
    if (RESERVED.includes(root) || root.startsWith(RESERVED_NS))
      throw new ApiError(403, `Attribute '${root}' is reserved.`);
    if (op !== 'remove') {
      if (root !== 'locations') validateAttribute(root, c.value);
      else if (op === 'add') validateLocation(c.value);
      else {
        if (!Array.isArray(c.value)) throw schemaError(`${JSON.stringify(c.value)} is not of type 'array'`);
        for (const l of c.value) validateLocation(l);
      }
    }
    out.push(c);
  }
  return out;
}

/** A location value of a patch, against the image schema's `locations` items. */
export function validateLocation(v: unknown) {
  if (!v || typeof v !== 'object' || Array.isArray(v))
    throw schemaError(`${JSON.stringify(v)} is not of type 'object'`);
  const l = v as Record<string, unknown>;
  for (const k of ['url', 'metadata']) if (!(k in l)) throw schemaError(`'${k}' is a required property`);
  if (typeof l.url !== 'string') throw schemaError(`${JSON.stringify(l.url)} is not of type 'string'`);
  if (l.url.length > 255) throw schemaError(`'${l.url}' is too long`);
  if (!l.metadata || typeof l.metadata !== 'object' || Array.isArray(l.metadata))
    throw schemaError(`${JSON.stringify(l.metadata)} is not of type 'object'`);
  if ('validation_data' in l) {
    const d = l.validation_data as Record<string, unknown>;
    if (!d || typeof d !== 'object' || Array.isArray(d))
      throw schemaError(`${JSON.stringify(d)} is not of type 'object'`);
    for (const k of Object.keys(d))
      if (!['checksum', 'os_hash_algo', 'os_hash_value'].includes(k))
        throw schemaError(`Additional properties are not allowed ('${k}' was unexpected)`);
    for (const k of ['os_hash_algo', 'os_hash_value'])
      if (!(k in d)) throw schemaError(`'${k}' is a required property`);
    for (const [k, max, min] of [
      ['checksum', 32, 32],
      ['os_hash_algo', 64, 0],
      ['os_hash_value', 128, 0],
    ] as const) {
      if (!(k in d)) continue;
      const x = d[k];
      if (typeof x !== 'string') throw schemaError(`${JSON.stringify(x)} is not of type 'string'`);
      if (x.length > max) throw schemaError(`'${x}' is too long`);
      if (x.length < min) throw schemaError(`'${x}' is too short`);
    }
  }
}

/** Changes of `/locations`, applied by the service (they need the stores and their own policies). */
export type LocationChange = (i: Image, c: Change) => Promise<void>;

/** Applies changes to a copy of the image; `can` answers policy questions (publicize, communitize). */
export async function applyChanges(
  img: Image,
  changes: Change[],
  ctx: AuthContext,
  can: (rule: string) => void,
  locations: LocationChange,
  guard?: PropertyGuard,
): Promise<Image> {
  // With property protections, a property the caller cannot read does not exist for it.
  const exists = (i: Image, k: string) => k in i.properties && (!guard || guard.readable(k));
  const i: Image = {
    ...img,
    properties: { ...img.properties },
    tags: [...img.tags],
    locations: img.locations.map((l) => ({ ...l })),
  };
  for (const c of changes) {
    const root = c.path[0]!;
    if (root === 'locations') {
      await locations(i, c);
      continue;
    }
    if (c.op === 'remove') {
      if (BASE.includes(root)) throw new ApiError(403, `Property ${root} may not be removed.`);
      if (!exists(i, root)) throw new ApiError(409, `Property ${root} does not exist.`);
      guard?.require(root, 'delete');
      delete i.properties[root];
      continue;
    }
    if (root === 'owner' && !isAdmin(ctx)) throw new ApiError(403, "Owner can't be updated by non admin.");
    if (c.op === 'add' && c.draft === 4 && (BASE.includes(root) || exists(i, root)))
      throw new ApiError(409, `Property ${root} already present.`);
    if (BASE.includes(root)) {
      if (root === 'visibility' && c.value !== i.visibility) {
        if (c.value === 'public') can('publicize_image');
        if (c.value === 'community') can('communitize_image');
      }
      if ((root === 'disk_format' || root === 'container_format') && c.value !== i[root] && i.status !== 'queued') {
        throw new ApiError(403, `Attribute ${root} can be only replaced for a queued image.`);
      }
      (i as unknown as Record<string, unknown>)[root] = root === 'tags' ? [...new Set(c.value as string[])] : c.value;
    } else {
      if (c.op === 'replace' && !exists(i, root)) throw new ApiError(409, `Property ${root} does not exist.`);
      if (root.length > 255) throw new ApiError(400, 'Custom property should not be greater than 255 characters.');
      guard?.require(root, exists(i, root) ? 'update' : 'create');
      i.properties[root] = c.value as string;
    }
  }
  checkQuotas(i);
  return i;
}

export class ImageRepo {
  constructor(private db: Kysely<ImageDb>) {}
  async get(id: string): Promise<Image | undefined> {
    const r = await this.db.selectFrom('images').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? fromRow(r) : undefined;
  }
  async insert(i: Image) {
    await this.db.insertInto('images').values(toRow(i)).execute();
  }
  async save(i: Image, fields?: Partial<Record<keyof Image, unknown>>) {
    const row = toRow(i);
    const set: Updateable<ImageTable> = fields
      ? Object.fromEntries(Object.keys(fields).map((k) => [k, row[k as keyof typeof row]]))
      : row;
    await this.db.updateTable('images').set(set).where('id', '=', i.id).execute();
  }
  /** Moves status from one of `from` to `to`; false when another request changed it first. */
  async transition(id: string, from: string[], to: string, extra: Updateable<ImageTable> = {}): Promise<boolean> {
    const r = await this.db
      .updateTable('images')
      .set({ status: to, updated_at: now(), ...extra })
      .where('id', '=', id)
      .where('status', 'in', from)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }
  async remove(id: string) {
    await this.db.deleteFrom('image_members').where('image_id', '=', id).execute();
    await this.db.deleteFrom('images').where('id', '=', id).execute();
  }
  async all(): Promise<Image[]> {
    return (await this.db.selectFrom('images').selectAll().execute()).map(fromRow);
  }
  async members(imageId: string) {
    return this.db
      .selectFrom('image_members')
      .selectAll()
      .where('image_id', '=', imageId)
      .orderBy('created_at')
      .execute();
  }
  async member(imageId: string, memberId: string) {
    return this.db
      .selectFrom('image_members')
      .selectAll()
      .where('image_id', '=', imageId)
      .where('member_id', '=', memberId)
      .executeTakeFirst();
  }
  async addMember(row: Insertable<ImageMemberTable>) {
    await this.db.insertInto('image_members').values(row).execute();
  }
  async setMemberStatus(imageId: string, memberId: string, status: string, updatedAt: string) {
    await this.db
      .updateTable('image_members')
      .set({ status, updated_at: updatedAt })
      .where('image_id', '=', imageId)
      .where('member_id', '=', memberId)
      .execute();
  }
  async removeMember(imageId: string, memberId: string) {
    await this.db
      .deleteFrom('image_members')
      .where('image_id', '=', imageId)
      .where('member_id', '=', memberId)
      .execute();
  }
  async membershipsOf(projectId: string): Promise<Map<string, string>> {
    const rows = await this.db
      .selectFrom('image_members')
      .select(['image_id', 'status'])
      .where('member_id', '=', projectId)
      .execute();
    return new Map(rows.map((r) => [r.image_id, r.status]));
  }
}
