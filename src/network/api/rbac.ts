// RBAC policies (/v2.0/rbac-policies: neutron/db/rbac_db_mixin.py and the callbacks of the
// objects they share, Zed): who may use a network, QoS policy, security group, address scope,
// subnet pool or address group of another project (access_as_shared), or a network as external
// (access_as_external). Only the object's owner (or an admin) writes them; a policy that
// other projects' resources depend on cannot be removed or retargeted.
import type { Transaction } from 'kysely';
import { ApiError } from '../../core/errors.ts';
import type { NetworkService } from '../service.ts';
import { timestamp } from './resource.ts';

/** The object an RBAC policy is about: a row of one of the target tables (named at run time). */
interface RbacObject {
  id: string;
  project_id: string | null;
  /** A subnet pool's. */
  address_scope_id?: string | null;
  /** A network's. */
  is_default?: number;
}
/** Every RBAC target table (TYPES below) has id and project_id. */
const asRbacObject = (row: Record<string, unknown>) => row as unknown as RbacObject;
import type { RbacPolicyResource } from './types.ts';
import { badInput, invalidInput, toString } from './validate.ts';
import { pyStr } from '../../core/python.ts';
import { UUID_LIKE } from '../../core/validate.ts';
import { sgNotFound } from './security_groups.ts';
import { addressGroupNotFound } from './address_groups.ts';
import { bumpRevision } from './resource.ts';
import { lockRow, namedTargets } from './core_common.ts';
import type { NetworkContext } from '../context.ts';
import { dynamic, type NetworkDb } from '../db/schema.ts';

const SHARED = 'access_as_shared';
const EXTERNAL = 'access_as_external';

interface ObjectType {
  table: string;
  notFound(id: string): ApiError;
  /** Projects whose resources use the object (get_bound_project_ids). */
  boundProjects(tx: Transaction<NetworkDb>, id: string): Promise<Set<string>>;
}

const projectsOf = async (q: { execute(): Promise<Array<{ project_id: string | null }>> }): Promise<Set<string>> =>
  new Set((await q.execute()).map((r) => r.project_id as string));

const TYPES: Record<string, ObjectType> = {
  network: {
    table: 'networks',
    notFound: (id) => new ApiError(404, `Network ${id} could not be found.`, 'NetworkNotFound'),
    boundProjects: (tx, id) =>
      projectsOf(tx.selectFrom('ports').select('project_id').distinct().where('network_id', '=', id)),
  },
  qos_policy: {
    table: 'qos_policies',
    notFound: (id) => new ApiError(404, `QoS policy ${id} could not be found.`, 'QosPolicyNotFound'),
    boundProjects: async (tx, id) =>
      new Set([
        ...(await projectsOf(tx.selectFrom('ports').select('project_id').distinct().where('qos_policy_id', '=', id))),
        ...(await projectsOf(
          tx.selectFrom('networks').select('project_id').distinct().where('qos_policy_id', '=', id),
        )),
      ]),
  },
  security_group: {
    table: 'securitygroups',
    notFound: sgNotFound,
    boundProjects: (tx, id) =>
      projectsOf(
        tx
          .selectFrom('ports')
          .select('ports.project_id')
          .distinct()
          .innerJoin('securitygroupportbindings', 'securitygroupportbindings.port_id', 'ports.id')
          .where('securitygroupportbindings.security_group_id', '=', id),
      ),
  },
  address_scope: {
    table: 'address_scopes',
    notFound: (id) => new ApiError(404, `Address scope ${id} could not be found.`, 'AddressScopeNotFound'),
    boundProjects: (tx, id) =>
      projectsOf(tx.selectFrom('subnetpools').select('project_id').distinct().where('address_scope_id', '=', id)),
  },
  subnetpool: {
    table: 'subnetpools',
    notFound: (id) => new ApiError(404, `Subnet pool ${id} could not be found.`, 'SubnetPoolNotFound'),
    boundProjects: (tx, id) =>
      projectsOf(tx.selectFrom('subnets').select('project_id').distinct().where('subnetpool_id', '=', id)),
  },
  address_group: {
    table: 'address_groups',
    notFound: addressGroupNotFound,
    boundProjects: (tx, id) =>
      projectsOf(
        tx.selectFrom('securitygrouprules').select('project_id').distinct().where('remote_address_group_id', '=', id),
      ),
  },
};

const inUse = (objectId: string, details: string) =>
  new ApiError(
    409,
    `RBAC policy on object ${objectId} cannot be removed because other objects depend on it.\nDetails: ${details}`,
    'RbacPolicyInUse',
  );

