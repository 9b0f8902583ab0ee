// Alarms (Aodh's storage and validation): the alarm types with their rules, states, actions,
// time constraints, severity, the history of every change, and per-project quotas.
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { ApiError, notFound } from '../../core/errors.ts';
import { bool, int } from '../../core/db.ts';
import type { AlarmHistoryTable, AlarmTable, AlarmingDb } from './db/schema.ts';
import { pyJson } from '../pyjson.ts';

export const STATES = ['ok', 'alarm', 'insufficient data'];
export const SEVERITIES = ['low', 'moderate', 'critical'];
const OPERATORS = ['lt', 'le', 'eq', 'ne', 'ge', 'gt'];
export const ALARM_TYPES = [
  'event',
  'composite',
  'gnocchi_resources_threshold',
  'gnocchi_aggregation_by_metrics_threshold',
  'gnocchi_aggregation_by_resources_threshold',
];
const THRESHOLD_TYPES = ALARM_TYPES.filter((t) => t.startsWith('gnocchi_'));

export const clientError = (msg: string, status = 400) => new ApiError(status, msg);

export type Rule = Record<string, unknown>;

type ActionList = 'ok_actions' | 'alarm_actions' | 'insufficient_data_actions';

/** An alarm: its row (db/schema.ts) with the flags as booleans and the JSON columns parsed. */
export interface Alarm
  extends Omit<AlarmTable, 'enabled' | 'repeat_actions' | ActionList | 'time_constraints' | 'rule'> {
  enabled: boolean;
  repeat_actions: boolean;
  ok_actions: string[];
  alarm_actions: string[];
  insufficient_data_actions: string[];
  time_constraints: Array<Record<string, unknown>>;
  rule: Rule;
}

export type HistoryEntry = AlarmHistoryTable;

/** The alarm as the API shows it: the rule under `<type>_rule`. */
export function alarmView(a: Alarm): Record<string, unknown> {
  const { rule, ...rest } = a;
  return { ...rest, [`${a.type}_rule`]: rule };
}

const AGGREGATION = /^(rate:)?(mean|sum|last|max|min|std|median|first|count|p\d{1,2}(\.\d+)?)$/;

function num(rule: Rule, k: string, where: string, dflt?: number): number {
  let v = rule[k] ?? dflt;
  if (v === undefined) throw clientError(`${where}.${k} is mandatory`);
  // WSME coerces numeric strings (aodhclient sends "60").
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) v = Number(v);
  if (typeof v !== 'number' || !Number.isFinite(v))
    throw clientError(`Invalid input for field/attribute ${k}. Value: '${String(v)}'. Wrong type. Expected a number`);
  return v;
}
function str(rule: Rule, k: string, where: string, dflt?: string): string {
  const v = rule[k] ?? dflt;
  if (v === undefined) throw clientError(`${where}.${k} is mandatory`);
  if (typeof v !== 'string')
    throw clientError(`Invalid input for field/attribute ${k}. Value: '${String(v)}'. Wrong type. Expected a string`);
  return v;
}

function onlyKeys(rule: Rule, keys: string[], where: string) {
  for (const k of Object.keys(rule))
    if (!keys.includes(k)) throw clientError(`Unknown attribute for argument ${where}: ${k}`);
}

