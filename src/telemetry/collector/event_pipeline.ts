// Ceilometer's event pipeline (event_pipeline.yaml): sources pick event types ("*", names,
// patterns, "!type" to leave out) and hand their events to sinks, whose publishers send them on:
// gnocchi:// (ends the resources of delete events), notifier:// (an `event` notification on the
// bus, what Aodh's event listener consumes; `?topic=` is accepted and names the topic upstream's
// aodh-listener reads, `alarm.all` under DevStack), http(s)://<url> (a POST of the events),
// file://<path> (JSON lines), log://. An `event_pipeline.yaml` in <dataDir>/telemetry replaces
// the default (gnocchi:// and notifier://, as DevStack configures Ceilometer with Aodh).
import fs from 'node:fs';
import YAML from 'yaml';
import type { MessageBus } from '../../core/bus.ts';
import type { Logger } from '../../core/log.ts';
import { type CeilometerEvent, serializeEvent } from './events.ts';
import type { GnocchiPublisher } from './gnocchi_publisher.ts';
import { meterSelected } from './pipeline.ts';

/** The notification type the notifier:// publisher sends events under (and Aodh listens to). */
export const EVENT_NOTIFICATION = 'event';

export const DEFAULT_EVENT_PIPELINE = YAML.stringify({
  sources: [{ name: 'event_source', events: ['*'], sinks: ['event_sink'] }],
  sinks: [{ name: 'event_sink', publishers: ['gnocchi://', 'notifier://?topic=alarm.all'] }],
});

interface EventPipelineDoc {
  sources: Array<{ name: string; events?: string[]; sinks?: string[] }>;
  sinks: Array<{ name: string; publishers?: string[] }>;
}

export function loadEventPipeline(text: string): EventPipelineDoc {
  const doc = YAML.parse(text) as EventPipelineDoc;
  if (!doc || !Array.isArray(doc.sources) || !Array.isArray(doc.sinks))
    throw new Error('event_pipeline.yaml needs sources and sinks');
  for (const s of doc.sources) {
    if (!s?.name) throw new Error('event_pipeline.yaml: a source has no name');
    if (s.events !== undefined && !Array.isArray(s.events))
      throw new Error(`event_pipeline.yaml: source ${s.name}: events must be a list`);
    for (const k of s.sinks ?? [])
      if (!doc.sinks.some((x) => x.name === k))
        throw new Error(`event_pipeline.yaml: source ${s.name} names an unknown sink ${k}`);
  }
  for (const s of doc.sinks)
    for (const p of s.publishers ?? [])
      if (!/^(gnocchi|log|file|http|https|notifier):\/\//.test(p))
        throw new Error(`event_pipeline.yaml: unsupported publisher ${p}`);
  return doc;
}

export class EventPipeline {
  private doc: EventPipelineDoc;
  constructor(
    file: string,
    private gnocchi: GnocchiPublisher,
    private bus: MessageBus,
    private log: Logger,
  ) {
    this.doc = loadEventPipeline(fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : DEFAULT_EVENT_PIPELINE);
  }

  /** Sends the events through every source that selects them to its sinks' publishers. */
  async publish(events: CeilometerEvent[]): Promise<void> {
    const perPublisher = new Map<string, CeilometerEvent[]>();
    for (const src of this.doc.sources) {
      const picked = events.filter((e) => meterSelected(src.events ?? ['*'], e.event_type));
      if (!picked.length) continue;
      for (const sinkName of src.sinks ?? [])
        for (const p of this.doc.sinks.find((x) => x.name === sinkName)?.publishers ?? []) {
          const list = perPublisher.get(p) ?? [];
          for (const e of picked) if (!list.includes(e)) list.push(e);
          perPublisher.set(p, list);
        }
    }
    for (const [url, list] of perPublisher) {
      try {
        await this.send(url, list);
      } catch (err) {
        this.log.warn({ err, publisher: url, events: list.length }, 'event publisher failed');
      }
    }
  }

  private async send(url: string, events: CeilometerEvent[]) {
    if (url.startsWith('gnocchi://')) return this.gnocchi.publishEvents(events);
    if (url.startsWith('log://')) {
      for (const e of events) this.log.info({ event: serializeEvent(e) }, `event ${e.event_type} ${e.message_id}`);
      return;
    }
    if (url.startsWith('file://')) {
      await fs.promises.appendFile(
        url.slice(7).replace(/\?.*$/, ''),
        events.map((e) => `${JSON.stringify(serializeEvent(e))}\n`).join(''),
      );
      return;
    }
    if (url.startsWith('notifier://')) {
      this.bus.notify('ceilometer.notification', EVENT_NOTIFICATION, events.map(serializeEvent), 'INFO');
      return;
    }
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(events.map(serializeEvent)),
      signal: AbortSignal.timeout(5000),
    });
    if (res.status >= 400) throw new Error(`${url} answered ${res.status}`);
  }
}
