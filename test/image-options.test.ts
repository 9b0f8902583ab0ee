// The image service with its Glance options on (stratus.yaml `image:`): enforce_scope (system-scoped
// tokens refused: 403 where no image is involved, 404 where one is, as Glance hides images a caller
// cannot get; project personas as Glance's new defaults say), show_multiple_locations and
// show_image_direct_url (locations changed by JSON patch with Glance's rules), the image cache,
// tasks, property protections; unified-limits quotas in a cloud of their own.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ImageTask } from './lib/api-types.ts';
import fs from 'node:fs';
import os from 'node:os';
import { createHash } from 'node:crypto';
import path from 'node:path';
import http from 'node:http';
import { answerOf, startCloud, member, databaseEngines, type TestCloud } from './lib/cloud.ts';
import type { AddressInfo } from 'node:net';
import { PropertyProtections } from '../src/image/protections.ts';

const PATCH = 'application/openstack-images-v2.1-json-patch';

// Glance's property protections, roles format (first matching expression wins).
const PROTECTIONS = `
[^x_owner_.*]
create = admin,member
read = admin,member
update = admin,member
delete = admin,member

[^x_admin_.*]
create = admin
read = admin
update = admin
delete = admin

[^x_readonly_.*]
create = admin
read = @
update = !
delete = admin

[.*]
create = @
read = @
update = @
delete = @
`;

