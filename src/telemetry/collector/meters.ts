// Ceilometer's meter definitions (meters.yaml): which notification becomes which sample, with
// JSONPath expressions into the notification. The defaults below follow Ceilometer's own file,
// written for the versioned notifications Stratus's services send (payload
// ['nova_object.data'] for instances, {network: ...} bodies for Neutron). A `meters.yaml` in
// <dataDir>/telemetry replaces them.
import fs from 'node:fs';
import YAML from 'yaml';
import type { Notification } from '../../core/bus.ts';
import { fnmatch } from '../../core/python.ts';

export interface Sample {
  name: string;
  type: 'gauge' | 'delta' | 'cumulative';
  unit: string;
  volume: number;
  user_id: string | null;
  project_id: string | null;
  resource_id: string;
  timestamp: string;
  resource_metadata: Record<string, unknown>;
  source: string;
}

export interface MeterDefinition {
  name: string;
  event_type: string | string[];
  type: Sample['type'];
  unit: string;
  volume: string | number;
  resource_id: string;
  user_id?: string;
  project_id?: string;
  metadata?: Record<string, string>;
}

const INSTANCE = "$.payload.['nova_object.data']";
const instanceMeter = (name: string, unit: string, volume: string | number): Record<string, unknown> => ({
  name,
  event_type: [
    'instance.create.end',
    'instance.update',
    'instance.resize*.end',
    'instance.power_*.end',
    'instance.reboot.end',
    'instance.rebuild.end',
    'instance.delete.end',
    'instance.*.end',
  ],
  type: 'gauge',
  unit,
  volume,
  user_id: `${INSTANCE}.user_id`,
  project_id: `${INSTANCE}.tenant_id`,
  resource_id: `${INSTANCE}.uuid`,
  metadata: {
    host: `${INSTANCE}.host`,
    display_name: `${INSTANCE}.display_name`,
    flavor_id: `${INSTANCE}.flavor.['nova_object.data'].flavorid`,
    flavor_name: `${INSTANCE}.flavor.['nova_object.data'].name`,
    image_ref: `${INSTANCE}.image_uuid`,
    state: `${INSTANCE}.state`,
    server_group: `${INSTANCE}.metadata.['metering.server_group']`,
    stack_id: `${INSTANCE}.metadata.['metering.stack']`,
  },
});
const neutronMeter = (name: string, kind: string, unit: string): Record<string, unknown> => ({
  name,
  event_type: [`${kind}.create.end`, `${kind}.update.end`, `${kind}.delete.end`],
  type: 'gauge',
  unit,
  volume: 1,
  project_id: `$.payload.${kind}.project_id`,
  resource_id: `$.payload.${kind}.id`,
  metadata: { name: `$.payload.${kind}.name`, status: `$.payload.${kind}.status` },
});

export const DEFAULT_METERS = YAML.stringify({
  metric: [
    instanceMeter('memory', 'MB', `${INSTANCE}.flavor.['nova_object.data'].memory_mb`),
    instanceMeter('vcpus', 'vcpu', `${INSTANCE}.flavor.['nova_object.data'].vcpus`),
    instanceMeter('disk.root.size', 'GB', `${INSTANCE}.flavor.['nova_object.data'].root_gb`),
    instanceMeter('disk.ephemeral.size', 'GB', `${INSTANCE}.flavor.['nova_object.data'].ephemeral_gb`),
    neutronMeter('network', 'network', 'network'),
    neutronMeter('subnet', 'subnet', 'subnet'),
    neutronMeter('port', 'port', 'port'),
    neutronMeter('router', 'router', 'router'),
    neutronMeter('ip.floating', 'floatingip', 'ip'),
    // The metering agent's traffic per label (Ceilometer's meters.yaml `bandwidth`).
    {
      name: 'bandwidth',
      event_type: 'l3.meter',
      type: 'delta',
      unit: 'B',
      volume: '$.payload.bytes',
      project_id: '$.payload.tenant_id',
      resource_id: '$.payload.label_id',
    },
  ],
});

/** Reads a JSONPath of the forms Ceilometer's files use: $.a.b, $.a.['x.y'].c, $.a[0]. */
export function jsonPath(root: unknown, path: string): unknown {
  if (!path.startsWith('$')) return undefined;
  const re = /\.?\[\s*'([^']*)'\s*\]|\.?\[\s*"([^"]*)"\s*\]|\.?\[(\d+)\]|\.([^.[\]]+)/y;
  let node: unknown = root;
  let pos = 1;
  while (pos < path.length) {
    re.lastIndex = pos;
    const m = re.exec(path);
    if (!m) return undefined;
    pos = re.lastIndex;
    const key = m[1] ?? m[2] ?? m[4];
    if (node === null || node === undefined || typeof node !== 'object') return undefined;
    node = m[3] !== undefined ? (node as unknown[])[Number(m[3])] : (node as Record<string, unknown>)[key!];
  }
  return node;
}

/** Checks and loads a meters.yaml text. */
export function loadMeters(text: string): MeterDefinition[] {
  const doc = YAML.parse(text) as { metric?: unknown };
  if (!doc || !Array.isArray(doc.metric)) throw new Error('meters.yaml has no metric list');
  return doc.metric.map((m, i) => {
    const d = m as MeterDefinition;
    for (const k of ['name', 'event_type', 'type', 'unit', 'volume', 'resource_id'] as const)
      if (d[k] === undefined) throw new Error(`meters.yaml: meter ${i} (${d.name ?? '?'}) has no ${k}`);
    if (!['gauge', 'delta', 'cumulative'].includes(d.type))
      throw new Error(`meters.yaml: meter ${d.name}: bad type ${d.type}`);
    return d;
  });
}

/** The definitions: <dataDir>/telemetry/meters.yaml when present, else the defaults. */
export function meterDefinitions(file: string): MeterDefinition[] {
  return loadMeters(fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : DEFAULT_METERS);
}

const value = (n: Notification, v: string | number | undefined): unknown =>
  typeof v === 'string' && v.startsWith('$') ? jsonPath(n, v) : v;

/** The samples a notification gives (one per matching definition with a resource and a number). */
export function samplesFrom(defs: MeterDefinition[], n: Notification): Sample[] {
  const out: Sample[] = [];
  for (const d of defs) {
    const types = Array.isArray(d.event_type) ? d.event_type : [d.event_type];
    if (!types.some((t) => fnmatch(t, n.event_type))) continue;
    const resource = value(n, d.resource_id);
    const volume = Number(value(n, d.volume));
    if (typeof resource !== 'string' || !resource || !Number.isFinite(volume)) continue;
    const metadata: Record<string, unknown> = {};
    for (const [k, p] of Object.entries(d.metadata ?? {})) {
      const v = value(n, p);
      if (v !== undefined) metadata[k] = v;
    }
    metadata.event_type = n.event_type;
    out.push({
      name: d.name,
      type: d.type,
      unit: d.unit,
      volume,
      user_id: (value(n, d.user_id) as string | undefined) ?? null,
      project_id: (value(n, d.project_id) as string | undefined) ?? null,
      resource_id: resource,
      timestamp: n.timestamp,
      resource_metadata: metadata,
      source: 'openstack',
    });
  }
  return out;
}
