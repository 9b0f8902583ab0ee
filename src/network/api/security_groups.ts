// Security groups and their rules (neutron/db/securitygroups_db.py, Zed), the `security_groups`
// and `port_security_enabled` attributes of ports and networks (port-security), and the
// default group every project gets on first need (listing groups or rules, creating a network,
// creating or updating a port without groups).
import type { FastifyInstance } from 'fastify';
import type { ExpressionBuilder, Transaction } from 'kysely';
import { randomUUID } from 'node:crypto';
import { ApiError } from '../../core/errors.ts';
import { bool, insertRow, precompiled } from '../../core/db.ts';
import type { NetworkService } from '../service.ts';
import { formatCidr, normalizeIp, parseCidr } from '../../core/netaddr.ts';
import {
  hidden,
  bumpRevision,
  standardColumns,
  timestamp,
  type ListQuery,
  type ResourceApi,
  type ResourceQuery,
  type Tx,
} from './resource.ts';
import type { PortResource, SecurityGroupResource, SecurityGroupRuleResource } from './types.ts';
import { badInput, toBoolean, toString } from './validate.ts';
import { pyStr } from '../../core/python.ts';
import { UUID_LIKE } from '../../core/validate.ts';
import { addressGroupNotFound } from './address_groups.ts';
import { grantedIds, NETWORK_ROW, rbacGrants, rbacScope } from './core_common.ts';
import { NetworkContext } from '../context.ts';
import type { DynamicDb, NetworkDb } from '../db/schema.ts';

export const DEFAULT_SG_DESCRIPTION = 'Default security group';
const ETHERTYPES = ['IPv4', 'IPv6'] as const;

// ---- errors (neutron/extensions/securitygroup.py) ------------------------------------------

export const sgNotFound = (id: string) =>
  new ApiError(404, `Security group ${id} does not exist`, 'SecurityGroupNotFound');
const ruleNotFound = (id: string) =>
  new ApiError(404, `Security group rule ${id} does not exist`, 'SecurityGroupRuleNotFound');
const invalid = (type: string, message: string) => new ApiError(400, message, type);
const inUse = (type: string, message: string) => new ApiError(409, message, type);
export const sgInUse = (id: string) => inUse('SecurityGroupInUse', `Security Group ${id} in use.`);
const overQuota = (name: string) => new ApiError(409, `Quota exceeded for resources: ['${name}'].`, 'OverQuota');

// ---- protocols (neutron_lib.constants) -----------------------------------------------------

const IP_PROTOCOL_MAP: Record<string, number> = {
  ah: 51,
  dccp: 33,
  egp: 8,
  esp: 50,
  gre: 47,
  hopopt: 0,
  icmp: 1,
  igmp: 2,
  ip: 0,
  ipip: 4,
  'ipv6-encap': 41,
  'ipv6-frag': 44,
  'ipv6-icmp': 58,
  icmpv6: 58,
  'ipv6-nonxt': 59,
  'ipv6-opts': 60,
  'ipv6-route': 43,
  ospf: 89,
  pgm: 113,
  rsvp: 46,
  sctp: 132,
  tcp: 6,
  udp: 17,
  udplite: 136,
  vrrp: 112,
};
/** '58' -> 'ipv6-icmp' (never the legacy 'icmpv6'); for 0 the last name wins, 'ip', as upstream's dict. */
const IP_PROTOCOL_NUM_TO_NAME: Record<string, string> = {};
for (const [name, num] of Object.entries(IP_PROTOCOL_MAP))
  if (name !== 'icmpv6') IP_PROTOCOL_NUM_TO_NAME[String(num)] = name;
const SUPPORTED_PROTOCOLS = `[None, ${Object.keys(IP_PROTOCOL_MAP)
  .map((p) => `'${p}'`)
  .join(', ')}]`;
const PORT_PROTOCOLS = [33, 132, 6, 17, 136]; // dccp, sctp, tcp, udp, udplite
const IPV6_ONLY_PROTOCOLS = [
  'ipv6-encap',
  'ipv6-frag',
  'ipv6-icmp',
  'icmpv6',
  'ipv6-nonxt',
  'ipv6-opts',
  'ipv6-route',
  '41',
  '44',
  '58',
  '59',
  '60',
  '43',
];
const IPV6_ICMP_LEGACY = ['icmp', 'icmpv6'];