for (const engine of databaseEngines('image options'))
  describe(`image service with enforce_scope, locations, cache, tasks, protections (${engine.name})`, () => {
    let c: TestCloud;
    let systemToken: string;
    let readerToken: string;
    let readerProject: string;
    let memberToken: string;
    // An HTTP server with an image behind it (and a 404 and a sizeless answer).
    const bytes = Buffer.from('0123456789'.repeat(100));
    let web: http.Server;
    let webUrl: string;
    const api = (p: string) => `${c.url}/image${p}`;
    const req = (method: string, p: string, body?: unknown, token?: string) => c.req(method, api(p), body, { token });

    before(async () => {
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-test-'));
      fs.writeFileSync(
        path.join(dataDir, 'stratus.yaml'),
        'image:\n  enforceScope: true\n  showMultipleLocations: true\n  showDirectUrl: true\n  cache: true\n  propertyProtectionFile: protections.conf\n',
      );
      fs.writeFileSync(path.join(dataDir, 'protections.conf'), PROTECTIONS);
      web = http.createServer((rq, rs) => {
        if (rq.url?.startsWith('/missing')) {
          rs.writeHead(404).end();
          return;
        }
        const range = /bytes=(\d+)-(\d+)/.exec(rq.headers.range ?? '');
        if (range) {
          const part = bytes.subarray(Number(range[1]), Number(range[2]) + 1);
          rs.writeHead(206, { 'Content-Length': part.length });
          rs.end(rq.method === 'HEAD' ? undefined : part);
          return;
        }
        rs.writeHead(200, { 'Content-Length': bytes.length });
        rs.end(rq.method === 'HEAD' ? undefined : bytes);
      });
      await new Promise<void>((r) => web.listen(0, '127.0.0.1', () => r()));
      webUrl = `http://127.0.0.1:${(web.address() as AddressInfo).port}`;
      c = await startCloud({ dataDir, database: engine.database });
      systemToken = await c.token({ name: 'admin', password: c.adminPassword }, { system: { all: true } });
      const m = await member(c, 'img-scope');
      readerProject = m.project;
      memberToken = m.token;
      const u = await c.req('POST', '/v3/users', {
        user: { name: 'img-reader', password: 'pw-reader', domain_id: 'default' },
      });
      const reader = (await c.req('GET', '/v3/roles?name=reader')).body.roles[0].id;
      await c.req('PUT', `/v3/projects/${readerProject}/users/${u.body.user.id}/roles/${reader}`);
      readerToken = await c.token({ id: u.body.user.id, password: 'pw-reader' }, { project: { id: readerProject } });
    });
    after(async () => {
      web.close();
      const dir = c.dataDir;
      await c.stop();
      fs.rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    });

    it('refuses system-scoped tokens: 403 to create and list, 404 on an image', async () => {
      assert.equal((await req('POST', '/v2/images', { name: 'sys' }, systemToken)).status, 403);
      assert.equal((await req('GET', '/v2/images', undefined, systemToken)).status, 403);
      const img = await req('POST', '/v2/images', { name: 'mine', visibility: 'public' });
      assert.equal(img.status, 201);
      const id = img.body.id;
      assert.equal((await req('GET', `/v2/images/${id}`, undefined, systemToken)).status, 404);
      const patch = await fetch(api(`/v2/images/${id}`), {
        method: 'PATCH',
        headers: { 'X-Auth-Token': systemToken, 'Content-Type': 'application/openstack-images-v2.1-json-patch' },
        body: JSON.stringify([{ op: 'replace', path: '/name', value: 'x' }]),
      });
      assert.equal(patch.status, 404);
      const up = await fetch(api(`/v2/images/${id}/file`), {
        method: 'PUT',
        headers: { 'X-Auth-Token': systemToken, 'Content-Type': 'application/octet-stream' },
        body: 'abc',
      });
      assert.equal(up.status, 404);
      assert.equal((await req('GET', `/v2/images/${id}/members`, undefined, systemToken)).status, 404);
      assert.equal((await req('DELETE', `/v2/images/${id}`, undefined, systemToken)).status, 404);
      assert.equal((await req('GET', `/v2/images/${id}`)).status, 200);
      assert.equal((await req('DELETE', `/v2/images/${id}`)).status, 204);
    });

    it('lets a project reader see but not change: 403 on an image it can get', async () => {
      const img = await req('POST', '/v2/images', { name: 'pub', visibility: 'public' });
      const id = img.body.id;
      assert.equal((await req('GET', `/v2/images/${id}`, undefined, readerToken)).status, 200);
      assert.equal((await req('GET', '/v2/images', undefined, readerToken)).status, 200);
      assert.equal((await req('DELETE', `/v2/images/${id}`, undefined, readerToken)).status, 403);
      assert.equal((await req('POST', '/v2/images', { name: 'r' }, readerToken)).status, 403);
      const priv = await req('POST', '/v2/images', { name: 'priv', visibility: 'private' });
      assert.equal((await req('DELETE', `/v2/images/${priv.body.id}`, undefined, readerToken)).status, 404);
    });

    it('keeps metadef namespaces from system-scoped tokens', async () => {
      assert.equal((await req('GET', '/v2/metadefs/namespaces', undefined, systemToken)).status, 403);
      assert.equal(
        (await req('GET', '/v2/metadefs/namespaces/OS::Compute::LibvirtImage', undefined, systemToken)).status,
        404,
      );
      assert.equal(
        (await req('GET', '/v2/metadefs/namespaces/OS::Compute::LibvirtImage', undefined, readerToken)).status,
        200,
      );
    });

    const patch = async (id: string, ops: unknown, token?: string) => {
      const r = await fetch(api(`/v2/images/${id}`), {
        method: 'PATCH',
        headers: { 'X-Auth-Token': token ?? c.adminToken, 'Content-Type': PATCH },
        body: JSON.stringify(ops),
      });
      return answerOf(r);
    };

    it('shows locations and direct_url; an uploaded image has one location in its store', async () => {
      const img = await req(
        'POST',
        '/v2/images',
        { name: 'up', disk_format: 'raw', container_format: 'bare' },
        memberToken,
      );
      assert.deepEqual(img.body.locations, []);
      assert.equal(img.body.direct_url, undefined);
      const up = await fetch(api(`/v2/images/${img.body.id}/file`), {
        method: 'PUT',
        headers: { 'X-Auth-Token': memberToken, 'Content-Type': 'application/octet-stream' },
        body: 'abcdef',
      });
      assert.equal(up.status, 204);
      const shown = (await req('GET', `/v2/images/${img.body.id}`, undefined, memberToken)).body;
      assert.equal(shown.locations.length, 1);
      assert.deepEqual(shown.locations[0].metadata, { store: 'file' });
      assert.equal(shown.direct_url, shown.locations[0].url);
    });

    it('adds http locations (queued -> active, size from HEAD, validation data), replaces metadata, refuses bad ones', async () => {
      const img = (
        await req('POST', '/v2/images', { name: 'web', disk_format: 'raw', container_format: 'bare' }, memberToken)
      ).body;
      assert.equal(
        (
          await patch(
            img.id,
            [{ op: 'add', path: '/locations/-', value: { url: 'gopher://info.cern.ch', metadata: {} } }],
            memberToken,
          )
        ).status,
        400,
      );
      assert.equal(
        (
          await patch(
            img.id,
            [{ op: 'add', path: '/locations/-', value: { url: `${webUrl}/missing`, metadata: {} } }],
            memberToken,
          )
        ).status,
        400,
      );
      assert.equal(
        (await patch(img.id, [{ op: 'add', path: '/locations/-', value: { url: `${webUrl}/a` } }], memberToken)).status,
        400,
      );
      assert.equal(
        (
          await patch(
            img.id,
            [{ op: 'add', path: '/locations/x', value: { url: `${webUrl}/a`, metadata: {} } }],
            memberToken,
          )
        ).status,
        400,
      );
      const hash = createHash('sha512').update(bytes).digest('hex');
      const bad = await patch(
        img.id,
        [
          {
            op: 'add',
            path: '/locations/-',
            value: {
              url: `${webUrl}/a`,
              metadata: {},
              validation_data: { os_hash_algo: 'sha256', os_hash_value: 'ab' },
            },
          },
        ],
        memberToken,
      );
      assert.equal(bad.status, 409);
      const r = await patch(
        img.id,
        [
          {
            op: 'add',
            path: '/locations/-',
            value: {
              url: `${webUrl}/a`,
              metadata: { foo: 'bar' },
              validation_data: { os_hash_algo: 'sha512', os_hash_value: hash },
            },
          },
        ],
        memberToken,
      );
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.status, 'active');
      assert.equal(r.body.size, bytes.length);
      assert.equal(r.body.os_hash_value, hash);
      assert.deepEqual(r.body.locations, [{ url: `${webUrl}/a`, metadata: { foo: 'bar' } }]);
      assert.equal(r.body.direct_url, `${webUrl}/a`);
      // Data comes from the URL, whole or a range.
      const down = await fetch(api(`/v2/images/${img.id}/file`), { headers: { 'X-Auth-Token': memberToken } });
      assert.ok(Buffer.from(await down.arrayBuffer()).equals(bytes));
      const part = await fetch(api(`/v2/images/${img.id}/file`), {
        headers: { 'X-Auth-Token': memberToken, Range: 'bytes=10-19' },
      });
      assert.equal(part.status, 206);
      assert.equal(await part.text(), '0123456789');
      // A second location, then metadata-only replace works; replacing URLs or dropping one does not.
      assert.equal(
        (
          await patch(
            img.id,
            [{ op: 'add', path: '/locations/-', value: { url: `${webUrl}/a`, metadata: {} } }],
            memberToken,
          )
        ).status,
        400,
      );
      const two = await patch(
        img.id,
        [
          {
            op: 'add',
            path: '/locations/-',
            value: {
              url: `${webUrl}/b`,
              metadata: {},
              validation_data: { os_hash_algo: 'sha512', os_hash_value: 'cd'.repeat(64) },
            },
          },
        ],
        memberToken,
      );
      assert.equal(two.status, 409);
      assert.equal(
        (
          await patch(
            img.id,
            [{ op: 'add', path: '/locations/-', value: { url: `${webUrl}/b`, metadata: {} } }],
            memberToken,
          )
        ).status,
        200,
      );
      const locs = (await req('GET', `/v2/images/${img.id}`, undefined, memberToken)).body.locations;
      locs[0].metadata.date = 'today';
      const rep = await patch(img.id, [{ op: 'replace', path: '/locations', value: locs }], memberToken);
      assert.equal(rep.status, 200);
      assert.equal(rep.body.locations[0].metadata.date, 'today');
      assert.equal(
        (await patch(img.id, [{ op: 'replace', path: '/locations', value: [locs[0]] }], memberToken)).status,
        400,
      );
      assert.equal((await patch(img.id, [{ op: 'replace', path: '/locations', value: [] }], memberToken)).status, 403);
      // Removing a location is admin-only (delete_image_location), and never the last one.
      assert.equal((await patch(img.id, [{ op: 'remove', path: '/locations/0' }], memberToken)).status, 403);
      const rm = await patch(img.id, [{ op: 'remove', path: '/locations/0' }]);
      assert.equal(rm.status, 200);
      assert.deepEqual(
        rm.body.locations.map((l: { url: string }) => l.url),
        [`${webUrl}/b`],
      );
      assert.equal((await patch(img.id, [{ op: 'remove', path: '/locations/0' }])).status, 403);
      assert.equal((await req('DELETE', `/v2/images/${img.id}`)).status, 204);
    });

    it('protects properties by role (property_protection_file)', async () => {
      assert.equal((await req('POST', '/v2/images', { name: 'p', x_admin_a: '1' }, memberToken)).status, 403);
      const img = (await req('POST', '/v2/images', { name: 'p', x_owner_a: '1', free: 'yes' }, memberToken)).body;
      assert.equal(img.x_owner_a, '1');
      // Admin sets an admin-only and a read-only property on the member's image.
      const set = await patch(img.id, [
        { op: 'add', path: '/x_admin_secret', value: 's' },
        { op: 'add', path: '/x_readonly_r', value: 'r' },
      ]);
      assert.equal(set.status, 200, JSON.stringify(set.body));
      assert.equal(set.body.x_admin_secret, 's');
      const seen = (await req('GET', `/v2/images/${img.id}`, undefined, memberToken)).body;
      assert.equal(seen.x_admin_secret, undefined);
      assert.equal(seen.x_readonly_r, 'r');
      assert.equal(
        (await patch(img.id, [{ op: 'replace', path: '/x_admin_secret', value: 't' }], memberToken)).status,
        409,
      );
      assert.equal((await patch(img.id, [{ op: 'remove', path: '/x_admin_secret' }], memberToken)).status, 409);
      assert.equal(
        (await patch(img.id, [{ op: 'add', path: '/x_admin_secret', value: 't' }], memberToken)).status,
        403,
      );
      assert.equal(
        (await patch(img.id, [{ op: 'replace', path: '/x_readonly_r', value: 'x' }], memberToken)).status,
        403,
      );
      assert.equal((await patch(img.id, [{ op: 'remove', path: '/x_readonly_r' }], memberToken)).status, 403);
      const ok = await patch(
        img.id,
        [
          { op: 'replace', path: '/x_owner_a', value: '2' },
          { op: 'remove', path: '/free' },
        ],
        memberToken,
      );
      assert.equal(ok.status, 200);
      assert.equal(ok.body.x_owner_a, '2');
      // What the member could not see is still there.
      const full = (await req('GET', `/v2/images/${img.id}`)).body;
      assert.equal(full.x_admin_secret, 's');
      assert.equal(full.free, undefined);
    });

    it('imports with glance-download from the image service of a region (metadata, data, reverts on failure)', async () => {
      const src = (
        await req(
          'POST',
          '/v2/images',
          {
            name: 'src',
            disk_format: 'qcow2',
            container_format: 'bare',
            hw_cpu_cores: '5',
            os_distro: 'rhel',
            speed: '88mph',
          },
          memberToken,
        )
      ).body;
      await fetch(api(`/v2/images/${src.id}/file`), {
        method: 'PUT',
        headers: { 'X-Auth-Token': memberToken, 'Content-Type': 'application/octet-stream' },
        body: 'remote bytes',
      });
      const info = (await req('GET', '/v2/info/import', undefined, memberToken)).body;
      assert.ok(info['import-methods'].value.includes('glance-download'));
      const dst = (
        await req(
          'POST',
          '/v2/images',
          { name: 'dst', disk_format: 'iso', container_format: 'ovf', os_distro: 'windows' },
          memberToken,
        )
      ).body;
      const bad = await req(
        'POST',
        `/v2/images/${dst.id}/import`,
        { method: { name: 'glance-download', glance_image_id: 'foo', glance_region: 'RegionOne' } },
        memberToken,
      );
      assert.equal(bad.status, 400);
      assert.match(bad.body.message, /image id does not look like a UUID/);
      assert.equal(
        (
          await req(
            'POST',
            `/v2/images/${dst.id}/import`,
            { method: { name: 'glance-download', glance_image_id: src.id } },
            memberToken,
          )
        ).status,
        400,
      );
      const waitTask = async (id: string, status: string) => {
        for (let i = 0; i < 100; i++) {
          const tasks = (await req('GET', `/v2/images/${id}/tasks`, undefined, memberToken)).body.tasks;
          if (tasks.length && tasks.every((t: { status: string }) => t.status === status)) return;
          await new Promise((r) => setTimeout(r, 50));
        }
        throw new Error(`tasks of ${id} did not reach ${status}`);
      };
      // A region without an image service: the task fails, the image is as it was.
      assert.equal(
        (
          await req(
            'POST',
            `/v2/images/${dst.id}/import`,
            {
              method: {
                name: 'glance-download',
                glance_image_id: src.id,
                glance_region: 'nowhere',
                glance_service_interface: 'nope',
              },
            },
            memberToken,
          )
        ).status,
        202,
      );
      await waitTask(dst.id, 'failure');
      let shown = (await req('GET', `/v2/images/${dst.id}`, undefined, memberToken)).body;
      assert.equal(shown.status, 'queued');
      assert.equal(shown.os_distro, 'windows');
      const dst2 = (
        await req(
          'POST',
          '/v2/images',
          { name: 'dst2', disk_format: 'iso', container_format: 'ovf', os_distro: 'windows' },
          memberToken,
        )
      ).body;
      assert.equal(
        (
          await req(
            'POST',
            `/v2/images/${dst2.id}/import`,
            { method: { name: 'glance-download', glance_image_id: src.id, glance_region: 'regionone' } },
            memberToken,
          )
        ).status,
        202,
      );
      await waitTask(dst2.id, 'success');
      shown = (await req('GET', `/v2/images/${dst2.id}`, undefined, memberToken)).body;
      assert.equal(shown.status, 'active');
      assert.equal(shown.disk_format, 'qcow2');
      assert.equal(shown.container_format, 'bare');
      assert.equal(shown.hw_cpu_cores, '5');
      assert.equal(shown.os_distro, 'rhel');
      assert.equal(shown.speed, undefined);
      assert.equal(shown.checksum, src.checksum ?? shown.checksum);
      const data = await fetch(api(`/v2/images/${dst2.id}/file`), { headers: { 'X-Auth-Token': memberToken } });
      assert.equal(await data.text(), 'remote bytes');
    });

    const waitCached = async (id: string) => {
      for (let i = 0; i < 100; i++) {
        const l = (await req('GET', '/v2/cache')).body;
        if (l.cached_images.some((x: { image_id: string }) => x.image_id === id)) return l;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`${id} was not cached`);
    };

    it('caches images: admin-only API, queue, prefetch, hits, download tee from a remote store, clear', async () => {
      assert.equal((await req('GET', '/v2/cache', undefined, memberToken)).status, 403);
      const empty = await req('GET', '/v2/cache');
      assert.equal(empty.status, 200);
      assert.deepEqual(empty.body, { cached_images: [], queued_images: [] });
      assert.equal((await req('PUT', '/v2/cache/non-existing-image-id')).status, 404);
      const queued = (await req('POST', '/v2/images', { name: 'q' })).body;
      assert.equal((await req('PUT', `/v2/cache/${queued.id}`)).status, 400);
      const img = (
        await req('POST', '/v2/images', {
          name: 'c',
          disk_format: 'raw',
          container_format: 'bare',
          visibility: 'private',
        })
      ).body;
      await fetch(api(`/v2/images/${img.id}/file`), {
        method: 'PUT',
        headers: { 'X-Auth-Token': c.adminToken, 'Content-Type': 'application/octet-stream' },
        body: 'cached bytes',
      });
      assert.equal((await req('PUT', `/v2/cache/${img.id}`, undefined, memberToken)).status, 404);
      assert.equal((await req('PUT', `/v2/cache/${img.id}`)).status, 202);
      const l = await waitCached(img.id);
      assert.deepEqual(l.queued_images, []);
      const entry = l.cached_images.find((x: { image_id: string }) => x.image_id === img.id);
      assert.equal(entry.size, 12);
      assert.equal(entry.hits, 0);
      assert.equal(typeof entry.last_accessed, 'number');
      const down = await fetch(api(`/v2/images/${img.id}/file`), { headers: { 'X-Auth-Token': c.adminToken } });
      assert.equal(await down.text(), 'cached bytes');
      const part = await fetch(api(`/v2/images/${img.id}/file`), {
        headers: { 'X-Auth-Token': c.adminToken, Range: 'bytes=0-5' },
      });
      assert.equal(await part.text(), 'cached');
      assert.equal(
        (await req('GET', '/v2/cache')).body.cached_images.find((x: { image_id: string }) => x.image_id === img.id)
          .hits,
        2,
      );
      // An object-store image is cached by its first whole download.
      const remote = (await req('POST', '/v2/images', { name: 'r', disk_format: 'raw', container_format: 'bare' }))
        .body;
      const data = Buffer.alloc(3 * 1024 * 1024, 5);
      await fetch(api(`/v2/images/${remote.id}/file`), {
        method: 'PUT',
        headers: {
          'X-Auth-Token': c.adminToken,
          'Content-Type': 'application/octet-stream',
          'X-Image-Meta-Store': 'object-store',
        },
        body: new Uint8Array(data),
      });
      const got = await fetch(api(`/v2/images/${remote.id}/file`), { headers: { 'X-Auth-Token': c.adminToken } });
      assert.ok(Buffer.from(await got.arrayBuffer()).equals(data));
      await waitCached(remote.id);
      assert.ok(fs.existsSync(path.join(c.dataDir, 'image', 'cache', remote.id)));
      // Deleting an entry, clearing, and a bad clear target.
      assert.equal((await req('DELETE', `/v2/cache/${remote.id}`)).status, 204);
      assert.ok(!fs.existsSync(path.join(c.dataDir, 'image', 'cache', remote.id)));
      assert.equal((await req('DELETE', '/v2/cache/00000000-0000-0000-0000-000000000000')).status, 404);
      assert.equal(
        (await c.req('DELETE', api('/v2/cache'), undefined, { headers: { 'x-image-cache-clear-target': 'invalid' } }))
          .status,
        400,
      );
      assert.equal((await req('DELETE', '/v2/cache')).status, 204);
      assert.deepEqual((await req('GET', '/v2/cache')).body, { cached_images: [], queued_images: [] });
      // A deleted image leaves no cached copy.
      assert.equal((await req('PUT', `/v2/cache/${img.id}`)).status, 202);
      await waitCached(img.id);
      assert.equal((await req('DELETE', `/v2/images/${img.id}`)).status, 204);
      assert.deepEqual((await req('GET', '/v2/cache')).body.cached_images, []);
      assert.ok(!fs.existsSync(path.join(c.dataDir, 'image', 'cache', img.id)));
    });

    it('runs import tasks (POST /v2/tasks) and lists and shows them, admin only', async () => {
      assert.equal((await req('GET', '/v2/tasks', undefined, memberToken)).status, 403);
      assert.equal((await req('POST', '/v2/tasks', { type: 'import', input: {} }, memberToken)).status, 403);
      assert.equal((await req('POST', '/v2/tasks', { input: {} })).status, 400);
      assert.equal((await req('POST', '/v2/tasks', { type: 'other', input: {} })).status, 400);
      const r = await req('POST', '/v2/tasks', {
        type: 'import',
        input: {
          import_from: `${webUrl}/img`,
          import_from_format: 'raw',
          image_properties: { name: 'from-task', disk_format: 'raw', container_format: 'bare' },
        },
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      assert.equal(r.body.status, 'pending');
      assert.equal(r.headers.get('location'), `/v2/tasks/${r.body.id}`);
      let t: ImageTask | undefined;
      for (let i = 0; i < 100; i++) {
        t = (await req('GET', `/v2/tasks/${r.body.id}`)).body;
        if (t?.status === 'success' || t?.status === 'failure') break;
        await new Promise((res) => setTimeout(res, 50));
      }
      assert.equal(t?.status, 'success', t?.message);
      assert.ok(t?.expires_at);
      const img = (await req('GET', `/v2/images/${t?.result?.image_id}`)).body;
      assert.equal(img.status, 'active');
      assert.equal(img.size, bytes.length);
      assert.equal(img.name, 'from-task');
      const bad = await req('POST', '/v2/tasks', { type: 'import', input: { import_from: 'gopher://x' } });
      for (let i = 0; i < 100; i++) {
        t = (await req('GET', `/v2/tasks/${bad.body.id}`)).body;
        if (t?.status === 'failure') break;
        await new Promise((res) => setTimeout(res, 50));
      }
      assert.equal(t?.status, 'failure');
      assert.match(t?.message ?? '', /import_from_format/);
      const list = await req('GET', '/v2/tasks?type=import&sort_dir=asc&limit=1');
      assert.equal(list.status, 200);
      assert.equal(list.body.tasks.length, 1);
      assert.equal(list.body.tasks[0].id, r.body.id);
      assert.equal(list.body.tasks[0].input, undefined);
      assert.match(list.body.next, /marker=/);
      assert.equal((await req('GET', '/v2/tasks?status=bogus')).status, 400);
      assert.equal((await req('DELETE', `/v2/tasks/${r.body.id}`)).status, 405);
      assert.equal((await req('GET', '/v2/schemas/task')).body.name, 'task');
      assert.equal((await req('GET', '/v2/schemas/tasks')).body.properties.tasks.items.properties.input, undefined);
    });
  });

for (const engine of databaseEngines('image quotas'))
  describe(`image quotas through Keystone unified limits (${engine.name})`, () => {
    let c: TestCloud;
    let m: { project: string; token: string };
    const api = (p: string) => `${c.url}/image${p}`;
    const req = (method: string, p: string, body?: unknown, token?: string) => c.req(method, api(p), body, { token });
    const upload = (id: string, data: Buffer, token: string) =>
      fetch(api(`/v2/images/${id}/file`), {
        method: 'PUT',
        headers: { 'X-Auth-Token': token, 'Content-Type': 'application/octet-stream' },
        body: new Uint8Array(data),
      });

    before(async () => {
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-test-'));
      fs.writeFileSync(path.join(dataDir, 'stratus.yaml'), 'image:\n  useKeystoneLimits: true\n');
      c = await startCloud({ dataDir, database: engine.database });
      m = await member(c, 'img-quota');
    });
    after(async () => {
      const dir = c.dataDir;
      await c.stop();
      fs.rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    });

    it('refuses over the limits with 413 and reports usage', async () => {
      // No limit registered: oslo.limit's limit is 0.
      const none = await req('POST', '/v2/images', { name: 'a' }, m.token);
      assert.equal(none.status, 413);
      assert.match(
        none.body.message,
        /Resource image_count_total is over limit of 0 due to current usage 0 and delta 1/,
      );
      const service = (await c.req('GET', '/v3/services?type=image')).body.services[0].id;
      const reg = await c.req('POST', '/v3/registered_limits', {
        registered_limits: [
          { service_id: service, region_id: 'RegionOne', resource_name: 'image_count_total', default_limit: 2 },
          { service_id: service, region_id: 'RegionOne', resource_name: 'image_size_total', default_limit: 1 },
          { service_id: service, region_id: 'RegionOne', resource_name: 'image_stage_total', default_limit: 1 },
          { service_id: service, region_id: 'RegionOne', resource_name: 'image_count_uploading', default_limit: 1 },
        ],
      });
      assert.equal(reg.status, 201, JSON.stringify(reg.body));
      const a = (await req('POST', '/v2/images', { name: 'a', disk_format: 'raw', container_format: 'bare' }, m.token))
        .body;
      const b = (await req('POST', '/v2/images', { name: 'b', disk_format: 'raw', container_format: 'bare' }, m.token))
        .body;
      assert.equal((await req('POST', '/v2/images', { name: 'c' }, m.token)).status, 413);
      // A project limit of its own wins over the default.
      assert.equal(
        (
          await c.req('POST', '/v3/limits', {
            limits: [
              {
                service_id: service,
                region_id: 'RegionOne',
                project_id: m.project,
                resource_name: 'image_count_total',
                resource_limit: 3,
              },
            ],
          })
        ).status,
        201,
      );
      assert.equal((await req('POST', '/v2/images', { name: 'c' }, m.token)).status, 201);
      // image_size_total is checked before an upload: the first goes over, the next is refused.
      assert.equal((await upload(a.id, Buffer.alloc(2 * 1024 * 1024, 1), m.token)).status, 204);
      const over = await upload(b.id, Buffer.alloc(10, 1), m.token);
      assert.equal(over.status, 413);
      assert.equal((await req('GET', `/v2/images/${b.id}`, undefined, m.token)).body.status, 'queued');
      const usage = (await req('GET', '/v2/info/usage', undefined, m.token)).body.usage;
      assert.deepEqual(usage.image_count_total, { limit: 3, usage: 3 });
      assert.deepEqual(usage.image_size_total, { limit: 1, usage: 2 });
      assert.deepEqual(usage.image_count_uploading, { limit: 1, usage: 0 });
      assert.deepEqual(usage.image_stage_total, { limit: 1, usage: 0 });
    });
  });

describe('property protection files', () => {
  const write = (text: string) => {
    const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pp-')), 'p.conf');
    fs.writeFileSync(f, text);
    return f;
  };
  it('reads roles and policies formats and refuses bad files', () => {
    const p = new PropertyProtections(write('[^a_]\ncreate = Admin\nread = @\nupdate = !\ndelete =\n'));
    const none = () => false;
    assert.equal(p.allows('a_x', 'create', ['admin'], none), true);
    assert.equal(p.allows('a_x', 'create', ['member'], none), false);
    assert.equal(p.allows('a_x', 'read', [], none), true);
    assert.equal(p.allows('a_x', 'update', ['admin'], none), false);
    assert.equal(p.allows('a_x', 'delete', ['admin'], none), false);
    assert.equal(p.allows('b', 'read', ['admin'], none), false);
    const pol = new PropertyProtections(
      write('[.*]\ncreate = glance_creator\nread = @\nupdate = glance_creator\ndelete = !\n'),
      'policies',
    );
    assert.equal(
      pol.allows('x', 'create', [], (r) => r === 'glance_creator'),
      true,
    );
    assert.equal(
      pol.allows('x', 'create', [], () => false),
      false,
    );
    assert.throws(
      () => new PropertyProtections(write('[.*]\ncreate = @,!\nread = @\nupdate = @\ndelete = @\n')),
      /mutually exclusive/,
    );
    assert.throws(() => new PropertyProtections(write('[.*]\ncreate = @\n')), /has no 'read'/);
    assert.throws(
      () => new PropertyProtections(write('[(]\ncreate = @\nread = @\nupdate = @\ndelete = @\n')),
      /malformed/,
    );
    assert.throws(
      () => new PropertyProtections(write('[.*]\ncreate = a,b\nread = @\nupdate = @\ndelete = @\n'), 'policies'),
      /Multiple policies/,
    );
    assert.throws(() => new PropertyProtections('/nonexistent/file'), /Couldn't find/);
  });
});
