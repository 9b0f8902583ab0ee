// Trunks (`trunk`, `trunk-details`), as neutron's trunk plugin and its rules answer: a parent
// port carries subports, each tagged with a segmentation type and id (VLAN), or inheriting
// its network's segmentation. A trunk is DOWN until the agent of its parent's host wires it
// (agent/agent.ts reports it ACTIVE); ports that are parents or subports cannot be deleted.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from '../../core/errors.ts';
import type { NetworkService } from '../service.ts';
import type { Tx } from './resource.ts';
import type { PortResource } from './types.ts';
import { badInput, invalidInput, toBoolean, toString, toUuid } from './validate.ts';
import { UUID_LIKE } from '../../core/validate.ts';
import { pyRepr, pyStr } from '../../core/python.ts';
import { extrasState } from './extras_state.ts';
import { NetworkContext } from '../context.ts';
import { portInUse } from './core_common.ts';

const trunkNotFound = (id: string) => new ApiError(404, `Trunk ${id} could not be found.`, 'TrunkNotFound');
const parentInUse = (id: string) =>
  new ApiError(409, `Port ${id} is currently in use and is not eligible for use as a parent port.`, 'ParentPortInUse');

/** neutron_lib's validate_subports: the message, or undefined when the list is well formed. */
function subportsError(data: unknown): string | undefined {
  if (!Array.isArray(data)) return `Invalid data format for subports: '${pyStr(data)}' is not a list`;
  const ids = new Set<string>();
  const segs = new Map<string, Set<unknown>>();
  for (const s of data) {
    if (!s || typeof s !== 'object' || Array.isArray(s))
      return `Invalid data format for subport: '${pyStr(s)}' is not a dict`;
    const sp = s as Record<string, unknown>;
    if (!('port_id' in sp)) return 'A valid port UUID must be specified';
    if (typeof sp.port_id !== 'string' || !UUID_LIKE.test(sp.port_id))
      return `Invalid UUID for subport: '${pyStr(sp.port_id)}'`;
    if (ids.has(sp.port_id)) return `Non unique UUID for subport: '${sp.port_id}'`;
    ids.add(sp.port_id);
    const type = sp.segmentation_type;
    // Upstream stops looking at the list at the first subport that inherits its segmentation.
    if (type === 'inherit') return undefined;
    const segId = sp.segmentation_id;
    if ((!type || segId === null || segId === undefined) && Object.keys(sp).length > 1) {
      return `Invalid subport details '${pyRepr(sp)}': missing segmentation information. Must specify both segmentation_id and segmentation_type`;
    }
    if (segs.get(String(type))?.has(segId))
      return `Segmentation ID '${pyStr(segId)}' for '${sp.port_id}' is not unique`;
    if (segId !== null && segId !== undefined) segs.set(String(type), (segs.get(String(type)) ?? new Set()).add(segId));
  }
  return undefined;
}

/** A subport as a request gives it (subportsError checked its shape). */
interface SubportRequest {
  port_id: string;
  segmentation_type?: string | null;
  segmentation_id?: number | null;
}

interface Subport {
  port_id: string;
  segmentation_type: string;
  segmentation_id: number;
}

async function subportsOf(tx: Tx, trunkIds: string[]): Promise<Map<string, Subport[]>> {
  const out = new Map<string, Subport[]>();
  if (!trunkIds.length) return out;
  const rows = await tx
    .selectFrom('subports')
    .selectAll()
    .where('trunk_id', 'in', trunkIds)
    .orderBy('segmentation_type')
    .orderBy('segmentation_id')
    .execute();
  for (const r of rows as Array<Subport & { trunk_id: string }>) {
    out.set(r.trunk_id, [
      ...(out.get(r.trunk_id) ?? []),
      { segmentation_id: Number(r.segmentation_id), segmentation_type: r.segmentation_type, port_id: r.port_id },
    ]);
  }
  return out;
}

/** Upstream's can_be_trunked_or_untrunked: unbound ports always; bound ones if our driver wires them and may trunk bound ports. */
function canTrunk(svc: NetworkService, port: PortResource): boolean {
  if (!port['binding:host_id']) return true;
  const { mechanism, server } = extrasState(svc);
  const ours =
    port['binding:vif_type'] === mechanism.vifType &&
    !!server.cachedAgent(mechanism.agentType, port['binding:host_id']);
  return ours && !!mechanism.trunk?.canTrunkBoundPort;
}