/** Python's int() on what a client may send: integers, integral strings (spaces allowed), booleans. */
function pyInt(v: unknown): number | undefined {
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'number' && Number.isFinite(v)) return Math.trunc(v);
  if (typeof v === 'string' && /^\s*[-+]?\d+\s*$/.test(v)) return Number(v.trim());
  return undefined;
}

/** convert_protocol: a name (lower-cased) or a number 0-255 kept as the string the client sent. */
function convertProtocol(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  const bad = () =>
    invalid(
      'SecurityGroupRuleInvalidProtocol',
      `Security group rule protocol ${pyStr(v)} not supported. Only protocol values ${SUPPORTED_PROTOCOLS} and integer representations [0 to 255] are supported.`,
    );
  if (typeof v === 'boolean') throw bad();
  const n = pyInt(v);
  if (n !== undefined) {
    if (n >= 0 && n <= 255 && (typeof v !== 'number' || Number.isInteger(v))) return String(v);
    throw bad();
  }
  if (typeof v === 'string' && v.toLowerCase() in IP_PROTOCOL_MAP) return v.toLowerCase();
  throw bad();
}

function convertEthertype(v: unknown): string {
  if (typeof v === 'string') for (const e of ETHERTYPES) if (e.toLowerCase() === v.toLowerCase()) return e;
  throw invalid(
    'SecurityGroupRuleInvalidEtherType',
    `Security group rule for ethertype '${pyStr(v)}' not supported. Allowed values are ['IPv4', 'IPv6'].`,
  );
}

function convertPort(v: unknown): number | null {
  if (v === null || v === undefined) return null;
  const n = pyInt(v);
  if (n === undefined || n < 0 || n > 65535)
    throw invalid('SecurityGroupInvalidPortValue', `Invalid value for port ${pyStr(v)}`);
  return n;
}

/** convert_ip_prefix_to_cidr: str(netaddr.IPNetwork(x)), which keeps host bits and adds a missing mask. */
function convertIpPrefix(v: unknown): string | null {
  if (v === null || v === undefined || v === '' || v === false || v === 0) return null;
  const c = typeof v === 'string' ? parseCidr(v, { allowBareIp: true }) : null;
  if (!c) throw invalid('InvalidCIDR', `Invalid CIDR ${pyStr(v)} given as IP prefix.`);
  const slash = (v as string).indexOf('/');
  return `${normalizeIp(slash < 0 ? v : (v as string).slice(0, slash))}/${c.prefixlen}`;
}

function normalizedCidr(prefix: string | null): string | null {
  const c = prefix ? parseCidr(prefix) : null;
  return c ? formatCidr(c) : null;
}

function protocolNumber(protocol: string): number {
  const name = protocol === 'icmpv6' ? 'ipv6-icmp' : protocol;
  return name in IP_PROTOCOL_MAP ? IP_PROTOCOL_MAP[name]! : Number(name);
}

/** _get_ip_proto_name_and_num: the [name, number] pair two spellings of one protocol share. */
function protocolKey(protocol: string, ethertype: string): string {
  let p = protocol;
  if (ethertype === 'IPv6') {
    if (IPV6_ICMP_LEGACY.includes(p)) p = 'ipv6-icmp';
    else if (p === '1') p = '58';
  }
  if (p in IP_PROTOCOL_MAP) return `${p}/${IP_PROTOCOL_MAP[p]}`;
  if (p in IP_PROTOCOL_NUM_TO_NAME) return `${IP_PROTOCOL_NUM_TO_NAME[p]}/${p}`;
  return `${p}/${p}`;
}

/** What makes two rules the same rule (_rule_to_key). */
function ruleKey(
  r: Pick<
    SecurityGroupRuleResource,
    | 'direction'
    | 'ethertype'
    | 'port_range_min'
    | 'port_range_max'
    | 'protocol'
    | 'remote_group_id'
    | 'remote_address_group_id'
    | 'remote_ip_prefix'
    | 'security_group_id'
  >,
): string {
  const any = (x: unknown) => (x === null || x === undefined ? '+' : String(x));
  const prefix =
    r.remote_ip_prefix === null ||
    r.remote_ip_prefix === undefined ||
    r.remote_ip_prefix === '0.0.0.0/0' ||
    r.remote_ip_prefix === '::/0'
      ? '+'
      : r.remote_ip_prefix;
  return [
    r.direction,
    r.ethertype,
    any(r.port_range_max),
    any(r.port_range_min),
    r.protocol === null || r.protocol === undefined ? '+' : protocolKey(r.protocol, r.ethertype),
    any(r.remote_group_id),
    any(r.remote_address_group_id),
    prefix,
    r.security_group_id,
  ].join('_');
}

