// /v2/alarms: create, list (with q.field/q.op/q.value), show, replace, delete, state, history.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AlarmingService } from '../service.ts';
import { ApiError } from '../../../core/errors.ts';
import { type Actor, type Alarm, STATES, alarmView, clientError } from '../alarms.ts';

type Q = Record<string, string | string[] | undefined>;
const list = (v: string | string[] | undefined) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** Aodh's simple query (q.field, q.op, q.value, repeated) as a predicate on alarm views. */
function simpleQuery(q: Q): (a: Record<string, unknown>) => boolean {
  const fields = list(q['q.field']);
  const ops = list(q['q.op']);
  const values = list(q['q.value']);
  if (fields.length !== values.length) throw clientError('q.field and q.value must be given together');
  const allowed = [
    'alarm_id',
    'name',
    'type',
    'state',
    'enabled',
    'project_id',
    'user_id',
    'severity',
    'timestamp',
    'description',
    'state_reason',
  ];
  const preds = fields.map((f, i) => {
    if (!allowed.includes(f))
      throw clientError(
        `Unknown argument: "${f}": unrecognized field in query: [<Query '${f}' eq '${values[i]}' Unset>], valid keys: ${allowed.sort().join(', ')}`,
      );
    const op = ops[i] ?? 'eq';
    const v = values[i]!;
    return (a: Record<string, unknown>) => {
      const have = a[f];
      const x = typeof have === 'boolean' ? String(have) : (have as string);
      const y = typeof have === 'boolean' ? String(['true', '1', 'yes', 'on'].includes(v.toLowerCase())) : v;
      switch (op) {
        case 'eq':
          return x === y;
        case 'ne':
          return x !== y;
        case 'lt':
          return x < y;
        case 'le':
          return x <= y;
        case 'gt':
          return x > y;
        case 'ge':
          return x >= y;
        default:
          throw clientError(`Invalid input for field/attribute op. Value: '${op}'. unimplemented operator for ${f}`);
      }
    };
  });
  return (a) => preds.every((p) => p(a));
}

export function registerAlarmRoutes(app: FastifyInstance, svc: AlarmingService) {
  const store = svc.alarms;
  const actor = (req: FastifyRequest): Actor => ({
    userId: req.context.userId ?? '',
    projectId: req.context.projectId ?? '',
    admin: req.allowed('context_is_admin'),
  });
  // Aodh's _enforce_rbac: the alarm is looked up within the caller's project unless the caller
  // passes `segregation` (an admin), so another project's alarm is a 404; a found alarm whose rule
  // refuses the caller is a 403 (an admin of another project under the new defaults, a reader
  // changing an alarm of its own project).
  const load = async (req: FastifyRequest<{ Params: { id: string } }>, rule: string): Promise<Alarm> => {
    const a = await store.find(req.params.id);
    if (!a || (!req.allowed('segregation') && a.project_id !== (req.context.projectId ?? ''))) {
      req.authorized = true;
      throw new ApiError(404, `Alarm ${req.params.id} not found`);
    }
    req.authorized = true;
    // aodh.api.rbac.enforce: pecan.abort(403, 'RBAC Authorization Failed').
    if (!req.allowed(rule, { project_id: a.project_id, user_id: a.user_id }))
      throw new ApiError(403, 'RBAC Authorization Failed');
    return a;
  };

  app.get('/v2/alarms', async (req) => {
    req.authorize('telemetry:get_alarms', { project_id: req.context.projectId });
    const pred = simpleQuery(req.query as Q);
    const mine = req.allowed('context_is_admin') ? undefined : (req.context.projectId ?? '');
    return (await store.list(mine)).map(alarmView).filter(pred);
  });

  app.post('/v2/alarms', async (req, reply) => {
    req.authorize('telemetry:create_alarm', { project_id: req.context.projectId });
    const a = store.build(req.body, actor(req));
    await svc.checkReferences(a);
    await store.create(a, actor(req));
    svc.evaluator.invalidate();
    reply.code(201);
    return alarmView(a);
  });

  app.get<{ Params: { id: string } }>('/v2/alarms/:id', async (req) =>
    alarmView(await load(req, 'telemetry:get_alarm')),
  );

  app.put<{ Params: { id: string } }>('/v2/alarms/:id', async (req) => {
    const old = await load(req, 'telemetry:change_alarm');
    const next = store.build(req.body, actor(req), old);
    await svc.checkReferences(next);
    await store.update(old, next, actor(req));
    svc.evaluator.invalidate();
    return alarmView(next);
  });

  app.delete<{ Params: { id: string } }>('/v2/alarms/:id', async (req, reply) => {
    const a = await load(req, 'telemetry:delete_alarm');
    await store.delete(a, actor(req));
    svc.evaluator.invalidate();
    return reply.code(204).send();
  });

  // The state is a JSON string (a bare string would go out as text).
  app.get<{ Params: { id: string } }>('/v2/alarms/:id/state', async (req, reply) =>
    reply.type('application/json').send(JSON.stringify((await load(req, 'telemetry:get_alarm_state')).state)),
  );

  app.put<{ Params: { id: string } }>('/v2/alarms/:id/state', async (req, reply) => {
    const a = await load(req, 'telemetry:change_alarm_state');
    const state = req.body;
    if (typeof state !== 'string' || !STATES.includes(state))
      throw clientError(
        `Invalid input for field/attribute state. Value: '${String(state)}'. Value should be one of: ${STATES.join(', ')}`,
      );
    const next = await store.setState(a, state, 'Manually set via API', actor(req));
    if (next.state !== a.state) await svc.notifier.notify(next, a.state, 'Manually set via API', null);
    return reply.type('application/json').send(JSON.stringify(next.state));
  });

  app.get<{ Params: { id: string } }>('/v2/alarms/:id/history', async (req) => {
    const a = await load(req, 'telemetry:alarm_history');
    return store.history(a.alarm_id);
  });
}
