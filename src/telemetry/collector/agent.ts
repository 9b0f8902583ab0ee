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
import { type PollingSource, pollingSources } from './polling.ts';
import { meterSelected } from './pipeline.ts';
import { type CeilometerEvent, type EventDefinition, eventDefinitions, eventFrom } from './events.ts';
import { EVENT_NOTIFICATION, EventPipeline } from './event_pipeline.ts';

export class TelemetryAgent {
  private meters: MeterDefinition[];
  private pipeline: Pipeline;
  private eventDefs: EventDefinition[];
  private eventPipeline: EventPipeline;
  private pendingEvents: CeilometerEvent[] = [];
  /** polling.yaml's sources (or one source of every pollster every pollingInterval). */
  readonly polling: PollingSource[];
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
    this.polling = pollingSources(path.join(o.configDir, 'polling.yaml'), o.pollsters, o.pollingInterval);
  }

  start() {
    this.unlisten = this.bus.onNotification('', (n) => this.onNotification(n));
    for (const src of this.polling)
      if (src.pollsters.length)
        this.periodic.add(`telemetry polling ${src.name}`, src.interval, () => this.poll(src).then(() => undefined));
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

  /** One polling round of a polling.yaml source (by default: every configured pollster, every meter). */
  async poll(source?: PollingSource): Promise<number> {
    let n = 0;
    for (const name of source?.pollsters ?? this.o.pollsters) {
      const pollster = POLLSTERS[name];
      if (!pollster) continue;
      try {
        let samples = await pollster(this.session);
        if (source) samples = samples.filter((s) => meterSelected(source.meters, s.name));
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
