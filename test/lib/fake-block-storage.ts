// A small in-memory volume service speaking the part of Cinder v3 that compute calls (volumes,
// snapshots, the attachments API 3.27+/3.44, os-begin_detaching / os-roll_detaching), for the
// compute volume tests until the block-storage service is in the tree. Statuses move as
// Cinder's do: creating → available, reserved / attaching → in-use, detaching → available.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';

export interface FakeVolume {
  id: string;
  name: string | null;
  description?: string | null;
  status: string;
  size: number;
  bootable: string;
  multiattach: boolean;
  project: string;
  attachments: Array<{
    id: string;
    attachment_id: string;
    server_id: string;
    volume_id: string;
    device: string | null;
  }>;
  volume_image_metadata?: Record<string, string>;
  snapshot_id: string | null;
  imageRef?: string;
}
export interface FakeAttachment {
  id: string;
  volume_id: string;
  instance: string;
  status: string;
  connector: Record<string, unknown> | null;
  connection_info: Record<string, unknown> | null;
}
export interface FakeSnapshot {
  id: string;
  volume_id: string;
  status: string;
  size: number;
  name: string | null;
  description: string | null;
  project: string;
}

export class FakeBlockStorage {
  volumes = new Map<string, FakeVolume>();
  attachments = new Map<string, FakeAttachment>();
  snapshots = new Map<string, FakeSnapshot>();
  /** Every call: "METHOD /path" with the project stripped. */
  calls: string[] = [];
  /** Called once a volume was re-imaged (os-reimage): the test sends Nova the volume-reimaged event. */
  onReimage?: (v: FakeVolume, imageId: string) => void;
  /** Milliseconds a new volume stays `creating`. */
  createDelayMs = 30;
  private server?: http.Server;
  url = '';