/** _validate_security_group_rule's checks that need no database; may canonicalize the rule. */
function validateRule(rule: SecurityGroupRuleResource) {
  // Legacy IPv6 ICMP names and number 1 become ipv6-icmp / 58.
  if (rule.ethertype === 'IPv6') {
    if (rule.protocol !== null && IPV6_ICMP_LEGACY.includes(rule.protocol)) rule.protocol = 'ipv6-icmp';
    else if (rule.protocol === '1') rule.protocol = '58';
  }
  // The whole range means no range.
  if (rule.port_range_min === 1 && rule.port_range_max === 65535) rule.port_range_min = rule.port_range_max = null;
  const min = rule.port_range_min as number | null;
  const max = rule.port_range_max as number | null;
  if (min !== null || max !== null) {
    if (!rule.protocol)
      throw invalid('SecurityGroupProtocolRequiredWithPorts', 'Must also specify protocol if port range is given.');
    const proto = protocolNumber(rule.protocol);
    if (PORT_PROTOCOLS.includes(proto)) {
      if (min === 0 || max === 0) throw invalid('SecurityGroupInvalidPortValue', 'Invalid value for port 0');
      if (min === null || max === null || min > max)
        throw invalid(
          'SecurityGroupInvalidPortRange',
          'For TCP/UDP protocols, port_range_min must be <= port_range_max',
        );
    } else if (proto === 1 || proto === 58) {
      for (const [attr, field, v] of [
        ['port_range_min', 'type', min],
        ['port_range_max', 'code', max],
      ] as const) {
        if (v !== null && !(v >= 0 && v <= 255))
          throw invalid(
            'SecurityGroupInvalidIcmpValue',
            `Invalid value for ICMP ${field} (${attr}) ${v}. It must be 0 to 255.`,
          );
      }
      if (min === null && max !== null)
        throw invalid(
          'SecurityGroupMissingIcmpType',
          `ICMP code (port-range-max) ${max} is provided but ICMP type (port-range-min) is missing.`,
        );
    } else {
      throw invalid(
        'SecurityGroupInvalidProtocolForPort',
        `Ports cannot be specified for protocol ${proto}. Ports are only supported for DCCP, SCTP, TCP, UDP, UDPLITE.`,
      );
    }
  }
  if (rule.remote_ip_prefix) {
    const version = parseCidr(rule.remote_ip_prefix)!.version;
    if (rule.ethertype !== `IPv${version}`)
      throw invalid(
        'SecurityGroupRuleParameterConflict',
        `Conflicting value ethertype ${rule.ethertype} for CIDR ${rule.remote_ip_prefix}`,
      );
  }
  if (rule.protocol && IPV6_ONLY_PROTOCOLS.includes(rule.protocol) && rule.ethertype === 'IPv4') {
    throw invalid(
      'SecurityGroupEthertypeConflictWithProtocol',
      `Invalid ethertype ${rule.ethertype} for protocol ${rule.protocol}.`,
    );
  }
  if ([rule.remote_ip_prefix, rule.remote_group_id, rule.remote_address_group_id].filter(Boolean).length > 1) {
    throw invalid(
      'SecurityGroupMultipleRemoteEntites',
      'Only one of remote_ip_prefix or remote_group_id or remote_address_group_id may be provided.',
    );
  }
}

// ---- queries --------------------------------------------------------------------------------

/** Security groups shared with a project through RBAC (access_as_shared to it or to '*'). */
const sharedWith = <DB, TB extends keyof DB>(eb: ExpressionBuilder<DB, TB>, projectId: string) =>
  rbacGrants(eb, 'security_group', 'securitygroups.id', projectId, ['access_as_shared']);

/** The groups among `ids` a port of `projectId` may use: its own, shared with it, or any for an admin. */
async function usableGroups(
  tx: Tx,
  ids: string[],
  projectId: string,
  admin: boolean,
): Promise<Array<{ id: string; stateful: boolean }>> {
  if (!ids.length) return [];
  let q = tx
    .selectFrom('securitygroups')
    .select(['securitygroups.id', 'securitygroups.stateful'])
    .where('securitygroups.id', 'in', ids);
  if (!admin) q = q.where((eb) => eb.or([eb('securitygroups.project_id', '=', projectId), sharedWith(eb, projectId)]));
  return (await q.execute()).map((r) => ({ id: r.id, stateful: bool(r.stateful) }));
}