/** TrunkPortValidator: a port may be in one trunk only, as parent or as subport. */
async function checkFree(tx: Tx, portId: string) {
  if (await tx.selectFrom('subports').select('port_id').where('port_id', '=', portId).executeTakeFirst()) {
    throw new ApiError(409, `Port ${portId} is in use by another trunk.`, 'TrunkPortInUse');
  }
  if (await tx.selectFrom('trunks').select('id').where('port_id', '=', portId).executeTakeFirst())
    throw parentInUse(portId);
}

async function mtuOf(tx: Tx, networkId: string): Promise<number | undefined> {
  const n = await tx.selectFrom('networks').select('mtu').where('id', '=', networkId).executeTakeFirst();
  return n ? Number(n.mtu) : undefined;
}

/** SubPortsValidator with trunk validation: the subports as they will be stored. */
async function validateSubports(
  svc: NetworkService,
  ctx: NetworkContext,
  tx: Tx,
  parent: PortResource,
  items: SubportRequest[],
  trunkId?: string,
): Promise<Subport[]> {
  const { mechanism } = extrasState(svc);
  const types = mechanism.trunk?.segmentationTypes ?? [];
  const parentMtu = await mtuOf(tx, parent.network_id);
  const out: Subport[] = [];
  for (const item of items) {
    const s = { ...item };
    if (s.port_id === parent.id) throw parentInUse(s.port_id);
    // Ports the caller cannot see have no MTU here; they fail below with PortNotFound.
    const seen = await tx.selectFrom('ports').select(['network_id']).where('id', '=', s.port_id).executeTakeFirst();
    if (s.segmentation_type === 'inherit' && seen) {
      const seg = await tx
        .selectFrom('network_segments')
        .select(['network_type', 'segmentation_id'])
        .where('network_id', '=', seen.network_id)
        .orderBy('segment_index')
        .executeTakeFirst();
      s.segmentation_type = seg?.network_type;
      s.segmentation_id = seg?.segmentation_id;
    }
    const subMtu = seen ? await mtuOf(tx, seen.network_id) : undefined;
    if (parentMtu && subMtu && subMtu > parentMtu) {
      throw new ApiError(
        409,
        `MTU ${subMtu} of subport ${s.port_id} cannot be greater than MTU ${parentMtu} of trunk ${parent.id}.`,
        'SubPortMtuGreaterThanTrunkPortMtu',
      );
    }
    if (
      s.segmentation_type === undefined ||
      s.segmentation_id === undefined ||
      s.segmentation_type === null ||
      s.segmentation_id === null
    ) {
      throw invalidInput(
        `Invalid subport details '${pyRepr(item)}': missing segmentation information. Must specify both segmentation_id and segmentation_type`,
      );
    }
    const segId =
      typeof s.segmentation_id === 'number'
        ? s.segmentation_id
        : typeof s.segmentation_id === 'string' && /^-?\d+$/.test(s.segmentation_id)
          ? Number(s.segmentation_id)
          : NaN;
    if (!Number.isInteger(segId))
      throw invalidInput(`Invalid subport details: segmentation_id '${pyStr(s.segmentation_id)}' is not an integer`);
    if (!types.includes(s.segmentation_type))
      throw invalidInput(`Unknown segmentation_type '${pyStr(s.segmentation_type)}'`);
    if (s.segmentation_type === 'vlan' && (segId < 1 || segId > 4094))
      throw invalidInput(`Segmentation ID '${segId}' is not in range`);
    await checkFree(tx, s.port_id);
    const port = await svc.resource('ports').load(ctx, s.port_id, tx);
    if (port.device_id) throw portInUse(port);
    if (
      trunkId &&
      (await tx
        .selectFrom('subports')
        .select('port_id')
        .where('trunk_id', '=', trunkId)
        .where('segmentation_type', '=', s.segmentation_type)
        .where('segmentation_id', '=', segId)
        .executeTakeFirst())
    ) {
      throw new ApiError(
        409,
        `segmentation_type ${s.segmentation_type} and segmentation_id ${segId} already in use on trunk ${trunkId}.`,
        'DuplicateSubPort',
      );
    }
    out.push({ port_id: s.port_id, segmentation_type: s.segmentation_type, segmentation_id: segId });
  }
  return out;
}

