// The alarming resources (Heat's heat.engine.resources.openstack.aodh): OS::Aodh::
// GnocchiResourcesAlarm, GnocchiAggregationByMetricsAlarm, GnocchiAggregationByResourcesAlarm,
// EventAlarm and CompositeAlarm, and the OS::Ceilometer:: names Heat's default environment maps
// to them. Each is one alarm of the alarming API (Aodh v2), created with the stack owner's token.
// An action naming a resource of the stack becomes that resource's `alarm_url` (a scaling
// policy's pre-signed signal URL), as Heat's actions_to_urls does.
// Not here: OS::Aodh::Alarm (Aodh's `threshold` type needs ceilometer-api, gone since Ocata),
// LBMemberHealthAlarm, PrometheusAlarm, and the *_queues properties (no Zaqar).
import { HeatError } from '../errors.ts';
import { physicalName } from './openstack.ts';
import type { PropertySchema, ResourceContext, ResourcePlugin } from './plugin.ts';

type Json = Record<string, unknown>;
const SUPPORTED = (version: string) => ({ status: 'SUPPORTED' as const, version, message: null });
const ALARMS = '/v2/alarms';

const OPERATORS = [{ allowed_values: ['le', 'ge', 'eq', 'lt', 'gt', 'ne'] }];

/** alarm_base.common_properties_schema. */
const COMMON: Record<string, PropertySchema> = {
  description: { type: 'string', description: 'Description for the alarm.', update_allowed: true },
  enabled: {
    type: 'boolean',
    description: 'True if alarm evaluation/actioning is enabled.',
    default: true,
    update_allowed: true,
  },
  alarm_actions: {
    type: 'list',
    description: 'A list of URLs (webhooks) to invoke when state transitions to alarm.',
    update_allowed: true,
  },
  ok_actions: {
    type: 'list',
    description: 'A list of URLs (webhooks) to invoke when state transitions to ok.',
    update_allowed: true,
  },
  insufficient_data_actions: {
    type: 'list',
    description: 'A list of URLs (webhooks) to invoke when state transitions to insufficient-data.',
    update_allowed: true,
  },
  repeat_actions: {
    type: 'boolean',
    description:
      "False to trigger actions when the threshold is reached AND the alarm's state has changed. By default, actions are called each time the threshold is reached.",
    default: true,
    update_allowed: true,
  },
  severity: {
    type: 'string',
    description: 'Severity of the alarm.',
    default: 'low',
    update_allowed: true,
    constraints: [{ allowed_values: ['low', 'moderate', 'critical'] }],
  },
  time_constraints: {
    type: 'list',
    description:
      'Describe time constraints for the alarm. Only evaluate the alarm if the time at evaluation is within this time constraint. Start point(s) of the constraint are specified with a cron expression, whereas its duration is given in seconds.',
    default: [],
    schema: {
      '*': {
        type: 'map',
        schema: {
          name: { type: 'string', description: 'Name for the time constraint.', required: true },
          start: {
            type: 'string',
            description: 'Start time for the time constraint. A CRON expression property.',
            required: true,
            constraints: [{ custom_constraint: 'cron_expression' }],
          },
          description: { type: 'string', description: 'Description for the time constraint.' },
          duration: {
            type: 'integer',
            description: 'Duration for the time constraint.',
            required: true,
            constraints: [{ range: { min: 0 } }],
          },
          timezone: {
            type: 'string',
            description: "Timezone for the time constraint (eg. 'Asia/Taipei', 'Europe/Amsterdam').",
            constraints: [{ custom_constraint: 'timezone' }],
          },
        },
      },
    },
  },
};

/** gnocchi/alarm.py's common_gnocchi_properties_schema. */
const GNOCCHI: Record<string, PropertySchema> = {
  comparison_operator: {
    type: 'string',
    description: 'Operator used to compare specified statistic with threshold.',
    update_allowed: true,
    constraints: OPERATORS,
  },
  evaluation_periods: { type: 'integer', description: 'Number of periods to evaluate over.', update_allowed: true },
  aggregation_method: {
    type: 'string',
    description: 'The aggregation method to compare to the threshold.',
    update_allowed: true,
  },
  granularity: { type: 'integer', description: 'The time range in seconds.', update_allowed: true },
  threshold: { type: 'number', description: 'Threshold to evaluate against.', required: true, update_allowed: true },
};

