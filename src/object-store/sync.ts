// Container sync (the container_sync middleware with realms): a container whose
// X-Container-Sync-To names //<realm>/<cluster>/<account>/<container> of this cluster, with
// the same X-Container-Sync-Key on both sides, has its objects copied there by a periodic
// task. Only creations and updates propagate (deletions need tombstones: not yet).
import { isoOf, xTimestamp, type ObjectRow } from './store.ts';
import type { ObjectStoreService } from './service.ts';

export const SYNC_REALMS = { realm1: { clusters: { name1: {} } } };

export function parseSyncTo(v: string): { account: string; container: string } | null {
  const m = /^\/\/([^/]+)\/([^/]+)\/([^/]+)\/([^/]+)\/?$/.exec(v);
  if (!m) return null;
  const realm = (SYNC_REALMS as Record<string, { clusters: Record<string, unknown> }>)[m[1]!.toLowerCase()];
  if (!realm || !(m[2]!.toLowerCase() in realm.clusters)) return null;
  return { account: decodeURIComponent(m[3]!), container: decodeURIComponent(m[4]!) };
}

export class ContainerSync {
  constructor(private s: ObjectStoreService) {}

  async run() {
    const rows = await this.s.db
      .selectFrom('swift_containers')
      .selectAll()
      .where('metadata', 'like', '%x-container-sync-to%')
      .execute();
    for (const r of rows) {
      const meta = JSON.parse(r.metadata);
      const to = parseSyncTo(meta['x-container-sync-to'] ?? '');
      if (!to) continue;
      const dst = await this.s.store.getContainer(to.account, to.container);
      if (
        !dst ||
        !meta['x-container-sync-key'] ||
        dst.metadata['x-container-sync-key'] !== meta['x-container-sync-key']
      )
        continue;
      let marker: string | undefined;
      for (;;) {
        const objs = (await this.s.store.list('objects', r.account, r.name, { marker, limit: 500 })) as ObjectRow[];
        for (const o of objs) {
          if (this.s.large.isSlo(o) || this.s.large.isDlo(o)) continue;
          const there = await this.s.store.getObject(to.account, to.container, o.name);
          if (there && (there.etag === o.etag || Number(there.timestamp) >= Number(o.timestamp))) continue;
          const res = await this.s.backend.put(this.s.backend.get(o.blob));
          const ts = xTimestamp(Math.max(Date.now(), Number(o.timestamp) * 1000));
          const old = await this.s.store.putObject({
            ...o,
            account: to.account,
            container: to.container,
            blob: res.blob,
            timestamp: o.timestamp || ts,
            last_modified: o.last_modified || isoOf(ts),
          });
          if (old) await this.s.backend.delete(old);
        }
        if (objs.length < 500) break;
        marker = objs[objs.length - 1]!.name;
      }
    }
  }
}
