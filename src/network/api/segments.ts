// Network segments: ML2's type drivers (flat, vxlan, local) that validate and reserve a
// segment, the provider/multi-provider attributes they back, and the `segment` extension's
// /v2.0/segments resource.
import { sql, type Selectable, type Transaction } from 'kysely';
import { ApiError } from '../../core/errors.ts';
import type { NetworkService } from '../service.ts';
import { standardColumns, type Tx } from './resource.ts';
import type { NetworkResource } from './types.ts';
import { invalidInput, toInt, toString, toStringOrNull, toUuid } from './validate.ts';
import { pyStr } from '../../core/python.ts';
import { inChunks, isPostgres, notFound } from './core_common.ts';
import type { NetworkDb, NetworkSegmentTable } from '../db/schema.ts';

type SegmentRow = Selectable<NetworkSegmentTable>;

export interface SegmentRequest {
  network_type: string;
  physical_network: string | null;
  segmentation_id: number | null;
}
export interface ReservedSegment extends SegmentRequest {
  allocation: string | null;
}

/** VXLAN's encapsulation overhead over IPv4 (neutron's IP header 20 + VXLAN 30). */
const VXLAN_OVERHEAD = 50;
const MAX_VNI = 2 ** 24 - 1;

/** The configured type drivers (neutron's [ml2] settings with DevStack's defaults): project networks are VXLAN. */
export function typeConfig(svc: NetworkService) {
  const cfg = svc.config;
  const ranges = String(cfg.vniRanges ?? '1:1000')
    .split(',')
    .map((r) => r.trim())
    .filter(Boolean)
    .map((r) => {
      const [a, b] = r.split(':').map(Number);
      return [a!, b ?? a!] as [number, number];
    });
  return { tenantTypes: ['vxlan'], flatNetworks: cfg.flatNetworks ?? ['public'], vniRanges: ranges };
}

const SUPPORTED = ['flat', 'vxlan', 'local'];

/** The type driver's validate_provider_segment. */
export function validateSegment(svc: NetworkService, s: SegmentRequest) {
  const type = s.network_type;
  if (!SUPPORTED.includes(type)) throw invalidInput(`network_type value '${type}' not supported`);
  if (type === 'flat') {
    if (!s.physical_network) throw invalidInput('physical_network required for flat provider network');
    const flat = typeConfig(svc).flatNetworks;
    if (!flat.includes('*') && !flat.includes(s.physical_network))
      throw invalidInput(`physical_network '${s.physical_network}' unknown for flat provider network`);
    if (s.segmentation_id) throw invalidInput('segmentation_id prohibited for flat provider network');
  } else if (type === 'vxlan') {
    if (s.physical_network) throw invalidInput(`provider:physical_network specified for ${type} network`);
    if (s.segmentation_id !== null && (s.segmentation_id < 1 || s.segmentation_id > MAX_VNI))
      throw invalidInput(`segmentation_id out of range (1 through ${MAX_VNI})`);
  } else {
    if (s.physical_network) throw invalidInput('physical_network prohibited for local provider network');
    if (s.segmentation_id) throw invalidInput('segmentation_id prohibited for local provider network');
  }
}

/** The MTU a segment type allows (0: no limit), as the type drivers' get_mtu. */
export function segmentMtu(svc: NetworkService, type: string): number {
  if (type === 'vxlan') return svc.mtu - VXLAN_OVERHEAD;
  if (type === 'flat') return svc.mtu;
  return 0;
}

/** ML2 _get_network_mtu: the smallest segment MTU, else the physical network MTU. */
export function maxMtu(svc: NetworkService, types: string[]): number {
  const mtus = types.map((t) => segmentMtu(svc, t)).filter((m) => m > 0);
  return mtus.length ? Math.min(...mtus) : svc.mtu;
}

/**
 * Reserves a segment as the type drivers do (reserve_provider_segment / allocate_tenant_segment):
 * a flat physical network or a VNI belongs to one segment. The `allocation` column's unique key
 * is the guarantee; the lock makes concurrent reservations wait instead of failing.
 */
