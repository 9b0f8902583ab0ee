// The image service (Glance v2) against the real HTTP API: images CRUD, filters and
// pagination, JSON patch rules, streamed upload/download with hashes and ranges, members,
// interrupted uploads, version documents.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ApiImage, ImageTask, WithId } from './lib/api-types.ts';
import fs from 'node:fs';
import path from 'node:path';
import http from 'node:http';
import { createHash } from 'node:crypto';
import { answerOf, startCloud, type TestCloud } from './lib/cloud.ts';

const PATCH = 'application/openstack-images-v2.1-json-patch';

describe('image service', () => {
  let c: TestCloud;
  let img: string;
  let memberToken: string;
  let memberProject: string;
  const api = (p: string) => `${c.url}/image${p}`;
  const req = (
    method: string,
    p: string,
    body?: unknown,
    opts: { token?: string | null; headers?: Record<string, string> } = {},
  ) => c.req(method, api(p), body, opts);
  const patch = (id: string, ops: unknown, token?: string) =>
    req('PATCH', `/v2/images/${id}`, undefined, { token, headers: {} })
      .then(() =>
        fetch(api(`/v2/images/${id}`), {
          method: 'PATCH',
          headers: { 'X-Auth-Token': token ?? c.adminToken, 'Content-Type': PATCH },
          body: JSON.stringify(ops),
        }),
      )
      .then(answerOf);
  const upload = (id: string, data: Buffer, token?: string) =>
    fetch(api(`/v2/images/${id}/file`), {
      method: 'PUT',
      headers: { 'X-Auth-Token': token ?? c.adminToken, 'Content-Type': 'application/octet-stream' },
      body: new Uint8Array(data),
    });

  before(async () => {
    c = await startCloud();
    const p = await c.req('POST', '/v3/projects', { project: { name: 'img-member', domain_id: 'default' } });
    memberProject = p.body.project.id;
    const u = await c.req('POST', '/v3/users', {
      user: { name: 'img-user', password: 'pw-img', domain_id: 'default' },
    });
    const member = (await c.req('GET', '/v3/roles?name=member')).body.roles[0].id;
    await c.req('PUT', `/v3/projects/${memberProject}/users/${u.body.user.id}/roles/${member}`);
    memberToken = await c.token({ id: u.body.user.id, password: 'pw-img' }, { project: { id: memberProject } });
  });
  after(async () => {
    await c.stop();
  });

  it('keeps image data in the object store when asked (X-Image-Meta-Store), and removes it on delete', async () => {
    const stores = await req('GET', '/v2/info/stores');
    assert.deepEqual(
      stores.body.stores.map((s: WithId) => s.id),
      ['file', 'object-store'],
    );
    const r = await req('POST', '/v2/images', { name: 'in-swift', disk_format: 'raw', container_format: 'bare' });
    const data = Buffer.alloc(300000, 7);
    const up = await fetch(api(`/v2/images/${r.body.id}/file`), {
      method: 'PUT',
      headers: {
        'X-Auth-Token': c.adminToken,
        'Content-Type': 'application/octet-stream',
        'X-Image-Meta-Store': 'object-store',
      },
      body: new Uint8Array(data),
    });
    assert.equal(up.status, 204);
    const shown = await req('GET', `/v2/images/${r.body.id}`);
    assert.equal(shown.body.status, 'active');
    assert.equal(shown.body.size, 300000);
    assert.equal(shown.body.stores, 'object-store');
    const down = await fetch(api(`/v2/images/${r.body.id}/file`), { headers: { 'X-Auth-Token': c.adminToken } });
    assert.ok(Buffer.from(await down.arrayBuffer()).equals(data));
    assert.equal((await req('DELETE', `/v2/images/${r.body.id}`)).status, 204);
    const bad = await req('POST', '/v2/images', { name: 'nowhere', disk_format: 'raw', container_format: 'bare' });
    const up2 = await fetch(api(`/v2/images/${bad.body.id}/file`), {
      method: 'PUT',
      headers: {
        'X-Auth-Token': c.adminToken,
        'Content-Type': 'application/octet-stream',
        'X-Image-Meta-Store': 'nope',
      },
      body: 'x',
    });
    assert.equal(up2.status, 400);
    assert.equal((await req('GET', `/v2/images/${bad.body.id}`)).body.status, 'queued');
  });

  it('answers version documents (300 at the root)', async () => {
    const r = await req('GET', '/', undefined, { token: null });
    assert.equal(r.status, 300);
    assert.equal(r.body.versions[0].id, 'v2.16');
    assert.equal(r.body.versions[0].status, 'CURRENT');
    assert.match(r.body.versions[0].links[0].href, /\/image\/v2\/$/);
    assert.equal((await req('GET', '/versions', undefined, { token: null })).status, 200);
  });

  it('creates an image with defaults and rejects read-only, reserved and invalid attributes', async () => {
    const r = await req('POST', '/v2/images', {
      name: 'one',
      disk_format: 'qcow2',
      container_format: 'bare',
      tags: ['a', 'a'],
      color: 'blue',
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    img = r.body.id;
    assert.equal(r.body.status, 'queued');
    assert.equal(r.body.visibility, 'shared');
    assert.equal(r.body.size, null);
    assert.deepEqual(r.body.tags, ['a']);
    assert.equal(r.body.color, 'blue');
    assert.equal(r.body.self, `/v2/images/${img}`);
    assert.equal((await req('POST', '/v2/images', { status: 'active' })).status, 403);
    assert.equal((await req('POST', '/v2/images', { self: 'x' })).status, 403);
    assert.equal((await req('POST', '/v2/images', { deleted: 'x' })).status, 403);
    assert.equal((await req('POST', '/v2/images', { disk_format: 'bogus' })).status, 400);
    assert.equal((await req('POST', '/v2/images', { container_format: 'bogus' })).status, 400);
    assert.equal((await req('POST', '/v2/images', { min_ram: -1 })).status, 400);
    assert.equal((await req('POST', '/v2/images', { id: img })).status, 409);
    const e = await req('POST', '/v2/images', { id: 'not-a-uuid' });
    assert.equal(e.status, 400);
    assert.equal(e.body.code, '400 Bad Request');
    assert.equal((await req('POST', '/v2/images', { visibility: 'public' }, { token: memberToken })).status, 403);
  });

  it('applies JSON patches with the upstream rules', async () => {
    let r = await patch(img, [
      { op: 'replace', path: '/name', value: 'renamed' },
      { op: 'add', path: '/os_distro', value: 'debian' },
      { op: 'remove', path: '/color' },
    ]);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.name, 'renamed');
    assert.equal(r.body.os_distro, 'debian');
    assert.ok(!('color' in r.body));
    assert.equal((await patch(img, [{ op: 'replace', path: '/status', value: 'active' }])).status, 403);
    assert.equal((await patch(img, [{ op: 'remove', path: '/name' }])).status, 403);
    assert.equal((await patch(img, [{ op: 'remove', path: '/nothere' }])).status, 409);
    assert.equal((await patch(img, [{ op: 'replace', path: 'name', value: 'x' }])).status, 400);
    assert.equal((await patch(img, [{ op: 'move', path: '/name', value: 'x' }])).status, 400);
    assert.equal((await patch(img, [{ op: 'replace', path: '/min_ram', value: 'x' }])).status, 400);
    r = await patch(img, [{ op: 'replace', path: '/name', value: 'x' }], memberToken);
    assert.equal(r.status, 404);
    const wrongType = await fetch(api(`/v2/images/${img}`), {
      method: 'PATCH',
      headers: { 'X-Auth-Token': c.adminToken, 'Content-Type': 'application/json' },
      body: '[]',
    });
    assert.equal(wrongType.status, 415);
  });

  it('streams an upload, computes hashes and virtual size, and serves ranges', async () => {
    const data = Buffer.alloc(4096, 7);
    data.writeUInt32BE(0x514649fb, 0);
    data.writeBigUInt64BE(10n * 1024n * 1024n, 24);
    const r = await upload(img, data);
    assert.equal(r.status, 204);
    const s = (await req('GET', `/v2/images/${img}`)).body;
    assert.equal(s.status, 'active');
    assert.equal(s.size, 4096);
    assert.equal(s.virtual_size, 10 * 1024 * 1024);
    assert.equal(s.checksum, createHash('md5').update(data).digest('hex'));
    assert.equal(s.os_hash_algo, 'sha512');
    assert.equal(s.os_hash_value, createHash('sha512').update(data).digest('hex'));
    assert.equal((await upload(img, data)).status, 409);
    const d = await fetch(api(`/v2/images/${img}/file`), { headers: { 'X-Auth-Token': c.adminToken } });
    assert.equal(d.status, 200);
    assert.equal(d.headers.get('content-md5'), s.checksum);
    assert.deepEqual(Buffer.from(await d.arrayBuffer()), data);
    const part = await fetch(api(`/v2/images/${img}/file`), {
      headers: { 'X-Auth-Token': c.adminToken, Range: 'bytes=0-3' },
    });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), 'bytes 0-3/4096');
    assert.deepEqual(Buffer.from(await part.arrayBuffer()), data.subarray(0, 4));
    const fresh = await req('POST', '/v2/images', { name: 'empty' });
    assert.equal(
      (await fetch(api(`/v2/images/${fresh.body.id}/file`), { headers: { 'X-Auth-Token': c.adminToken } })).status,
      204,
    );
  });

  it('puts an interrupted upload back to queued and leaves no bytes', async () => {
    const r = await req('POST', '/v2/images', { name: 'cut', disk_format: 'raw', container_format: 'bare' });
    const id = r.body.id;
    await new Promise<void>((resolve) => {
      const u = new URL(api(`/v2/images/${id}/file`));
      const h = http.request({
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        method: 'PUT',
        headers: {
          'X-Auth-Token': c.adminToken,
          'Content-Type': 'application/octet-stream',
          'Content-Length': '1000000',
        },
      });
      h.on('error', () => resolve());
      h.write(Buffer.alloc(1000, 1));
      setTimeout(() => {
        h.destroy();
        resolve();
      }, 200);
    });
    let status = '';
    for (let i = 0; i < 50 && status !== 'queued'; i++) {
      status = (await req('GET', `/v2/images/${id}`)).body.status;
      if (status !== 'queued') await new Promise((res) => setTimeout(res, 50));
    }
    assert.equal(status, 'queued');
    const dir = path.join(c.dataDir, 'image', 'images');
    assert.deepEqual(
      fs.readdirSync(dir).filter((f) => f.includes(id)),
      [],
    );
  });

  it('lists with filters, sorting and pagination', async () => {
    for (const n of ['p1', 'p2', 'p3'])
      await req('POST', '/v2/images', { name: n, tags: ['paged'], flavor: n === 'p2' ? 'big' : 'small' });
    let r = await req('GET', '/v2/images?tag=paged&sort=name:asc&limit=2');
    assert.equal(r.status, 200);
    assert.deepEqual(
      r.body.images.map((i: ApiImage) => i.name),
      ['p1', 'p2'],
    );
    assert.ok(r.body.next);
    r = await req('GET', r.body.next);
    assert.deepEqual(
      r.body.images.map((i: ApiImage) => i.name),
      ['p3'],
    );
    r = await req('GET', '/v2/images?flavor=big');
    assert.deepEqual(
      r.body.images.map((i: ApiImage) => i.name),
      ['p2'],
    );
    r = await req('GET', '/v2/images?size_min=4000&status=active');
    assert.deepEqual(
      r.body.images.map((i: ApiImage) => i.id),
      [img],
    );
    r = await req('GET', `/v2/images?created_at=gte:2000-01-01T00:00:00Z&name=in:p1,p3&sort_key=name&sort_dir=desc`);
    assert.deepEqual(
      r.body.images.map((i: ApiImage) => i.name),
      ['p3', 'p1'],
    );
    assert.equal((await req('GET', '/v2/images?sort_key=bogus')).status, 400);
    assert.equal((await req('GET', '/v2/images?limit=-1')).status, 400);
    assert.equal((await req('GET', '/v2/images?visibility=bogus')).status, 400);
    assert.equal((await req('GET', '/v2/images?marker=00000000-0000-0000-0000-000000000000')).status, 400);
  });

  it('shares an image with a member project that accepts it', async () => {
    assert.equal((await req('GET', `/v2/images/${img}`, undefined, { token: memberToken })).status, 404);
    let r = await req('POST', `/v2/images/${img}/members`, { member: memberProject });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.status, 'pending');
    assert.equal((await req('POST', `/v2/images/${img}/members`, { member: memberProject })).status, 409);
    assert.equal((await req('GET', `/v2/images/${img}`, undefined, { token: memberToken })).status, 200);
    let list = await req('GET', '/v2/images', undefined, { token: memberToken });
    assert.ok(!list.body.images.some((i: ApiImage) => i.id === img));
    assert.equal(
      (await req('POST', `/v2/images/${img}/members`, { member: 'someone' }, { token: memberToken })).status,
      403,
    );
    r = await req('PUT', `/v2/images/${img}/members/${memberProject}`, { status: 'accepted' }, { token: memberToken });
    assert.equal(r.status, 200);
    list = await req('GET', '/v2/images', undefined, { token: memberToken });
    assert.ok(list.body.images.some((i: ApiImage) => i.id === img));
    r = await req('GET', `/v2/images/${img}/members`);
    assert.equal(r.body.members.length, 1);
    assert.equal((await req('DELETE', `/v2/images/${img}`, undefined, { token: memberToken })).status, 403);
    assert.equal((await req('DELETE', `/v2/images/${img}/members/${memberProject}`)).status, 204);
  });

  it('tags, deactivates, protects and deletes', async () => {
    assert.equal((await req('PUT', `/v2/images/${img}/tags/new`)).status, 204);
    assert.ok((await req('GET', `/v2/images/${img}`)).body.tags.includes('new'));
    assert.equal((await req('DELETE', `/v2/images/${img}/tags/new`)).status, 204);
    assert.equal((await req('DELETE', `/v2/images/${img}/tags/new`)).status, 404);
    assert.equal((await req('POST', `/v2/images/${img}/actions/deactivate`)).status, 204);
    assert.equal((await req('GET', `/v2/images/${img}`)).body.status, 'deactivated');
    assert.equal((await req('POST', `/v2/images/${img}/actions/reactivate`)).status, 204);
    await patch(img, [{ op: 'replace', path: '/protected', value: true }]);
    assert.equal((await req('DELETE', `/v2/images/${img}`)).status, 403);
    await patch(img, [{ op: 'replace', path: '/protected', value: false }]);
    assert.equal((await req('DELETE', `/v2/images/${img}`)).status, 204);
    assert.equal((await req('GET', `/v2/images/${img}`)).status, 404);
    assert.deepEqual(
      fs.readdirSync(path.join(c.dataDir, 'image', 'images')).filter((f) => f.includes(img)),
      [],
    );
  });

  it('imports staged data with glance-direct', async () => {
    const r = await req('POST', '/v2/images', { name: 'imp', disk_format: 'raw', container_format: 'bare' });
    const id = r.body.id;
    const st = await fetch(api(`/v2/images/${id}/stage`), {
      method: 'PUT',
      headers: { 'X-Auth-Token': c.adminToken, 'Content-Type': 'application/octet-stream' },
      body: new Uint8Array(Buffer.from('staged bytes')),
    });
    assert.equal(st.status, 204);
    assert.equal((await req('GET', `/v2/images/${id}`)).body.status, 'uploading');
    const imp = await req('POST', `/v2/images/${id}/import`, { method: { name: 'glance-direct' } });
    assert.equal(imp.status, 202, JSON.stringify(imp.body));
    let img: ApiImage | undefined;
    for (let i = 0; i < 50; i++) {
      img = (await req('GET', `/v2/images/${id}`)).body;
      if (img?.status === 'active') break;
      await new Promise((res) => setTimeout(res, 50));
    }
    assert.equal(img?.status, 'active');
    assert.equal(img?.stores, 'file');
    assert.equal(img?.size, 12);
    let tasks: ImageTask[] = [];
    for (let i = 0; i < 50; i++) {
      tasks = (await req('GET', `/v2/images/${id}/tasks`)).body.tasks;
      if (tasks[0]?.status === 'success') break;
      await new Promise((res) => setTimeout(res, 50));
    }
    assert.equal(tasks.length, 1);
    const [task] = tasks;
    assert.equal(task?.status, 'success');
    assert.equal(task?.request_id, imp.headers.get('x-openstack-request-id'));
    assert.equal(task?.input?.import_req?.method?.name, 'glance-direct');
  });
});