/** Checks a threshold rule (the gnocchi types) and fills its defaults. */
function thresholdRule(type: string, r: unknown): Rule {
  const where = `${type}_rule`;
  if (!r || typeof r !== 'object' || Array.isArray(r)) throw clientError(`${where} must be set for ${type} type alarm`);
  const rule = r as Rule;
  const common = ['aggregation_method', 'granularity', 'evaluation_periods', 'threshold', 'comparison_operator'];
  const own =
    type === 'gnocchi_resources_threshold'
      ? ['metric', 'resource_id', 'resource_type']
      : type === 'gnocchi_aggregation_by_metrics_threshold'
        ? ['metrics']
        : ['metric', 'resource_type', 'query'];
  onlyKeys(rule, [...common, ...own], where);
  const out: Rule = {
    comparison_operator: str(rule, 'comparison_operator', where, 'eq'),
    threshold: num(rule, 'threshold', where),
    aggregation_method: str(rule, 'aggregation_method', where),
    evaluation_periods: num(rule, 'evaluation_periods', where, 1),
    granularity: num(rule, 'granularity', where, 60),
  };
  if (!OPERATORS.includes(out.comparison_operator as string))
    throw clientError(
      `Invalid input for field/attribute comparison_operator. Value: '${String(out.comparison_operator)}'. Value should be one of: ${OPERATORS.join(', ')}`,
    );
  if (!AGGREGATION.test(out.aggregation_method as string))
    throw clientError(
      `aggregation_method should be in ${'mean, sum, last, max, min, std, median, first, count'} not ${String(out.aggregation_method)}`,
    );
  if (!Number.isInteger(out.evaluation_periods) || (out.evaluation_periods as number) < 1)
    throw clientError('Invalid input for field/attribute evaluation_periods. Value should be greater or equal to 1');
  if (!Number.isInteger(out.granularity) || (out.granularity as number) < 1)
    throw clientError('Invalid input for field/attribute granularity. Value should be greater or equal to 1');
  if (type === 'gnocchi_resources_threshold') {
    out.metric = str(rule, 'metric', where);
    out.resource_id = str(rule, 'resource_id', where);
    out.resource_type = str(rule, 'resource_type', where);
  } else if (type === 'gnocchi_aggregation_by_metrics_threshold') {
    const m = rule.metrics;
    if (!Array.isArray(m) || !m.length || m.some((x) => typeof x !== 'string'))
      throw clientError(`${where}.metrics is mandatory and must be a list of metric ids`);
    out.metrics = m;
  } else {
    out.metric = str(rule, 'metric', where);
    out.resource_type = str(rule, 'resource_type', where);
    out.query = str(rule, 'query', where, '');
    if (out.query) {
      try {
        JSON.parse(out.query as string);
      } catch {
        throw clientError(`Query value or traits invalid: ${String(out.query)} is not valid JSON`);
      }
    }
  }
  return out;
}

function eventRule(r: unknown): Rule {
  const rule = (r ?? {}) as Rule;
  if (typeof rule !== 'object' || Array.isArray(rule)) throw clientError('event_rule must be a dictionary');
  onlyKeys(rule, ['event_type', 'query'], 'event_rule');
  const query = rule.query ?? [];
  if (!Array.isArray(query)) throw clientError('event_rule.query must be a list');
  return {
    event_type: str(rule, 'event_type', 'event_rule', '*'),
    query: query.map((q) => {
      if (!q || typeof q !== 'object') throw clientError('event_rule.query items must be dictionaries');
      const x = q as Rule;
      onlyKeys(x, ['field', 'op', 'value', 'type'], 'query');
      if (typeof x.field !== 'string') throw clientError('Query field is mandatory');
      const op = x.op ?? 'eq';
      if (!OPERATORS.includes(op as string)) throw clientError(`Invalid query operator ${String(op)}`);
      return { field: x.field, op, type: x.type ?? '', value: x.value === undefined ? '' : String(x.value) };
    }),
  };
}

