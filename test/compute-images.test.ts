// The compute API's image proxy (up to 2.35; metadata up to 2.38): list/detail with Nova's
// filters, show, delete, and image properties as metadata, all through the image service.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud } from './lib/cloud.ts';

describe('compute image proxy', () => {
  let c: TestCloud;
  let image: string;
  const nova = (method: string, p: string, body?: unknown, version = '2.1') =>
    c.req(method, `${c.url}/compute/v2.1${p}`, body, { headers: { 'OpenStack-API-Version': `compute ${version}` } });

  before(async () => {
    c = await startCloud();
    const r = await c.req('POST', `${c.url}/image/v2/images`, {
      name: 'proxied',
      disk_format: 'raw',
      container_format: 'bare',
      os_distro: 'cirros',
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    image = r.body.id;
    const up = await fetch(`${c.url}/image/v2/images/${image}/file`, {
      method: 'PUT',
      headers: { 'X-Auth-Token': c.adminToken, 'Content-Type': 'application/octet-stream' },
      body: new Uint8Array(Buffer.alloc(1024, 42)),
    });
    assert.equal(up.status, 204);
  });
  after(async () => {
    await c.stop();
  });

  it("lists and shows images in Nova's view, with its filters", async () => {
    const list = await nova('GET', '/images');
    assert.equal(list.status, 200, JSON.stringify(list.body));
    const mine = list.body.images.find((i: { id: string }) => i.id === image);
    assert.deepEqual(Object.keys(mine).sort(), ['id', 'links', 'name']);
    assert.equal(mine.links[2].rel, 'alternate');
    const detail = await nova('GET', '/images/detail?name=proxied&status=ACTIVE');
    assert.equal(detail.body.images.length, 1);
    const d = detail.body.images[0];
    assert.equal(d.status, 'ACTIVE');
    assert.equal(d.progress, 100);
    assert.equal(d['OS-EXT-IMG-SIZE:size'], 1024);
    assert.deepEqual(d.metadata, { os_distro: 'cirros' });
    assert.equal((await nova('GET', '/images/detail?name=nothing')).body.images.length, 0);
    const one = await nova('GET', '/images/detail?limit=1');
    assert.equal(one.body.images.length, 1);
    assert.match(one.body.images_links[0].href, /marker=/);
    const show = await nova('GET', `/images/${image}`);
    assert.equal(show.body.image.minRam, 0);
    assert.equal(
      (await nova('GET', '/images/00000000-0000-0000-0000-000000000000')).body.itemNotFound.message,
      'Image not found.',
    );
    assert.equal((await nova('GET', '/images', undefined, '2.36')).status, 404);
  });

  it('keeps metadata as the image properties', async () => {
    assert.deepEqual(
      (await nova('POST', `/images/${image}/metadata`, { metadata: { os_version: '1' } })).body.metadata,
      { os_distro: 'cirros', os_version: '1' },
    );
    assert.deepEqual((await nova('PUT', `/images/${image}/metadata/os_version`, { meta: { os_version: '2' } })).body, {
      meta: { os_version: '2' },
    });
    assert.equal((await nova('PUT', `/images/${image}/metadata/other`, { meta: { os_version: '2' } })).status, 400);
    assert.deepEqual((await nova('GET', `/images/${image}/metadata/os_version`)).body, { meta: { os_version: '2' } });
    assert.deepEqual(
      (await nova('PUT', `/images/${image}/metadata`, { metadata: { architecture: 'x86_64' } })).body.metadata,
      { architecture: 'x86_64' },
    );
    assert.deepEqual((await nova('GET', `/images/${image}/metadata`)).body.metadata, { architecture: 'x86_64' });
    assert.equal((await nova('DELETE', `/images/${image}/metadata/architecture`)).status, 204);
    assert.deepEqual((await nova('GET', `/images/${image}/metadata`)).body.metadata, {});
    assert.equal((await nova('DELETE', `/images/${image}/metadata/architecture`)).status, 404);
    assert.equal((await nova('GET', `/images/${image}/metadata`, undefined, '2.39')).status, 404);
    assert.equal((await nova('POST', `/images/${image}/metadata`, { metadata: { 'bad/key': 'x' } })).status, 400);
  });

  it("lists v2.1's extensions and shows one by alias", async () => {
    const list = await nova('GET', '/extensions');
    assert.equal(list.status, 200);
    assert.ok(list.body.extensions.some((e: { name: string }) => e.name === 'Hosts'));
    const one = await nova('GET', '/extensions/os-consoles');
    assert.equal(one.body.extension.alias, 'os-consoles');
    assert.equal(one.body.extension.updated, '2014-12-03T00:00:00Z');
    assert.equal((await nova('GET', '/extensions/nope')).status, 404);
  });

  it('deletes through the image service', async () => {
    assert.equal((await nova('DELETE', `/images/${image}`)).status, 204);
    assert.equal((await nova('GET', `/images/${image}`)).status, 404);
    assert.equal((await nova('DELETE', `/images/${image}`)).status, 404);
  });
});
