// The compute service (Nova v2.1) as the other services call it: external events (Neutron's
// nova notifier). Pinned at 2.1, the version Neutron's notifier speaks.
import { RestClient, type RestAnswer } from './rest.ts';
import type { ServiceSession } from './session.ts';

export interface ServerExternalEvent {
  name: string;
  server_uuid: string;
  tag?: string;
  status?: string;
  code?: number;
}

export class ComputeClient extends RestClient {
  constructor(session: ServiceSession) {
    super(session, 'compute', { 'OpenStack-API-Version': 'compute 2.1', 'X-OpenStack-Nova-API-Version': '2.1' });
  }

  /** 200 (all taken), 207 (some not), 404 (none of the servers known). */
  externalEvents(events: ServerExternalEvent[]): Promise<RestAnswer<{ events?: ServerExternalEvent[] }>> {
    return this.request('POST', '/os-server-external-events', { events });
  }
}
