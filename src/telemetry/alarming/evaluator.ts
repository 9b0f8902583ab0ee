// The alarm evaluator (aodh-evaluator): every evaluation interval, each enabled threshold alarm
// reads its statistics from the metric service's REST API (with the alarming service's token),
// compares the last `evaluation_periods` points with its threshold, and moves to `alarm`, `ok`
// or `insufficient data`; composite alarms combine their sub-rules. Event alarms are evaluated
// on the events Ceilometer publishes on the bus (notifier://), as they arrive. A state change (or every round, with
// repeat_actions) calls the notifier.
import type { MessageBus, Notification } from '../../core/bus.ts';
import type { ServiceSession } from '../../core/clients/session.ts';
import type { Logger } from '../../core/log.ts';
import type { Alarm, AlarmStore, Rule } from './alarms.ts';
import type { AlarmNotifier } from './notifier.ts';
import { withinTimeConstraints } from './time_constraints.ts';

type State = 'ok' | 'alarm' | 'insufficient data';

/** An event as Ceilometer's notifier publisher sends it (traits as [name, dtype, value]). */
export interface BusEvent {
  message_id: string;
  event_type: string;
  generated?: string;
  traits: Array<[string, number, unknown]>;
  raw?: unknown;
}

const COMPARE: Record<string, (a: number, b: number) => boolean> = {
  lt: (a, b) => a < b,
  le: (a, b) => a <= b,
  eq: (a, b) => a === b,
  ne: (a, b) => a !== b,
  ge: (a, b) => a >= b,
  gt: (a, b) => a > b,
};

interface LeafResult {
  state: State;
  reason: string;
  data: Record<string, unknown>;
}

export class AlarmEvaluator {
  constructor(
    private store: AlarmStore,
    private session: ServiceSession,
    private notifier: AlarmNotifier,
    private log: Logger,
  ) {}

  /** One evaluation round over every enabled threshold and composite alarm. */
  async evaluateAll(now = Date.now()): Promise<void> {
    for (const a of await this.store.list()) {
      if (!a.enabled || a.type === 'event') continue;
      try {
        await this.evaluate(a, now);
      } catch (err) {
        this.log.warn({ err, alarm: a.alarm_id }, 'alarm evaluation failed');
      }
    }
  }

  async evaluate(a: Alarm, now = Date.now()): Promise<void> {
    if (!withinTimeConstraints(a.time_constraints, new Date(now))) return;
    let result: LeafResult;
    if (a.type === 'composite') result = await this.composite(a.rule, now);
    else result = await this.leaf({ ...a.rule, type: a.type }, now);
    await this.transition(a, result);
  }

  private async composite(rule: Rule, now: number): Promise<LeafResult> {
    if (Array.isArray(rule.and) || Array.isArray(rule.or)) {
      const and = Array.isArray(rule.and);
      const parts = await Promise.all(((and ? rule.and : rule.or) as Rule[]).map((r) => this.composite(r, now)));
      const states = parts.map((p) => p.state);
      let state: State;
      if (and)
        state = states.every((s) => s === 'alarm')
          ? 'alarm'
          : states.some((s) => s === 'ok')
            ? 'ok'
            : 'insufficient data';
      else
        state = states.some((s) => s === 'alarm')
          ? 'alarm'
          : states.every((s) => s === 'ok')
            ? 'ok'
            : 'insufficient data';
      const reason = `Composite rule alarm with composition form: ${and ? 'and' : 'or'} transition to ${state}`;
      return {
        state,
        reason,
        data: { type: 'composite', composition_form: and ? 'and' : 'or', parts: parts.map((p) => p.reason) },
      };
    }
    return this.leaf(rule as Rule & { type: string }, now);
  }