export async function reserveSegment(
  svc: NetworkService,
  tx: Transaction<NetworkDb>,
  s: SegmentRequest,
): Promise<ReservedSegment> {
  if (isPostgres(tx)) await sql`select pg_advisory_xact_lock(hashtext('network_segments'))`.execute(tx);
  const taken = async (allocation: string) =>
    !!(await tx.selectFrom('network_segments').select('id').where('allocation', '=', allocation).executeTakeFirst());
  if (s.network_type === 'flat') {
    const allocation = `flat:${s.physical_network}`;
    if (await taken(allocation))
      throw new ApiError(
        409,
        `Unable to create the flat network. Physical network ${s.physical_network} is in use.`,
        'FlatNetworkInUse',
      );
    return { ...s, segmentation_id: null, allocation };
  }
  if (s.network_type === 'local') return { ...s, allocation: null };
  if (s.segmentation_id !== null) {
    const allocation = `vxlan:${s.segmentation_id}`;
    if (await taken(allocation))
      throw new ApiError(
        409,
        `Unable to create the network. The tunnel ID ${s.segmentation_id} is in use.`,
        'TunnelIdInUse',
      );
    return { ...s, allocation };
  }
  // The lowest free VNI of the configured ranges.
  const used = new Set(
    (
      await tx.selectFrom('network_segments').select('segmentation_id').where('network_type', '=', 'vxlan').execute()
    ).map((r) => Number(r.segmentation_id)),
  );
  for (const [a, b] of typeConfig(svc).vniRanges) {
    for (let v = a; v <= b; v++)
      if (!used.has(v))
        return { network_type: 'vxlan', physical_network: null, segmentation_id: v, allocation: `vxlan:${v}` };
  }
  throw new ApiError(
    503,
    'Unable to create the network. No tenant network is available for allocation.',
    'NoNetworkAvailable',
  );
}

/** Stores a reserved segment of a network. */
export async function insertSegment(tx: Transaction<NetworkDb>, networkId: string, s: ReservedSegment, index: number) {
  await tx
    .insertInto('network_segments')
    .values({
      ...standardColumns(),
      network_id: networkId,
      name: null,
      network_type: s.network_type,
      physical_network: s.physical_network,
      segmentation_id: s.segmentation_id,
      segment_index: index,
      is_dynamic: 0,
      allocation: s.allocation,
    })
    .execute();
}

/** A tenant network's segment: the first tenant network type that has room. */
export function tenantSegment(svc: NetworkService): SegmentRequest {
  const type = typeConfig(svc).tenantTypes[0] ?? 'vxlan';
  return { network_type: type, physical_network: null, segmentation_id: null };
}

/** Provider attributes as the API carries them ('provider:network_type', ...) to a SegmentRequest. */
export function segmentFromProvider(src: Record<string, unknown>, prefix: string): SegmentRequest {
  const type = src[`${prefix}network_type`];
  if (type === undefined || type === null || type === '') throw invalidInput('network_type required');
  const physnet = src[`${prefix}physical_network`];
  const segid = src[`${prefix}segmentation_id`];
  return {
    network_type: String(type),
    physical_network: physnet === undefined || physnet === null || physnet === '' ? null : String(physnet),
    segmentation_id: segid === undefined || segid === null ? null : Number(segid),
  };
}

/** The multi-provider `segments` attribute: a list of dicts of provider keys. */
export function validateSegmentsAttr(v: unknown, name: string): SegmentRequest[] {
  if (!Array.isArray(v))
    throw new ApiError(
      400,
      `Invalid input for ${name}. Reason: Invalid data format for segments: '${pyStr(v)}'.`,
      'HTTPBadRequest',
    );
  const out = v.map((s) => {
    if (!s || typeof s !== 'object' || Array.isArray(s))
      throw new ApiError(
        400,
        `Invalid input for ${name}. Reason: '${pyStr(s)}' is not a dictionary.`,
        'HTTPBadRequest',
      );
    const d = s as Record<string, unknown>;
    const unknown = Object.keys(d).filter(
      (k) => !['provider:network_type', 'provider:physical_network', 'provider:segmentation_id'].includes(k),
    );
    if (unknown.length)
      throw new ApiError(
        400,
        `Invalid input for ${name}. Reason: Unrecognized attribute(s) '${unknown.join(', ')}'.`,
        'HTTPBadRequest',
      );
    if (d['provider:segmentation_id'] !== undefined && d['provider:segmentation_id'] !== null)
      d['provider:segmentation_id'] = toInt(d['provider:segmentation_id'], 'provider:segmentation_id');
    return segmentFromProvider(d, 'provider:');
  });
  const keys = out.map((s) => `${s.network_type}|${s.physical_network}|${s.segmentation_id}`);
  // multiprovidernet check_duplicate_segments (full segments only).
  if (out.some((s, i) => (s.network_type !== 'vxlan' || s.segmentation_id !== null) && keys.indexOf(keys[i]!) !== i)) {
    throw new ApiError(
      400,
      'Invalid input for operation: Duplicate segment entry in request.',
      'SegmentsContainDuplicateEntry',
    );
  }
  return out;
}

