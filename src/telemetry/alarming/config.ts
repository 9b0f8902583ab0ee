// Aodh's options (`alarming:` in stratus.yaml), typed, with Aodh's defaults.
import type { ServicePolicyConfig, StratusConfig } from '../../core/config.ts';

export interface AlarmingOptions {
  /** Seconds between two evaluation rounds ([DEFAULT] evaluation_interval); 0 turns the evaluator off. */
  evaluationInterval: number;
  /** Alarms a project may have when no quota is set ([api] user_alarm_quota / project_alarm_quota; -1: unlimited). */
  projectAlarmQuota: number;
  /** Seconds an alarm notification's HTTP call may take ([notifier] http_timeout). */
  httpTimeout: number;
}

/** Aodh's [oslo_policy] enforce_scope / enforce_new_defaults (read by core/policy's policyModeOptions) besides the options. */
export type AlarmingConfig = Partial<AlarmingOptions> & { policy?: ServicePolicyConfig };

declare module '../../core/config.ts' {
  interface StratusConfig {
    alarming?: AlarmingConfig;
  }
}

export function alarmingOptions(cfg: Pick<StratusConfig, 'alarming'>): AlarmingOptions {
  const c = cfg.alarming ?? {};
  return {
    evaluationInterval: Number(c.evaluationInterval ?? 60),
    projectAlarmQuota: Number(c.projectAlarmQuota ?? -1),
    httpTimeout: Number(c.httpTimeout ?? 5),
  };
}
