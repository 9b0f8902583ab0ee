// Quality of Service (`qos`, `qos-bw-limit-direction`, `qos-default`, `qos-rule-type-details`,
// `qos-bw-minimum-ingress`, `qos-port-network-policy`), as neutron's qos_plugin answers:
// policies (shared through RBAC `access_as_shared` rows, one default per project) with their
// rules as sub-resources, the rule types the data plane supports, and `qos_policy_id` on
// networks and ports. The data plane hears about a port's policy through the device details
// (agent/server.ts).
import type { FastifyInstance } from 'fastify';
import type { Expression, ExpressionBuilder, SqlBool, Transaction } from 'kysely';
import { ApiError } from '../../core/errors.ts';
import type { NetworkService } from '../service.ts';
import { derivedFlag, hidden, bumpRevision, type Attr, type ResourceApi, type Tx } from './resource.ts';
import type { NetworkResource, PortResource, QosRuleResource } from './types.ts';
import { afterCommit, flushAfterCommit } from './l3_common.ts';
import { badInput, invalidInput, toBoolean, toString, toUuidOrNull } from './validate.ts';
import { pyStr } from '../../core/python.ts';
import type { QosParameter } from '../drivers/dataplane.ts';
import { VALID_DSCP_MARKS } from '../drivers/logical.ts';
import { extrasState } from './extras_state.ts';
import { NET_INFO, grantedIds, insertRbac, namedTargets, rbacGrants, type NetInfo } from './core_common.ts';
import { NetworkContext } from '../context.ts';
import { dynamic, type DynamicDb, type NetworkDb } from '../db/schema.ts';

const INT_MAX = 2 ** 31 - 1;
const DIRECTIONS = ['ingress', 'egress'];
/** Every rule type neutron knows (neutron_lib.services.qos.constants.VALID_RULE_TYPES). */
const VALID_RULE_TYPES = [
  'bandwidth_limit',
  'dscp_marking',
  'minimum_bandwidth',
  'minimum_packet_rate',
  'packet_rate_limit',
];

export const qosPolicyNotFound = (id: string) =>
  new ApiError(404, `QoS policy ${id} could not be found.`, 'QosPolicyNotFound');

/** converters.convert_to_int, then validators.validate_range, with their messages. */
function toIntInRange(v: unknown, name: string, min = 0, max = INT_MAX): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*-?\d+\s*$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n)) throw invalidInput(`'${pyStr(v)}' is not an integer`);
  if (n < min) throw badInput(name, `'${n}' is too small - must be at least '${min}'`);
  if (n > max) throw badInput(name, `'${n}' is too large - must be no larger than '${max}'`);
  return n;
}

/** validators.validate_values: its message names no values (upstream's own wording). */
function oneOf<T>(v: T, name: string, values: readonly unknown[]): T {
  if (!values.includes(v)) throw badInput(name, `${pyStr(v)} is not in valid_values`);
  return v;
}

/** Visible to the caller: admin, owner, or shared to '*' or to the caller's project. */
function visibleTo(ctx: NetworkContext, svc: NetworkService) {
  const pid = ctx.projectId ?? '';
  return <DB, TB extends keyof DB>(eb: ExpressionBuilder<DB, TB>): Expression<SqlBool> => {
    const d = eb as unknown as ExpressionBuilder<DynamicDb, string>;
    return svc.isAdmin(ctx)
      ? d.lit(true)
      : d.or([
          d('qos_policies.project_id', '=', pid),
          rbacGrants(d, 'qos_policy', 'qos_policies.id', pid, ['access_as_shared']),
        ]);
  };
}

/** The projects whose networks, ports and floating IPs use a policy (upstream's get_bound_project_ids). */
export async function qosBoundProjects(tx: Tx, policyId: string): Promise<Set<string>> {
  const out = new Set<string>();
  // floatingips (db/l3.ts) has its qos_policy_id column whether or not the l3 API is loaded.
  for (const table of ['networks', 'ports', 'floatingips']) {
    for (const r of await dynamic(tx)
      .selectFrom(table)
      .select('project_id')
      .distinct()
      .where('qos_policy_id', '=', policyId)
      .execute())
      out.add(r.project_id as string);
  }
  return out;
}

