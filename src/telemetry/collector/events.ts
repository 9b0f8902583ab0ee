// Ceilometer's events (event_definitions.yaml): every notification on the bus becomes an event
// (its type, its message id, when it was generated, typed traits). A definition matches event
// types by fnmatch patterns (`!x` leaves one out); its traits are read with JSONPath `fields`
// (the first that is there wins), converted to their `type` (text, int, float, datetime), or
// computed by a plugin (split, bitfield, timedelta). Definitions later in the file win, as
// Ceilometer reads them; a notification no definition matches still gives an event with the
// default traits (service, request_id, project_id, user_id, tenant_id). The defaults below follow
// Ceilometer's file, written for the notifications Stratus's services send; a versioned Nova
// notification (`instance.update`) gives the event of its unversioned name
// (`compute.instance.update`), the stream Ceilometer consumes. An `event_definitions.yaml` in
// <dataDir>/telemetry replaces the defaults.
import fs from 'node:fs';
import YAML from 'yaml';
import type { Notification } from '../../core/bus.ts';
import { jsonPath } from './meters.ts';
import { fnmatch } from '../../core/python.ts';

export type TraitType = 'text' | 'int' | 'float' | 'datetime';
/** Ceilometer's trait type codes, as events are serialised on the bus (storage/models.py). */
export const TRAIT_DTYPE: Record<TraitType, number> = { text: 1, int: 2, float: 3, datetime: 4 };

export interface Trait {
  name: string;
  dtype: TraitType;
  value: string | number;
}

export interface CeilometerEvent {
  message_id: string;
  event_type: string;
  generated: string;
  traits: Trait[];
  raw: Record<string, unknown>;
}

interface PluginSpec {
  name: 'split' | 'bitfield' | 'timedelta';
  parameters: Record<string, unknown>;
}

interface TraitDefinition {
  name: string;
  type: TraitType;
  fields: string[];
  plugin?: PluginSpec;
}

export interface EventDefinition {
  included: string[];
  excluded: string[];
  traits: TraitDefinition[];
}

// ---- the defaults --------------------------------------------------------------------------

const NOVA = "payload.['nova_object.data']";
const instanceTraits = {
  tenant_id: { fields: `${NOVA}.tenant_id` },
  project_id: { fields: `${NOVA}.tenant_id` },
  user_id: { fields: `${NOVA}.user_id` },
  instance_id: { fields: `${NOVA}.uuid` },
  resource_id: { fields: `${NOVA}.uuid` },
  display_name: { fields: `${NOVA}.display_name` },
  host: { fields: `${NOVA}.host` },
  service: { fields: 'publisher_id', plugin: { name: 'split', parameters: { separator: ':', segment: 0 } } },
  memory_mb: { type: 'int', fields: `${NOVA}.flavor.['nova_object.data'].memory_mb` },
  root_gb: { type: 'int', fields: `${NOVA}.flavor.['nova_object.data'].root_gb` },
  ephemeral_gb: { type: 'int', fields: `${NOVA}.flavor.['nova_object.data'].ephemeral_gb` },
  vcpus: { type: 'int', fields: `${NOVA}.flavor.['nova_object.data'].vcpus` },
  instance_type_id: { fields: `${NOVA}.flavor.['nova_object.data'].flavorid` },
  instance_type: { fields: `${NOVA}.flavor.['nova_object.data'].name` },
  state: { fields: `${NOVA}.state` },
  task_state: { fields: `${NOVA}.task_state` },
  power_state: { fields: `${NOVA}.power_state` },
  image_ref: { fields: `${NOVA}.image_uuid` },
  availability_zone: { fields: `${NOVA}.availability_zone` },
  launched_at: { type: 'datetime', fields: `${NOVA}.launched_at` },
  deleted_at: { type: 'datetime', fields: `${NOVA}.deleted_at` },
  created_at: { type: 'datetime', fields: `${NOVA}.created_at` },
  // Seconds from creation to launch (Ceilometer's timedelta plugin).
  launch_duration: {
    type: 'float',
    fields: [`${NOVA}.created_at`, `${NOVA}.launched_at`],
    plugin: 'timedelta',
  },
};
const neutron = (kind: string) => ({
  event_type: `${kind}.*`,
  traits: {
    project_id: { fields: [`payload.${kind}.project_id`, `payload.${kind}.tenant_id`] },
    tenant_id: { fields: [`payload.${kind}.tenant_id`, `payload.${kind}.project_id`] },
    name: { fields: `payload.${kind}.name` },
    status: { fields: `payload.${kind}.status` },
    resource_id: { fields: [`payload.${kind}.id`, `payload.${kind}_id`, 'payload.id'] },
    host: {
      fields: 'publisher_id',
      plugin: { name: 'split', parameters: { separator: '.', segment: 1, max_split: 1 } },
    },
  },
});
const identityTraits = {
  resource_id: { fields: 'payload.resource_info' },
  initiator_id: { fields: 'payload.initiator.id' },
  project_id: { fields: 'payload.initiator.project_id' },
  domain_id: { fields: 'payload.initiator.domain_id' },
};

