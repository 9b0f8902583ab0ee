// The gnocchi:// publisher (Ceilometer's publisher/gnocchi.py with its gnocchi_resources.yaml):
// samples become measures of the metric named after the meter, on the resource of the type the
// meter belongs to, in one batch call (create_metrics=true); a resource Gnocchi does not know yet
// is created with the attributes the sample's metadata carries, then the batch is sent again;
// changed attributes are patched; an instance's delete ends its resource.
import type { ServiceSession } from '../../core/clients/session.ts';
import type { Logger } from '../../core/log.ts';
import type { Sample } from './meters.ts';
import { type CeilometerEvent, traitOf } from './events.ts';
import { fnmatch } from '../../core/python.ts';

interface ResourceMapping {
  type: string;
  /** Meter name patterns (fnmatch) of this resource type. */
  metrics: string[];
  /** Resource attribute → sample metadata key. */
  attributes: Record<string, string>;
  /** Event types (fnmatch) that end the resource (gnocchi_resources.yaml's event_delete). */
  eventDelete?: string[];
  /** The trait holding the resource id in those events (event_attributes.id). */
  eventId?: string;
  /** Resource types ended with it: those whose `instance_id` is its id (event_associated_resources). */
  eventAssociated?: string[];
}

/** Which meters belong to which resource type (Ceilometer's gnocchi_resources.yaml, reduced). */
export const RESOURCE_MAPPINGS: ResourceMapping[] = [
  {
    type: 'instance',
    metrics: ['memory', 'memory.usage', 'memory.resident', 'vcpus', 'cpu', 'disk.root.size', 'disk.ephemeral.size'],
    attributes: {
      host: 'host',
      display_name: 'display_name',
      flavor_id: 'flavor_id',
      flavor_name: 'flavor_name',
      image_ref: 'image_ref',
      server_group: 'server_group',
    },
    eventDelete: ['compute.instance.delete.start'],
    eventId: 'instance_id',
    eventAssociated: ['instance_network_interface', 'instance_disk'],
  },
  {
    type: 'instance_disk',
    metrics: ['disk.device.*'],
    attributes: { name: 'disk_name', instance_id: 'instance_id' },
  },
  {
    type: 'instance_network_interface',
    metrics: ['network.incoming.*', 'network.outgoing.*'],
    attributes: { name: 'vnic_name', instance_id: 'instance_id' },
  },
  {
    type: 'image',
    metrics: ['image.size', 'image.download', 'image.serve'],
    attributes: { name: 'name', container_format: 'container_format', disk_format: 'disk_format' },
    eventDelete: ['image.delete'],
    eventId: 'resource_id',
  },
  {
    type: 'network',
    metrics: ['network', 'subnet', 'port', 'router', 'ip.floating', 'bandwidth', 'network.services.*'],
    attributes: {},
    eventDelete: ['floatingip.delete.end'],
    eventId: 'resource_id',
  },
  {
    type: 'volume',
    metrics: ['volume', 'volume.size', 'snapshot.size', 'volume.snapshot.size', 'volume.backup.size'],
    attributes: {
      display_name: 'display_name',
      volume_type: 'volume_type',
      image_id: 'image_id',
      instance_id: 'instance_id',
    },
    eventDelete: ['volume.delete.end', 'snapshot.delete.end'],
    eventId: 'resource_id',
  },
  {
    type: 'stack',
    metrics: [],
    attributes: {},
    eventDelete: ['orchestration.stack.delete.end'],
    eventId: 'resource_id',
  },
  {
    type: 'swift_account',
    metrics: ['storage.objects', 'storage.objects.size', 'storage.objects.containers'],
    attributes: {},
  },
];

/** Meters whose measures are counters (their archive policy keeps rate:mean). */
const RATE_METERS = ['cpu', 'disk.device.*.bytes', 'disk.device.*.requests', 'network.*.bytes', 'network.*.packets'];

export function mappingOf(meter: string): ResourceMapping | undefined {
  return RESOURCE_MAPPINGS.find((m) => m.metrics.some((p) => fnmatch(p, meter)));
}

export class GnocchiPublisher {
  private known = new Map<string, string>();
  constructor(
    private session: ServiceSession,
    private log: Logger,
    private archivePolicy: string,
    private rateArchivePolicy: string,
  ) {}

  private policyOf(meter: string) {
    return RATE_METERS.some((p) => fnmatch(p, meter)) ? this.rateArchivePolicy : this.archivePolicy;
  }

