// The network service telling compute what changed on a server's ports (upstream's
// neutron/notifiers/nova.py): POST /v2.1/os-server-external-events with the neutron service
// user's token, through core's ComputeClient (core/clients/compute.ts, pinned at 2.1).
//
// - a compute port's status DOWN/BUILD (or new) → ACTIVE/ERROR: `network-vif-plugged`
//   (completed / failed); ACTIVE → DOWN: `network-vif-unplugged` (notifyNovaOnPortStatusChanges);
// - a compute port deleted: `network-vif-deleted`; its fixed IPs changed, or a floating IP
//   associated to / disassociated from it: `network-changed` (notifyNovaOnPortDataChanges).
// Every event is tagged with the port id. A compute port is one whose device_owner starts with
// `compute:` and whose device_id is a uuid.
//
// Events are batched as upstream's BatchNotifier does: the first one after a quiet period goes
// at once (one turn of the event loop later, so that the events of one commit travel together),
// those that arrive within `sendEventsInterval` seconds of a send wait and go together after it.
// Nothing here is awaited by a request; a failed send is logged and dropped, as upstream.
import type { NetworkConfig } from './config.ts';
import { isUuidLike } from '../core/validate.ts';
import { ComputeClient } from '../core/clients/compute.ts';
import type { NetworkService, Family } from './service.ts';
import type { FloatingIpResource, PortResource } from './api/types.ts';

export interface NovaEvent {
  server_uuid: string;
  name: string;
  status?: string;
  tag?: string;
}

/** neutron's _is_compute_port. */
export function isComputePort(port: { device_id?: unknown; device_owner?: unknown } | undefined | null): boolean {
  return (
    !!port &&
    typeof port.device_id === 'string' &&
    isUuidLike(port.device_id) &&
    typeof port.device_owner === 'string' &&
    port.device_owner.startsWith('compute:')
  );
}

/** NEUTRON_NOVA_EVENT_STATUS_MAP. */
const EVENT_STATUS: Record<string, string> = { ACTIVE: 'completed', ERROR: 'failed', DOWN: 'completed' };

/** The event a port's status change means to compute, if any (record_port_status_changed). */
export function statusEvent(
  port: Pick<PortResource, 'id' | 'device_id' | 'device_owner' | 'status'>,
  previous: string | undefined,
): NovaEvent | undefined {
  const current = port.status as string;
  if (previous === current || !isComputePort(port)) return undefined;
  let name: string;
  if (previous === 'ACTIVE' && current === 'DOWN') name = 'network-vif-unplugged';
  else if (
    (previous === undefined || previous === 'DOWN' || previous === 'BUILD') &&
    (current === 'ACTIVE' || current === 'ERROR')
  )
    name = 'network-vif-plugged';
  else return undefined;
  return { server_uuid: port.device_id, name, status: EVENT_STATUS[current], tag: port.id };
}

const ipsOf = (p: PortResource | undefined) =>
  JSON.stringify(
    ((p?.fixed_ips ?? []) as Array<{ ip_address: string; subnet_id: string }>)
      .map((f) => `${f.subnet_id}/${f.ip_address}`)
      .sort(),
  );

/** Queues events and sends them in batches (upstream's BatchNotifier). */
export class NovaNotifier {
  private pending: NovaEvent[] = [];
  private timer?: NodeJS.Timeout;
  private lastSent = 0;
  private inflight = new Set<Promise<void>>();
  /** Every batch handed to compute, newest last (tests read it); at most the last 100. */
  readonly sent: NovaEvent[][] = [];

  /** Compute's API at 2.1, the version Neutron's notifier speaks, with the neutron service user's token. */
  private readonly compute: ComputeClient;

  constructor(private svc: NetworkService) {
    this.compute = new ComputeClient(svc.ctx.session);
  }

  /** neutron's [nova] options (network/config.ts), read as given: a test may replace the whole section. */
  private get cfg(): Partial<NetworkConfig> {
    return this.svc.ctx.config.network ?? {};
  }
  get statusChanges(): boolean {
    return this.cfg.notifyNovaOnPortStatusChanges !== false;
  }
  get dataChanges(): boolean {
    return this.cfg.notifyNovaOnPortDataChanges !== false;
  }
  /** neutron's send_events_interval, in seconds (2). */
  get interval(): number {
    const v = Number(this.cfg.sendEventsInterval ?? 2);
    return Number.isFinite(v) && v >= 0 ? v : 2;
  }