export const DEFAULT_EVENT_DEFINITIONS = YAML.stringify([
  { event_type: 'compute.instance.*', traits: instanceTraits },
  {
    event_type: 'compute.instance.update',
    traits: { ...instanceTraits, old_state: { fields: `${NOVA}.state_update.['nova_object.data'].old_state` } },
  },
  {
    event_type: ['volume.*', 'snapshot.*'],
    traits: {
      user_id: { fields: 'payload.user_id' },
      project_id: { fields: ['payload.tenant_id', 'payload.project_id'] },
      tenant_id: { fields: ['payload.tenant_id', 'payload.project_id'] },
      availability_zone: { fields: 'payload.availability_zone' },
      display_name: { fields: 'payload.display_name' },
      status: { fields: 'payload.status' },
      resource_id: { fields: ['payload.volume_id', 'payload.snapshot_id', 'payload.id'] },
      size: { type: 'int', fields: 'payload.size' },
      created_at: { type: 'datetime', fields: 'payload.created_at' },
    },
  },
  {
    event_type: ['image.create', 'image.update', 'image.upload', 'image.delete'],
    traits: {
      project_id: { fields: 'payload.owner' },
      user_id: { fields: 'payload.owner' },
      resource_id: { fields: 'payload.id' },
      name: { fields: 'payload.name' },
      status: { fields: 'payload.status' },
      size: { type: 'int', fields: 'payload.size' },
      created_at: { type: 'datetime', fields: 'payload.created_at' },
      deleted_at: { type: 'datetime', fields: 'payload.deleted_at' },
    },
  },
  {
    event_type: 'orchestration.stack.*',
    traits: {
      project_id: { fields: 'payload.tenant_id' },
      tenant_id: { fields: 'payload.tenant_id' },
      user_id: { fields: 'payload.user_id' },
      resource_id: { fields: ['payload.stack_identity', 'payload.stack_id'] },
      name: { fields: 'payload.name' },
      state: { fields: 'payload.state' },
    },
  },
  {
    event_type: [
      'identity.user.*',
      'identity.project.*',
      'identity.domain.*',
      'identity.group.*',
      'identity.role.*',
      'identity.OS-TRUST:trust.*',
      'identity.region.*',
      'identity.service.*',
      'identity.endpoint.*',
      'identity.policy.*',
      'identity.credential.*',
      'identity.application_credential.*',
    ],
    traits: identityTraits,
  },
  ...[
    'network',
    'subnet',
    'port',
    'router',
    'floatingip',
    'security_group',
    'security_group_rule',
    'trunk',
    'loadbalancer',
    'listener',
    'pool',
    'member',
    'healthmonitor',
    'firewall_group',
    'firewall_policy',
    'firewall_rule',
    'vpnservice',
    'ipsecpolicy',
    'ikepolicy',
    'ipsec_site_connection',
  ].map(neutron),
  {
    event_type: 'l3.meter',
    traits: {
      project_id: { fields: 'payload.tenant_id' },
      tenant_id: { fields: 'payload.tenant_id' },
      resource_id: { fields: 'payload.label_id' },
      bytes: { type: 'int', fields: 'payload.bytes' },
      packets: { type: 'int', fields: 'payload.pkts' },
    },
  },
]);

/** The traits every event has unless its definition says otherwise (Ceilometer's DEFAULT_TRAITS). */
const DEFAULT_TRAITS: Record<string, unknown> = {
  service: { fields: 'publisher_id' },
  request_id: { fields: ['ctxt.request_id', 'payload.request_id'] },
  project_id: { fields: ['payload.tenant_id', 'ctxt.project_id', 'payload.project_id'] },
  user_id: { fields: ['payload.user_id', 'ctxt.user_id'] },
  tenant_id: { fields: ['payload.tenant_id', 'ctxt.tenant_id'] },
};