/** Segments of networks, in index order. */
export async function segmentsOf(tx: Tx, networkIds: string[]): Promise<Map<string, SegmentRow[]>> {
  const rows = await inChunks(networkIds, (c) =>
    tx
      .selectFrom('network_segments')
      .selectAll()
      .where('network_id', 'in', c)
      .orderBy('segment_index')
      .orderBy('id')
      .execute(),
  );
  const out = new Map<string, SegmentRow[]>();
  for (const r of rows) {
    const l = out.get(r.network_id) ?? [];
    l.push(r);
    out.set(r.network_id, l);
  }
  return out;
}

/** ML2 extend_network_with_provider_segments: one segment as provider:*, several as `segments`. */
export function providerView(view: NetworkResource, segments: SegmentRow[]) {
  const seg = (s: SegmentRow) => ({
    'provider:network_type': s.network_type,
    'provider:physical_network': s.physical_network ?? null,
    'provider:segmentation_id': s.segmentation_id === null ? null : Number(s.segmentation_id),
  });
  delete view.segments;
  if (segments.length > 1) {
    delete view['provider:network_type'];
    delete view['provider:physical_network'];
    delete view['provider:segmentation_id'];
    view.segments = segments.map(seg);
  } else
    Object.assign(
      view,
      segments.length
        ? seg(segments[0])
        : { 'provider:network_type': null, 'provider:physical_network': null, 'provider:segmentation_id': null },
    );
}

export function defineSegments(svc: NetworkService) {
  const ignored = {
    post: true,
    column: false as const,
    visible: false,
    filter: false,
    validate: (v: unknown, n: string) => toString(v, n, 255),
  };
  svc.define({
    singular: 'segment',
    plural: 'segments',
    table: 'network_segments',
    owned: false,
    tags: false,
    notFound: notFound.segment,
    attrs: {
      // Segments have no owner: a project given on create is accepted and dropped, as upstream.
      tenant_id: ignored,
      project_id: ignored,
      network_id: { post: true, required: true, validate: (v, n) => toUuid(v, n) },
      name: { post: true, put: true, default: null, validate: (v, n) => toStringOrNull(v, n, 255) },
      network_type: { post: true, required: true, validate: (v, n) => toString(v, n, 32) },
      physical_network: { post: true, default: null, validate: (v, n) => toStringOrNull(v, n, 64) },
      segmentation_id: {
        type: 'integer',
        post: true,
        default: null,
        validate: (v, n) => (v === null ? null : toInt(v, n)),
      },
      segment_index: { type: 'integer', visible: false, filter: false },
      is_dynamic: { type: 'boolean', visible: false, filter: false },
      allocation: { visible: false, filter: false },
    },
    async beforeCreate(values, _req, tx) {
      const net = await tx.selectFrom('networks').select('id').where('id', '=', values.network_id).executeTakeFirst();
      if (!net) throw notFound.network(values.network_id);
      const s: SegmentRequest = {
        network_type: values.network_type,
        physical_network: values.physical_network ?? null,
        segmentation_id: values.segmentation_id ?? null,
      };
      validateSegment(svc, s);
      const last = await tx
        .selectFrom('network_segments')
        .select('segment_index')
        .where('network_id', '=', values.network_id)
        .orderBy('segment_index', 'desc')
        .executeTakeFirst();
      const r = await reserveSegment(svc, tx, s);
      Object.assign(values, {
        segmentation_id: r.segmentation_id,
        allocation: r.allocation,
        segment_index: last ? Number(last.segment_index) + 1 : 0,
        is_dynamic: false,
      });
    },
    async beforeDelete(existing, _req, tx) {
      const subnets = await tx.selectFrom('subnets').select('id').where('segment_id', '=', existing.id).execute();
      if (subnets.length)
        throw new ApiError(
          409,
          `Segment '${existing.id}' cannot be deleted: The segment is still associated with subnet(s) ${subnets.map((s) => s.id).join(', ')}.`,
          'SegmentInUse',
        );
    },
    async committed(_event, view, ctx) {
      // The network's provider view changed: agents hear about the network again.
      try {
        svc.notifier.networkUpdated(await svc.resource('networks').loadInTx(view.network_id, ctx, svc.db));
      } catch {
        /* network gone */
      }
    },
  });
}