function compositeRule(r: unknown, depth = 0): Rule {
  if (!r || typeof r !== 'object' || Array.isArray(r)) throw clientError('composite_rule must be a dictionary');
  if (depth > 10) throw clientError('composite_rule is nested too deeply');
  const rule = r as Rule;
  const keys = Object.keys(rule);
  if (keys.length === 1 && (keys[0] === 'and' || keys[0] === 'or')) {
    const subs = rule[keys[0]!];
    if (!Array.isArray(subs) || !subs.length) throw clientError(`composite_rule ${keys[0]} needs a list of rules`);
    return { [keys[0]!]: subs.map((s) => compositeRule(s, depth + 1)) };
  }
  const type = rule.type;
  if (typeof type !== 'string' || !THRESHOLD_TYPES.includes(type))
    throw clientError(
      `Unsupported sub-rule type :${String(type)} in composite rule, should be one of: ${THRESHOLD_TYPES.join(', ')}`,
    );
  const { type: _t, ...rest } = rule;
  return { type, ...thresholdRule(type, rest) };
}

/** Checks a rule of an alarm type; the result has every default filled. */
export function validateRule(type: string, body: Record<string, unknown>): Rule {
  const r = body[`${type}_rule`];
  if (type === 'event') return eventRule(r);
  if (type === 'composite') {
    if (r === undefined) throw clientError('composite_rule must be set for composite type alarm');
    return compositeRule(r);
  }
  return thresholdRule(type, r);
}

/** The threshold rules of an alarm (one, or the leaves of a composite one). */
export function leafRules(a: Pick<Alarm, 'type' | 'rule'>): Array<Rule & { type: string }> {
  if (a.type !== 'composite') return [{ ...a.rule, type: a.type }];
  const out: Array<Rule & { type: string }> = [];
  const walk = (r: Rule) => {
    if (Array.isArray(r.and)) for (const x of r.and) walk(x as Rule);
    else if (Array.isArray(r.or)) for (const x of r.or) walk(x as Rule);
    else out.push(r as Rule & { type: string });
  };
  walk(a.rule);
  return out;
}

const FIELDS = [
  'name',
  'description',
  'type',
  'enabled',
  'state',
  'state_reason',
  'severity',
  'user_id',
  'project_id',
  'repeat_actions',
  'ok_actions',
  'alarm_actions',
  'insufficient_data_actions',
  'time_constraints',
  'alarm_id',
  'timestamp',
  'state_timestamp',
  'evaluation_periods',
];

function actions(v: unknown, k: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw clientError(`${k} must be a list of URLs`);
  for (const url of v as string[]) {
    const m = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url);
    const scheme = m?.[1]?.toLowerCase();
    if (
      !scheme ||
      !['http', 'https', 'log', 'test', 'trust+http', 'trust+https', 'zaqar', 'trust+zaqar'].includes(scheme)
    )
      throw clientError(`Unsupported action ${url}`);
  }
  return [...new Set(v as string[])];
}

function timeConstraints(v: unknown): Array<Record<string, unknown>> {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw clientError('time_constraints must be a list');
  const names = new Set<string>();
  return v.map((tc) => {
    if (!tc || typeof tc !== 'object') throw clientError('a time constraint must be a dictionary');
    const t = tc as Record<string, unknown>;
    onlyKeys(t, ['name', 'description', 'start', 'duration', 'timezone'], 'time_constraints');
    if (typeof t.name !== 'string' || !t.name) throw clientError('Time constraint name is mandatory');
    if (names.has(t.name)) throw clientError('Time constraint names must be unique for a given alarm.');
    names.add(t.name);
    if (typeof t.start !== 'string' || t.start.trim().split(/\s+/).length !== 5)
      throw clientError(
        `Invalid input for field/attribute start. Value: '${String(t.start)}'. Cron expression expected`,
      );
    const duration = t.duration;
    if (typeof duration !== 'number' || !Number.isInteger(duration) || duration < 0)
      throw clientError('Invalid input for field/attribute duration. Value should be a positive integer');
    return {
      name: t.name,
      description:
        typeof t.description === 'string'
          ? t.description
          : `Time constraint at ${t.start} lasting for ${duration} seconds`,
      start: t.start,
      duration,
      timezone: typeof t.timezone === 'string' ? t.timezone : '',
    };
  });
}