/** May the caller use (or detach) this policy? Answers the policy row, or undefined. */
async function usablePolicy(svc: NetworkService, ctx: NetworkContext, tx: Tx, id: string) {
  return tx
    .selectFrom('qos_policies')
    .select(['qos_policies.id', 'qos_policies.project_id'])
    .where('qos_policies.id', '=', id)
    .where(visibleTo(ctx, svc))
    .executeTakeFirst();
}

async function setDefault(tx: Transaction<NetworkDb>, projectId: string, policyId: string) {
  const current = await tx
    .selectFrom('qos_default_policies')
    .select('qos_policy_id')
    .where('project_id', '=', projectId)
    .executeTakeFirst();
  if (current && current.qos_policy_id !== policyId)
    throw new ApiError(409, `A default QoS policy exists for project ${projectId}.`, 'QoSPolicyDefaultAlreadyExists');
  if (!current)
    await tx.insertInto('qos_default_policies').values({ project_id: projectId, qos_policy_id: policyId }).execute();
}

async function shareRow(tx: Tx, policyId: string) {
  return tx
    .selectFrom('rbac_policies')
    .select('id')
    .where('object_type', '=', 'qos_policy')
    .where('object_id', '=', policyId)
    .where('action', '=', 'access_as_shared')
    .where('target_tenant', '=', '*')
    .executeTakeFirst();
}

/** Shares a policy with every project (its callers know it is not shared yet). */
const share = (tx: Tx, policyId: string, projectId: string) =>
  insertRbac(tx, { projectId, objectType: 'qos_policy', objectId: policyId, action: 'access_as_shared', target: '*' });

/** Unsharing removes the '*' row, unless projects other than those shared to explicitly use the policy (rbac_db). */
async function unshare(tx: Tx, policyId: string) {
  const row = await shareRow(tx, policyId);
  if (!row) return;
  const bound = await qosBoundProjects(tx, policyId);
  const targets = new Set(await namedTargets(tx, 'qos_policy', policyId, 'access_as_shared'));
  if ([...bound].some((p) => !targets.has(p))) {
    throw new ApiError(
      409,
      `RBAC policy on object ${policyId} cannot be removed because other objects depend on it.\nDetails: project_id=*`,
      'RbacPolicyInUse',
    );
  }
  await tx.deleteFrom('rbac_policies').where('id', '=', row.id).execute();
}

const bumpPolicy = (tx: Tx, policyId: string) => bumpRevision(tx, 'qos_policies', policyId);

/**
 * A policy's rules changed: after the commit, the L2 agents re-read the ports that use it (through
 * their network or their own `qos_policy_id`), as upstream pushes the policy to the agents.
 */
function rulesChanged(svc: NetworkService, ctx: NetworkContext, policyId: string) {
  afterCommit(ctx, async () => {
    const nets = await svc.db.selectFrom('networks').select('id').where('qos_policy_id', '=', policyId).execute();
    for (const n of nets) svc.notifier.networkUpdated({ id: n.id } as NetworkResource);
    const ports = await svc.db
      .selectFrom('ports')
      .select(['id', 'network_id'])
      .where('qos_policy_id', '=', policyId)
      .execute();
    for (const p of ports) svc.notifier.portUpdated({ id: p.id, network_id: p.network_id } as PortResource);
  });
}

interface RuleType {
  type: 'bandwidth_limit' | 'dscp_marking' | 'minimum_bandwidth';
  table: 'qos_bandwidth_limit_rules' | 'qos_dscp_marking_rules' | 'qos_minimum_bandwidth_rules';
  attrs: Record<string, Attr> /** Which rules of the policy a new one may not coexist with. */;
  sameSlot(a: QosRuleResource, b: QosRuleResource): boolean;
}