// ---- loading -------------------------------------------------------------------------------

function traitDefinition(where: string, name: string, raw: unknown): TraitDefinition {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw))
    throw new Error(`${where}: trait ${name} must be a mapping with fields`);
  const t = raw as { fields?: unknown; type?: unknown; plugin?: unknown };
  if (t.fields === undefined) throw new Error(`${where}: trait ${name} has no fields`);
  const fields = Array.isArray(t.fields) ? t.fields : [t.fields];
  if (!fields.length || !fields.every((f) => typeof f === 'string' && f.length))
    throw new Error(`${where}: trait ${name}: fields must be JSONPath strings`);
  const type = (t.type ?? 'text') as TraitType;
  if (!(type in TRAIT_DTYPE))
    throw new Error(`${where}: trait ${name}: unknown type ${String(t.type)} (text, int, float, datetime)`);
  let plugin: PluginSpec | undefined;
  if (t.plugin !== undefined) {
    const p =
      typeof t.plugin === 'string' ? { name: t.plugin } : (t.plugin as { name?: unknown; parameters?: unknown });
    if (!p || typeof p !== 'object' || !['split', 'bitfield', 'timedelta'].includes(String(p.name)))
      throw new Error(
        `${where}: trait ${name}: unknown plugin ${JSON.stringify(t.plugin)} (split, bitfield, timedelta)`,
      );
    plugin = { name: p.name as PluginSpec['name'], parameters: (p.parameters ?? {}) as Record<string, unknown> };
    if (plugin.name === 'bitfield' && !Array.isArray(plugin.parameters.flags))
      throw new Error(`${where}: trait ${name}: the bitfield plugin needs parameters.flags`);
  }
  return { name, type, fields: fields as string[], plugin };
}

/** Checks and loads an event_definitions.yaml text (a list of definitions). */
export function loadEventDefinitions(text: string): EventDefinition[] {
  const doc = YAML.parse(text, { merge: true }) as unknown;
  if (!Array.isArray(doc)) throw new Error('event_definitions.yaml must be a list of event definitions');
  const defs = doc.map((raw, i) => {
    const where = `event_definitions.yaml: definition ${i}`;
    const d = raw as { event_type?: unknown; traits?: unknown };
    if (!d || typeof d !== 'object') throw new Error(`${where} is not a mapping`);
    if (d.event_type === undefined) throw new Error(`${where} has no event_type`);
    const types = Array.isArray(d.event_type) ? d.event_type : [d.event_type];
    if (!types.every((t) => typeof t === 'string')) throw new Error(`${where}: event_type must be strings`);
    const included = (types as string[]).filter((t) => !t.startsWith('!'));
    const excluded = (types as string[]).filter((t) => t.startsWith('!')).map((t) => t.slice(1));
    if (!included.length) included.push('*');
    const traits = { ...DEFAULT_TRAITS, ...((d.traits ?? {}) as Record<string, unknown>) };
    return { included, excluded, traits: Object.entries(traits).map(([n, t]) => traitDefinition(where, n, t)) };
  });
  // Later definitions win (Ceilometer reverses the list).
  return defs.reverse();
}

/** The definitions: <dataDir>/telemetry/event_definitions.yaml when present, else the defaults. */
export function eventDefinitions(file: string): EventDefinition[] {
  return loadEventDefinitions(fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : DEFAULT_EVENT_DEFINITIONS);
}

// ---- conversion ----------------------------------------------------------------------------

const INLINE_SPLIT = /^(.*?)\.?`split\(\s*([^,]*?)\s*,\s*(-?\d+)\s*,\s*(-?\d+)\s*\)`$/;

function split(value: unknown, separator: string, segment: number, maxSplit?: number): string | undefined {
  if (typeof value !== 'string') return undefined;
  let parts = value.split(separator);
  // Python's str.split(sep, maxsplit): at most maxsplit cuts, the rest kept whole.
  if (maxSplit !== undefined && maxSplit >= 0 && parts.length > maxSplit + 1)
    parts = [...parts.slice(0, maxSplit), parts.slice(maxSplit).join(separator)];
  return parts.at(segment);
}