function toAlarm(r: AlarmTable): Alarm {
  return {
    alarm_id: r.alarm_id,
    name: r.name,
    description: r.description,
    type: r.type,
    enabled: bool(r.enabled),
    state: r.state,
    state_reason: r.state_reason,
    state_timestamp: r.state_timestamp,
    timestamp: r.timestamp,
    severity: r.severity,
    user_id: r.user_id,
    project_id: r.project_id,
    repeat_actions: bool(r.repeat_actions),
    ok_actions: JSON.parse(r.ok_actions),
    alarm_actions: JSON.parse(r.alarm_actions),
    insufficient_data_actions: JSON.parse(r.insufficient_data_actions),
    time_constraints: JSON.parse(r.time_constraints),
    rule: JSON.parse(r.rule),
  };
}

function toRow(a: Alarm): AlarmTable {
  return {
    ...a,
    enabled: int(a.enabled),
    repeat_actions: int(a.repeat_actions),
    ok_actions: JSON.stringify(a.ok_actions),
    alarm_actions: JSON.stringify(a.alarm_actions),
    insufficient_data_actions: JSON.stringify(a.insufficient_data_actions),
    time_constraints: JSON.stringify(a.time_constraints),
    rule: JSON.stringify(a.rule),
  };
}

let lastMicros = 0;
/** Aodh's timestamps: UTC, microseconds, no zone; strictly increasing so that history orders. */
const nowIso = () => {
  lastMicros = Math.max(Date.now() * 1000, lastMicros + 1);
  const ms = Math.floor(lastMicros / 1000);
  return `${new Date(ms).toISOString().slice(0, 19)}.${String(lastMicros % 1_000_000).padStart(6, '0')}`;
};

export interface Actor {
  userId: string;
  projectId: string;
  admin: boolean;
}

export class AlarmStore {
  constructor(
    private db: Kysely<AlarmingDb>,
    private defaultQuota: number,
  ) {}

