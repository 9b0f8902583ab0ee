// Aodh's tables, as db/migrations.ts creates them: Kysely<AlarmingDb>. JSON columns are text.
import type { IntBool } from '../../../core/db.ts';

export interface AlarmTable {
  alarm_id: string;
  name: string;
  description: string;
  type: string;
  enabled: IntBool;
  state: string;
  state_reason: string;
  state_timestamp: string;
  timestamp: string;
  severity: string;
  user_id: string;
  project_id: string;
  repeat_actions: IntBool;
  /** JSON lists of URLs. */
  ok_actions: string;
  alarm_actions: string;
  insufficient_data_actions: string;
  /** JSON: [{name, description, start, duration, timezone}]. */
  time_constraints: string;
  /** JSON: the type's rule. */
  rule: string;
}

export interface AlarmHistoryTable {
  event_id: string;
  alarm_id: string;
  type: string;
  detail: string;
  timestamp: string;
  user_id: string | null;
  project_id: string | null;
  on_behalf_of: string | null;
  severity: string | null;
}

export interface QuotaTable {
  project_id: string;
  resource: string;
  limit: number;
}

export interface AlarmingDb {
  alarms: AlarmTable;
  alarm_history: AlarmHistoryTable;
  quotas: QuotaTable;
}