const RULE_TYPES: RuleType[] = [
  {
    type: 'bandwidth_limit',
    table: 'qos_bandwidth_limit_rules',
    attrs: {
      max_kbps: { type: 'integer', post: true, put: true, required: true, validate: (v, n) => toIntInRange(v, n) },
      max_burst_kbps: { type: 'integer', post: true, put: true, default: 0, validate: (v, n) => toIntInRange(v, n) },
      direction: { post: true, put: true, default: 'egress', validate: (v, n) => oneOf(v, n, DIRECTIONS) },
    },
    sameSlot: (a, b) => a.direction === b.direction,
  },
  {
    type: 'dscp_marking',
    table: 'qos_dscp_marking_rules',
    attrs: {
      dscp_mark: {
        type: 'integer',
        post: true,
        put: true,
        required: true,
        validate: (v, n) => oneOf(toIntInRange(v, n, -INT_MAX - 1), n, VALID_DSCP_MARKS),
      },
    },
    sameSlot: () => true,
  },
  {
    type: 'minimum_bandwidth',
    table: 'qos_minimum_bandwidth_rules',
    attrs: {
      min_kbps: { type: 'integer', post: true, put: true, required: true, validate: (v, n) => toIntInRange(v, n) },
      direction: { post: true, put: true, default: 'egress', validate: (v, n) => oneOf(v, n, DIRECTIONS) },
    },
    sameSlot: (a, b) => a.direction === b.direction,
  },
];

/** The rules of some policies as the policy shows them (`rules`: every type, with `type` and `qos_policy_id`). */
async function rulesOf(tx: Tx, policyIds: string[]): Promise<Map<string, QosRuleResource[]>> {
  const out = new Map<string, QosRuleResource[]>();
  if (!policyIds.length) return out;
  for (const rt of RULE_TYPES) {
    const rows = await tx
      .selectFrom(rt.table)
      .selectAll()
      .where('qos_policy_id', 'in', policyIds)
      .orderBy('id')
      .execute();
    for (const r of rows as Array<Record<string, unknown> & { id: string; qos_policy_id: string }>) {
      const rule: QosRuleResource = { id: r.id, qos_policy_id: r.qos_policy_id };
      const attrs = rule as Record<string, unknown>;
      for (const [k, a] of Object.entries(rt.attrs)) attrs[k] = a.type === 'integer' ? Number(r[k]) : r[k];
      rule.type = rt.type;
      out.set(r.qos_policy_id, [...(out.get(r.qos_policy_id) ?? []), rule]);
    }
  }
  return out;
}

/** A new or changed rule must not take another rule's slot, nor contradict a bandwidth limit (qos_policy_validator). */
async function checkRule(tx: Tx, rt: RuleType, rule: QosRuleResource) {
  const rules = (await rulesOf(tx, [rule.qos_policy_id])).get(rule.qos_policy_id) ?? [];
  for (const other of rules) {
    if (other.id === rule.id) continue;
    if (
      other.type === 'minimum_bandwidth' &&
      rt.type === 'bandwidth_limit' &&
      (other.min_kbps ?? 0) > (rule.max_kbps ?? 0)
    ) {
      throw new ApiError(
        409,
        `Unable to add the rule with value ${rule.max_kbps} to the policy ${rule.qos_policy_id} as the existing rule of type minimum_bandwidth has value ${other.min_kbps}.`,
        'QoSRuleParameterConflict',
      );
    }
    if (
      other.type === 'bandwidth_limit' &&
      rt.type === 'minimum_bandwidth' &&
      (other.max_kbps ?? 0) < (rule.min_kbps ?? 0)
    ) {
      throw new ApiError(
        409,
        `Unable to add the rule with value ${rule.min_kbps} to the policy ${rule.qos_policy_id} as the existing rule of type bandwidth_limit has value ${other.max_kbps}.`,
        'QoSRuleParameterConflict',
      );
    }
    if (other.type === rt.type && rt.sameSlot(other, rule)) {
      throw new ApiError(
        409,
        `Rule ${rt.type} conflicts with rule ${other.id} which already exists in QoS Policy ${rule.qos_policy_id}.`,
        'QoSRulesConflict',
      );
    }
  }
}