/** check_address_group: the project's own address group, one shared with it, or any for an admin. */
async function usableAddressGroup(tx: Tx, id: string, projectId: string, admin: boolean): Promise<boolean> {
  let q = tx.selectFrom('address_groups').select('address_groups.id').where('address_groups.id', '=', id);
  if (!admin) {
    q = q.where((eb) =>
      eb.or([
        eb('address_groups.project_id', '=', projectId),
        rbacGrants(eb, 'address_group', 'address_groups.id', projectId, ['access_as_shared']),
      ]),
    );
  }
  return !!(await q.executeTakeFirst());
}

export async function portGroups(tx: Tx, portIds: string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (let i = 0; i < portIds.length; i += 500) {
    const rows = await tx
      .selectFrom('securitygroupportbindings')
      .select(['port_id', 'security_group_id'])
      .where('port_id', 'in', portIds.slice(i, i + 500))
      .orderBy('security_group_id')
      .execute();
    for (const r of rows) {
      const l = out.get(r.port_id) ?? [];
      l.push(r.security_group_id);
      out.set(r.port_id, l);
    }
  }
  return out;
}

async function groupInUse(tx: Tx, sgId: string): Promise<boolean> {
  return !!(await tx
    .selectFrom('securitygroupportbindings')
    .select('port_id')
    .where('security_group_id', '=', sgId)
    .limit(1)
    .executeTakeFirst());
}

/** A related resource's revision moves on (upstream's revises_on_change). */

function insertRule(
  tx: Tx,
  r: { projectId: string; sgId: string; direction: string; ethertype: string; remoteGroupId?: string },
) {
  return tx
    .insertInto('securitygrouprules')
    .values({
      ...standardColumns(),
      project_id: r.projectId,
      security_group_id: r.sgId,
      remote_group_id: r.remoteGroupId ?? null,
      direction: r.direction,
      ethertype: r.ethertype,
      protocol: null,
      port_range_min: null,
      port_range_max: null,
      remote_ip_prefix: null,
    })
    .execute();
}

/** quota_limit_check: the rules a new group brings must fit the limit itself (usage is not counted, as upstream). */
async function checkRuleLimit(svc: NetworkService, tx: Tx, projectId: string, count: number) {
  const limit = (await svc.quotas.limits(projectId, tx)).security_group_rule ?? -1;
  if (limit >= 0 && limit < count) throw overQuota('security_group_rule');
}

/**
 * _ensure_default_security_group: the project's `default` group, created with its four rules
 * when missing (never for another project unless the caller is an admin). Safe when two
 * requests race: the default_security_group key admits one group, the loser drops its own.
 */
const defaultGroupOf = precompiled(['projectId'], (db, p) =>
  db.selectFrom('default_security_group').select('security_group_id').where('project_id', '=', p.projectId),
);

export async function ensureDefaultGroup(
  svc: NetworkService,
  ctx: NetworkContext,
  projectId: string | undefined,
  tx?: Transaction<NetworkDb>,
): Promise<string | undefined> {
  if (!projectId || (projectId !== ctx.projectId && !svc.isAdmin(ctx))) return undefined;
  const find = async (t: Tx) =>
    (await defaultGroupOf(t, { projectId })).rows[0]?.security_group_id as string | undefined;
  const existing = await find(tx ?? svc.db);
  if (existing) return existing;
  const run = async (t: Transaction<NetworkDb>) => {
    const again = await find(t);
    if (again) return again;
    await checkRuleLimit(svc, t, projectId, 4);
    const id = randomUUID();
    const now = timestamp();
    await t
      .insertInto('securitygroups')
      .values({
        id,
        project_id: projectId,
        name: 'default',
        description: DEFAULT_SG_DESCRIPTION,
        stateful: 1,
        created_at: now,
        updated_at: now,
        revision_number: 0,
      })
      .execute();
    await t
      .insertInto('default_security_group')
      .values({ project_id: projectId, security_group_id: id })
      .onConflict((oc) => oc.column('project_id').doNothing())
      .execute();
    const winner = await find(t);
    if (winner !== id) {
      await t.deleteFrom('securitygroups').where('id', '=', id).execute();
      return winner;
    }
    for (const ethertype of ETHERTYPES) {
      await insertRule(t, { projectId, sgId: id, direction: 'ingress', ethertype, remoteGroupId: id });
      await insertRule(t, { projectId, sgId: id, direction: 'egress', ethertype });
    }
    return id;
  };
  return tx ? run(tx) : svc.transaction(run);
}

