// The block storage service (Cinder v3) as the other services call it: volumes, snapshots and
// the attachments API that Nova's nova/volume/cinder.py drives (3.27+: create with or without a
// connector, update with the connector, complete, delete; 3.44 for attachment_complete). One
// microversion pin: 3.44.
//
// Cinder's endpoint carries the project (`/volume/v3/{project_id}`): a call with the service
// token goes to the service user's project as the catalog gives it, a call with a user's token
// (`project` in the options) to the user's project. An endpoint without a project (3.67) is
// used as it is.
import { type CallOptions, RestClient, type RestAnswer, query, seg } from './rest.ts';
import type { ServiceSession } from './session.ts';

export const BLOCK_STORAGE_MICROVERSION = '3.44';

export interface VolumeCallOptions extends CallOptions {
  /** The project in the URL (the caller's, with the caller's token); default: the service user's. */
  project?: string;
}

/** A volume as Cinder v3 shows it (the fields compute reads; the others pass through). */
export interface VolumeRecord {
  id: string;
  name: string | null;
  status: string;
  size: number;
  availability_zone?: string | null;
  bootable?: string;
  multiattach?: boolean;
  volume_type?: string | null;
  snapshot_id?: string | null;
  source_volid?: string | null;
  description?: string | null;
  created_at?: string;
  metadata?: Record<string, string>;
  volume_image_metadata?: Record<string, string>;
  attachments: Array<{
    id?: string;
    attachment_id?: string;
    server_id?: string;
    volume_id?: string;
    device?: string | null;
    host_name?: string | null;
  }>;
  [field: string]: unknown;
}

export interface SnapshotRecord {
  id: string;
  volume_id: string;
  status: string;
  size: number;
  name: string | null;
  description: string | null;
  created_at?: string;
  metadata?: Record<string, string>;
  [field: string]: unknown;
}

/** An attachment (3.27): its connection info is there once it has a connector. */
export interface AttachmentRecord {
  id: string;
  status: string;
  instance: string | null;
  volume_id: string;
  attach_mode?: string;
  attached_at?: string | null;
  detached_at?: string | null;
  connection_info: Record<string, unknown> | null;
}

/** What the compute host tells the volume service about itself (os-brick's connector). */
export interface Connector {
  host: string;
  ip?: string;
  initiator?: string;
  multipath?: boolean;
  platform?: string;
  os_type?: string;
  mountpoint?: string;
  mode?: string;
  [field: string]: unknown;
}

export class BlockStorageClient extends RestClient {
  constructor(session: ServiceSession) {
    super(session, 'block-storage', { 'OpenStack-API-Version': `volume ${BLOCK_STORAGE_MICROVERSION}` });
  }

  /** The endpoint without its `/v3[/project]` tail: every path below names the project itself. */
  override async baseUrl(iface = 'internal'): Promise<string> {
    return (await super.baseUrl(iface)).replace(/\/v3(\/[^/]*)?$/, '');
  }

  /** `/v3/<project><path>`: the caller's project, else the one the catalog's URL names. */
  private async path(path: string, o?: VolumeCallOptions): Promise<string> {
    if (o?.project) return `/v3/${seg(o.project)}${path}`;
    const m = (await super.baseUrl(o?.iface)).match(/\/v3\/([^/]+)$/);
    return m ? `/v3/${m[1]}${path}` : `/v3${path}`;
  }

  private async call<T>(method: string, path: string, body?: unknown, o?: VolumeCallOptions): Promise<RestAnswer<T>> {
    return this.request<T>(method, await this.path(path, o), body, o);
  }

  // ---- volumes ----
  getVolume(id: string, o?: VolumeCallOptions): Promise<RestAnswer<{ volume: VolumeRecord }>> {
    return this.call('GET', `/volumes/${seg(id)}`, undefined, o);
  }
  listVolumes(
    detail: boolean,
    filters: Record<string, string | undefined>,
    o?: VolumeCallOptions,
  ): Promise<RestAnswer<{ volumes: VolumeRecord[] }>> {
    return this.call('GET', `/volumes${detail ? '/detail' : ''}${query(filters)}`, undefined, o);
  }
  createVolume(volume: Record<string, unknown>, o?: VolumeCallOptions): Promise<RestAnswer<{ volume: VolumeRecord }>> {
    return this.call('POST', '/volumes', { volume }, o);
  }
  deleteVolume(id: string, o?: VolumeCallOptions): Promise<RestAnswer> {
    return this.call('DELETE', `/volumes/${seg(id)}`, undefined, o);
  }
  /** A volume action (`os-extend`, `os-reserve`, `os-migrate_volume_completion`, ...). */
  volumeAction(id: string, action: Record<string, unknown>, o?: VolumeCallOptions): Promise<RestAnswer> {
    return this.call('POST', `/volumes/${seg(id)}/action`, action, o);
  }

  // ---- snapshots ----
  getSnapshot(id: string, o?: VolumeCallOptions): Promise<RestAnswer<{ snapshot: SnapshotRecord }>> {
    return this.call('GET', `/snapshots/${seg(id)}`, undefined, o);
  }
  listSnapshots(
    detail: boolean,
    filters: Record<string, string | undefined>,
    o?: VolumeCallOptions,
  ): Promise<RestAnswer<{ snapshots: SnapshotRecord[] }>> {
    return this.call('GET', `/snapshots${detail ? '/detail' : ''}${query(filters)}`, undefined, o);
  }
  createSnapshot(
    snapshot: Record<string, unknown>,
    o?: VolumeCallOptions,
  ): Promise<RestAnswer<{ snapshot: SnapshotRecord }>> {
    return this.call('POST', '/snapshots', { snapshot }, o);
  }
  deleteSnapshot(id: string, o?: VolumeCallOptions): Promise<RestAnswer> {
    return this.call('DELETE', `/snapshots/${seg(id)}`, undefined, o);
  }

  // ---- attachments (3.27+) ----
  /** attachment_create: reserves the volume for the server; with a connector it is also connected. */
  createAttachment(
    volumeId: string,
    instanceUuid: string,
    connector: Connector | null,
    mode?: 'rw' | 'ro',
    o?: VolumeCallOptions,
  ): Promise<RestAnswer<{ attachment: AttachmentRecord }>> {
    const attachment: Record<string, unknown> = { volume_uuid: volumeId, instance_uuid: instanceUuid };
    if (connector) attachment.connector = connector;
    if (mode) attachment.mode = mode;
    return this.call('POST', '/attachments', { attachment }, o);
  }
  getAttachment(id: string, o?: VolumeCallOptions): Promise<RestAnswer<{ attachment: AttachmentRecord }>> {
    return this.call('GET', `/attachments/${seg(id)}`, undefined, o);
  }
  /** attachment_update: the connector given, the connection info answered. */
  updateAttachment(
    id: string,
    connector: Connector,
    o?: VolumeCallOptions,
  ): Promise<RestAnswer<{ attachment: AttachmentRecord }>> {
    return this.call('PUT', `/attachments/${seg(id)}`, { attachment: { connector } }, o);
  }
  /** attachment_complete (3.44): the volume is in-use. */
  completeAttachment(id: string, o?: VolumeCallOptions): Promise<RestAnswer> {
    return this.call('POST', `/attachments/${seg(id)}/action`, { 'os-complete': null }, o);
  }
  deleteAttachment(id: string, o?: VolumeCallOptions): Promise<RestAnswer> {
    return this.call('DELETE', `/attachments/${seg(id)}`, undefined, o);
  }
}