  queue(event: NovaEvent | undefined) {
    if (!event) return;
    this.pending.push(event);
    if (this.timer) return;
    const wait = Math.max(0, this.lastSent + this.interval * 1000 - Date.now());
    this.timer = setTimeout(() => this.fire(), wait);
    this.timer.unref?.();
  }

  private fire() {
    this.timer = undefined;
    if (!this.pending.length) return;
    const seen = new Set<string>();
    const batch = this.pending.splice(0).filter((e) => {
      const k = JSON.stringify(e);
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
    this.lastSent = Date.now();
    const p = this.send(batch).finally(() => this.inflight.delete(p));
    this.inflight.add(p);
  }

  /** Sends what is queued now and waits for every send under way (tests, shutdown). */
  async flush() {
    if (this.timer) {
      clearTimeout(this.timer);
      this.fire();
    }
    await Promise.all([...this.inflight]);
  }

  stop() {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.pending = [];
  }

  private async send(events: NovaEvent[]) {
    const log = this.svc.ctx.log;
    try {
      const res = await this.compute.externalEvents(events);
      this.sent.push(events);
      if (this.sent.length > 100) this.sent.shift();
      if (res.status === 404) {
        log.debug({ events }, 'compute knows none of the servers of these events');
        return;
      }
      if (res.status !== 200 && res.status !== 207) {
        log.warn({ status: res.status, body: res.body, events }, 'compute refused the network events');
        return;
      }
      for (const e of res.body?.events ?? []) {
        if (e.code !== 200) log.debug({ event: e }, 'compute event failed');
      }
    } catch (err) {
      log.warn({ err, events }, 'failed to notify compute of network events');
    }
  }

  // ---- what the resources tell it (hooks added to ports and floating IPs) ----

  portChanged(event: 'create' | 'update' | 'delete', port: PortResource, before: PortResource | undefined) {
    if (event === 'delete') {
      if (this.dataChanges && isComputePort(port))
        this.queue({ server_uuid: port.device_id, name: 'network-vif-deleted', tag: port.id });
      return;
    }
    if (this.statusChanges) this.queue(statusEvent(port, event === 'create' ? undefined : before?.status));
    if (event === 'update' && this.dataChanges && before && isComputePort(port) && ipsOf(port) !== ipsOf(before)) {
      this.queue({ server_uuid: port.device_id, name: 'network-changed', tag: port.id });
    }
  }

  async floatingIpChanged(
    event: 'create' | 'update' | 'delete',
    fip: FloatingIpResource,
    before: FloatingIpResource | undefined,
  ) {
    if (!this.dataChanges) return;
    const now = event === 'delete' ? undefined : (fip.port_id as string | null | undefined);
    const was =
      event === 'delete' ? (fip.port_id as string | null | undefined) : (before?.port_id as string | null | undefined);
    // Moved from one port to another without a disassociation: the old server hears of it too.
    const ids = now && was ? [was, now] : [now || was];
    for (const id of new Set(ids)) {
      if (!id) continue;
      const port = await this.svc.db
        .selectFrom('ports')
        .select(['id', 'device_id', 'device_owner'])
        .where('id', '=', id)
        .executeTakeFirst();
      if (isComputePort(port)) this.queue({ server_uuid: port!.device_id, name: 'network-changed', tag: port!.id });
    }
  }
}

/** The service's compute notifier (made on first use). */
export function novaNotifier(svc: NetworkService): NovaNotifier {
  svc.nova ??= new NovaNotifier(svc);
  return svc.nova;
}

/** Plugs the notifier into ports and floating IPs (one entry in the service's FAMILIES). */
export const novaNotifierFamily: Family = {
  define() {},
  extend(svc) {
    svc.extend('ports', {
      committed: (event, view, _req, before) => {
        novaNotifier(svc).portChanged(event, view, before);
      },
    });
    if (svc.resources.has('floatingips')) {
      svc.extend('floatingips', {
        committed: (event, view, _req, before) => novaNotifier(svc).floatingIpChanged(event, view, before),
      });
    }
  },
  async close(svc) {
    const n = svc.nova;
    if (!n) return;
    await n.flush().catch(() => undefined);
    n.stop();
  },
};