/** The project a list request is about: its project_id/tenant_id filter, else the caller's. */
function listedProject(ctx: NetworkContext, q: ListQuery): string | undefined {
  const f = q.project_id ?? q.tenant_id;
  return (Array.isArray(f) ? f[0] : f) ?? ctx.projectId;
}

// ---- resources ------------------------------------------------------------------------------

function nameNotDefault(v: unknown, n: string): string {
  const s = toString(v, n, 255);
  if (s.toLowerCase() === 'default')
    throw inUse('SecurityGroupDefaultAlreadyExists', 'Default security group already exists.');
  return s;
}

function uuidList(v: unknown, n: string): string[] {
  if (v === null) return [];
  if (!Array.isArray(v)) throw badInput(n, `'${pyStr(v)}' is not a list`);
  for (const x of v)
    if (typeof x !== 'string' || !UUID_LIKE.test(x)) throw badInput(n, `'${pyStr(x)}' is not a valid UUID`);
  const dup = v.find((x, i) => v.indexOf(x) !== i);
  if (dup !== undefined) throw badInput(n, `Duplicate items in the list: '${dup}'`);
  return v as string[];
}

const sameSet = (a: string[] = [], b: string[] = []) => a.length === b.length && a.every((x) => b.includes(x));
const SG_BLIND_OWNERS = [
  'network:dhcp',
  'network:router_interface',
  'network:ha_router_replicated_interface',
  'network:router_interface_distributed',
];