const QUERY_ITEM: PropertySchema = {
  type: 'map',
  schema: {
    field: { type: 'string', description: 'Name of attribute to compare.' },
    type: {
      type: 'string',
      description: 'The type of the attribute.',
      default: 'string',
      constraints: [{ allowed_values: ['integer', 'float', 'string', 'boolean', 'datetime'] }],
    },
    op: { type: 'string', description: 'Comparison operator.', constraints: OPERATORS },
    value: { type: 'string', description: 'String value with which to compare.' },
  },
};

const COMMON_NAMES = Object.keys(COMMON);
const defined = (o: Json): Json =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null && v !== undefined));

/** Heat's actions_to_urls: an action naming a resource of the stack is that resource's alarm URL. */
async function actionUrls(r: ResourceContext, list: unknown): Promise<string[]> {
  const out: string[] = [];
  for (const a of Array.isArray(list) ? list : []) {
    if (a === null || a === undefined || a === '') continue;
    const act = String(a);
    const sibling = /^[^:/]+$/.test(act) ? await r.sibling(act) : null;
    if (sibling) {
      const url = sibling.attributes.alarm_url ?? sibling.attributes.AlarmUrl;
      if (typeof url !== 'string' || !url)
        throw new HeatError('StackValidationFailed', `Resource ${act} has no alarm URL to use as an action`);
      out.push(url);
    } else out.push(act);
  }
  return out;
}

/** The alarm's common part: description, enabled, actions, severity, ... (what the properties set). */
async function commonBody(r: ResourceContext, p: Json): Promise<Json> {
  const body: Json = {};
  for (const k of COMMON_NAMES) if (p[k] !== null && p[k] !== undefined) body[k] = p[k];
  for (const k of ['alarm_actions', 'ok_actions', 'insufficient_data_actions'])
    if (p[k] !== null && p[k] !== undefined) body[k] = await actionUrls(r, p[k]);
  if (Array.isArray(p.time_constraints)) body.time_constraints = p.time_constraints.map((t) => defined(t as Json));
  return body;
}

interface AlarmKind {
  type: string;
  aodhType: string;
  description: string;
  version: string;
  properties: Record<string, PropertySchema>;
  /** The alarm's rule from the properties, and its key in the alarm (default `<aodhType>_rule`). */
  rule(p: Json): Json;
  ruleKey?: string;
}

function alarmPlugin(kind: AlarmKind): ResourcePlugin {
  const ruleKey = kind.ruleKey ?? `${kind.aodhType}_rule`;
  const body = async (r: ResourceContext, p: Json) => ({
    ...(await commonBody(r, p)),
    type: kind.aodhType,
    [ruleKey]: kind.rule(p),
  });
  const setEnabled = async (r: ResourceContext, enabled: boolean) => {
    if (!r.physicalId) return;
    const alarm = await r.api<Json>('alarming', 'GET', `${ALARMS}/${r.physicalId}`);
    await r.api('alarming', 'PUT', `${ALARMS}/${r.physicalId}`, { ...alarm, enabled });
  };
  return {
    type: kind.type,
    description: kind.description,
    supportStatus: SUPPORTED(kind.version),
    properties: { ...kind.properties, ...COMMON },
    attributes: {},
    async create(r) {
      const alarm = await r.api<Json>('alarming', 'POST', ALARMS, {
        ...(await body(r, r.properties)),
        name: physicalName(r),
      });
      r.physicalId = String(alarm.alarm_id);
    },
    async update(r) {
      if (!r.physicalId) return;
      // Aodh's PUT replaces the alarm: what it has, overlaid with what the properties say now.
      const alarm = await r.api<Json>('alarming', 'GET', `${ALARMS}/${r.physicalId}`);
      await r.api('alarming', 'PUT', `${ALARMS}/${r.physicalId}`, { ...alarm, ...(await body(r, r.properties)) });
    },
    async delete(r) {
      if (!r.physicalId) return;
      await r.api('alarming', 'DELETE', `${ALARMS}/${r.physicalId}`, undefined, [204, 404]);
    },
    suspend: (r) => setEnabled(r, false),
    resume: (r) => setEnabled(r, true),
    async check(r) {
      if (r.physicalId) await r.api('alarming', 'GET', `${ALARMS}/${r.physicalId}`);
    },
  };
}

const pick = (p: Json, names: string[]): Json => defined(Object.fromEntries(names.map((n) => [n, p[n]])));
const GNOCCHI_NAMES = Object.keys(GNOCCHI);

