// The metering agent (upstream's neutron-metering-agent), a role of the network agent of a host
// whose data plane counts traffic (linuxbridge: drivers/linuxbridge/metering.ts): every measure
// interval it reads from the server the routers hosted here with the metering labels that apply
// to them (get_sync_data_metering), has the driver count them, and adds the driver's counters to
// each label's; every report interval it sends one `l3.meter` notification per label (the
// payload upstream sends: label_id, tenant_id, pkts, bytes, time, first_update, last_update,
// host; Ceilometer's `bandwidth` meter is made of them) and starts the label's counts again.
import type { MessageBus } from '../../core/bus.ts';
import type { Logger } from '../../core/log.ts';
import type { DataplaneDriver, MeteringRouterInfo } from '../drivers/dataplane.ts';

/** The payload of an `l3.meter` notification. */
export interface MeterPayload {
  label_id: string;
  tenant_id: string | null;
  pkts: number;
  bytes: number;
  /** Seconds counted since the last report. */
  time: number;
  first_update: number;
  last_update: number;
  host: string;
}

export interface MeteringOptions {
  host: string;
  driver: Pick<DataplaneDriver, 'syncMetering' | 'meteringCounters'>;
  /** The routers hosted here with their labels (the q-plugin call). */
  fetch: () => Promise<MeteringRouterInfo[]>;
  /** Sends one notification (the bus's notify with publisher `metering.<host>`). */
  notify: (eventType: 'l3.meter', payload: MeterPayload) => void;
  /** Seconds between counter reads (upstream's measure_interval, 30) and between reports (report_interval, 300). */
  measureInterval?: number;
  reportInterval?: number;
  log?: Logger;
}

/** What the agent counts for a label between its reports: a payload but for the label and the host. */
type LabelInfo = Omit<MeterPayload, 'label_id' | 'host'>;

const now = () => Math.floor(Date.now() / 1000);

export class MeteringAgent {
  readonly labels = new Map<string, LabelInfo>();
  private timers: NodeJS.Timeout[] = [];
  private measuring?: Promise<void>;
  /** Routers counted in the last measure round. */
  private routers = 0;

  constructor(private o: MeteringOptions) {}

  /** A metering agent for the network agent of `host`: over the bus, publisher `metering.<host>`. */
  static overBus(
    bus: MessageBus,
    host: string,
    driver: MeteringOptions['driver'],
    fetch: MeteringOptions['fetch'],
    o: Pick<MeteringOptions, 'measureInterval' | 'reportInterval' | 'log'> = {},
  ): MeteringAgent {
    return new MeteringAgent({
      host,
      driver,
      fetch,
      notify: (eventType, payload) => bus.notify(`metering.${host}`, eventType, payload),
      ...o,
    });
  }

  start() {
    const every = (s: number, f: () => Promise<void> | void) => {
      const t = setInterval(() => {
        Promise.resolve(f()).catch((err) => this.o.log?.warn({ err }, 'metering agent: a round failed'));
      }, s * 1000);
      t.unref();
      this.timers.push(t);
    };
    every(this.o.measureInterval ?? 30, () => this.measure());
    every(this.o.reportInterval ?? 300, () => this.report());
  }

  /** What upstream's neutron-metering-agent reports in its agent state's configurations. */
  configurations(driverName: string): Record<string, unknown> {
    return {
      metering_driver: `stratus.${driverName}`,
      measure_interval: this.o.measureInterval ?? 30,
      report_interval: this.o.reportInterval ?? 300,
      routers: this.routers,
      labels: this.labels.size,
    };
  }

  async stop() {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.measuring;
  }

  /** One measure round: the labels applied as the server has them, the counters added to each label's. */
  measure(): Promise<void> {
    this.measuring ??= this.measureOnce().finally(() => {
      this.measuring = undefined;
    });
    return this.measuring;
  }

  private async measureOnce() {
    const { driver } = this.o;
    if (!driver.syncMetering || !driver.meteringCounters) return;
    const routers = await this.o.fetch();
    this.routers = routers.length;
    const tenants = new Map<string, string | null>();
    for (const r of routers) for (const l of r.labels) tenants.set(l.id, l.project_id);
    await driver.syncMetering(routers);
    const ts = now();
    for (const [id, tenant] of tenants)
      if (!this.labels.has(id))
        this.labels.set(id, { tenant_id: tenant, pkts: 0, bytes: 0, time: 0, first_update: ts, last_update: ts });
    for (const c of await driver.meteringCounters()) {
      const info = this.labels.get(c.label_id);
      if (!info) continue;
      info.pkts += c.pkts;
      info.bytes += c.bytes;
    }
    for (const [id, info] of this.labels) {
      // Labels gone from the server are reported one last time, then forgotten.
      if (!tenants.has(id) && !info.pkts && !info.bytes) {
        this.labels.delete(id);
        continue;
      }
      info.time += ts - info.last_update;
      info.last_update = ts;
    }
  }

  /** Sends `l3.meter` for every label and starts their counts again (upstream's _metering_notification). */
  report() {
    for (const [id, info] of this.labels) {
      this.o.notify('l3.meter', {
        label_id: id,
        tenant_id: info.tenant_id,
        pkts: info.pkts,
        bytes: info.bytes,
        time: info.time,
        first_update: info.first_update,
        last_update: info.last_update,
        host: this.o.host,
      });
      info.pkts = 0;
      info.bytes = 0;
      info.time = 0;
    }
  }
}