export function defineSecurityGroups(svc: NetworkService): {
  groups: ResourceApi<SecurityGroupResource>;
  rules: ResourceApi<SecurityGroupRuleResource>;
} {
  let rules!: ResourceApi<SecurityGroupRuleResource>;
  const groups = svc.define({
    singular: 'security_group',
    plural: 'security_groups',
    table: 'securitygroups',
    quota: 'security_group',
    notFound: sgNotFound,
    attrs: {
      name: { post: true, put: true, default: '', validate: nameNotDefault },
      stateful: { type: 'boolean', post: true, put: true, default: true, validate: (v, n) => toBoolean(v, n) },
      shared: { column: false, type: 'boolean' },
      security_group_rules: { column: false, filter: false },
    },
    scope: rbacScope('securitygroups', 'security_group', ['access_as_shared']),
    filters: {
      shared: (q, values, ctx) => {
        const want = values.map((v) => toBoolean(v, 'shared'));
        if (want.includes(true) && want.includes(false)) return q;
        const pid = ctx.projectId ?? '';
        return q.where((eb) => (want[0] ? sharedWith(eb, pid) : eb.not(sharedWith(eb, pid))));
      },
    },
    async expand(views, ctx, tx) {
      const ids = views.map((v) => v.id);
      const pid = ctx.projectId ?? '';
      const shared = await grantedIds(tx, 'security_group', ids, pid, 'access_as_shared');
      const ruleRows = await tx
        .selectFrom('securitygrouprules')
        .selectAll()
        .where('security_group_id', 'in', ids)
        .orderBy('created_at')
        .orderBy('id')
        .execute();
      const ruleViews = await rules.views(ruleRows, ctx, tx);
      for (const v of views) {
        v.shared = shared.has(v.id);
        v.security_group_rules = ruleViews
          .filter((r) => r.security_group_id === v.id)
          .map(({ sg_project_id: _, ...r }) => r);
      }
    },
    async beforeCreate(values, ctx, tx) {
      await ensureDefaultGroup(svc, ctx, values.project_id, tx);
      await checkRuleLimit(svc, tx, values.project_id, ETHERTYPES.length);
    },
    async afterCreate(view, _values, _req, tx) {
      for (const ethertype of ETHERTYPES)
        await insertRule(tx, { projectId: view.project_id, sgId: view.id, direction: 'egress', ethertype });
    },
    async beforeUpdate(existing, changes, _req, tx) {
      if ('name' in changes && existing.name === 'default')
        throw inUse('SecurityGroupCannotUpdateDefault', 'Updating default security group not allowed.');
      if ('stateful' in changes && changes.stateful !== existing.stateful && (await groupInUse(tx, existing.id)))
        throw sgInUse(existing.id);
    },
    async checkDelete(existing, ctx) {
      if (await groupInUse(svc.db, existing.id)) throw sgInUse(existing.id);
      if (existing.name === 'default' && !svc.isAdmin(ctx))
        throw inUse('SecurityGroupCannotRemoveDefault', 'Insufficient rights for removing default security group.');
    },
    async beforeDelete(existing, ctx, tx) {
      if (await groupInUse(tx, existing.id)) throw sgInUse(existing.id);
      // Rules of other groups that name this one as their remote go with it (the FK cascades upstream).
      const remote = await tx
        .selectFrom('securitygrouprules')
        .select('security_group_id')
        .where('remote_group_id', '=', existing.id)
        .where('security_group_id', '!=', existing.id)
        .execute();
      ctx.call.removedRemoteRules = [...new Set(remote.map((r) => r.security_group_id as string))];
      await tx.deleteFrom('securitygrouprules').where('remote_group_id', '=', existing.id).execute();
      await tx.deleteFrom('securitygrouprules').where('security_group_id', '=', existing.id).execute();
      await tx.deleteFrom('default_security_group').where('security_group_id', '=', existing.id).execute();
      await tx
        .deleteFrom('rbac_policies')
        .where('object_type', '=', 'security_group')
        .where('object_id', '=', existing.id)
        .execute();
    },
    committed(event, view, ctx, before) {
      if (event === 'update' && before && before.stateful !== view.stateful)
        svc.notifier.securityGroupRulesUpdated([view.id]);
      if (event === 'delete') {
        const touched = ctx.call.removedRemoteRules ?? [];
        if (touched.length) svc.notifier.securityGroupRulesUpdated(touched);
      }
    },
  });

  rules = svc.define({
    singular: 'security_group_rule',
    plural: 'security_group_rules',
    table: 'securitygrouprules',
    quota: 'security_group_rule',
    tags: false,
    notFound: ruleNotFound,
    attrs: {
      security_group_id: { post: true, required: true, validate: (v, n) => toString(v, n, 36) },
      remote_group_id: { post: true, default: null, validate: (v, n) => (v === null ? null : toString(v, n, 255)) },
      remote_address_group_id: {
        post: true,
        default: null,
        validate: (v, n) => (v === null ? null : toString(v, n, 36)),
      },
      direction: {
        post: true,
        required: true,
        validate: (v, n) => {
          if (v !== 'ingress' && v !== 'egress') throw badInput(n, `${pyStr(v)} is not in valid_values`);
          return v;
        },
      },
      protocol: { post: true, default: null, validate: convertProtocol },
      port_range_min: { type: 'integer', post: true, default: null, validate: convertPort },
      port_range_max: { type: 'integer', post: true, default: null, validate: convertPort },
      ethertype: { post: true, default: 'IPv4', validate: convertEthertype },
      remote_ip_prefix: { post: true, default: null, validate: convertIpPrefix },
      normalized_cidr: { column: false },
      sg_project_id: { column: false, visible: false, filter: false },
    },
    scope: (q, ctx) => {
      const pid = ctx.projectId ?? '';
      return q.where((eb) =>
        eb.or([
          eb('securitygrouprules.project_id', '=', pid),
          eb(
            'securitygrouprules.security_group_id',
            'in',
            eb.selectFrom('securitygroups').select('securitygroups.id').where('securitygroups.project_id', '=', pid),
          ),
        ]),
      );
    },
    async expand(views, _req, tx) {
      const sgIds = [...new Set(views.map((v) => v.security_group_id))];
      const owners = new Map(
        (await tx.selectFrom('securitygroups').select(['id', 'project_id']).where('id', 'in', sgIds).execute()).map(
          (r) => [r.id, r.project_id],
        ),
      );
      for (const v of views) {
        v.normalized_cidr = normalizedCidr(v.remote_ip_prefix);
        v.sg_project_id = owners.get(v.security_group_id);
      }
    },
    target: (view) => ({ 'security_group:tenant_id': view.sg_project_id }),
    async beforeCreate(values, ctx, tx) {
      // A bulk create is about one group of one project (_validate_single_tenant_and_group).
      const bulk = ctx.call.ruleBulk ?? {
        sgId: values.security_group_id,
        projectId: values.project_id,
        ids: new Set<string>(),
      };
      ctx.call.ruleBulk = bulk;
      if (bulk.sgId !== values.security_group_id)
        throw invalid(
          'SecurityGroupNotSingleGroupRules',
          'Only allowed to update rules for one security profile at a time',
        );
      if (bulk.projectId !== values.project_id)
        throw invalid(
          'SecurityGroupRulesNotSingleTenant',
          'Multiple tenant_ids in bulk security group rule create not allowed',
        );
      validateRule(values);
      const admin = svc.isAdmin(ctx);
      if (
        values.remote_group_id &&
        !(await usableGroups(tx, [values.remote_group_id], values.project_id, admin)).length
      )
        throw sgNotFound(values.remote_group_id);
      if (
        values.remote_address_group_id &&
        !(await usableAddressGroup(tx, values.remote_address_group_id, values.project_id, admin))
      )
        throw addressGroupNotFound(values.remote_address_group_id);
      // Rules go into the rule's project's own groups (an admin's into any).
      let q = tx.selectFrom('securitygroups').select('id').where('id', '=', values.security_group_id);
      if (!admin) q = q.where('project_id', '=', values.project_id);
      if (!(await q.executeTakeFirst())) throw sgNotFound(values.security_group_id);
      // The group's revision moves first: its row lock makes concurrent rules of one group take turns.
      await bumpRevision(tx, 'securitygroups', values.security_group_id);
      const key = ruleKey(values);
      const existing = await tx
        .selectFrom('securitygrouprules')
        .selectAll()
        .where('security_group_id', '=', values.security_group_id)
        .execute();
      const dup = existing.find((r) => ruleKey(r) === key);
      if (dup) {
        if (bulk.ids.has(dup.id))
          throw inUse('DuplicateSecurityGroupRuleInPost', 'Duplicate Security Group Rule in POST.');
        throw inUse('SecurityGroupRuleExists', `Security group rule already exists. Rule id is ${dup.id}.`);
      }
      bulk.ids.add(values.id);
    },
    async beforeDelete(existing, _req, tx) {
      await bumpRevision(tx, 'securitygroups', existing.security_group_id);
    },
    committed(_event, view) {
      svc.notifier.securityGroupRulesUpdated([view.security_group_id]);
    },
  });
  return { groups, rules };
}