  async start(): Promise<string> {
    this.server = http.createServer((req, res) => {
      let raw = '';
      req.on('data', (c) => {
        raw += c;
      });
      req.on('end', () => {
        let body: Record<string, unknown> = {};
        try {
          body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
        } catch {
          body = {};
        }
        const [status, out] = this.handle(req.method ?? 'GET', req.url ?? '/', body);
        res.writeHead(status, { 'Content-Type': 'application/json' });
        res.end(out === undefined ? '' : JSON.stringify(out));
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/volume`;
    return this.url;
  }

  async stop() {
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  /** A volume made directly (as a user's `volume create` would). */
  addVolume(project: string, v: Partial<FakeVolume> = {}): FakeVolume {
    const vol: FakeVolume = {
      id: randomUUID(),
      name: null,
      status: 'available',
      size: 1,
      bootable: 'false',
      multiattach: false,
      project,
      attachments: [],
      snapshot_id: null,
      ...v,
    };
    this.volumes.set(vol.id, vol);
    return vol;
  }

  private view(v: FakeVolume) {
    const { project, imageRef, ...rest } = v;
    return { ...rest, 'os-vol-tenant-attr:tenant_id': project, availability_zone: 'nova', volume_type: 'lvmdriver-1' };
  }

  private refresh(v: FakeVolume) {
    const mine = [...this.attachments.values()].filter((a) => a.volume_id === v.id);
    v.attachments = mine
      .filter((a) => a.status === 'attached')
      .map((a) => ({
        id: v.id,
        attachment_id: a.id,
        server_id: a.instance,
        volume_id: v.id,
        device: (a.connector?.mountpoint as string | undefined) ?? null,
      }));
    if (v.status === 'detaching' && mine.length) return;
    if (!mine.length) v.status = 'available';
    else if (mine.some((a) => a.status === 'attached')) v.status = 'in-use';
    else if (mine.some((a) => a.connector)) v.status = 'attaching';
    else v.status = 'reserved';
  }

  private handle(method: string, url: string, body: Record<string, unknown>): [number, unknown] {
    const path = url.split('?')[0]!.replace(/^\/volume\/v3\/[^/]+/, '');
    const project = url.match(/^\/volume\/v3\/([^/?]+)/)?.[1] ?? '';
    this.calls.push(`${method} ${path}`);
    const nf = (what: string) =>
      [404, { itemNotFound: { code: 404, message: `${what} could not be found.` } }] as [number, unknown];
    const bad = (m: string) => [400, { badRequest: { code: 400, message: m } }] as [number, unknown];
    let m: RegExpMatchArray | null;
    if (method === 'POST' && path === '/volumes') {
      const b = (body.volume ?? {}) as Record<string, unknown>;
      const v = this.addVolume(project, {
        name: (b.name as string) ?? null,
        description: (b.description as string) ?? null,
        size: Number(b.size ?? 1),
        status: 'creating',
        bootable: b.imageRef ? 'true' : 'false',
        snapshot_id: (b.snapshot_id as string) ?? null,
        imageRef: b.imageRef as string | undefined,
        volume_image_metadata: b.imageRef ? { image_id: String(b.imageRef), min_ram: '0' } : undefined,
      });
      setTimeout(() => {
        if (v.status === 'creating') v.status = 'available';
      }, this.createDelayMs);
      return [202, { volume: this.view(v) }];
    }
    if (method === 'GET' && (path === '/volumes' || path === '/volumes/detail'))
      return [
        200,
        { volumes: [...this.volumes.values()].filter((v) => v.project === project).map((v) => this.view(v)) },
      ];
    if ((m = path.match(/^\/volumes\/([^/]+)$/))) {
      const v = this.volumes.get(m[1]!);
      if (!v) return nf(`Volume ${m[1]}`);
      if (method === 'GET') return [200, { volume: this.view(v) }];
      if (method === 'DELETE') {
        if (!['available', 'error'].includes(v.status))
          return bad(
            `Invalid volume: Volume status must be available or error or error_restoring or error_extending or error_managing and must not be migrating, attached, belong to a group, have snapshots, awaiting a transfer, or be disassociated from snapshots after volume transfer.`,
          );
        this.volumes.delete(v.id);
        return [202, undefined];
      }
    }
    if ((m = path.match(/^\/volumes\/([^/]+)\/action$/)) && method === 'POST') {
      const v = this.volumes.get(m[1]!);
      if (!v) return nf(`Volume ${m[1]}`);
      if ('os-begin_detaching' in body) {
        if (v.status !== 'in-use')
          return bad(
            `Invalid volume: Unable to detach volume. Volume status must be 'in-use' and attach_status must be 'attached' to detach.`,
          );
        v.status = 'detaching';
        return [202, undefined];
      }
      if ('os-reimage' in body) {
        const imageId = String((body['os-reimage'] as Record<string, unknown>)?.image_id);
        v.volume_image_metadata = { ...(v.volume_image_metadata ?? {}), image_id: imageId };
        v.imageRef = imageId;
        setTimeout(() => this.onReimage?.(v, imageId), 10);
        return [202, undefined];
      }
      if ('os-roll_detaching' in body) {
        if (v.status === 'detaching') {
          v.status = 'in-use';
        }
        return [202, undefined];
      }
      return bad('unknown action');
    }
    if (method === 'POST' && path === '/snapshots') {
      const b = (body.snapshot ?? {}) as Record<string, unknown>;
      const v = this.volumes.get(String(b.volume_id));
      if (!v) return nf(`Volume ${String(b.volume_id)}`);
      const s: FakeSnapshot = {
        id: randomUUID(),
        volume_id: v.id,
        status: 'available',
        size: v.size,
        name: (b.name as string) ?? null,
        description: (b.description as string) ?? null,
        project,
      };
      this.snapshots.set(s.id, s);
      return [202, { snapshot: s }];
    }
    if (method === 'GET' && (path === '/snapshots' || path === '/snapshots/detail'))
      return [200, { snapshots: [...this.snapshots.values()].filter((s) => s.project === project) }];
    if ((m = path.match(/^\/snapshots\/([^/]+)$/))) {
      const s = this.snapshots.get(m[1]!);
      if (!s) return nf(`Snapshot ${m[1]}`);
      if (method === 'GET') return [200, { snapshot: s }];
      if (method === 'DELETE') {
        this.snapshots.delete(s.id);
        return [202, undefined];
      }
    }
    if (method === 'POST' && path === '/attachments') {
      const b = (body.attachment ?? {}) as Record<string, unknown>;
      const v = this.volumes.get(String(b.volume_uuid));
      if (!v) return nf(`Volume ${String(b.volume_uuid)}`);
      // As Cinder's _attachment_reserve: the same server may reserve its in-use volume again (moves, shelve).
      const sameServer = [...this.attachments.values()].some(
        (x) => x.volume_id === v.id && x.instance === String(b.instance_uuid),
      );
      if (!['available', 'reserved'].includes(v.status) && !(v.multiattach && v.status === 'in-use') && !sameServer)
        return bad(
          `Invalid volume: Volume ${v.id} status must be available or downloading to reserve, but the current status is ${v.status}.`,
        );
      const a: FakeAttachment = {
        id: randomUUID(),
        volume_id: v.id,
        instance: String(b.instance_uuid),
        status: 'reserved',
        connector: (b.connector as Record<string, unknown>) ?? null,
        connection_info: null,
      };
      if (a.connector) {
        a.connection_info = this.connectionInfo(v);
        a.status = 'attaching';
      }
      this.attachments.set(a.id, a);
      this.refresh(v);
      return [200, { attachment: this.attachmentView(a) }];
    }
    if ((m = path.match(/^\/attachments\/([^/]+)(\/action)?$/))) {
      const a = this.attachments.get(m[1]!);
      if (!a) return nf(`Volume attachment ${m[1]}`);
      const v = this.volumes.get(a.volume_id)!;
      if (method === 'GET') return [200, { attachment: this.attachmentView(a) }];
      if (method === 'PUT') {
        a.connector = ((body.attachment as Record<string, unknown>)?.connector as Record<string, unknown>) ?? null;
        if (!a.connector) return bad('Invalid input received: connector required');
        a.connection_info = this.connectionInfo(v);
        a.status = 'attaching';
        this.refresh(v);
        return [200, { attachment: this.attachmentView(a) }];
      }
      if (method === 'POST' && m[2] && 'os-complete' in body) {
        a.status = 'attached';
        this.refresh(v);
        return [204, undefined];
      }
      if (method === 'DELETE') {
        this.attachments.delete(a.id);
        if (v.status === 'detaching') v.status = 'available';
        this.refresh(v);
        return [200, { attachments: [] }];
      }
    }
    return nf(`Resource ${method} ${path}`);
  }

  private connectionInfo(v: FakeVolume) {
    return {
      driver_volume_type: 'file',
      data: { device_path: `/var/lib/stratus/volumes/volume-${v.id}`, format: 'raw' },
    };
  }

  private attachmentView(a: FakeAttachment) {
    return {
      id: a.id,
      status: a.status,
      instance: a.instance,
      volume_id: a.volume_id,
      attach_mode: 'rw',
      connection_info: a.connection_info,
    };
  }
}