  /** Builds an alarm from a POST body (or a PUT body over `old`), checked. */
  build(body: unknown, actor: Actor, old?: Alarm): Alarm {
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw clientError('Missing argument: "data"');
    const b = body as Record<string, unknown>;
    for (const k of Object.keys(b))
      if (!FIELDS.includes(k) && !ALARM_TYPES.some((t) => k === `${t}_rule`) && k !== 'threshold_rule')
        throw clientError(`Unknown attribute for argument data: ${k}`);
    const type = b.type ?? old?.type;
    if (type === undefined) throw clientError('Mandatory field missing: type');
    if (typeof type !== 'string' || !ALARM_TYPES.includes(type))
      throw clientError(
        `Invalid input for field/attribute type. Value: '${String(type)}'. Value should be one of: ${ALARM_TYPES.join(', ')}`,
      );
    const name = b.name ?? old?.name;
    if (name === undefined) throw clientError('Mandatory field missing: name');
    if (typeof name !== 'string' || !name) throw clientError('Invalid input for field/attribute name.');
    const rule = b[`${type}_rule`] === undefined && old && old.type === type ? old.rule : validateRule(type, b);
    const state = b.state ?? old?.state ?? 'insufficient data';
    if (typeof state !== 'string' || !STATES.includes(state))
      throw clientError(
        `Invalid input for field/attribute state. Value: '${String(state)}'. Value should be one of: ${STATES.join(', ')}`,
      );
    const severity = b.severity ?? old?.severity ?? 'low';
    if (typeof severity !== 'string' || !SEVERITIES.includes(severity))
      throw clientError(
        `Invalid input for field/attribute severity. Value: '${String(severity)}'. Value should be one of: ${SEVERITIES.join(', ')}`,
      );
    for (const k of ['enabled', 'repeat_actions'])
      if (b[k] !== undefined && typeof b[k] !== 'boolean')
        throw clientError(
          `Invalid input for field/attribute ${k}. Value: '${String(b[k])}'. Wrong type. Expected a boolean`,
        );
    let userId = old?.user_id ?? actor.userId;
    let projectId = old?.project_id ?? actor.projectId;
    for (const k of ['user_id', 'project_id'] as const) {
      const v = b[k];
      if (v === undefined || v === null) continue;
      if (typeof v !== 'string') throw clientError(`Invalid input for field/attribute ${k}.`);
      const own = k === 'user_id' ? actor.userId : actor.projectId;
      if (v !== own && !actor.admin && v !== (k === 'user_id' ? old?.user_id : old?.project_id))
        throw clientError(`Not Authorized to access ${k === 'user_id' ? 'user' : 'project'} ${v}`, 401);
      if (k === 'user_id') userId = v;
      else projectId = v;
    }
    const now = nowIso();
    const stateChanged = !old || old.state !== state;
    return {
      alarm_id: old?.alarm_id ?? randomUUID(),
      name,
      description:
        typeof b.description === 'string'
          ? b.description
          : (old?.description ??
            `Alarm when ${typeof rule.metric === 'string' ? rule.metric : type} is ${type === 'event' ? 'triggered' : `${String(rule.comparison_operator)} a ${String(rule.aggregation_method)} of ${String(rule.threshold)} over ${String(rule.granularity)} seconds`}`),
      type,
      enabled: (b.enabled as boolean | undefined) ?? old?.enabled ?? true,
      state,
      state_reason:
        typeof b.state_reason === 'string' ? b.state_reason : stateChanged ? 'Not evaluated yet' : old!.state_reason,
      state_timestamp: stateChanged ? now : old!.state_timestamp,
      timestamp: now,
      severity,
      user_id: userId,
      project_id: projectId,
      repeat_actions: (b.repeat_actions as boolean | undefined) ?? old?.repeat_actions ?? false,
      ok_actions: b.ok_actions !== undefined ? actions(b.ok_actions, 'ok_actions') : (old?.ok_actions ?? []),
      alarm_actions:
        b.alarm_actions !== undefined ? actions(b.alarm_actions, 'alarm_actions') : (old?.alarm_actions ?? []),
      insufficient_data_actions:
        b.insufficient_data_actions !== undefined
          ? actions(b.insufficient_data_actions, 'insufficient_data_actions')
          : (old?.insufficient_data_actions ?? []),
      time_constraints:
        b.time_constraints !== undefined ? timeConstraints(b.time_constraints) : (old?.time_constraints ?? []),
      rule,
    };
  }

  async quota(projectId: string): Promise<number> {
    const q = await this.db
      .selectFrom('quotas')
      .select('limit')
      .where('project_id', '=', projectId)
      .where('resource', '=', 'alarms')
      .executeTakeFirst();
    return q ? q.limit : this.defaultQuota;
  }

  async setQuota(projectId: string, resource: string, limit: number) {
    await this.db.deleteFrom('quotas').where('project_id', '=', projectId).where('resource', '=', resource).execute();
    await this.db.insertInto('quotas').values({ project_id: projectId, resource, limit }).execute();
  }

  async deleteQuotas(projectId: string) {
    await this.db.deleteFrom('quotas').where('project_id', '=', projectId).execute();
  }

  async create(a: Alarm, actor: Actor): Promise<Alarm> {
    const limit = await this.quota(a.project_id);
    if (limit >= 0) {
      const n = await this.db
        .selectFrom('alarms')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('project_id', '=', a.project_id)
        .executeTakeFirstOrThrow();
      if (Number(n.n) >= limit) throw clientError(`Alarm quota exceeded for project ${a.project_id}.`, 403);
    }
    const dup = await this.db
      .selectFrom('alarms')
      .select('alarm_id')
      .where('project_id', '=', a.project_id)
      .where('name', '=', a.name)
      .executeTakeFirst();
    if (dup) throw clientError(`Alarm with name='${a.name}' exists`, 409);
    await this.db.insertInto('alarms').values(toRow(a)).execute();
    await this.record(a, 'creation', pyJson(alarmView(a)), actor);
    return a;
  }