/** Lists ensure the project's default group first, as upstream's get_security_groups/_rules do. */
export function securityGroupRoutes(app: FastifyInstance, svc: NetworkService) {
  const groups = svc.resource('security_groups');
  const rules = svc.resource('security_group_rules');
  app.get('/v2.0/security-groups', async (req) => {
    const ctx = NetworkContext.of(req.context);
    await ensureDefaultGroup(svc, ctx, listedProject(ctx, req.query as ListQuery));
    return groups.listBody(req, await groups.list(ctx, req.query as ListQuery));
  });
  app.get('/v2.0/security-group-rules', async (req) => {
    const ctx = NetworkContext.of(req.context);
    await ensureDefaultGroup(svc, ctx, listedProject(ctx, req.query as ListQuery));
    return rules.listBody(req, await rules.list(ctx, req.query as ListQuery));
  });
}

// ---- ports and networks (port-security, security_groups on ports) ----------------------------

const hasItems = (v: unknown) => Array.isArray(v) && v.length > 0;
const addressPairsNeedPortSecurity = () =>
  inUse(
    'AddressPairAndPortSecurityRequired',
    'Port Security must be enabled in order to have allowed address pairs on a port.',
  );
const groupsNeedPortSecurity = () =>
  invalid(
    'PortSecurityAndIPRequiredForSecurityGroups',
    'Port security must be enabled and port must have an IP address in order to use security groups.',
  );

async function checkPortGroups(tx: Tx, ids: string[], projectId: string, admin: boolean) {
  const found = await usableGroups(tx, ids, projectId, admin);
  const missing = ids.filter((id) => !found.some((g) => g.id === id));
  if (missing.length) throw sgNotFound(missing.join(', '));
  if (new Set(found.map((g) => g.stateful)).size > 1) {
    throw new ApiError(
      409,
      'Error Cannot apply both stateful and stateless security groups on the same port at the same time while attempting the operation.',
      'SecurityGroupConflict',
    );
  }
}

async function bindGroups(tx: Tx, portId: string, ids: string[], newPort = false) {
  if (!newPort) await tx.deleteFrom('securitygroupportbindings').where('port_id', '=', portId).execute();
  for (const id of ids) await insertRow(tx, 'securitygroupportbindings', { port_id: portId, security_group_id: id });
}

/** Ports whose membership changes matter to the agents (not DHCP or router interfaces). */
function memberGroups(...ports: Array<PortResource | undefined>): string[] {
  const out = new Set<string>();
  for (const p of ports)
    if (p && !SG_BLIND_OWNERS.includes(p.device_owner)) for (const g of p.security_groups ?? []) out.add(g);
  return [...out];
}