export function defineQos(svc: NetworkService) {
  const policies = svc.define({
    singular: 'policy',
    plural: 'policies',
    table: 'qos_policies',
    attrs: {
      name: { post: true, put: true, default: '', validate: (v, n) => toString(v, n, 255) },
      shared: derivedFlag(),
      is_default: derivedFlag(),
      rules: { column: false, filter: false },
    },
    notFound: qosPolicyNotFound,
    scope: (q, ctx) => q.where(visibleTo(ctx, svc)),
    filters: {
      shared: (q, values, ctx) => {
        const on = toBoolean(values[0], 'shared');
        const pid = ctx.projectId ?? '';
        return q.where((eb) => {
          const e = rbacGrants(eb, 'qos_policy', 'qos_policies.id', pid, ['access_as_shared']);
          return on ? e : eb.not(e);
        });
      },
      is_default: (q, values) =>
        q.where((eb) => {
          const e = eb.exists(
            eb
              .selectFrom('qos_default_policies')
              .select('qos_default_policies.project_id')
              .whereRef('qos_default_policies.qos_policy_id', '=', 'qos_policies.id'),
          );
          return toBoolean(values[0], 'is_default') ? e : eb.not(e);
        }),
    },
    async expand(views, ctx, tx) {
      const ids = views.map((v) => v.id);
      const rules = await rulesOf(tx, ids);
      const pid = ctx.projectId ?? '';
      const shared = await grantedIds(tx, 'qos_policy', ids, pid, 'access_as_shared');
      const defaults = new Set(
        (
          await tx
            .selectFrom('qos_default_policies')
            .select('qos_policy_id')
            .where('qos_policy_id', 'in', ids)
            .execute()
        ).map((r) => r.qos_policy_id),
      );
      for (const v of views) {
        v.rules = rules.get(v.id) ?? [];
        v.shared = shared.has(v.id);
        v.is_default = defaults.has(v.id);
      }
    },
    async afterCreate(view, values, _req, tx) {
      if (values.shared) await share(tx, view.id, view.project_id);
      if (values.is_default) await setDefault(tx, view.project_id, view.id);
    },
    async beforeUpdate(existing, changes, ctx, tx) {
      if (changes.shared === true && !(await shareRow(tx, existing.id)))
        await share(tx, existing.id, ctx.projectId ?? existing.project_id);
      if (changes.shared === false) await unshare(tx, existing.id);
      if (changes.is_default === true) await setDefault(tx, existing.project_id, existing.id);
      if (changes.is_default === false)
        await tx.deleteFrom('qos_default_policies').where('qos_policy_id', '=', existing.id).execute();
    },
    async beforeDelete(existing, _req, tx) {
      for (const [table, type] of [
        ['networks', 'network'],
        ['ports', 'port'],
        ['floatingips', 'floatingip'],
      ] as const) {
        const used = await tx
          .selectFrom(table)
          .select('id')
          .where('qos_policy_id', '=', existing.id)
          .executeTakeFirst();
        if (used) throw new ApiError(409, `QoS Policy ${existing.id} is used by ${type} ${used.id}.`, 'QosPolicyInUse');
      }
      await tx
        .deleteFrom('rbac_policies')
        .where('object_type', '=', 'qos_policy')
        .where('object_id', '=', existing.id)
        .execute();
    },
  });

  for (const rt of RULE_TYPES) {
    const policyName = `policy_${rt.type}_rule`;
    const rules: ResourceApi<QosRuleResource> = svc.define({
      singular: `${rt.type}_rule`,
      plural: `${rt.type}_rules`,
      table: rt.table,
      policyName,
      owned: false,
      standard: false,
      parent: {
        param: 'policy_id',
        column: 'qos_policy_id',
        async load(ctx, id, route) {
          // Upstream enforces create_<rule> before it looks the policy up: a user gets 403, not 404.
          if (route === 'create')
            rules.enforce(ctx, `create_${policyName}`, {
              tenant_id: ctx.projectId,
              project_id: ctx.projectId,
              'ext_parent:tenant_id': ctx.projectId,
            });
          const p = await policies.load(ctx, id);
          // Zed's defaults for QoS rules name the policy's owner ext_parent_owner.
          return { tenant_id: p.project_id, project_id: p.project_id, 'ext_parent:tenant_id': p.project_id };
        },
      },
      attrs: { qos_policy_id: { visible: false }, ...rt.attrs },
      notFound: (id, policyId) =>
        new ApiError(404, `QoS rule ${id} for policy ${policyId ?? ''} could not be found.`, 'QosRuleNotFound'),
      async beforeCreate(values, ctx, tx) {
        await checkRule(tx, rt, values);
        await bumpPolicy(tx, values.qos_policy_id);
        rulesChanged(svc, ctx, values.qos_policy_id);
      },
      async beforeUpdate(existing, changes, ctx, tx) {
        const row = await tx
          .selectFrom(rt.table)
          .select('qos_policy_id')
          .where('id', '=', existing.id)
          .executeTakeFirstOrThrow();
        await checkRule(tx, rt, { ...existing, ...changes, qos_policy_id: row.qos_policy_id });
        await bumpPolicy(tx, row.qos_policy_id);
        rulesChanged(svc, ctx, row.qos_policy_id);
      },
      async beforeDelete(existing, ctx, tx) {
        const row = await tx
          .selectFrom(rt.table)
          .select('qos_policy_id')
          .where('id', '=', existing.id)
          .executeTakeFirst();
        if (row) {
          await bumpPolicy(tx, row.qos_policy_id);
          rulesChanged(svc, ctx, row.qos_policy_id);
        }
      },
      async committed(_event, _view, ctx) {
        await flushAfterCommit(svc, ctx);
      },
    });
  }
}

