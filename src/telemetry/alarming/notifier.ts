// The alarm notifier (aodh-notifier): on a state change, each action URL of the new state is
// called: http(s) webhooks get Aodh's JSON body, log:// writes it to the log, test:// keeps it
// in memory (as Aodh's test notifier). A failing action is logged; it never fails the evaluation.
import type { Logger } from '../../core/log.ts';
import type { Alarm } from './alarms.ts';

export interface AlarmNotification {
  alarm_name: string;
  alarm_id: string;
  severity: string;
  previous: string;
  current: string;
  reason: string;
  reason_data: unknown;
}

export class AlarmNotifier {
  /** What test:// actions received (for tests and demonstrations). */
  readonly received: Array<{ url: string; body: AlarmNotification }> = [];
  constructor(
    private log: Logger,
    private timeoutSeconds: number,
  ) {}

  async notify(alarm: Alarm, previous: string, reason: string, reasonData: unknown): Promise<void> {
    const urls =
      alarm.state === 'alarm'
        ? alarm.alarm_actions
        : alarm.state === 'ok'
          ? alarm.ok_actions
          : alarm.insufficient_data_actions;
    const body: AlarmNotification = {
      alarm_name: alarm.name,
      alarm_id: alarm.alarm_id,
      severity: alarm.severity,
      previous,
      current: alarm.state,
      reason,
      reason_data: reasonData,
    };
    await Promise.all(urls.map((url) => this.send(url, body)));
  }

  private async send(url: string, body: AlarmNotification) {
    const scheme = url.slice(0, url.indexOf('://')).toLowerCase();
    try {
      if (scheme === 'log') {
        this.log.info(
          { alarm: body },
          `alarm ${body.alarm_name} (${body.alarm_id}) is ${body.current}: ${body.reason}`,
        );
      } else if (scheme === 'test') {
        this.received.push({ url, body });
      } else if (scheme === 'http' || scheme === 'https') {
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(this.timeoutSeconds * 1000),
        });
        if (res.status >= 400) this.log.warn({ url, status: res.status }, 'alarm action answered with an error');
      } else {
        this.log.warn({ url }, `alarm action scheme ${scheme} is not supported by this notifier`);
      }
    } catch (err) {
      this.log.warn({ err, url }, 'alarm action failed');
    }
  }
}