/** One field's value: a JSONPath (with or without `$.`), optionally with Ceilometer's inline split. */
function field(root: unknown, f: string): unknown {
  const m = INLINE_SPLIT.exec(f);
  if (m) return split(field(root, m[1]!), m[2]!, Number(m[3]), Number(m[4]));
  const p = f.startsWith('$') ? f : `$.${f}`;
  return jsonPath(root, p.replace(/\.'([^']*)'/g, ".['$1']"));
}

function convert(type: TraitType, v: unknown): string | number | undefined {
  if (v === undefined || v === null) return undefined;
  switch (type) {
    case 'int': {
      const n = typeof v === 'boolean' ? Number(v) : Number.parseInt(String(v), 10);
      return Number.isFinite(n) ? n : undefined;
    }
    case 'float': {
      const n = Number(v);
      return Number.isFinite(n) ? n : undefined;
    }
    case 'datetime': {
      const t = Date.parse(String(v));
      return Number.isNaN(t) ? undefined : new Date(t).toISOString().replace('Z', '');
    }
    default:
      return typeof v === 'object' ? JSON.stringify(v) : String(v);
  }
}

function traitValue(root: unknown, t: TraitDefinition): unknown {
  const found = t.fields.map((f) => [f, field(root, f)] as const).filter(([, v]) => v !== undefined && v !== null);
  const p = t.plugin;
  if (!p) return found[0]?.[1];
  if (p.name === 'split') {
    const sep = String(p.parameters.separator ?? '-');
    const max = p.parameters.max_split === undefined ? undefined : Number(p.parameters.max_split);
    return split(found[0]?.[1], sep, Number(p.parameters.segment ?? 0), max);
  }
  if (p.name === 'timedelta') {
    if (found.length !== 2) return undefined;
    const a = Date.parse(String(found[0]![1]));
    const b = Date.parse(String(found[1]![1]));
    return Number.isNaN(a) || Number.isNaN(b) ? undefined : Math.abs(b - a) / 1000;
  }
  // bitfield: each flag sets its bit when its path is there (and, with `value`, equals it).
  let bits = Number(p.parameters.initial_bitfield ?? 0);
  for (const flag of p.parameters.flags as Array<{ path: string; bit: number; value?: unknown }>) {
    const v = field(root, flag.path);
    if (v === undefined || v === null) continue;
    if (flag.value !== undefined && flag.value !== v) continue;
    bits |= 1 << Number(flag.bit);
  }
  return bits;
}

/**
 * The name Ceilometer sees a notification under: Nova's versioned `instance.*` notifications are
 * the unversioned `compute.instance.*` stream Ceilometer listens to (Nova sends both).
 */
export function legacyEventType(n: Notification): string {
  const p = n.payload as Record<string, unknown> | null;
  if (n.event_type.startsWith('instance.') && p && typeof p === 'object' && 'nova_object.data' in p)
    return `compute.${n.event_type}`;
  return n.event_type;
}

let catchAllTraits: TraitDefinition[] | undefined;
/** The traits of a notification no definition matches (Ceilometer keeps it: drop_unmatched_notifications is off). */
const catchAll = () => (catchAllTraits ??= loadEventDefinitions('[{event_type: "*"}]')[0]!.traits);

/** The event a notification gives. */
export function eventFrom(defs: EventDefinition[], n: Notification): CeilometerEvent {
  const type = legacyEventType(n);
  const def = defs.find((d) => d.included.some((p) => fnmatch(p, type)) && !d.excluded.some((p) => fnmatch(p, type)));
  const traitDefs = def?.traits ?? catchAll();
  const root = { ...n, event_type: type };
  const traits: Trait[] = [];
  for (const t of traitDefs) {
    const v = convert(t.type, traitValue(root, t));
    if (v !== undefined) traits.push({ name: t.name, dtype: t.type, value: v });
  }
  return { message_id: n.message_id, event_type: type, generated: n.timestamp, traits, raw: {} };
}

/** The form events travel in on the bus and over HTTP (Ceilometer's message_from_event). */
export function serializeEvent(e: CeilometerEvent) {
  return {
    message_id: e.message_id,
    event_type: e.event_type,
    generated: e.generated,
    traits: e.traits.map((t) => [t.name, TRAIT_DTYPE[t.dtype], t.value]),
    raw: e.raw,
  };
}

export function traitOf(e: CeilometerEvent, name: string): string | number | undefined {
  return e.traits.find((t) => t.name === name)?.value;
}
