// The alarm notifier (aodh-notifier): on a state change, each action URL of the new state is
// called: http(s) webhooks get Aodh's JSON body; trust+http(s)://<trust id>@host/... get it
// with a token of the aodh user scoped to that trust (how Heat's scaling policies are
// signalled; a trust+ URL without a trust id is posted as it is, for pre-signed URLs); log:// writes it to the log, test:// keeps it in memory (as Aodh's test
// notifier). A failing action is logged; it never fails the evaluation.
import type { ServiceSession } from '../../core/clients/session.ts';
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
    private session?: ServiceSession,
  ) {}

  /** A token of the aodh service user scoped to a trust (Keystone's token method, rescoped). */
  private async trustToken(trustId: string): Promise<string> {
    if (!this.session) throw new Error('no service session for trust+ actions');
    const identity = (await this.session.endpoint('identity')).replace(/\/+$/, '');
    const base = identity.endsWith('/v3') ? identity : `${identity}/v3`;
    const res = await fetch(`${base}/auth/tokens`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        auth: {
          identity: { methods: ['token'], token: { id: await this.session.token() } },
          scope: { 'OS-TRUST:trust': { id: trustId } },
        },
      }),
      signal: AbortSignal.timeout(this.timeoutSeconds * 1000),
    });
    const token = res.headers.get('x-subject-token');
    if (res.status !== 201 || !token) throw new Error(`identity refused a token for trust ${trustId} (${res.status})`);
    return token;
  }

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
      } else if (scheme === 'http' || scheme === 'https' || scheme === 'trust+http' || scheme === 'trust+https') {
        const headers: Record<string, string> = { 'Content-Type': 'application/json' };
        let target = url;
        if (scheme.startsWith('trust+')) {
          const u = new URL(url.slice('trust+'.length));
          const trustId = decodeURIComponent(u.username);
          // Without a trust id the URL must carry its own credentials: Stratus's orchestration
          // signal URLs (a scaling policy's signal_url/alarm_url) are pre-signed with a token.
          if (trustId) headers['X-Auth-Token'] = await this.trustToken(trustId);
          u.username = '';
          u.password = '';
          target = u.toString();
        }
        const res = await fetch(target, {
          method: 'POST',
          headers,
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
