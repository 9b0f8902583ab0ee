// Servers' hostnames as Nova makes them from their names (nova.utils.sanitize_hostname and
// compute.api._populate_instance_names): dots become dashes since Wallaby (tempest's
// hostname_fqdn_sanitization), truncation to 63 before the clean-up, `Server-<uuid>` when
// nothing is left, `-<n>` for a multiple create; the hostname the API shows (2.90+) and the one
// the metadata service hands the guest.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, uploadImage, type TestCloud } from './lib/cloud.ts';
import { defaultHostname, sanitizeHostname } from '../src/compute/instances.ts';
import { hostnameOf } from '../src/compute/metadata/content.ts';
import type { Instance } from '../src/compute/instances.ts';

describe('sanitizeHostname (nova.utils.sanitize_hostname)', () => {
  it('turns spaces, underscores and dots into dashes', () => {
    assert.equal(sanitizeHostname('guest-instance-1.domain.com'), 'guest-instance-1-domain-com');
    assert.equal(sanitizeHostname('My Server_1'), 'my-server-1');
    assert.equal(sanitizeHostname('tempest-ServersTestJSON-server-12345'), 'tempest-serverstestjson-server-12345');
  });
  it('removes what is not a word character or a dash, lower-cases, strips the ends', () => {
    assert.equal(sanitizeHostname('a!b@c#d'), 'abcd');
    assert.equal(sanitizeHostname('..--abc--..'), 'abc');
    assert.equal(sanitizeHostname('.x.'), 'x');
    // Latin-1 letters are word characters (Python's \w); characters above U+00FF are dropped.
    assert.equal(sanitizeHostname('Café'), 'café');
    assert.equal(sanitizeHostname('ser\u4e2dver'), 'server');
    assert.equal(sanitizeHostname('\u{1F600}'), '');
    assert.equal(sanitizeHostname('!!!'), '');
  });
  it('truncates to 63 before cleaning up (so the result may be shorter)', () => {
    assert.equal(sanitizeHostname('a'.repeat(80)), 'a'.repeat(63));
    assert.equal(sanitizeHostname(`${'a'.repeat(62)}.b`), 'a'.repeat(62));
    assert.equal(sanitizeHostname(`${'a'.repeat(60)}!!!!b`), 'a'.repeat(60));
  });
  it('names a server without a usable name Server-<uuid>, numbers a multiple create', () => {
    const uuid = '6b3bb2f4-7bd5-4bc8-a9a2-9d0a5bd0b3a1';
    assert.equal(defaultHostname('!!', uuid, 1, 0), `Server-${uuid}`);
    assert.equal(defaultHostname('web.example', uuid, 1, 0), 'web-example');
    assert.equal(defaultHostname('web.', uuid, 3, 1), 'web-2');
  });
  it('is what the metadata service answers when the row has no hostname', () => {
    const i = { uuid: 'u-1', hostname: null, display_name: 'a.b c' } as unknown as Instance;
    assert.equal(hostnameOf(i), 'a-b-c');
    assert.equal(hostnameOf({ ...i, hostname: 'given.example.org' } as Instance), 'given.example.org');
  });
});

describe('server hostnames through the API', () => {
  let c: TestCloud;
  let image: string;
  const nova = (method: string, p: string, body?: unknown, version = '2.90') =>
    c.req(method, `${c.url}/compute/v2.1${p}`, body, { headers: { 'OpenStack-API-Version': `compute ${version}` } });

  before(async () => {
    c = await startCloud();
    image = await uploadImage(c, 'hostname-img', new Uint8Array(Buffer.alloc(512, 1)));
  });
  after(async () => {
    await c.stop();
  });

  it('sanitises an FQDN-like name into the hostname (2.90 shows it)', async () => {
    const r = await nova('POST', '/servers', {
      server: { name: 'guest-instance-1.domain.com', imageRef: image, flavorRef: '1', networks: 'none' },
    });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const s = (await nova('GET', `/servers/${r.body.server.id}`)).body.server;
    assert.equal(s.name, 'guest-instance-1.domain.com');
    assert.equal(s['OS-EXT-SRV-ATTR:hostname'], 'guest-instance-1-domain-com');
    await nova('DELETE', `/servers/${r.body.server.id}`);
  });

  it('numbers the hostnames of a multiple create after sanitising the name', async () => {
    const r = await nova('POST', '/servers', {
      server: { name: 'multi.node', imageRef: image, flavorRef: '1', networks: 'none', min_count: 2, max_count: 2 },
    });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const list = (await nova('GET', '/servers/detail?name=multi')).body.servers as Array<Record<string, string>>;
    assert.deepEqual(list.map((s) => [s.name, s['OS-EXT-SRV-ATTR:hostname']]).sort(), [
      ['multi.node-1', 'multi-node-1'],
      ['multi.node-2', 'multi-node-2'],
    ]);
    for (const s of list) await nova('DELETE', `/servers/${s.id}`);
  });

  it('keeps a hostname given at 2.90 as it is', async () => {
    const r = await nova('POST', '/servers', {
      server: { name: 'x.y', hostname: 'chosen-name', imageRef: image, flavorRef: '1', networks: 'none' },
    });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const s = (await nova('GET', `/servers/${r.body.server.id}`)).body.server;
    assert.equal(s['OS-EXT-SRV-ATTR:hostname'], 'chosen-name');
    await nova('DELETE', `/servers/${r.body.server.id}`);
  });
});
