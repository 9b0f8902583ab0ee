// What block storage tells compute (cinder.compute.nova): the `volume-extended` external event
// after an attached volume grew (os-server-external-events, compute 2.51), and the swap of an
// attached volume for its migration copy (update_server_volume), with the service token.
import { RestClient } from '../core/clients/rest.ts';
import type { ServiceSession } from '../core/clients/session.ts';
import type { Logger } from '../core/log.ts';

export class NovaEvents {
  private client: RestClient;
  constructor(
    session: ServiceSession,
    private log: Logger,
  ) {
    this.client = new RestClient(session, 'compute', {
      'OpenStack-API-Version': 'compute 2.51',
      'X-OpenStack-Nova-API-Version': '2.51',
    });
  }

  /** One `volume-extended` event per server the volume is attached to; failures are logged (as Cinder). */
  async volumeExtended(volumeId: string, serverIds: string[]): Promise<void> {
    if (!serverIds.length) return;
    const events = serverIds.map((s) => ({ name: 'volume-extended', server_uuid: s, tag: volumeId }));
    try {
      const r = await this.client.request('POST', '/os-server-external-events', { events });
      if (r.status !== 200 && r.status !== 207)
        this.log.warn({ volume: volumeId, status: r.status, body: r.body }, 'compute refused volume-extended');
    } catch (err) {
      this.log.warn({ err, volume: volumeId }, 'could not tell compute that a volume was extended');
    }
  }

  /**
   * Asks compute to move a server's attached volume onto another (Nova's swap_volume, what
   * Cinder's migration of an in-use volume calls: `PUT /servers/{id}/os-volume_attachments/{old}`
   * with the new `volumeId`). Compute copies the bytes, then calls os-migrate_volume_completion.
   */
  async swapVolume(serverId: string, oldVolumeId: string, newVolumeId: string): Promise<void> {
    const r = await this.client.request(
      'PUT',
      `/servers/${encodeURIComponent(serverId)}/os-volume_attachments/${encodeURIComponent(oldVolumeId)}`,
      { volumeAttachment: { volumeId: newVolumeId } },
    );
    if (r.status !== 202)
      throw new Error(`compute refused to swap the volume (${r.status}: ${JSON.stringify(r.body)})`);
  }
}