export function defineTrunks(svc: NetworkService) {
  const ports = () => svc.resource('ports');
  svc.define({
    singular: 'trunk',
    plural: 'trunks',
    table: 'trunks',
    attrs: {
      name: { post: true, put: true, default: '', validate: (v, n) => toString(v, n, 255) },
      admin_state_up: { type: 'boolean', post: true, put: true, default: true, validate: (v, n) => toBoolean(v, n) },
      status: {},
      port_id: { post: true, required: true, validate: (v, n) => toUuid(v, n) },
      sub_ports: {
        column: false,
        post: true,
        default: [],
        filter: false,
        validate: (v, n) => {
          const m = subportsError(v);
          if (m) throw badInput(n, m);
          return v;
        },
      },
    },
    notFound: trunkNotFound,
    async beforeCreate(values, ctx, tx) {
      await checkFree(tx, values.port_id);
      const parent = await ports().load(ctx, values.port_id, tx);
      if (!canTrunk(svc, parent)) throw parentInUse(parent.id);
      values.sub_ports = await validateSubports(svc, ctx, tx, parent, values.sub_ports ?? []);
      values.status = 'DOWN';
    },
    async afterCreate(view, values, _req, tx) {
      for (const sp of values.sub_ports as Subport[])
        await tx
          .insertInto('subports')
          .values({ ...sp, trunk_id: view.id })
          .execute();
    },
    async expand(views, _req, tx) {
      const subs = await subportsOf(
        tx,
        views.map((v) => v.id),
      );
      for (const v of views) v.sub_ports = subs.get(v.id) ?? [];
    },
    async checkDelete(existing) {
      if (!existing.admin_state_up)
        throw new ApiError(409, `Trunk ${existing.id} is currently disabled.`, 'TrunkDisabled');
      const parent = await ports()
        .load(extrasState(svc).server.context(), existing.port_id)
        .catch(() => undefined);
      if (parent && !canTrunk(svc, parent))
        throw new ApiError(409, `Trunk ${existing.id} is currently in use.`, 'TrunkInUse');
    },
    async committed(_event, view) {
      await tellParentsAgent(svc, view.port_id);
    },
  });
}

/** The parent's agent re-reads the port (its trunk_details) when the trunk changes, if the parent is bound. */
async function tellParentsAgent(svc: NetworkService, portId: string) {
  const { server, notifier } = extrasState(svc);
  const parent = await svc
    .resource('ports')
    .load(server.context(), portId)
    .catch(() => undefined);
  if (parent?.['binding:host_id']) notifier.portUpdated(parent);
}

/** trunk_details on parent ports; ports in a trunk cannot be deleted; an unbound parent's trunk goes DOWN. */
export function extendForTrunks(svc: NetworkService) {
  if (!svc.resources.has('ports')) return;
  svc.extend('ports', {
    attrs: { trunk_details: { column: false, filter: false } },
    async expand(views, _req, tx, created) {
      if (created) return; // a port just created is no trunk's parent yet
      const trunks = (await tx
        .selectFrom('trunks')
        .select(['id', 'port_id'])
        .where(
          'port_id',
          'in',
          views.map((v) => v.id),
        )
        .execute()) as Array<{ id: string; port_id: string }>;
      if (!trunks.length) return;
      const subs = await subportsOf(
        tx,
        trunks.map((t) => t.id),
      );
      const subIds = [...subs.values()].flat().map((s) => s.port_id);
      const macs = new Map(
        subIds.length
          ? (await tx.selectFrom('ports').select(['id', 'mac_address']).where('id', 'in', subIds).execute()).map(
              (r) => [r.id, r.mac_address],
            )
          : [],
      );
      const byPort = new Map(trunks.map((t) => [t.port_id, t.id]));
      for (const v of views) {
        const trunkId = byPort.get(v.id);
        if (trunkId)
          v.trunk_details = {
            trunk_id: trunkId,
            sub_ports: (subs.get(trunkId) ?? []).map((s) => ({ ...s, mac_address: macs.get(s.port_id) })),
          };
      }
    },
    async checkDelete(existing) {
      const sub = await svc.db
        .selectFrom('subports')
        .select('trunk_id')
        .where('port_id', '=', existing.id)
        .executeTakeFirst();
      if (sub)
        throw new ApiError(
          409,
          `Port ${existing.id} is currently a subport for trunk ${sub.trunk_id}.`,
          'PortInUseAsSubPort',
        );
      const trunk = await svc.db
        .selectFrom('trunks')
        .select('id')
        .where('port_id', '=', existing.id)
        .executeTakeFirst();
      if (trunk)
        throw new ApiError(
          409,
          `Port ${existing.id} is currently a parent port for trunk ${trunk.id}.`,
          'PortInUseAsTrunkParent',
        );
    },
    async afterUpdate(view, existing, _changes, _req, tx) {
      if (existing['binding:vif_type'] !== view['binding:vif_type'] && view['binding:vif_type'] === 'unbound') {
        await tx
          .updateTable('trunks')
          .set({ status: 'DOWN' })
          .where('port_id', '=', view.id)
          .where('status', '!=', 'DOWN')
          .execute();
      }
    },
  });
}

