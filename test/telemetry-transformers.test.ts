// The transformers of pipeline.yaml's sinks (unit_conversion, rate_of_change, accumulator,
// aggregator, arithmetic), their expressions, bad definitions, and a pipeline that chains them
// before a file:// publisher.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compileExpression, makeTransformer, transform } from '../src/telemetry/collector/transformers.ts';
import { Pipeline, loadPipeline } from '../src/telemetry/collector/pipeline.ts';
import type { Sample } from '../src/telemetry/collector/meters.ts';
import type { GnocchiPublisher } from '../src/telemetry/collector/gnocchi_publisher.ts';
import type { MessageBus } from '../src/core/bus.ts';
import type { Logger } from '../src/core/log.ts';
import { loadPolling, pollingSources } from '../src/telemetry/collector/polling.ts';

const at = (sec: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, sec)).toISOString();
const sample = (name: string, volume: number, sec: number, extra: Partial<Sample> = {}): Sample => ({
  name,
  type: 'cumulative',
  unit: 'ns',
  volume,
  user_id: 'u',
  project_id: 'p',
  resource_id: 'r1',
  timestamp: at(sec),
  resource_metadata: { cpu_number: 2 },
  source: 'openstack',
  ...extra,
});

describe('pipeline transformers', () => {
  it('expressions: arithmetic, precedence, power, or, metadata, errors', () => {
    const root = { volume: 10, resource_metadata: { cpu_number: 4 } };
    const scope = (p: string[]) => p.reduce<unknown>((n, k) => (n as Record<string, unknown> | undefined)?.[k], root);
    assert.equal(compileExpression('volume * 2 + 1')(scope), 21);
    assert.equal(compileExpression('(volume + 2) * 2')(scope), 24);
    assert.equal(compileExpression('2 ** 3 ** 2')(scope), 512);
    assert.equal(compileExpression('-volume % 3')(scope), -1);
    assert.equal(compileExpression('volume / (resource_metadata.cpu_number or 1)')(scope), 2.5);
    assert.equal(compileExpression('volume / (resource_metadata.nope or 1)')(scope), 10);
    assert.throws(() => compileExpression('volume +'), /bad expression/);
    assert.throws(() => compileExpression('volume; rm'), /bad expression/);
  });

  it('unit_conversion, rate_of_change (cpu_util), accumulator, aggregator, arithmetic', () => {
    const conv = makeTransformer(
      {
        name: 'unit_conversion',
        parameters: { target: { name: 'disk.kilobytes', unit: 'KB', scale: 'volume / 1024' } },
      },
      't',
    );
    assert.deepEqual(
      transform([conv], [sample('disk.bytes', 2048, 0, { unit: 'B' })]).map((s) => [s.name, s.unit, s.volume]),
      [['disk.kilobytes', 'KB', 2]],
    );
    const mapped = makeTransformer(
      {
        name: 'unit_conversion',
        parameters: {
          source: { map_from: { name: 'disk\\.(read|write)\\.bytes', unit: 'B' } },
          target: { map_to: { name: 'disk.\\1.kilobytes', unit: 'KB' }, scale: 'volume * 1.0 / 1024' },
        },
      },
      't',
    );
    assert.deepEqual(
      transform([mapped], [sample('disk.read.bytes', 1024, 0, { unit: 'B' })]).map((s) => [s.name, s.unit]),
      [['disk.read.kilobytes', 'KB']],
    );
    // The classic cpu_util: ns of CPU time per second of wall time, over the vCPUs, in %.
    const rate = makeTransformer(
      {
        name: 'rate_of_change',
        parameters: {
          target: {
            name: 'cpu_util',
            unit: '%',
            type: 'gauge',
            scale: '100.0 / (10**9 * (resource_metadata.cpu_number or 1))',
          },
        },
      },
      't',
    );
    assert.deepEqual(transform([rate], [sample('cpu', 1e9, 0)]), []);
    const util = transform([rate], [sample('cpu', 1e9 + 10e9, 10)]);
    assert.equal(util[0]!.name, 'cpu_util');
    assert.equal(util[0]!.type, 'gauge');
    assert.equal(util[0]!.volume, 50);
    // A reset counter: its value is the change.
    assert.equal(transform([rate], [sample('cpu', 2e9, 20)])[0]!.volume, 10);

    const acc = makeTransformer({ name: 'accumulator', parameters: { size: 3 } }, 't');
    assert.deepEqual(transform([acc], [sample('a', 1, 0), sample('a', 2, 1)]), []);
    assert.equal(transform([acc], [sample('a', 3, 2)]).length, 3);

    const agg = makeTransformer(
      { name: 'aggregator', parameters: { size: 2, user_id: 'drop', resource_metadata: 'first' } },
      't',
    );
    const g = (v: number, r: string, sec: number) =>
      sample('net', v, sec, { type: 'delta', resource_id: r, resource_metadata: { n: sec } });
    assert.deepEqual(transform([agg], [g(1, 'a', 0), g(2, 'a', 1)]), []);
    const out = transform([agg], [g(5, 'b', 2)]);
    assert.deepEqual(
      out.map((s) => [s.resource_id, s.volume, s.resource_metadata.n]),
      [
        ['a', 3, 0],
        ['b', 5, 2],
      ],
    );
    const cum = makeTransformer({ name: 'aggregator', parameters: { size: 1, retention_time: 0 } }, 't');
    assert.deepEqual(
      transform([cum], [sample('c', 1, 0), sample('c', 7, 1)]).map((s) => s.volume),
      [7],
    );

    const ar = makeTransformer(
      {
        name: 'arithmetic',
        parameters: {
          target: { name: 'memory_util', unit: '%', type: 'gauge', expr: '100 * $(memory.usage) / $(memory)' },
        },
      },
      't',
    );
    const res = transform(
      [ar],
      [
        sample('memory', 512, 0, { type: 'gauge', unit: 'MB' }),
        sample('memory.usage', 128, 1, { type: 'gauge', unit: 'MB' }),
        sample('memory', 100, 0, { type: 'gauge', resource_id: 'r2' }),
      ],
    );
    // The inputs go on; one new sample for the resource that has both meters.
    assert.equal(res.length, 4);
    assert.deepEqual(
      res.filter((s) => s.name === 'memory_util').map((s) => [s.resource_id, s.volume, s.unit]),
      [['r1', 25, '%']],
    );

    assert.throws(() => makeTransformer({ name: 'magic' }, 'sink s'), /sink s: unknown transformer magic/);
    assert.throws(() => makeTransformer({ name: 'accumulator', parameters: { size: 0 } }, 's'), /positive integer/);
    assert.throws(() => makeTransformer({ name: 'arithmetic', parameters: { target: {} } }, 's'), /needs target.expr/);
    assert.throws(
      () => makeTransformer({ name: 'unit_conversion', parameters: { target: { scale: 'volume *' } } }, 's'),
      /bad expression/,
    );
    assert.throws(
      () => loadPipeline('sources: []\nsinks: [{name: k, publishers: [], transformers: [{name: nope}]}]'),
      /sink k: unknown transformer nope/,
    );
  });

  it('polling.yaml: sources with intervals select pollsters by their meters', () => {
    const enabled = ['compute', 'image', 'volume', 'vpn'];
    const src = loadPolling(
      `sources:
  - {name: cpu_often, interval: 10, meters: [cpu, 'memory.*']}
  - {name: sizes, interval: 600, meters: ['*.size', '!volume.size']}
  - {name: services, interval: 300, meters: ['network.services.*', 'storage.*']}
`,
      enabled,
    );
    assert.deepEqual(
      src.map((x) => [x.name, x.interval, x.pollsters]),
      [
        ['cpu_often', 10, ['compute']],
        ['sizes', 600, ['image']],
        ['services', 300, ['vpn']],
      ],
    );
    assert.throws(() => loadPolling('sources: [{name: a, interval: 0, meters: [cpu]}]', enabled), /interval must be/);
    assert.throws(
      () => loadPolling('sources: [{name: a, interval: 5, meters: cpu}]', enabled),
      /meters must be a list/,
    );
    assert.throws(() => loadPolling('{}', enabled), /needs a list of sources/);
    // No file: one source of every pollster every pollingInterval (none when it is 0).
    assert.deepEqual(pollingSources('/nonexistent/polling.yaml', enabled, 60)[0]!.pollsters, enabled);
    assert.deepEqual(pollingSources('/nonexistent/polling.yaml', enabled, 0), []);
  });

  it('a sink chains its transformers before its publishers', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-pipe-'));
    try {
      const out = path.join(dir, 'out.jsonl');
      fs.writeFileSync(
        path.join(dir, 'pipeline.yaml'),
        `sources:
  - {name: cpu_source, meters: [cpu], sinks: [cpu_sink]}
  - {name: all, meters: ['*', '!cpu'], sinks: [plain]}
sinks:
  - name: cpu_sink
    transformers:
      - name: rate_of_change
        parameters: {target: {name: cpu_util, unit: '%', type: gauge, scale: '100.0 / (10**9 * (resource_metadata.cpu_number or 1))'}}
    publishers: ['file://${out}']
  - {name: plain, publishers: ['file://${out}']}
`,
      );
      const log = { warn: () => undefined, info: () => undefined } as unknown as Logger;
      const p = new Pipeline(path.join(dir, 'pipeline.yaml'), {} as GnocchiPublisher, {} as MessageBus, log);
      await p.publish([sample('cpu', 0, 0), sample('memory', 512, 0, { type: 'gauge' })]);
      await p.publish([sample('cpu', 4e9, 2)]);
      const lines = fs
        .readFileSync(out, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Sample);
      assert.deepEqual(
        lines.map((s) => [s.name, s.volume]),
        [
          ['memory', 512],
          ['cpu_util', 100],
        ],
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
