// The image service with Glance's enforce_scope on: system-scoped tokens are refused (403 where
// no image is involved, 404 where one is, as Glance hides images a caller cannot get), project
// personas (reader, member, admin) work as Glance's new defaults say.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startCloud, member, type TestCloud } from './lib/cloud.ts';

describe('image service with enforce_scope', () => {
  let c: TestCloud;
  let systemToken: string;
  let readerToken: string;
  let readerProject: string;
  const api = (p: string) => `${c.url}/image${p}`;
  const req = (method: string, p: string, body?: unknown, token?: string) => c.req(method, api(p), body, { token });

  before(async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-test-'));
    fs.writeFileSync(path.join(dataDir, 'stratus.yaml'), 'image:\n  enforceScope: true\n');
    c = await startCloud({ dataDir });
    systemToken = await c.token({ name: 'admin', password: c.adminPassword }, { system: { all: true } });
    const m = await member(c, 'img-scope');
    readerProject = m.project;
    const u = await c.req('POST', '/v3/users', { user: { name: 'img-reader', password: 'pw-reader', domain_id: 'default' } });
    const reader = (await c.req('GET', '/v3/roles?name=reader')).body.roles[0].id;
    await c.req('PUT', `/v3/projects/${readerProject}/users/${u.body.user.id}/roles/${reader}`);
    readerToken = await c.token({ id: u.body.user.id, password: 'pw-reader' }, { project: { id: readerProject } });
  });
  after(async () => {
    const dir = c.dataDir;
    await c.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('refuses system-scoped tokens: 403 to create and list, 404 on an image', async () => {
    assert.equal((await req('POST', '/v2/images', { name: 'sys' }, systemToken)).status, 403);
    assert.equal((await req('GET', '/v2/images', undefined, systemToken)).status, 403);
    const img = await req('POST', '/v2/images', { name: 'mine', visibility: 'public' });
    assert.equal(img.status, 201);
    const id = img.body.id;
    assert.equal((await req('GET', `/v2/images/${id}`, undefined, systemToken)).status, 404);
    const patch = await fetch(api(`/v2/images/${id}`), {
      method: 'PATCH', headers: { 'X-Auth-Token': systemToken, 'Content-Type': 'application/openstack-images-v2.1-json-patch' },
      body: JSON.stringify([{ op: 'replace', path: '/name', value: 'x' }]),
    });
    assert.equal(patch.status, 404);
    const up = await fetch(api(`/v2/images/${id}/file`), { method: 'PUT', headers: { 'X-Auth-Token': systemToken, 'Content-Type': 'application/octet-stream' }, body: 'abc' });
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
    assert.equal((await req('GET', '/v2/metadefs/namespaces/OS::Compute::LibvirtImage', undefined, systemToken)).status, 404);
    assert.equal((await req('GET', '/v2/metadefs/namespaces/OS::Compute::LibvirtImage', undefined, readerToken)).status, 200);
  });
});