  /** The statistics of a threshold rule: the last points of its aggregate, oldest first. */
  private async statistics(rule: Rule & { type: string }, now: number): Promise<number[]> {
    const g = rule.granularity as number;
    const periods = rule.evaluation_periods as number;
    const start = new Date(now - g * 1000 * (periods + 2)).toISOString();
    const stop = new Date(now).toISOString();
    const base = await this.session.endpoint('metric');
    const method = rule.aggregation_method as string;
    let measures: Array<[string, number, number]> = [];
    if (rule.type === 'gnocchi_resources_threshold') {
      const url = `${base}/v1/resource/${encodeURIComponent(rule.resource_type as string)}/${encodeURIComponent(
        rule.resource_id as string,
      )}/metric/${encodeURIComponent(rule.metric as string)}/measures?aggregation=${encodeURIComponent(method)}&granularity=${g}&start=${encodeURIComponent(start)}&stop=${encodeURIComponent(stop)}`;
      const res = await this.session.fetch(url);
      if (res.status === 404) return [];
      if (!res.ok) throw new Error(`metric service answered ${res.status} for ${url}`);
      measures = (await res.json()) as typeof measures;
    } else {
      const metricOp =
        rule.type === 'gnocchi_aggregation_by_metrics_threshold'
          ? ['metric', ...(rule.metrics as string[]).map((m) => [m, method])]
          : ['metric', rule.metric, method];
      const body: Record<string, unknown> = { operations: ['aggregate', method.replace(/^rate:/, ''), metricOp] };
      if (rule.type === 'gnocchi_aggregation_by_resources_threshold') {
        body.resource_type = rule.resource_type;
        body.search = rule.query ? JSON.parse(rule.query as string) : {};
        if (!rule.query) delete body.search;
        if (!body.search) body.search = { '!=': { id: '' } };
      }
      const url = `${base}/v1/aggregates?granularity=${g}&start=${encodeURIComponent(start)}&stop=${encodeURIComponent(stop)}&needed_overlap=0`;
      const res = await this.session.fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });
      if (res.status === 404 || res.status === 400) return [];
      if (!res.ok) throw new Error(`metric service answered ${res.status} for ${url}`);
      const out = (await res.json()) as { measures?: { aggregated?: typeof measures } };
      measures = out.measures?.aggregated ?? [];
    }
    return measures
      .filter((m) => m[1] === g && m[2] !== null)
      .slice(-periods)
      .map((m) => m[2]);
  }

  private async leaf(rule: Rule & { type: string }, now: number): Promise<LeafResult> {
    const stats = await this.statistics(rule, now);
    const periods = rule.evaluation_periods as number;
    const threshold = rule.threshold as number;
    const op = COMPARE[rule.comparison_operator as string]!;
    if (stats.length < periods)
      return {
        state: 'insufficient data',
        reason: `${stats.length} datapoints are unknown`,
        data: {
          type: 'threshold',
          disposition: 'unknown',
          count: periods - stats.length,
          most_recent: stats.at(-1) ?? null,
        },
      };
    const crossed = stats.map((v) => op(v, threshold));
    const last = stats[stats.length - 1];
    if (crossed.every(Boolean))
      return {
        state: 'alarm',
        reason: `Transition to alarm due to ${stats.length} samples outside threshold, most recent: ${last}`,
        data: { type: 'threshold', disposition: 'outside', count: stats.length, most_recent: last },
      };
    if (crossed.every((c) => !c))
      return {
        state: 'ok',
        reason: `Transition to ok due to ${stats.length} samples inside threshold, most recent: ${last}`,
        data: { type: 'threshold', disposition: 'inside', count: stats.length, most_recent: last },
      };
    return { state: 'unknown' as State, reason: 'mixed', data: {} };
  }

  private async transition(a: Alarm, r: LeafResult) {
    // Mixed statistics keep the current state (Aodh's "unknown" disposition).
    if ((r.state as string) === 'unknown') return;
    if (r.state !== a.state) {
      const next = await this.store.setState(a, r.state, r.reason, undefined, r.data);
      await this.notifier.notify(next, a.state, r.reason, r.data);
    } else if (a.repeat_actions) {
      await this.notifier.notify(a, a.state, r.reason, r.data);
    }
  }

  // ---- event alarms ------------------------------------------------------------------

  private eventAlarms?: { at: number; list: Alarm[] };

  /**
   * aodh-listener: consumes the events Ceilometer's notifier:// event publisher sends on the bus
   * (an `event` notification whose payload is a list of events) and fires the event alarms they
   * match.
   */
  listen(bus: MessageBus): () => void {
    return bus.onNotification('event', async (n: Notification) => {
      if (n.event_type !== 'event' || !Array.isArray(n.payload)) return;
      for (const e of n.payload as BusEvent[]) {
        try {
          await this.onEvent(e);
        } catch (err) {
          this.log.warn({ err, event: e?.message_id }, 'event alarm evaluation failed');
        }
      }
    });
  }

  /** Forgets the cached list of event alarms (after an API change). */
  invalidate() {
    this.eventAlarms = undefined;
  }

  async onEvent(e: BusEvent): Promise<void> {
    if (!e || typeof e.event_type !== 'string' || !e.message_id) return;
    if (!this.eventAlarms || Date.now() - this.eventAlarms.at > 5000)
      this.eventAlarms = {
        at: Date.now(),
        list: (await this.store.list()).filter((a) => a.type === 'event' && a.enabled),
      };
    // The traits by name (Aodh's Event: [name, dtype, value] triples); the project is the
    // `project_id` or `tenant_id` trait, and only that project's alarms are evaluated.
    const traits: Record<string, unknown> = {};
    for (const t of Array.isArray(e.traits) ? e.traits : [])
      if (Array.isArray(t) && typeof t[0] === 'string') traits[t[0]] = t[2];
    const project = traits.project_id ?? traits.tenant_id;
    if (project === undefined || project === null || project === '') return;
    for (const a of this.eventAlarms.list) {
      if (a.project_id !== project) continue;
      const pattern = String(a.rule.event_type ?? '*');
      const re = new RegExp(
        `^${pattern
          .replace(/[.+^${}()|\\]/g, '\\$&')
          .replace(/\*/g, '.*')
          .replace(/\?/g, '.')}$`,
      );
      if (!re.test(e.event_type)) continue;
      const query = (a.rule.query ?? []) as Array<{ field: string; op: string; value: string; type: string }>;
      const ok = query.every((q) => {
        const have = q.field.startsWith('traits.')
          ? traits[q.field.slice(7)]
          : (e as unknown as Record<string, unknown>)[q.field];
        if (have === undefined || have === null) return false;
        const numeric = q.type === 'integer' || q.type === 'float';
        const x = numeric ? Number(have) : String(have);
        const y = numeric ? Number(q.value) : String(q.value);
        return COMPARE[q.op ?? 'eq']?.(x as number, y as number) ?? false;
      });
      if (!ok) continue;
      const reason = `Event <id=${e.message_id},event_type=${e.event_type}> hits the query <query=${JSON.stringify(query)}>.`;
      const data = { type: 'event', event: e };
      const current = await this.store.find(a.alarm_id);
      if (!current) continue;
      if (current.state !== 'alarm') {
        const next = await this.store.setState(current, 'alarm', reason, undefined, data);
        await this.notifier.notify(next, current.state, reason, data);
      } else if (current.repeat_actions) await this.notifier.notify(current, current.state, reason, data);
    }
  }
}