/** qos_policy_id on networks (a project's default policy when none is given) and ports. */
export function extendForQos(svc: NetworkService) {
  const attr: Attr = { post: true, put: true, validate: (v, n) => toUuidOrNull(v, n) };
  const checkUsable = async (ctx: NetworkContext, tx: Tx, id: string | null | undefined) => {
    if (id && !(await usablePolicy(svc, ctx, tx, id))) throw qosPolicyNotFound(id);
  };
  // Changing a resource's policy needs access to the old one too (upstream's PolicyRemoveAuthorizationError).
  const checkDetach = async (
    ctx: NetworkContext,
    tx: Tx,
    existing: { qos_policy_id: string | null },
    changes: { qos_policy_id?: string | null },
  ) => {
    if (!('qos_policy_id' in changes)) return;
    const old = existing.qos_policy_id
      ? await tx.selectFrom('qos_policies').select('id').where('id', '=', existing.qos_policy_id).executeTakeFirst()
      : undefined;
    if (old && !(await usablePolicy(svc, ctx, tx, old.id))) {
      throw new ApiError(
        403,
        `Failed to remove provided policy ${old.id} because you are not authorized.`,
        'PolicyRemoveAuthorizationError',
      );
    }
    await checkUsable(ctx, tx, changes.qos_policy_id);
  };
  if (svc.resources.has('networks'))
    svc.extend('networks', {
      attrs: { qos_policy_id: { ...attr } },
      async beforeCreate(values, ctx, tx) {
        if (!values.qos_policy_id) {
          const d = await tx
            .selectFrom('qos_default_policies')
            .select('qos_policy_id')
            .where('project_id', '=', values.project_id)
            .executeTakeFirst();
          values.qos_policy_id = d?.qos_policy_id ?? null;
        }
        await checkUsable(ctx, tx, values.qos_policy_id);
      },
      async beforeUpdate(existing, changes, ctx, tx) {
        await checkDetach(ctx, tx, existing, changes);
      },
      async expand(views) {
        for (const v of views) v.qos_policy_id ??= null;
      },
    });
  if (svc.resources.has('ports'))
    svc.extend('ports', {
      attrs: { qos_policy_id: { ...attr }, qos_network_policy_id: { column: false, filter: false } },
      async beforeCreate(values, ctx, tx) {
        await checkUsable(ctx, tx, values.qos_policy_id);
      },
      async beforeUpdate(existing, changes, ctx, tx) {
        await checkDetach(ctx, tx, existing, changes);
      },
      async expand(views, _req, tx) {
        // The ports' own expand read their networks (NET_INFO) already; others are read here.
        const known = (v: object) => hidden<NetInfo>(v, NET_INFO)?.qos_policy_id;
        const nets = [
          ...new Set(
            views
              .filter((v) => known(v) === undefined)
              .map((v) => v.network_id)
              .filter(Boolean),
          ),
        ] as string[];
        const rows = nets.length
          ? await tx.selectFrom('networks').select(['id', 'qos_policy_id']).where('id', 'in', nets).execute()
          : [];
        const byNet = new Map(rows.map((r) => [r.id, r.qos_policy_id]));
        for (const v of views) {
          v.qos_policy_id ??= null;
          v.qos_network_policy_id = known(v) ?? byNet.get(v.network_id) ?? null;
        }
      },
    });
}