  async publish(samples: Sample[]): Promise<void> {
    if (!samples.length) return;
    const base = await this.session.endpoint('metric');
    const resources = new Map<
      string,
      {
        type: string;
        sample: Sample;
        attrs: Record<string, unknown>;
        metrics: Record<
          string,
          { archive_policy_name: string; unit: string; measures: Array<{ timestamp: string; value: number }> }
        >;
      }
    >();
    for (const s of samples) {
      const mapping = mappingOf(s.name);
      if (!mapping) continue;
      let r = resources.get(s.resource_id);
      if (!r) resources.set(s.resource_id, (r = { type: mapping.type, sample: s, attrs: {}, metrics: {} }));
      for (const [attr, key] of Object.entries(mapping.attributes))
        if (s.resource_metadata[key] !== undefined && s.resource_metadata[key] !== null)
          r.attrs[attr] = s.resource_metadata[key];
      r.sample = s;
      const m = (r.metrics[s.name] ??= { archive_policy_name: this.policyOf(s.name), unit: s.unit, measures: [] });
      m.measures.push({ timestamp: s.timestamp, value: s.volume });
    }
    const body = Object.fromEntries([...resources].map(([id, r]) => [id, r.metrics]));
    const send = () =>
      this.session.fetch(`${base}/v1/batch/resources/metrics/measures?create_metrics=true`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });
    // Attributes that changed since the last time: patched (a resource not there yet is created below).
    for (const [id, r] of resources) {
      const sig = JSON.stringify(r.attrs);
      if (this.known.has(id) && this.known.get(id) !== sig && Object.keys(r.attrs).length) {
        await this.session.fetch(`${base}/v1/resource/${r.type}/${encodeURIComponent(id)}`, {
          method: 'PATCH',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify(r.attrs),
        });
        this.known.set(id, sig);
      }
    }
    let res = await send();
    if (res.status === 400) {
      const err = (await res.json()) as {
        description?: { cause?: string; detail?: Array<{ original_resource_id: string }> };
      };
      if (err.description?.cause !== 'Unknown resources')
        throw new Error(`gnocchi refused the batch: ${JSON.stringify(err)}`);
      for (const { original_resource_id: id } of err.description.detail ?? []) {
        const r = resources.get(id);
        if (!r) continue;
        const c = await this.session.fetch(`${base}/v1/resource/${r.type}`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ id, user_id: r.sample.user_id, project_id: r.sample.project_id, ...r.attrs }),
        });
        if (c.status !== 201 && c.status !== 409) {
          // Its samples are dropped (as Ceilometer does), the others still go.
          this.log.warn(
            { resource: id, status: c.status, body: await c.text() },
            'gnocchi publisher could not create a resource',
          );
          delete body[id];
          continue;
        }
        this.known.set(id, JSON.stringify(r.attrs));
      }
      if (!Object.keys(body).length) return;
      res = await send();
    }
    if (res.status !== 202) throw new Error(`gnocchi answered ${res.status} to a batch: ${await res.text()}`);
    for (const id of resources.keys())
      if (!this.known.has(id)) this.known.set(id, JSON.stringify(resources.get(id)!.attrs));
  }

  /**
   * Events (Ceilometer's publish_events): one whose type is a resource type's `event_delete` ends
   * that resource (the id from its trait) and its associated resources, as the samples never say
   * when a resource is gone.
   */
  async publishEvents(events: CeilometerEvent[]): Promise<void> {
    let base: string | undefined;
    for (const e of events) {
      const rd = RESOURCE_MAPPINGS.find((m) => m.eventDelete?.some((p) => fnmatch(p, e.event_type)));
      if (!rd) continue;
      const id = traitOf(e, rd.eventId ?? 'resource_id');
      if (id === undefined || id === '') continue;
      base ??= await this.session.endpoint('metric');
      const endedAt = new Date().toISOString();
      const toEnd: Array<{ type: string; id: string }> = [{ type: rd.type, id: String(id) }];
      for (const type of rd.eventAssociated ?? []) {
        const res = await this.session.fetch(`${base}/v1/search/resource/${type}`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ and: [{ '=': { instance_id: String(id) } }, { '=': { ended_at: null } }] }),
        });
        if (res.ok) for (const r of (await res.json()) as Array<{ id: string }>) toEnd.push({ type, id: r.id });
      }
      for (const r of toEnd) {
        const res = await this.session.fetch(`${base}/v1/resource/${r.type}/${encodeURIComponent(r.id)}`, {
          method: 'PATCH',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ ended_at: endedAt }),
        });
        // A resource Gnocchi never had (no sample yet) is fine, as in Ceilometer.
        if (!res.ok && res.status !== 404)
          this.log.warn(
            { resource: r.id, status: res.status, body: await res.text() },
            'gnocchi could not end a resource',
          );
        this.known.delete(r.id);
      }
    }
  }
}
