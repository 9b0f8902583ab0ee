// Ceilometer's agents: the notification agent (every notification on the bus, turned into
// samples by the meter definitions, sent through the pipeline, and into an event by the event
// definitions, sent through the event pipeline) and the polling agent (the
// pollsters every polling interval). Samples are published in small batches: a burst of
// notifications costs one call to the metric service.
import path from 'node:path';
import type { MessageBus, Notification } from '../../core/bus.ts';
import type { ServiceSession } from '../../core/clients/session.ts';
import type { Logger } from '../../core/log.ts';
import { PeriodicTasks } from '../../core/periodic.ts';
import type { CollectorOptions } from './config.ts';
import { GnocchiPublisher } from './gnocchi_publisher.ts';
import { type MeterDefinition, type Sample, meterDefinitions, samplesFrom } from './meters.ts';
import { Pipeline } from './pipeline.ts';
import { POLLSTERS } from './pollsters.ts';
import { type CeilometerEvent, type EventDefinition, eventDefinitions, eventFrom } from './events.ts';
import { EVENT_NOTIFICATION, EventPipeline } from './event_pipeline.ts';

export class TelemetryAgent {
  private meters: MeterDefinition[];
  private pipeline: Pipeline;
  private eventDefs: EventDefinition[];
  private eventPipeline: EventPipeline;
  private pendingEvents: CeilometerEvent[] = [];
  private periodic: PeriodicTasks;
  private pending: Sample[] = [];
  private flushing?: Promise<void>;
  private timer?: NodeJS.Timeout;
  private unlisten?: () => void;

  constructor(
    private o: CollectorOptions,
    private bus: MessageBus,
    private session: ServiceSession,
    private log: Logger,
  ) {
    this.meters = meterDefinitions(path.join(o.configDir, 'meters.yaml'));
    const gnocchi = new GnocchiPublisher(session, log, o.archivePolicy, o.rateArchivePolicy);
    this.pipeline = new Pipeline(path.join(o.configDir, 'pipeline.yaml'), gnocchi, bus, log);
    this.eventDefs = eventDefinitions(path.join(o.configDir, 'event_definitions.yaml'));
    this.eventPipeline = new EventPipeline(path.join(o.configDir, 'event_pipeline.yaml'), gnocchi, bus, log);
    this.periodic = new PeriodicTasks(log);
  }

  start() {
    this.unlisten = this.bus.onNotification('', (n) => this.onNotification(n));
    if (this.o.pollingInterval > 0) this.periodic.add('telemetry polling', this.o.pollingInterval, () => this.poll());
  }

  onNotification(n: Notification) {
    // What the publishers themselves send is not collected again.
    if (n.event_type === 'telemetry.sample' || n.event_type === EVENT_NOTIFICATION) return;
    const samples = samplesFrom(this.meters, n);
    this.pending.push(...samples);
    if (this.o.events) this.pendingEvents.push(eventFrom(this.eventDefs, n));
    if (!this.pending.length && !this.pendingEvents.length) return;
    this.timer ??= setTimeout(() => void this.flush(), 200);
  }

  /** Publishes what is pending (and waits for a flush already running). */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.flushing;
    const batch = this.pending.splice(0);
    const events = this.pendingEvents.splice(0);
    if (!batch.length && !events.length) return;
    this.flushing = (async () => {
      if (batch.length) await this.pipeline.publish(batch);
      if (events.length) await this.eventPipeline.publish(events);
    })();
    await this.flushing;
    this.flushing = undefined;
  }

  /** One polling round of every configured pollster. */
  async poll(): Promise<number> {
    let n = 0;
    for (const name of this.o.pollsters) {
      const pollster = POLLSTERS[name];
      if (!pollster) continue;
      try {
        const samples = await pollster(this.session);
        n += samples.length;
        await this.pipeline.publish(samples);
      } catch (err) {
        this.log.warn({ err, pollster: name }, 'pollster failed');
      }
    }
    return n;
  }

  /** Sends samples through the pipeline (what a pollster of another process, or a test, measured). */
  publish(samples: Sample[]): Promise<void> {
    return this.pipeline.publish(samples);
  }

  async stop() {
    this.unlisten?.();
    this.periodic.stop();
    await this.flush().catch(() => undefined);
  }
}
