// Ceilometer's pipeline (pipeline.yaml): sources pick meters ("*", names, patterns, "!name" to
// leave out) and hand their samples to sinks; a sink's transformers (transformers.ts:
// unit_conversion, rate_of_change, accumulator, aggregator, arithmetic, as the book describes
// Ceilometer's) change them, then its publishers send them on: gnocchi:// (the default), log://,
// file://<path> (JSON lines), http(s)://<url> (a POST of the samples), notifier:// (a
// `telemetry.sample` notification on the bus). A `pipeline.yaml` in <dataDir>/telemetry replaces
// the default.
import fs from 'node:fs';
import YAML from 'yaml';
import type { MessageBus } from '../../core/bus.ts';
import type { Logger } from '../../core/log.ts';
import type { GnocchiPublisher } from './gnocchi_publisher.ts';
import type { Sample } from './meters.ts';
import { type Transformer, type TransformerSpec, makeTransformer, transform } from './transformers.ts';
import { fnmatch } from '../../core/python.ts';

export const DEFAULT_PIPELINE = YAML.stringify({
  sources: [{ name: 'meter_source', meters: ['*'], sinks: ['meter_sink'] }],
  sinks: [{ name: 'meter_sink', publishers: ['gnocchi://'] }],
});

interface PipelineDoc {
  sources: Array<{ name: string; meters: string[]; sinks: string[] }>;
  sinks: Array<{ name: string; publishers: string[]; transformers?: TransformerSpec[] | null }>;
}

/** A sink's transformer chain (its own state). */
function chainOf(sink: PipelineDoc['sinks'][number]): Transformer[] {
  if (sink.transformers !== undefined && sink.transformers !== null && !Array.isArray(sink.transformers))
    throw new Error(`pipeline.yaml: sink ${sink.name}: transformers must be a list`);
  return (sink.transformers ?? []).map((t, i) => {
    if (!t || typeof t.name !== 'string')
      throw new Error(`pipeline.yaml: sink ${sink.name}: transformer ${i} has no name`);
    return makeTransformer(t, `pipeline.yaml: sink ${sink.name}`);
  });
}

export function meterSelected(patterns: string[], name: string): boolean {
  const excluded = patterns.filter((p) => p.startsWith('!')).some((p) => fnmatch(p.slice(1), name));
  if (excluded) return false;
  const included = patterns.filter((p) => !p.startsWith('!'));
  return included.length ? included.some((p) => fnmatch(p, name)) : true;
}

export function loadPipeline(text: string): PipelineDoc {
  const doc = YAML.parse(text) as PipelineDoc;
  if (!doc || !Array.isArray(doc.sources) || !Array.isArray(doc.sinks))
    throw new Error('pipeline.yaml needs sources and sinks');
  for (const s of doc.sources)
    for (const k of s.sinks ?? [])
      if (!doc.sinks.some((x) => x.name === k))
        throw new Error(`pipeline.yaml: source ${s.name} names an unknown sink ${k}`);
  for (const s of doc.sinks)
    for (const p of s.publishers ?? [])
      if (!/^(gnocchi|log|file|http|https|notifier):\/\//.test(p))
        throw new Error(`pipeline.yaml: unsupported publisher ${p}`);
  for (const s of doc.sinks) chainOf(s);
  return doc;
}

export class Pipeline {
  private doc: PipelineDoc;
  private chains = new Map<string, Transformer[]>();
  constructor(
    file: string,
    private gnocchi: GnocchiPublisher,
    private bus: MessageBus,
    private log: Logger,
  ) {
    this.doc = loadPipeline(fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : DEFAULT_PIPELINE);
    for (const sink of this.doc.sinks) this.chains.set(sink.name, chainOf(sink));
  }

  /** Sends the samples through every source that selects them to its sinks (transformers, then publishers). */
  async publish(samples: Sample[]): Promise<void> {
    const perSink = new Map<string, Sample[]>();
    for (const src of this.doc.sources) {
      const picked = samples.filter((s) => meterSelected(src.meters ?? ['*'], s.name));
      if (!picked.length) continue;
      for (const sinkName of src.sinks ?? []) {
        const list = perSink.get(sinkName) ?? [];
        for (const s of picked) if (!list.includes(s)) list.push(s);
        perSink.set(sinkName, list);
      }
    }
    const perPublisher = new Map<string, Sample[]>();
    for (const [sinkName, list] of perSink) {
      const sink = this.doc.sinks.find((x) => x.name === sinkName);
      if (!sink) continue;
      let out: Sample[];
      try {
        out = transform(this.chains.get(sinkName) ?? [], list);
      } catch (err) {
        this.log.warn({ err, sink: sinkName }, 'transformer failed');
        continue;
      }
      if (!out.length) continue;
      for (const p of sink.publishers ?? []) perPublisher.set(p, [...(perPublisher.get(p) ?? []), ...out]);
    }
    for (const [url, list] of perPublisher) {
      try {
        await this.send(url, list);
      } catch (err) {
        this.log.warn({ err, publisher: url, samples: list.length }, 'publisher failed');
      }
    }
  }

  private async send(url: string, samples: Sample[]) {
    if (url.startsWith('gnocchi://')) return this.gnocchi.publish(samples);
    if (url.startsWith('log://')) {
      for (const s of samples)
        this.log.info({ sample: s }, `sample ${s.name} ${s.volume} ${s.unit} for ${s.resource_id}`);
      return;
    }
    if (url.startsWith('file://')) {
      await fs.promises.appendFile(url.slice(7), samples.map((s) => `${JSON.stringify(s)}\n`).join(''));
      return;
    }
    if (url.startsWith('notifier://')) {
      this.bus.notify('ceilometer.polling', 'telemetry.sample', { samples }, 'INFO');
      return;
    }
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(samples),
      signal: AbortSignal.timeout(5000),
    });
    if (res.status >= 400) throw new Error(`${url} answered ${res.status}`);
  }
}