export function defineRbac(svc: NetworkService, tables: Set<string>) {
  const types = () => Object.keys(TYPES).filter((t) => tables.has(TYPES[t]!.table));
  const validActions = (type: string) =>
    type === 'network' && svc.extensions.some((e) => e.alias === 'external-net') ? [SHARED, EXTERNAL] : [SHARED];
  const has = async (
    tx: Transaction<NetworkDb>,
    where: Partial<Record<'object_type' | 'object_id' | 'action' | 'target_tenant', string | string[]>>,
    exceptId?: string,
  ) => {
    let q = tx.selectFrom('rbac_policies').select('id');
    for (const [k, v] of Object.entries(where) as Array<[keyof typeof where, string | string[]]>)
      q = Array.isArray(v) ? q.where(k, 'in', v) : q.where(k, '=', v);
    if (exceptId) q = q.where('id', '!=', exceptId);
    return !!(await q.limit(1).executeTakeFirst());
  };

  /** The object a policy is about, which the caller must own unless an admin. */
  async function ownedObject(
    p: RbacPolicyResource,
    ctx: NetworkContext,
    tx: Transaction<NetworkDb>,
  ): Promise<RbacObject> {
    const t = TYPES[p.object_type]!;
    // Policies on one object are written one at a time (the duplicate checks stay true).
    await lockRow(tx, t.table, p.object_id);
    const obj = await dynamic(tx).selectFrom(t.table).selectAll().where('id', '=', p.object_id).executeTakeFirst();
    if (!obj) throw t.notFound(p.object_id);
    if (!svc.isAdmin(ctx) && obj.project_id !== ctx.projectId) {
      const pid = ctx.projectId ?? '';
      // A network the caller cannot see at all is not found (upstream's _get_network).
      if (
        p.object_type === 'network' &&
        !(await has(tx, { object_type: 'network', object_id: p.object_id, target_tenant: ['*', pid] }))
      )
        throw t.notFound(p.object_id);
      throw invalidInput(
        `Only admins can manipulate policies on ${p.object_type === 'network' ? 'networks' : 'objects'} they do not own`,
      );
    }
    return asRbacObject(obj);
  }

  /** Whether `target` may lose the access a policy gives it (RBAC_POLICY BEFORE_DELETE callbacks). */
  async function checkRevoke(
    p: RbacPolicyResource,
    target: string,
    obj: RbacObject,
    tx: Transaction<NetworkDb>,
    newTarget?: string,
  ) {
    const base = { object_type: p.object_type, object_id: p.object_id };
    if (p.action === SHARED) {
      if (target === obj.project_id) return;
      if (p.object_type === 'network') {
        // ensure_no_tenant_ports_on_network
        let ports = tx.selectFrom('ports').select('id').where('network_id', '=', p.object_id);
        if (target === '*') {
          const others = await namedTargets(tx, 'network', p.object_id, SHARED);
          ports = ports.where('project_id', 'not in', [...others, obj.project_id]);
        } else {
          if (await has(tx, { ...base, action: SHARED, target_tenant: '*' })) return;
          ports = ports.where('project_id', '=', target);
        }
        if (await ports.limit(1).executeTakeFirst())
          throw inUse(
            p.object_id,
            `Unable to reconfigure sharing settings for network ${p.object_id}. Multiple tenants are using it.`,
          );
        return;
      }
      const bound = await TYPES[p.object_type]!.boundProjects(tx, p.object_id);
      if (obj.project_id !== null) bound.delete(obj.project_id);
      if (target !== '*') {
        if (await has(tx, { ...base, action: SHARED, target_tenant: '*' })) return;
        if (bound.has(target)) throw inUse(p.object_id, `project_id=${target}`);
        return;
      }
      const others = new Set(await namedTargets(tx, p.object_type, p.object_id, SHARED));
      if ([...bound].some((x) => !others.has(x))) throw inUse(p.object_id, `project_id=${target}`);
      return;
    }
    if (p.object_type === 'network' && p.action === EXTERNAL) {
      // Routers with a gateway on the network that depend on this policy (_validate_ext_not_in_use_by_tenant).
      if (!tables.has('routers')) return;
      const gwPorts = tx.selectFrom('ports').select('id').where('network_id', '=', p.object_id);
      let routers = tx.selectFrom('routers').select('id').where('gw_port_id', 'in', gwPorts);
      if (target !== '*') {
        if (await has(tx, { ...base, action: EXTERNAL, target_tenant: '*' })) return;
        routers = routers.where('project_id', '=', target);
      } else {
        if (obj.is_default !== undefined && Number(obj.is_default) === 1)
          throw inUse(p.object_id, 'Default external networks must be shared to everyone.');
        const keep = await namedTargets(tx, 'network', p.object_id, EXTERNAL);
        if (newTarget) keep.push(newTarget);
        if (keep.length) routers = routers.where('project_id', 'not in', keep);
      }
      if (await routers.limit(1).executeTakeFirst())
        throw inUse(p.object_id, 'There are routers attached to this network that depend on this policy for access.');
    }
  }

  const bumpNetwork = async (tx: Transaction<NetworkDb>, p: RbacPolicyResource) => {
    if (p.object_type === 'network') await bumpRevision(tx, 'networks', p.object_id);
  };
  /** Address scopes and subnet pools keep a `shared` column in step with their '*' policy (core's tables). */
  const syncShared = async (tx: Transaction<NetworkDb>, p: RbacPolicyResource, shared: boolean) => {
    if (
      p.action === SHARED &&
      p.target_tenant === '*' &&
      (p.object_type === 'address_scope' || p.object_type === 'subnetpool')
    ) {
      await dynamic(tx)
        .updateTable(TYPES[p.object_type]!.table)
        .set({ shared: shared ? 1 : 0 })
        .where('id', '=', p.object_id)
        .execute();
    }
  };
  const duplicate = () => new ApiError(409, 'An RBAC policy already exists with those values.', 'DuplicateRbacPolicy');

  return svc.define({
    singular: 'rbac_policy',
    plural: 'rbac_policies',
    table: 'rbac_policies',
    quota: 'rbac_policy',
    standard: false,
    tags: false,
    notFound: (id) => new ApiError(404, `RBAC policy of type unknown with ID ${id} not found`, 'RbacPolicyNotFound'),
    attrs: {
      object_type: {
        post: true,
        required: true,
        validate: (v) => {
          const t = typeof v === 'string' ? v.trim().toLowerCase() : undefined;
          if (!t || !types().includes(t)) throw invalidInput(`'${pyStr(v)}' is not a valid RBAC object type`);
          return t;
        },
      },
      object_id: {
        post: true,
        required: true,
        validate: (v, n) => {
          if (typeof v !== 'string' || !UUID_LIKE.test(v)) throw badInput(n, `'${pyStr(v)}' is not a valid UUID`);
          return v;
        },
      },
      target_tenant: { post: true, put: true, required: true, validate: (v, n) => toString(v, n, 255) },
      action: { post: true, required: true, validate: (v, n) => toString(v, n, 255) },
      // The table's bookkeeping columns; RBAC policies have no standard attributes.
      created_at: { visible: false, filter: false },
      updated_at: { visible: false, filter: false },
    },
    async beforeCreate(values, ctx, tx) {
      const obj = await ownedObject(values, ctx, tx);
      const actions = validActions(values.object_type);
      if (!actions.includes(values.action)) {
        throw new ApiError(
          400,
          `Invalid action '${values.action}' for object type '${values.object_type}'. Valid actions: (${actions.map((a) => `'${a}'`).join(', ')}${actions.length === 1 ? ',' : ''})`,
          'InvalidActionForType',
        );
      }
      if (
        values.object_type === 'subnetpool' &&
        obj.address_scope_id &&
        values.action === SHARED &&
        !(await has(tx, {
          object_type: 'address_scope',
          object_id: obj.address_scope_id,
          action: SHARED,
          target_tenant: ['*', values.target_tenant],
        }))
      ) {
        throw invalidInput(
          `Failed to create RBAC policy on object ${values.object_id} because target project doesn't have access to associated address scope.`,
        );
      }
      if (
        await has(tx, {
          object_type: values.object_type,
          object_id: values.object_id,
          action: values.action,
          target_tenant: values.target_tenant,
        })
      )
        throw duplicate();
      values.created_at = values.updated_at = timestamp();
    },
    async afterCreate(view, _values, _req, tx) {
      await bumpNetwork(tx, view);
      await syncShared(tx, view, true);
      // A network shared as external becomes an external network.
      if (view.object_type === 'network' && view.action === EXTERNAL)
        await tx.updateTable('networks').set({ router_external: 1 }).where('id', '=', view.object_id).execute();
    },
    async beforeUpdate(existing, changes, ctx, tx) {
      if (!('target_tenant' in changes) || changes.target_tenant === existing.target_tenant) return;
      const obj = await ownedObject(existing, ctx, tx);
      // Generic objects check the old target only when the new one is not everyone.
      if (existing.object_type === 'network' || changes.target_tenant !== '*')
        await checkRevoke(existing, existing.target_tenant, obj, tx, changes.target_tenant);
      if (
        await has(tx, {
          object_type: existing.object_type,
          object_id: existing.object_id,
          action: existing.action,
          target_tenant: changes.target_tenant,
        })
      )
        throw duplicate();
      await syncShared(tx, existing, false);
      changes.updated_at = timestamp();
    },
    async afterUpdate(view, _existing, _changes, _req, tx) {
      await bumpNetwork(tx, view);
      await syncShared(tx, view, true);
    },
    async beforeDelete(existing, _req, tx) {
      const t = TYPES[existing.object_type];
      const obj =
        t &&
        (await dynamic(tx).selectFrom(t.table).selectAll().where('id', '=', existing.object_id).executeTakeFirst());
      if (!obj) return;
      await checkRevoke(existing, existing.target_tenant, asRbacObject(obj), tx);
      await bumpNetwork(tx, existing);
      await syncShared(tx, existing, false);
      if (
        existing.object_type === 'network' &&
        existing.action === EXTERNAL &&
        !(await has(tx, { object_type: 'network', object_id: existing.object_id, action: EXTERNAL }, existing.id))
      ) {
        await tx.updateTable('networks').set({ router_external: 0 }).where('id', '=', existing.object_id).execute();
      }
    },
  });
}
