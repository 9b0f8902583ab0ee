// The security group proxy (nova.api.openstack.compute.security_groups with
// nova.network.security_group_api), up to 2.35: /os-security-groups, /os-security-group-rules
// and /servers/{id}/os-security-groups, every call made to the network service with the
// caller's token and shown in Nova's view (ingress rules only, ports -1 for ICMP, 1-65535 for
// TCP/UDP without a range, cidr or source group). os-security-group-default-rules is 410.
import type { Port } from '../../core/clients/network.ts';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../../core/errors.ts';
import type { ComputeService } from '../service.ts';
import { authorize, badRequest, forbidden, isAdmin, notFound, queryOf } from './common.ts';
import { isUuidLike } from '../../core/validate.ts';
import { pyStr } from '../../core/python.ts';
import {
  MAX_PROXY,
  neutron,
  neutronMessage,
  unexpected,
  upTo,
  visibleServer,
  type NeutronAnswer,
  type NeutronSecurityGroup,
  type SecurityGroupRule,
} from './neutron_proxy.ts';
import { parseCidr } from '../../core/netaddr.ts';

type Call = ReturnType<typeof neutron>;
const POLICY = (a: string) => `os_compute_api:os-security-groups:${a}`;

/** A Neutron rule as Nova shows it (_convert_to_nova_security_group_rule_format). */
interface NovaRule {
  id: string;
  parent_group_id: string;
  protocol: string | null;
  from_port: number | null;
  to_port: number | null;
  group_id: string | null;
  cidr: string;
}
interface NovaGroup {
  id: string;
  name: string;
  description: string;
  project_id: string;
  rules: NovaRule[];
}

function novaRule(r: SecurityGroupRule): NovaRule {
  let from = r.port_range_min ?? null,
    to = r.port_range_max ?? null;
  if (r.protocol && from === null && to === null) {
    const tcpUdp = ['TCP', 'UDP'].includes(String(r.protocol).toUpperCase());
    from = tcpUdp ? 1 : -1;
    to = tcpUdp ? 65535 : -1;
  }
  return {
    id: r.id,
    parent_group_id: r.security_group_id,
    protocol: r.protocol ?? null,
    from_port: from,
    to_port: to,
    group_id: r.remote_group_id ?? null,
    cidr: r.remote_ip_prefix || '0.0.0.0/0',
  };
}

function novaGroup(g: NeutronSecurityGroup): NovaGroup {
  return {
    id: g.id,
    name: g.name,
    description: g.description,
    project_id: g.tenant_id ?? g.project_id,
    rules: (g.security_group_rules ?? []).filter((r) => r.direction === 'ingress').map(novaRule),
  };
}

/** A group by id (security_group_api.get): 404 with the network's message when it has none. */
async function getGroup(call: Call, id: string): Promise<NovaGroup> {
  const r = await call('GET', `/v2.0/security-groups/${encodeURIComponent(id)}`);
  if (r.status === 404) throw notFound(neutronMessage(r));
  if (r.status !== 200) throw unexpected(r, `GET security group ${id}`);
  return novaGroup(r.body.security_group);
}

/** The source groups rules name, looked up once per request (None when the group is gone). */
class GroupNames {
  private known = new Map<string, { name: string; tenant_id: string } | null>();
  constructor(
    private call: Call,
    groups: NovaGroup[] = [],
  ) {
    for (const g of groups) this.known.set(g.id, { name: g.name, tenant_id: g.project_id });
  }
  async of(id: string) {
    if (!this.known.has(id)) {
      const r = await this.call('GET', `/v2.0/security-groups/${encodeURIComponent(id)}`);
      const g = r.status === 200 ? r.body.security_group : null;
      this.known.set(id, g ? { name: g.name, tenant_id: g.tenant_id ?? g.project_id } : null);
    }
    return this.known.get(id)!;
  }
}

async function ruleView(rule: NovaRule, names: GroupNames, groupData?: { name: string; tenant_id: string }) {
  const out: Record<string, unknown> = {
    id: rule.id,
    parent_group_id: rule.parent_group_id,
    ip_protocol: rule.protocol,
    from_port: rule.from_port,
    to_port: rule.to_port,
    group: {},
    ip_range: {},
  };
  if (groupData) out.group = groupData;
  else if (rule.group_id) {
    const g = await names.of(rule.group_id);
    // A source group deleted meanwhile: the rule is left out, as Nova does.
    if (!g) return null;
    out.group = g;
  } else out.ip_range = { cidr: rule.cidr };
  return out;
}

async function groupView(g: NovaGroup, names: GroupNames) {
  const rules = [];
  for (const r of g.rules) {
    const v = await ruleView(r, names);
    if (v) rules.push(v);
  }
  return { id: g.id, description: g.description, name: g.name, tenant_id: g.project_id, rules };
}