export function trunkRoutes(app: FastifyInstance, svc: NetworkService) {
  const trunks = () => svc.resource('trunks');

  const subportsBody = (req: FastifyRequest): SubportRequest[] => {
    const b = req.body as Record<string, unknown> | undefined;
    const items = b && typeof b === 'object' ? b.sub_ports : undefined;
    const m = subportsError(items);
    if (m) throw invalidInput(m);
    return items as SubportRequest[];
  };

  const action = async (req: FastifyRequest, name: 'add_subports' | 'remove_subports') => {
    const ctx = NetworkContext.of(req.context);
    const { id } = req.params as { id: string };
    const trunk = await trunks().find(ctx, id, 'get');
    trunks().enforce(ctx, name, await trunks().policyTarget(trunk, ctx));
    const view = await svc.transaction(async (tx) => {
      const t = await tx.selectFrom('trunks').selectAll().where('id', '=', id).executeTakeFirst();
      if (!t) throw trunkNotFound(id);
      const disabled = () => new ApiError(409, `Trunk ${id} is currently disabled.`, 'TrunkDisabled');
      if (name === 'add_subports') {
        const items = subportsBody(req);
        const parent = await svc.resource('ports').load(extrasState(svc).server.context(), t.port_id, tx);
        const valid = await validateSubports(svc, ctx, tx, parent, items, id);
        if (!t.admin_state_up) throw disabled();
        if (t.status === 'ERROR')
          throw new ApiError(
            409,
            `Trunk ${id} is in error state. Attempt to resolve the error condition before proceeding.`,
            'TrunkInErrorState',
          );
        for (const s of valid)
          await tx
            .insertInto('subports')
            .values({ ...s, trunk_id: id })
            .execute();
      } else {
        if (!t.admin_state_up) throw disabled();
        for (const s of subportsBody(req)) {
          const gone = await tx
            .deleteFrom('subports')
            .where('trunk_id', '=', id)
            .where('port_id', '=', s.port_id)
            .executeTakeFirst();
          if (!Number(gone.numDeletedRows))
            throw new ApiError(404, `SubPort ${s.port_id} on trunk ${id} could not be found.`, 'SubPortNotFound');
        }
      }
      if (t.status !== 'DOWN') await trunks().applyUpdate(trunk, { status: 'DOWN' }, ctx, tx);
      return trunks().loadInTx(id, ctx, tx);
    });
    svc.notify(ctx, `trunk.${name === 'add_subports' ? 'add' : 'remove'}_subports.end`, { trunk: view });
    await tellParentsAgent(svc, view.port_id);
    return trunks().present(view, ctx);
  };

  app.put('/v2.0/trunks/:id/add_subports', (req) => action(req, 'add_subports'));
  app.put('/v2.0/trunks/:id/remove_subports', (req) => action(req, 'remove_subports'));
  app.get('/v2.0/trunks/:id/get_subports', async (req) => {
    const ctx = NetworkContext.of(req.context);
    const { id } = req.params as { id: string };
    const trunk = await trunks().find(ctx, id, 'get');
    trunks().enforce(ctx, 'get_subports', await trunks().policyTarget(trunk, ctx));
    return { sub_ports: trunk.sub_ports };
  });
}