/** qos_policy_id on floating IPs (`qos-fip`). */
export function extendFloatingIpsForQos(svc: NetworkService) {
  if (!svc.resources.has('floatingips')) return;
  const checkUsable = async (ctx: NetworkContext, tx: Tx, id: string | null | undefined) => {
    if (id && !(await usablePolicy(svc, ctx, tx, id))) throw qosPolicyNotFound(id);
  };
  svc.extend('floatingips', {
    attrs: { qos_policy_id: { post: true, put: true, validate: (v, n) => toUuidOrNull(v, n) } },
    async beforeCreate(values, ctx, tx) {
      await checkUsable(ctx, tx, values.qos_policy_id);
    },
    async beforeUpdate(_existing, changes, ctx, tx) {
      await checkUsable(ctx, tx, changes.qos_policy_id);
    },
    async expand(views) {
      for (const v of views) v.qos_policy_id ??= null;
    },
  });
}

/** The rule types the data plane supports (GET /v2.0/qos/rule-types[/<type>]). */
export function qosRoutes(app: FastifyInstance, svc: NetworkService) {
  const policies = () => svc.resource('policies');
  const supported = () => extrasState(svc).mechanism.qosRules;
  const parameter = (name: string, p: QosParameter) =>
    'range' in p
      ? { parameter_name: name, parameter_values: { start: p.range[0], end: p.range[1] }, parameter_type: 'range' }
      : { parameter_name: name, parameter_values: [...p.values], parameter_type: 'choices' };
  app.get('/v2.0/qos/rule-types', async (req) => {
    const ctx = NetworkContext.of(req.context);
    policies().enforce(ctx, 'get_rule_type', {});
    const q = req.query as Record<string, string | string[]>;
    const types = q.type === undefined ? undefined : ([] as string[]).concat(q.type);
    return {
      rule_types: Object.keys(supported())
        .filter((t) => !types || types.includes(t))
        .map((type) => ({ type })),
    };
  });
  app.get('/v2.0/qos/rule-types/:type', async (req) => {
    const ctx = NetworkContext.of(req.context);
    const { type } = req.params as { type: string };
    policies().enforce(ctx, 'get_rule_type', {});
    if (!svc.isAdmin(ctx)) throw new ApiError(403, 'Not authorized.', 'NotAuthorized');
    if (!VALID_RULE_TYPES.includes(type))
      throw new ApiError(404, `QoS rule type ${type} could not be found.`, 'HTTPNotFound');
    const params = supported()[type];
    const drivers = params
      ? [
          {
            name: svc.config.dataplane ?? 'logical',
            supported_parameters: Object.entries(params).map(([n, p]) => parameter(n, p)),
          },
        ]
      : [];
    return { rule_type: { type, drivers } };
  });
}