const byTenantAndName = (a: { tenant_id: string; name: string }, b: { tenant_id: string; name: string }) =>
  a.tenant_id < b.tenant_id ? -1 : a.tenant_id > b.tenant_id ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0;

function validateId(id: unknown): string {
  if (!isUuidLike(id)) throw badRequest('Security group id should be uuid');
  return id;
}

/** The body's object under `key` (SecurityGroupControllerBase._from_body). */
function fromBody(req: FastifyRequest, key: string): Record<string, unknown> {
  const body = req.body as Record<string, unknown> | undefined | null;
  if (!body || (typeof body === 'object' && !Object.keys(body).length))
    throw badRequest("The request body can't be empty");
  const v = typeof body === 'object' ? body[key] : undefined;
  if (v === undefined || v === null) throw badRequest(`Missing parameter ${key}`);
  return (typeof v === 'object' ? v : {}) as Record<string, unknown>;
}

/** utils.check_string_length(value, name, 0, 255) as Nova runs it on names and descriptions. */
function checkString(value: unknown, name: string) {
  if (typeof value !== 'string') throw badRequest(`${name} is not a string or unicode`);
  if (value.length > 255) throw badRequest(`${name} has ${value.length} characters, more than 255.`);
}

/** common.limited with the index query's limit/offset (non-negative integers). */
function limited<T>(req: FastifyRequest, items: T[]): T[] {
  const q = queryOf(req);
  const param = (k: string) => {
    const all = q.getAll(k);
    for (const v of all)
      if (!/^[0-9]+$/.test(v))
        throw badRequest(`Invalid input for query parameters ${k}. Value: ${v}. '${v}' does not match '^[0-9]*$'`);
    return all.length ? Number(all[all.length - 1]) : undefined;
  };
  const offset = param('offset') ?? 0;
  const limit = Math.min(1000, param('limit') || 1000);
  return items.slice(offset, offset + limit);
}

// ---- rules (security_group_api._new_ingress_rule) ----------------------------------------

