// What an alarm's rules reference must exist in the metric service (Aodh's rule validation
// through Gnocchi's API): the resource of a gnocchi_resources_threshold rule, and the resource
// type and query of a gnocchi_aggregation_by_resources_threshold rule. Metric ids of the
// by-metrics type are not checked, as Aodh does not.
import type { ServiceSession } from '../../core/clients/session.ts';
import { type Alarm, clientError, leafRules } from './alarms.ts';

export async function checkReferences(session: ServiceSession, a: Alarm): Promise<void> {
  if (a.type === 'event') return;
  const base = await session.endpoint('metric');
  for (const rule of leafRules(a)) {
    if (rule.type === 'gnocchi_resources_threshold') {
      const res = await session.fetch(
        `${base}/v1/resource/${encodeURIComponent(String(rule.resource_type))}/${encodeURIComponent(String(rule.resource_id))}`,
      );
      if (res.status === 404)
        throw clientError(`${String(rule.resource_type)} ${String(rule.resource_id)} does not exist`);
    } else if (rule.type === 'gnocchi_aggregation_by_resources_threshold') {
      const res = await session.fetch(
        `${base}/v1/search/resource/${encodeURIComponent(String(rule.resource_type))}?limit=1`,
        {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: rule.query ? String(rule.query) : '{}',
        },
      );
      if (res.status === 404) throw clientError(`Resource type ${String(rule.resource_type)} does not exist`);
      if (res.status === 400) throw clientError(`Query value or traits invalid: ${String(rule.query)}`);
    }
  }
}