export const GnocchiResourcesAlarm = alarmPlugin({
  type: 'OS::Aodh::GnocchiResourcesAlarm',
  aodhType: 'gnocchi_resources_threshold',
  description: 'A resource allowing for the watch of some specified resource.',
  version: '2015.1',
  properties: {
    metric: { type: 'string', description: 'Metric name watched by the alarm.', required: true, update_allowed: true },
    resource_id: { type: 'string', description: 'Id of a resource.', required: true, update_allowed: true },
    resource_type: { type: 'string', description: 'Resource type.', required: true, update_allowed: true },
    ...GNOCCHI,
  },
  rule: (p) => pick(p, ['metric', 'resource_id', 'resource_type', ...GNOCCHI_NAMES]),
});

export const GnocchiAggregationByMetricsAlarm = alarmPlugin({
  type: 'OS::Aodh::GnocchiAggregationByMetricsAlarm',
  aodhType: 'gnocchi_aggregation_by_metrics_threshold',
  description: 'A resource that implements alarm with specified metrics.',
  version: '2015.1',
  properties: {
    metrics: { type: 'list', description: 'A list of metric ids.', required: true, update_allowed: true },
    ...GNOCCHI,
  },
  rule: (p) => pick(p, ['metrics', ...GNOCCHI_NAMES]),
});

export const GnocchiAggregationByResourcesAlarm = alarmPlugin({
  type: 'OS::Aodh::GnocchiAggregationByResourcesAlarm',
  aodhType: 'gnocchi_aggregation_by_resources_threshold',
  description: 'A resource that implements alarm as an aggregation of resources alarms.',
  version: '2015.1',
  properties: {
    metric: { type: 'string', description: 'Metric name watched by the alarm.', required: true, update_allowed: true },
    query: { type: 'string', description: 'The query to filter the metrics.', required: true, update_allowed: true },
    resource_type: { type: 'string', description: 'Resource type.', required: true, update_allowed: true },
    ...GNOCCHI,
  },
  rule: (p) => pick(p, ['metric', 'query', 'resource_type', ...GNOCCHI_NAMES]),
});

export const EventAlarm = alarmPlugin({
  type: 'OS::Aodh::EventAlarm',
  aodhType: 'event',
  description: 'A resource that implements event alarms.',
  version: '8.0.0',
  properties: {
    event_type: {
      type: 'string',
      description: 'Event type to evaluate against. If not specified will match all events.',
      default: '*',
      update_allowed: true,
    },
    query: {
      type: 'list',
      description:
        'A list for filtering events. Query conditions used to filter specific events when evaluating the alarm.',
      update_allowed: true,
      schema: { '*': QUERY_ITEM },
    },
  },
  rule: (p) =>
    defined({
      event_type: p.event_type || undefined,
      query: Array.isArray(p.query) && p.query.length ? p.query.map((q) => defined(q as Json)) : undefined,
    }),
});

export const CompositeAlarm = alarmPlugin({
  type: 'OS::Aodh::CompositeAlarm',
  aodhType: 'composite',
  description: 'A resource that implements Aodh composite alarm.',
  version: '8.0.0',
  properties: {
    composite_rule: {
      type: 'map',
      description: 'Composite threshold rules in JSON format.',
      required: true,
      update_allowed: true,
      schema: {
        operator: {
          type: 'string',
          description: 'The operator indicates how to combine the rules.',
          required: true,
          constraints: [{ allowed_values: ['or', 'and'] }],
        },
        rules: {
          type: 'list',
          description:
            'Rules list. Basic threshold/gnocchi rules and nested dict which combine threshold/gnocchi rules by "and" or "or" are allowed.',
          required: true,
          constraints: [{ length: { min: 2 } }],
        },
      },
    },
  },
  // Aodh's composite rule is {operator: rules}, under `composite_rule`.
  ruleKey: 'composite_rule',
  rule: (p) => {
    const c = p.composite_rule as { operator: string; rules: unknown[] };
    return { [c.operator]: c.rules };
  },
});
const AODH = [
  GnocchiResourcesAlarm,
  GnocchiAggregationByMetricsAlarm,
  GnocchiAggregationByResourcesAlarm,
  EventAlarm,
  CompositeAlarm,
];

/** Heat's default environment maps OS::Ceilometer::<X> to OS::Aodh::<X>: the same plugins under the old names. */
const CEILOMETER_NAMES = [
  GnocchiResourcesAlarm,
  GnocchiAggregationByMetricsAlarm,
  GnocchiAggregationByResourcesAlarm,
].map(
  (p): ResourcePlugin => ({
    ...p,
    type: p.type.replace('OS::Aodh::', 'OS::Ceilometer::'),
    supportStatus: { status: 'HIDDEN', version: null, message: `Use ${p.type} instead.` },
  }),
);

export const AODH_RESOURCES: ResourcePlugin[] = [...AODH, ...CEILOMETER_NAMES];