/** Python's int() on what a JSON body may carry. */
function pyInt(v: unknown): number | null {
  if (typeof v === 'number' && Number.isFinite(v)) return Math.trunc(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string' && /^\s*[+-]?\d+\s*$/.test(v)) return Number(v.trim());
  return null;
}

function newIngressRule(
  protocol: unknown,
  fromPort: unknown,
  toPort: unknown,
  groupId: string | null,
  cidr: string | null,
): Record<string, unknown> | null {
  const values: Record<string, unknown> = {};
  let from = fromPort ?? null,
    to = toPort ?? null;
  if (groupId) {
    values.group_id = groupId;
    const p = protocol ? String(protocol).toUpperCase() : '';
    if (p === 'ICMP' && from === null && to === null) {
      from = -1;
      to = -1;
    } else if ((p === 'TCP' || p === 'UDP') && from === null && to === null) {
      from = 1;
      to = 65535;
    }
  } else if (cidr) values.cidr = cidr;
  if (protocol && from !== null && to !== null) {
    const proto = String(protocol);
    const p = proto.toUpperCase();
    const f = pyInt(from),
      t = pyInt(to);
    if (f === null || t === null) {
      throw badRequest(
        p === 'ICMP'
          ? 'Invalid input received: Type and Code must be integers for ICMP protocol type'
          : 'Invalid input received: To and From ports must be integers',
      );
    }
    if (!['TCP', 'UDP', 'ICMP'].includes(p)) throw badRequest(`Invalid IP protocol ${proto}.`);
    if ((p === 'TCP' || p === 'UDP') && f > t)
      throw badRequest(`Invalid port range ${f}:${t}. Former value cannot be greater than the later`);
    if ((p === 'TCP' || p === 'UDP') && (f < 1 || t > 65535))
      throw badRequest(`Invalid port range ${f}:${t}. Valid ${p} ports should be between 1-65535`);
    if (p === 'ICMP' && (f < -1 || f > 255 || t < -1 || t > 255))
      throw badRequest(`Invalid port range ${f}:${t}. For ICMP, the type:code must be valid`);
    values.protocol = proto;
    values.from_port = f;
    values.to_port = t;
  } else if (cidr) return null;
  return values;
}

/** security_group_api.parse_cidr: none is 0.0.0.0/0, anything else must be a valid network. */
function novaCidr(cidr: unknown): string {
  if (cidr === undefined || cidr === null || cidr === '') return '0.0.0.0/0';
  let s: string;
  try {
    s = decodeURIComponent(String(cidr));
  } catch {
    throw badRequest(`${pyStr(cidr)} is not a valid IP network.`);
  }
  if (!s.includes('/') || !parseCidr(s)) throw badRequest(`${s} is not a valid IP network.`);
  return s;
}

export type SecurityGroupParams = { Params: { id: string } };
type P = SecurityGroupParams;

const target = (req: FastifyRequest) => ({ project_id: req.ctx?.projectId ?? null });

export async function listSecurityGroups(svc: ComputeService, req: FastifyRequest) {
  upTo(req, MAX_PROXY);
  authorize(req, POLICY('get'), target(req));
  const call = neutron(svc, req);
  const q = queryOf(req);
  limited(req, []); // the query's limit and offset are validated before the network is asked
  // Neutron has no all_tenants: an admin asking for it gets every project's groups.
  const all = isAdmin(req) && q.has('all_tenants');
  const r = await call(
    'GET',
    `/v2.0/security-groups${all ? '' : `?tenant_id=${encodeURIComponent(req.ctx!.projectId ?? '')}`}`,
  );
  if (r.status !== 200) throw unexpected(r, 'listing security groups');
  const groups = r.body.security_groups.map(novaGroup);
  const names = new GroupNames(call);
  const out = [];
  for (const g of limited(req, groups)) out.push(await groupView(g, names));
  return { security_groups: out.sort(byTenantAndName) };
}

export async function showSecurityGroup(svc: ComputeService, req: FastifyRequest<P>) {
  upTo(req, MAX_PROXY);
  authorize(req, POLICY('show'), target(req));
  const call = neutron(svc, req);
  const g = await getGroup(call, validateId(req.params.id));
  return { security_group: await groupView(g, new GroupNames(call)) };
}

export async function createSecurityGroup(svc: ComputeService, req: FastifyRequest) {
  upTo(req, MAX_PROXY);
  authorize(req, POLICY('create'), target(req));
  const sg = fromBody(req, 'security_group');
  checkString(sg.name ?? null, 'name');
  checkString(sg.description ?? null, 'description');
  const call = neutron(svc, req);
  const r = await call('POST', '/v2.0/security-groups', {
    security_group: { name: sg.name, description: sg.description },
  });
  if (r.status === 400) throw badRequest(neutronMessage(r));
  if (r.status === 409) throw forbidden(neutronMessage(r));
  if (r.status === 401)
    throw badRequest(
      'The server could not comply with the request since it is either malformed or otherwise incorrect.',
    );
  if (r.status !== 201) throw unexpected(r, 'creating a security group');
  return { security_group: await groupView(novaGroup(r.body.security_group), new GroupNames(call)) };
}

export async function updateSecurityGroup(svc: ComputeService, req: FastifyRequest<P>) {
  upTo(req, MAX_PROXY);
  authorize(req, POLICY('update'), target(req));
  const call = neutron(svc, req);
  const g = await getGroup(call, validateId(req.params.id));
  const sg = fromBody(req, 'security_group');
  checkString(sg.name ?? null, 'name');
  checkString(sg.description ?? null, 'description');
  const r = await call('PUT', `/v2.0/security-groups/${g.id}`, {
    security_group: { name: sg.name, description: sg.description },
  });
  if (r.status === 404) throw notFound(neutronMessage(r));
  if (r.status === 400 || r.status === 409) throw badRequest(neutronMessage(r));
  if (r.status !== 200) throw unexpected(r, `updating security group ${g.id}`);
  return { security_group: await groupView(novaGroup(r.body.security_group), new GroupNames(call)) };
}

export async function deleteSecurityGroup(svc: ComputeService, req: FastifyRequest<P>, reply: FastifyReply) {
  upTo(req, MAX_PROXY);
  authorize(req, POLICY('delete'), target(req));
  const call = neutron(svc, req);
  const g = await getGroup(call, validateId(req.params.id));
  const r = await call('DELETE', `/v2.0/security-groups/${g.id}`);
  if (r.status === 404) throw notFound(neutronMessage(r));
  // In use, or the default group: Nova's Invalid.
  if (r.status === 409 || r.status === 400) throw badRequest(neutronMessage(r));
  if (r.status !== 204) throw unexpected(r, `deleting security group ${g.id}`);
  return reply.code(202).send();
}

export async function createSecurityGroupRule(svc: ComputeService, req: FastifyRequest) {
  upTo(req, MAX_PROXY);
  authorize(req, POLICY('rule:create'), target(req));
  const body = fromBody(req, 'security_group_rule');
  const call = neutron(svc, req);
  const parent = await getGroup(call, validateId(body.parent_group_id));
  let groupId: string | null = null;
  let source: NovaGroup | undefined;
  if (body.group_id !== undefined && body.group_id !== null) {
    groupId = validateId(body.group_id);
    source = await getGroup(call, groupId);
  }
  const rule =
    groupId !== null
      ? newIngressRule(body.ip_protocol, body.from_port, body.to_port, groupId, null)
      : newIngressRule(body.ip_protocol, body.from_port, body.to_port, null, novaCidr(body.cidr));
  if (!rule) throw badRequest('Not enough parameters to build a valid rule.');
  if (typeof rule.cidr === 'string') {
    const [net, len] = (rule.cidr as string).split('/');
    if (net !== '0.0.0.0' && net !== '::' && len === '0')
      throw badRequest(`Bad prefix for network in cidr ${rule.cidr}`);
  }
  // The same rule twice is refused before the network is asked (_rule_exists).
  const same = parent.rules.some((r) =>
    (['group_id', 'cidr', 'from_port', 'to_port', 'protocol'] as const).every(
      (k) => (r[k] ?? null) === (rule[k] ?? null),
    ),
  );
  if (same) throw badRequest(`This rule already exists in group ${parent.id}`);
  const cidr = (rule.cidr as string | undefined) ?? null;
  const n: Record<string, unknown> = {
    direction: 'ingress',
    protocol: rule.protocol ?? null,
    ethertype: cidr && cidr.includes(':') ? 'IPv6' : 'IPv4',
    remote_ip_prefix: cidr,
    security_group_id: parent.id,
    remote_group_id: groupId,
  };
  if (rule.from_port !== undefined && rule.from_port !== -1) n.port_range_min = rule.from_port;
  if (rule.to_port !== undefined && rule.to_port !== -1) n.port_range_max = rule.to_port;
  const r = await call('POST', '/v2.0/security-group-rules', { security_group_rule: n });
  if (r.status === 404) throw notFound(neutronMessage(r));
  if (r.status === 409) throw forbidden(neutronMessage(r));
  if (r.status === 400) throw badRequest(neutronMessage(r));
  if (r.status !== 201) throw unexpected(r, 'creating a security group rule');
  const created = novaRule(r.body.security_group_rule);
  const view = await ruleView(
    created,
    new GroupNames(call),
    source ? { name: source.name, tenant_id: source.project_id } : undefined,
  );
  return { security_group_rule: view };
}

export async function deleteSecurityGroupRule(svc: ComputeService, req: FastifyRequest<P>, reply: FastifyReply) {
  upTo(req, MAX_PROXY);
  authorize(req, POLICY('rule:delete'), target(req));
  const call = neutron(svc, req);
  const id = validateId(req.params.id);
  const r = await call('GET', `/v2.0/security-group-rules/${id}`);
  if (r.status === 404) throw notFound(neutronMessage(r));
  if (r.status !== 200) throw unexpected(r, `GET security group rule ${id}`);
  await getGroup(call, r.body.security_group_rule.security_group_id);
  const d = await call('DELETE', `/v2.0/security-group-rules/${id}`);
  if (d.status === 404) throw notFound(neutronMessage(d));
  if (d.status === 409) throw new ApiError(409, neutronMessage(d));
  if (d.status !== 204) throw unexpected(d, `deleting security group rule ${id}`);
  return reply.code(202).send();
}

// A server's groups: those of its ports (get_instance_security_groups, detailed). Not versioned.
export async function listServerSecurityGroups(svc: ComputeService, req: FastifyRequest<P>) {
  const inst = await visibleServer(svc, req, req.params.id);
  authorize(req, POLICY('list'), { project_id: inst.project_id });
  const call = neutron(svc, req);
  const ports = await call('GET', `/v2.0/ports?device_id=${inst.uuid}`);
  if (ports.status !== 200) throw unexpected(ports, "listing the server's ports");
  const ids = [...new Set(((ports.body.ports ?? []) as Port[]).flatMap((p) => p.security_groups ?? []))];
  const found = new Map<string, NovaGroup>();
  for (let i = 0; i < ids.length; i += 150) {
    const chunk = ids.slice(i, i + 150);
    const r: NeutronAnswer = await call('GET', `/v2.0/security-groups?${chunk.map((id) => `id=${id}`).join('&')}`);
    if (r.status === 200) for (const g of r.body.security_groups) found.set(g.id, novaGroup(g));
  }
  // One entry per port and group, as Nova lists them (a group on two ports shows twice).
  const groups: NovaGroup[] = [];
  for (const p of ports.body.ports)
    for (const id of (p.security_groups ?? []) as string[]) {
      const g = found.get(id);
      if (g) groups.push(g);
    }
  const names = new GroupNames(call, groups);
  const out = [];
  for (const g of groups) out.push(await groupView(g, names));
  return { security_groups: out.sort(byTenantAndName) };
}