export function extendPortsAndNetworks(svc: NetworkService) {
  if (!svc.resources.has('networks') || !svc.resources.has('ports')) return;
  svc.extend('networks', {
    attrs: {
      port_security_enabled: {
        type: 'boolean',
        post: true,
        put: true,
        default: true,
        validate: (v, n) => toBoolean(v, n),
      },
    },
    async beforeCreate(values, ctx, tx) {
      await ensureDefaultGroup(svc, ctx, values.project_id, tx);
    },
  });
  svc.extend('ports', {
    attrs: {
      security_groups: { column: false, post: true, put: true, validate: uuidList },
      // Not given: the network's value (trusted network: ports never have it).
      port_security_enabled: { type: 'boolean', post: true, put: true, validate: (v, n) => toBoolean(v, n) },
    },
    filters: {
      security_groups: (q: ResourceQuery, values: unknown[]) =>
        q.where('ports.id', 'in', (eb: ExpressionBuilder<DynamicDb, string>) =>
          eb
            .selectFrom('securitygroupportbindings')
            .select('port_id')
            .where('security_group_id', 'in', values as string[]),
        ),
    },
    async expand(views, _req, tx, created) {
      if (created) return; // afterCreate put the groups it bound
      const groups = await portGroups(
        tx,
        views.map((v) => v.id),
      );
      for (const v of views) v.security_groups = groups.get(v.id) ?? [];
    },
    async beforeCreate(values, ctx, tx) {
      const trusted = String(values.device_owner ?? '').startsWith('network:');
      let psec: boolean;
      if (trusted) psec = false;
      else if (typeof values.port_security_enabled === 'boolean') psec = values.port_security_enabled;
      else {
        const net =
          hidden<{ port_security_enabled: unknown }>(values, NETWORK_ROW) ??
          (await tx
            .selectFrom('networks')
            .select('port_security_enabled')
            .where('id', '=', values.network_id)
            .executeTakeFirst());
        psec = net ? bool(net.port_security_enabled) : true;
      }
      values.port_security_enabled = psec;
      if (hasItems(values.allowed_address_pairs) && !psec) throw addressPairsNeedPortSecurity();
      let groups: string[] = [];
      if (psec) {
        if (values.security_groups === undefined) {
          // The project's own default group: usable by the port without a check.
          const d = await ensureDefaultGroup(svc, ctx, values.project_id, tx);
          groups = d ? [d] : [];
        } else groups = values.security_groups;
      } else if (hasItems(values.security_groups)) throw groupsNeedPortSecurity();
      if (trusted) groups = [];
      else if (values.security_groups !== undefined)
        await checkPortGroups(tx, groups, values.project_id, svc.isAdmin(ctx));
      values.security_groups = groups;
    },
    async afterCreate(view, values, _req, tx) {
      view.security_groups = [...new Set<string>(values.security_groups ?? [])].sort();
      await bindGroups(tx, view.id, view.security_groups, true);
    },
    async beforeUpdate(existing, changes, ctx, tx) {
      const psec = 'port_security_enabled' in changes ? changes.port_security_enabled : existing.port_security_enabled;
      if (psec === false) {
        if (hasItems(changes.allowed_address_pairs)) throw addressPairsNeedPortSecurity();
        if (!('allowed_address_pairs' in changes) && hasItems(existing.allowed_address_pairs))
          throw addressPairsNeedPortSecurity();
        if (hasItems(changes.security_groups)) throw groupsNeedPortSecurity();
        if (!('security_groups' in changes) && hasItems(existing.security_groups)) {
          throw inUse(
            'PortSecurityPortHasSecurityGroup',
            'Port has security group associated. Cannot disable port security or IP address until security group is removed.',
          );
        }
      }
      // The default group comes back when a port of the project changes (BEFORE_UPDATE upstream).
      await ensureDefaultGroup(svc, ctx, existing.project_id, tx);
      const groups = changes.security_groups;
      if (groups !== undefined && !sameSet(existing.security_groups, groups)) {
        await checkPortGroups(tx, groups, existing.project_id, svc.isAdmin(ctx));
        await bindGroups(tx, existing.id, groups);
      }
    },
    committed(event, view, _req, before) {
      let groups: string[] = [];
      if (event === 'update' && before) {
        const moved =
          !sameSet(before.security_groups, view.security_groups) ||
          JSON.stringify(before.fixed_ips) !== JSON.stringify(view.fixed_ips) ||
          before.mac_address !== view.mac_address;
        if (moved) groups = memberGroups(before, view);
      } else groups = memberGroups(view);
      if (groups.length) svc.notifier.securityGroupMembersUpdated(groups);
    },
  });
}