  async find(id: string): Promise<Alarm | undefined> {
    const r = await this.db.selectFrom('alarms').selectAll().where('alarm_id', '=', id).executeTakeFirst();
    return r ? toAlarm(r) : undefined;
  }

  async get(id: string): Promise<Alarm> {
    const a = await this.find(id);
    if (!a) throw notFound(`Alarm ${id} not found`);
    return a;
  }

  async list(projectId?: string): Promise<Alarm[]> {
    let q = this.db.selectFrom('alarms').selectAll();
    if (projectId !== undefined) q = q.where('project_id', '=', projectId);
    return (await q.orderBy('timestamp', 'desc').execute()).map(toAlarm);
  }

  async update(old: Alarm, next: Alarm, actor: Actor): Promise<Alarm> {
    if (next.name !== old.name) {
      const dup = await this.db
        .selectFrom('alarms')
        .select('alarm_id')
        .where('project_id', '=', next.project_id)
        .where('name', '=', next.name)
        .where('alarm_id', '!=', old.alarm_id)
        .executeTakeFirst();
      if (dup) throw clientError(`Alarm with name='${next.name}' exists`, 409);
    }
    await this.db.updateTable('alarms').set(toRow(next)).where('alarm_id', '=', old.alarm_id).execute();
    // Aodh compares its storage models: the rule is `rule`, whatever the type.
    const before: Record<string, unknown> = { ...old };
    const after: Record<string, unknown> = { ...next };
    const change: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(after))
      if (k !== 'timestamp' && k !== 'state_timestamp' && JSON.stringify(before[k]) !== JSON.stringify(v))
        change[k] = v;
    if (Object.keys(change).length) {
      const { state, ...ruleChange } = change;
      if (Object.keys(ruleChange).length) await this.record(next, 'rule change', pyJson(ruleChange), actor);
      if (state !== undefined)
        await this.record(next, 'state transition', pyJson({ state, transition_reason: next.state_reason }), actor);
    }
    return next;
  }

  /** A state change (by the API or the evaluator), with its history entry. */
  async setState(
    a: Alarm,
    state: string,
    reason: string,
    actor: Actor | undefined,
    reasonData?: unknown,
  ): Promise<Alarm> {
    const now = nowIso();
    const next = { ...a, state, state_reason: reason, state_timestamp: now, timestamp: now };
    await this.db
      .updateTable('alarms')
      .set({ state, state_reason: reason, state_timestamp: now, timestamp: now })
      .where('alarm_id', '=', a.alarm_id)
      .execute();
    await this.record(
      next,
      'state transition',
      pyJson({ state, transition_reason: reason, ...(reasonData ? { reason_data: reasonData } : {}) }),
      actor,
    );
    return next;
  }

  async delete(a: Alarm, actor: Actor) {
    await this.db.deleteFrom('alarms').where('alarm_id', '=', a.alarm_id).execute();
    await this.record(a, 'deletion', pyJson(alarmView(a)), actor);
  }

  private async record(a: Alarm, type: string, detail: string, actor: Actor | undefined) {
    await this.db
      .insertInto('alarm_history')
      .values({
        event_id: randomUUID(),
        alarm_id: a.alarm_id,
        type,
        detail,
        timestamp: nowIso(),
        user_id: actor?.userId ?? a.user_id,
        project_id: actor?.projectId ?? a.project_id,
        on_behalf_of: a.project_id,
        severity: a.severity,
      })
      .execute();
  }

  async history(alarmId: string): Promise<HistoryEntry[]> {
    const rows = await this.db
      .selectFrom('alarm_history')
      .selectAll()
      .where('alarm_id', '=', alarmId)
      .orderBy('timestamp', 'desc')
      .execute();
    return rows;
  }
}
