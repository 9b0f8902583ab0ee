// Block storage (Cinder v3): versions, volumes through the scheduler and the file driver, types,
// quotas, snapshots, actions and attachments, against an in-process cloud.
import { randomBytes, randomUUID } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BACKUP_TOPIC, type BackupRpc } from '../src/block-storage/rpcapi.ts';
import type { BlockStorageService } from '../src/block-storage/service.ts';
import { serveRpc } from '../src/core/rpc.ts';
import { databaseEngines, member, startCloud, type TestCloud, until } from './lib/cloud.ts';

for (const engine of databaseEngines('block storage')) {
  describe(`block storage (${engine.name})`, () => {
    let c: TestCloud;
    let adminProject: string;
    let alice: { project: string; token: string };
    let cinder: (
      method: string,
      p: string,
      body?: unknown,
      o?: { token?: string | null; version?: string; project?: string },
    ) => ReturnType<TestCloud['req']>;
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-cinder-'));

    before(async () => {
      c = await startCloud({ database: engine.database, dataDir });
      const projects = await c.req('GET', '/v3/projects?name=admin');
      adminProject = projects.body.projects[0].id;
      alice = await member(c, 'alice');
      cinder = (method, p, body, o = {}) => {
        const project = o.project ?? (o.token === alice.token ? alice.project : adminProject);
        return c.req(method, `${c.url}/volume/v3/${project}${p}`, body, {
          token: o.token,
          headers: { 'OpenStack-API-Version': `volume ${o.version ?? '3.0'}` },
        });
      };
    });
    after(async () => {
      await c?.stop();
      fs.rmSync(dataDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    });

    const waitStatus = async (id: string, status: string, token?: string) =>
      until(`volume ${id} ${status}`, async () => {
        const r = await cinder('GET', `/volumes/${id}`, undefined, { token });
        if (r.body.volume?.status === 'error' && status !== 'error') throw new Error(`volume ${id} went to error`);
        return r.body.volume?.status === status ? r.body.volume : null;
      });

    it('answers the version documents and the catalog has volumev3', async () => {
      const r = await c.req('GET', `${c.url}/volume/`, undefined, { token: null });
      assert.equal(r.status, 300);
      assert.equal(r.body.versions[0].version, '3.70');
      const cat = await c.req('GET', '/v3/auth/catalog');
      const types = cat.body.catalog.map((e: { type: string }) => e.type);
      assert.ok(types.includes('block-storage') && types.includes('volumev3'));
      const url = cat.body.catalog.find((e: { type: string }) => e.type === 'volumev3').endpoints[0].url;
      assert.match(url, new RegExp(`/volume/v3/${adminProject}$`));
      const bad = await cinder('GET', '/volumes', undefined, { version: '3.99' });
      assert.equal(bad.status, 406);
      const ok = await cinder('GET', '/volumes', undefined, { version: '3.70' });
      assert.equal(ok.headers.get('openstack-api-version'), 'volume 3.70');
    });

    it('creates a volume through the scheduler and the file driver, lists, updates and deletes it', async () => {
      const r = await cinder(
        'POST',
        '/volumes',
        { volume: { size: 1, name: 'v1', metadata: { a: 'b' } } },
        { token: alice.token },
      );
      assert.equal(r.status, 202, JSON.stringify(r.body));
      assert.equal(r.body.volume.status, 'creating');
      assert.equal(r.body.volume.volume_type, '__DEFAULT__');
      const v = await waitStatus(r.body.volume.id, 'available', alice.token);
      assert.equal(v.size, 1);
      const file = path.join(dataDir, 'volumes', `volume-${v.id}`);
      assert.equal(fs.statSync(file).size, 1024 ** 3);
      const admin = await cinder('GET', `/volumes/${v.id}`, undefined, { project: alice.project });
      assert.match(admin.body.volume['os-vol-host-attr:host'], /@file#file$/);
      assert.equal(v['os-vol-host-attr:host'], undefined);
      const list = await cinder('GET', '/volumes/detail?name=v1&metadata={"a":"b"}', undefined, { token: alice.token });
      assert.deepEqual(
        list.body.volumes.map((x: { id: string }) => x.id),
        [v.id],
      );
      assert.equal((await cinder('GET', '/volumes', undefined, { token: alice.token })).body.volumes.length, 1);
      assert.equal((await cinder('GET', '/volumes')).body.volumes.length, 0);
      assert.equal((await cinder('GET', '/volumes?all_tenants=1')).body.volumes.length, 1);
      const up = await cinder('PUT', `/volumes/${v.id}`, { volume: { name: 'v1b' } }, { token: alice.token });
      assert.equal(up.body.volume.name, 'v1b');
      const del = await cinder('DELETE', `/volumes/${v.id}`, undefined, { token: alice.token });
      assert.equal(del.status, 202);
      await until(
        'volume gone',
        async () => (await cinder('GET', `/volumes/${v.id}`, undefined, { token: alice.token })).status === 404,
      );
      assert.equal(fs.existsSync(file), false);
    });

    it('answers bad input with Cinder fault bodies', async () => {
      const r = await cinder('POST', '/volumes', { volume: { size: 0 } });
      assert.equal(r.status, 400);
      assert.ok(r.body.badRequest.message);
      const nf = await cinder('GET', '/volumes/00000000-0000-0000-0000-000000000000');
      assert.equal(nf.status, 404);
      assert.match(nf.body.itemNotFound.message, /could not be found/);
      const t = await cinder('POST', '/volumes', { volume: { size: 1, volume_type: 'nope' } });
      assert.equal(t.status, 404);
      const az = await cinder('POST', '/volumes', { volume: { size: 1, availability_zone: 'mars' } });
      assert.equal(az.status, 400);
    });

    it('keeps to quotas, also under concurrent creates', async () => {
      const q = await cinder('PUT', `/os-quota-sets/${alice.project}`, { quota_set: { volumes: 3 } });
      assert.equal(q.status, 200, JSON.stringify(q.body));
      const rs = await Promise.all(
        Array.from({ length: 8 }, () => cinder('POST', '/volumes', { volume: { size: 1 } }, { token: alice.token })),
      );
      assert.equal(rs.filter((r) => r.status === 202).length, 3);
      const over = rs.find((r) => r.status === 413)!;
      assert.match(over.body.overLimit.message, /Maximum number of volumes allowed \(3\) exceeded/);
      const lim = await cinder('GET', '/limits', undefined, { token: alice.token });
      assert.equal(lim.body.limits.absolute.totalVolumesUsed, 3);
      const usage = await cinder('GET', `/os-quota-sets/${alice.project}?usage=True`, undefined, {
        token: alice.token,
      });
      assert.equal(usage.body.quota_set.volumes.in_use, 3);
      for (const r of rs.filter((x) => x.status === 202)) {
        await waitStatus(r.body.volume.id, 'available', alice.token);
        assert.equal(
          (await cinder('DELETE', `/volumes/${r.body.volume.id}`, undefined, { token: alice.token })).status,
          202,
        );
      }
      await cinder('DELETE', `/os-quota-sets/${alice.project}`);
    });

    it('manages types with extra specs and private access; the scheduler matches the specs', async () => {
      const t = await cinder('POST', '/types', {
        volume_type: { name: 'fast', extra_specs: { volume_backend_name: 'file' } },
      });
      assert.equal(t.status, 200, JSON.stringify(t.body));
      const dup = await cinder('POST', '/types', { volume_type: { name: 'fast' } });
      assert.equal(dup.status, 409);
      const ok = await cinder('POST', '/volumes', { volume: { size: 1, volume_type: 'fast' } });
      const v = await waitStatus(ok.body.volume.id, 'available');
      assert.equal(v.volume_type, 'fast');
      const nope = await cinder('POST', '/types', {
        volume_type: { name: 'nowhere', extra_specs: { volume_backend_name: 'lvm' } },
      });
      const bad = await cinder('POST', '/volumes', { volume: { size: 1, volume_type: nope.body.volume_type.id } });
      await waitStatus(bad.body.volume.id, 'error');
      const msgs = await cinder('GET', `/messages?resource_uuid=${bad.body.volume.id}`, undefined, { version: '3.3' });
      assert.equal(msgs.body.messages[0].event_id, 'VOLUME_VOLUME_001_002');
      const inUse = await cinder('DELETE', `/types/${t.body.volume_type.id}`);
      assert.equal(inUse.status, 400);
      const priv = await cinder('POST', '/types', {
        volume_type: { name: 'private', 'os-volume-type-access:is_public': false },
      });
      const pid = priv.body.volume_type.id;
      assert.equal((await cinder('GET', `/types/${pid}`, undefined, { token: alice.token })).status, 404);
      assert.equal(
        (await cinder('POST', `/types/${pid}/action`, { addProjectAccess: { project: alice.project } })).status,
        202,
      );
      assert.equal((await cinder('GET', `/types/${pid}`, undefined, { token: alice.token })).status, 200);
      const acc = await cinder('GET', `/types/${pid}/os-volume-type-access`);
      assert.deepEqual(acc.body.volume_type_access, [{ volume_type_id: pid, project_id: alice.project }]);
      const spec = await cinder('PUT', `/types/${pid}/extra_specs/k`, { k: 'v' });
      assert.deepEqual(spec.body, { k: 'v' });
      assert.equal((await cinder('GET', `/types/${pid}/extra_specs/k`)).body.k, 'v');
      await cinder('DELETE', `/volumes/${v.id}`);
      await cinder('DELETE', `/volumes/${bad.body.volume.id}`);
    });

    it('snapshots, clones, extends, and volumes from snapshots', async () => {
      const r = await cinder('POST', '/volumes', { volume: { size: 1, name: 'src' } });
      const v = await waitStatus(r.body.volume.id, 'available');
      const s = await cinder('POST', '/snapshots', { snapshot: { volume_id: v.id, name: 's1', metadata: { x: 'y' } } });
      assert.equal(s.status, 202, JSON.stringify(s.body));
      await until(
        'snapshot',
        async () => (await cinder('GET', `/snapshots/${s.body.snapshot.id}`)).body.snapshot.status === 'available',
      );
      const busy = await cinder('DELETE', `/volumes/${v.id}`);
      assert.equal(busy.status, 400);
      const fromSnap = await cinder('POST', '/volumes', { volume: { snapshot_id: s.body.snapshot.id, size: 2 } });
      const fs2 = await waitStatus(fromSnap.body.volume.id, 'available');
      assert.equal(fs2.size, 2);
      assert.equal(fs2.snapshot_id, s.body.snapshot.id);
      const clone = await cinder('POST', '/volumes', { volume: { source_volid: v.id } });
      await waitStatus(clone.body.volume.id, 'available');
      const ext = await cinder('POST', `/volumes/${v.id}/action`, { 'os-extend': { new_size: 3 } });
      assert.equal(ext.status, 202);
      await until('extended', async () => (await cinder('GET', `/volumes/${v.id}`)).body.volume.size === 3);
      const shrink = await cinder('POST', `/volumes/${v.id}/action`, { 'os-extend': { new_size: 1 } });
      assert.equal(shrink.status, 400);
      assert.equal((await cinder('DELETE', `/volumes/${v.id}?cascade=true`)).status, 202);
      await cinder('DELETE', `/volumes/${fs2.id}`);
      await cinder('DELETE', `/volumes/${clone.body.volume.id}`);
    });

    it('attaches through the legacy actions and the attachments API, multiattach included', async () => {
      const r = await cinder('POST', '/volumes', { volume: { size: 1 } });
      const v = await waitStatus(r.body.volume.id, 'available');
      const server = '11111111-2222-3333-4444-555555555555';
      assert.equal((await cinder('POST', `/volumes/${v.id}/action`, { 'os-reserve': {} })).status, 202);
      assert.equal((await cinder('GET', `/volumes/${v.id}`)).body.volume.status, 'attaching');
      const conn = await cinder('POST', `/volumes/${v.id}/action`, {
        'os-initialize_connection': { connector: { host: 'h1' } },
      });
      assert.equal(conn.status, 200);
      assert.equal(conn.body.connection_info.driver_volume_type, 'file');
      assert.match(conn.body.connection_info.data.device_path, /volume-/);
      const att = await cinder('POST', `/volumes/${v.id}/action`, {
        'os-attach': { instance_uuid: server, mountpoint: '/dev/vdb' },
      });
      assert.equal(att.status, 202);
      let shown = (await cinder('GET', `/volumes/${v.id}`)).body.volume;
      assert.equal(shown.status, 'in-use');
      assert.equal(shown.attachments[0].server_id, server);
      assert.equal((await cinder('DELETE', `/volumes/${v.id}`)).status, 400);
      await cinder('POST', `/volumes/${v.id}/action`, { 'os-begin_detaching': {} });
      await cinder('POST', `/volumes/${v.id}/action`, { 'os-detach': {} });
      shown = (await cinder('GET', `/volumes/${v.id}`)).body.volume;
      assert.equal(shown.status, 'available');
      assert.deepEqual(shown.attachments, []);
      // the attachments API (what Nova uses)
      const a = await cinder(
        'POST',
        '/attachments',
        { attachment: { volume_uuid: v.id, instance_uuid: server } },
        { version: '3.44' },
      );
      assert.equal(a.status, 200, JSON.stringify(a.body));
      assert.equal(a.body.attachment.status, 'reserved');
      const u = await cinder(
        'PUT',
        `/attachments/${a.body.attachment.id}`,
        { attachment: { connector: { host: 'h1', mountpoint: '/dev/vdc' } } },
        { version: '3.44' },
      );
      assert.equal(u.body.attachment.connection_info.driver_volume_type, 'file');
      const done = await cinder(
        'POST',
        `/attachments/${a.body.attachment.id}/action`,
        { 'os-complete': null },
        { version: '3.44' },
      );
      assert.equal(done.status, 204);
      assert.equal((await cinder('GET', `/volumes/${v.id}`)).body.volume.status, 'in-use');
      // Another server may not reserve an in-use volume; the same server may (a move, Cinder's LP 1694530).
      const other = await cinder(
        'POST',
        '/attachments',
        { attachment: { volume_uuid: v.id, instance_uuid: randomUUID() } },
        { version: '3.44' },
      );
      assert.equal(other.status, 400);
      const again = await cinder(
        'POST',
        '/attachments',
        { attachment: { volume_uuid: v.id, instance_uuid: server } },
        { version: '3.44' },
      );
      assert.equal(again.status, 200);
      assert.equal((await cinder('GET', `/volumes/${v.id}`)).body.volume.status, 'in-use');
      await cinder('DELETE', `/attachments/${again.body.attachment.id}`, undefined, { version: '3.44' });
      const del = await cinder('DELETE', `/attachments/${a.body.attachment.id}`, undefined, { version: '3.44' });
      assert.equal(del.status, 200);
      assert.equal((await cinder('GET', `/volumes/${v.id}`)).body.volume.status, 'available');
      await cinder('DELETE', `/volumes/${v.id}`);
      // multiattach
      const m = await cinder('POST', '/volumes', { volume: { size: 1, multiattach: true } }, { version: '3.50' });
      const mv = await waitStatus(m.body.volume.id, 'available');
      for (const inst of [server, '66666666-2222-3333-4444-555555555555']) {
        const x = await cinder(
          'POST',
          '/attachments',
          { attachment: { volume_uuid: mv.id, instance_uuid: inst, connector: { host: 'h' } } },
          { version: '3.44' },
        );
        assert.equal(x.status, 200, JSON.stringify(x.body));
        await cinder(
          'POST',
          `/attachments/${x.body.attachment.id}/action`,
          { 'os-complete': null },
          { version: '3.44' },
        );
      }
      assert.equal((await cinder('GET', `/volumes/${mv.id}`)).body.volume.attachments.length, 2);
    });

    it('backs a volume up into the object store (full, then incremental) and restores it byte-identical', async () => {
      const r = await cinder('POST', '/volumes', { volume: { size: 1, name: 'data' } });
      const v = await waitStatus(r.body.volume.id, 'available');
      const file = path.join(dataDir, 'volumes', `volume-${v.id}`);
      const fd = fs.openSync(file, 'r+');
      fs.writeSync(fd, Buffer.from('hello block storage'), 0, 19, 5 * 1024 * 1024);
      fs.writeSync(fd, Buffer.alloc(4096, 7), 0, 4096, 700 * 1024 * 1024);
      // Random bytes do not compress: their chunk is stored as is (compression 'none').
      fs.writeSync(fd, randomBytes(1024 * 1024), 0, 1024 * 1024, 300 * 1024 * 1024);
      fs.closeSync(fd);
      const waitBackup = (id: string) =>
        until(
          `backup ${id}`,
          async () => {
            const b = (await cinder('GET', `/backups/${id}`)).body.backup;
            if (b.status === 'error') throw new Error(`backup error: ${b.fail_reason}`);
            return b.status === 'available' ? b : null;
          },
          60000,
        );
      const full = await cinder('POST', '/backups', { backup: { volume_id: v.id, name: 'full' } });
      assert.equal(full.status, 202, JSON.stringify(full.body));
      const fb = await waitBackup(full.body.backup.id);
      assert.equal(fb.object_count, 4);
      assert.equal((await cinder('GET', `/volumes/${v.id}`)).body.volume.status, 'available');
      const fd2 = fs.openSync(file, 'r+');
      fs.writeSync(fd2, Buffer.from('changed'), 0, 7, 5 * 1024 * 1024);
      fs.closeSync(fd2);
      const inc = await cinder('POST', '/backups', { backup: { volume_id: v.id, incremental: true } });
      const ib = await waitBackup(inc.body.backup.id);
      assert.equal(ib.is_incremental, true);
      assert.equal(ib.object_count, 2);
      const rs = await cinder('POST', `/backups/${ib.id}/restore`, { restore: { name: 'restored' } });
      assert.equal(rs.status, 202, JSON.stringify(rs.body));
      const nv = await waitStatus(rs.body.restore.volume_id, 'available');
      const restored = path.join(dataDir, 'volumes', `volume-${nv.id}`);
      // qemu-img compare reads both files, skipping their holes: exit 0 when identical.
      const cmp = spawnSync('qemu-img', ['compare', '-q', '-f', 'raw', '-F', 'raw', file, restored]);
      assert.equal(cmp.status, 0, `the restored volume differs: ${cmp.stdout}${cmp.stderr}`);
      // A volume created from the backup (3.47): refused below 3.47 and smaller than the backup.
      const early = await cinder('POST', '/volumes', { volume: { backup_id: ib.id } }, { version: '3.46' });
      assert.equal(early.status, 400);
      const small = await cinder('POST', '/volumes', { volume: { backup_id: ib.id, size: 0 } }, { version: '3.47' });
      assert.equal(small.status, 400);
      const fromB = await cinder(
        'POST',
        '/volumes',
        { volume: { backup_id: ib.id, name: 'from-backup' } },
        { version: '3.47' },
      );
      assert.equal(fromB.status, 202, JSON.stringify(fromB.body));
      assert.equal(fromB.body.volume.size, 1);
      const bv = await waitStatus(fromB.body.volume.id, 'available');
      const cmp2 = spawnSync('qemu-img', [
        'compare',
        '-q',
        '-f',
        'raw',
        '-F',
        'raw',
        file,
        path.join(dataDir, 'volumes', `volume-${bv.id}`),
      ]);
      assert.equal(cmp2.status, 0, `the volume made from the backup differs: ${cmp2.stdout}${cmp2.stderr}`);
      await until(
        'backup available again',
        async () => (await cinder('GET', `/backups/${ib.id}`)).body.backup.status === 'available',
      );
      assert.equal((await cinder('DELETE', `/backups/${fb.id}`)).status, 400);
      assert.equal((await cinder('DELETE', `/backups/${ib.id}`)).status, 202);
      await until('incremental gone', async () => (await cinder('GET', `/backups/${ib.id}`)).status === 404);
      assert.equal((await cinder('DELETE', `/backups/${fb.id}`)).status, 202);
    });

    it("records the backup's host; restore and delete go to it while it is up, else to another; a starting agent settles only its host's", async () => {
      const svc = c.cloud.services.find(
        (x) => x.catalogEntry.name === 'block-storage',
      ) as unknown as BlockStorageService;
      const db = svc.db;
      const own = svc.options.host;
      const hostOf = async (id: string) =>
        (await db.selectFrom('backups').select(['host', 'status']).where('id', '=', id).executeTakeFirst())!;
      const r = await cinder('POST', '/volumes', { volume: { size: 1, name: 'hosted' } });
      const v = await waitStatus(r.body.volume.id, 'available');
      const bk = await cinder('POST', '/backups', { backup: { volume_id: v.id } });
      assert.equal(bk.status, 202, JSON.stringify(bk.body));
      const id = bk.body.backup.id as string;
      await until(
        'backup available',
        async () => (await cinder('GET', `/backups/${id}`)).body.backup.status === 'available',
      );
      assert.equal((await hostOf(id)).host, own);
      // Cinder's backup view has no host.
      const shown = await cinder('GET', `/backups/${id}`, undefined, { version: '3.70' });
      assert.equal('host' in shown.body.backup, false);

      // A second backup service, up in the zone, made the backup: its delete goes there (a stand-in
      // that only records what it is sent).
      const t = new Date().toISOString();
      await db
        .insertInto('services')
        .values({
          id: randomUUID(),
          host: 'backup-2',
          binary: 'cinder-backup',
          topic: 'cinder-backup',
          availability_zone: 'nova',
          disabled: 0,
          disabled_reason: null,
          frozen: 0,
          report_count: 1,
          capabilities: null,
          created_at: t,
          updated_at: t,
        })
        .execute();
      const sent: string[] = [];
      const stopServing = serveRpc<BackupRpc>(svc.ctx.bus, BACKUP_TOPIC, 'backup-2', {
        create_backup: () => null,
        restore_backup: () => null,
        delete_backup: (a) => {
          sent.push(`delete ${a.backup_id}`);
          return null;
        },
      });
      await db.updateTable('backups').set({ host: 'backup-2' }).where('id', '=', id).execute();
      assert.equal((await cinder('DELETE', `/backups/${id}`)).status, 202);
      await until('backup-2 asked', async () => sent.length > 0);
      assert.deepEqual(sent, [`delete ${id}`]);
      assert.deepEqual(await hostOf(id), { host: 'backup-2', status: 'deleting' });

      // backup-2 goes down: a restore goes to an up backup service (this process's), which records itself.
      const old = new Date(Date.now() - 3600_000).toISOString();
      await db.updateTable('services').set({ updated_at: old }).where('host', '=', 'backup-2').execute();
      await db.updateTable('backups').set({ status: 'available' }).where('id', '=', id).execute();
      const rs = await cinder('POST', `/backups/${id}/restore`, { restore: { name: 'restored-hosted' } });
      assert.equal(rs.status, 202, JSON.stringify(rs.body));
      await waitStatus(rs.body.restore.volume_id, 'available');
      await until('backup available again', async () => (await hostOf(id)).status === 'available');
      assert.equal((await hostOf(id)).host, own);

      // An agent that starts settles its own host's unfinished backups, not backup-2's.
      const stale = async (host: string) => {
        const b = await svc.parts.backups.create({
          volume_id: v.id,
          snapshot_id: null,
          project_id: adminProject,
          user_id: 'u',
          name: `stale-${host}`,
          description: null,
          status: 'creating',
          size: 1,
          container: 'volumebackups',
          parent_id: null,
          is_incremental: 0,
          availability_zone: 'nova',
          host,
          metadata: '{}',
        });
        await db.updateTable('backups').set({ created_at: old, updated_at: old }).where('id', '=', b.id).execute();
        return b.id;
      };
      const mine = await stale(own);
      const theirs = await stale('backup-2');
      svc.parts.backupAgent!.stop();
      await svc.parts.backupAgent!.start();
      assert.equal((await hostOf(mine)).status, 'error');
      assert.equal((await hostOf(theirs)).status, 'creating');
      for (const b of [mine, theirs])
        await db.updateTable('backups').set({ status: 'error' }).where('id', '=', b).execute();
      for (const b of [mine, theirs, id]) assert.equal((await cinder('DELETE', `/backups/${b}`)).status, 202);
      for (const b of [mine, theirs, id])
        await until(`backup ${b} gone`, async () => (await cinder('GET', `/backups/${b}`)).status === 404);
      stopServing();
      await db.deleteFrom('services').where('host', '=', 'backup-2').execute();
    });

    it('lists services, zones and pools', async () => {
      const s = await cinder('GET', '/os-services');
      const binaries = s.body.services.map((x: { binary: string }) => x.binary).sort();
      assert.deepEqual(binaries, ['cinder-backup', 'cinder-scheduler', 'cinder-volume']);
      assert.match(s.body.services.find((x: { binary: string }) => x.binary === 'cinder-volume').host, /@file$/);
      const z = await cinder('GET', '/os-availability-zone');
      assert.deepEqual(z.body.availabilityZoneInfo, [{ zoneName: 'nova', zoneState: { available: true } }]);
      const p = await cinder('GET', '/scheduler-stats/get_pools?detail=True');
      assert.equal(p.body.pools[0].capabilities.storage_protocol, 'file');
    });
  });
}
