// Nova's metadata API on its own listener: only requests signed by the metadata proxy's shared
// secret get an instance's OpenStack and EC2 trees (meta_data.json with its keys, user_data,
// network_data.json, the EC2 meta-data directory); the config drive holds the same tree.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startCloud, type TestCloud, until } from './lib/cloud.ts';
import type { ComputeService } from '../src/compute/service.ts';
import { signInstanceId } from '../src/core/metadata_secret.ts';
import { buildConfigDrive } from '../src/compute/metadata/configdrive.ts';

describe('metadata API', () => {
  let c: TestCloud;
  let svc: ComputeService;
  let server: string;
  let project: string;
  let base: string;
  const secret = 'sekrit';
  const nova = (method: string, p: string, body?: unknown) =>
    c.req(method, `${c.url}/compute/v2.1${p}`, body, { headers: { 'OpenStack-API-Version': 'compute 2.93' } });
  const md = (p: string, headers: Record<string, string> = {}) =>
    fetch(`${base}${p}`, { headers }).then(async (r) => ({ status: r.status, text: await r.text() }));
  const signed = (p: string, id = server, tenant = project) =>
    md(p, { 'X-Instance-ID': id, 'X-Tenant-ID': tenant, 'X-Instance-ID-Signature': signInstanceId(secret, id) });

  before(async () => {
    c = await startCloud({
      configure: (cfg) => {
        cfg.compute = { ...(cfg.compute ?? {}), metadata: { enabled: true, port: 0, sharedSecret: secret } };
      },
    });
    svc = c.cloud.services.find((s) => s.catalogEntry.name === 'compute') as unknown as ComputeService;
    base = `http://127.0.0.1:${svc.parts.metadata!.port}`;
    const img = await c.req('POST', `${c.url}/image/v2/images`, {
      name: 'md',
      disk_format: 'raw',
      container_format: 'bare',
      visibility: 'public',
    });
    await fetch(`${c.url}/image/v2/images/${img.body.id}/file`, {
      method: 'PUT',
      headers: { 'X-Auth-Token': c.adminToken, 'Content-Type': 'application/octet-stream' },
      body: new Uint8Array(Buffer.from('md')),
    });
    await until('compute node', async () => svc.parts.agent?.ready);
    // 2.1: the keypair is generated.
    const kp = await c.req('POST', `${c.url}/compute/v2.1/os-keypairs`, { keypair: { name: 'mdkey' } });
    assert.equal(kp.status, 200, JSON.stringify(kp.body));
    const r = await nova('POST', '/servers', {
      server: {
        name: 'md-server',
        imageRef: img.body.id,
        flavorRef: '1',
        networks: 'none',
        key_name: 'mdkey',
        user_data: Buffer.from('#!/bin/sh\necho hi\n').toString('base64'),
        metadata: { role: 'web' },
      },
    });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    server = r.body.server.id;
    await until('ACTIVE', async () => (await nova('GET', `/servers/${server}`)).body.server?.status === 'ACTIVE');
    project = (await nova('GET', `/servers/${server}`)).body.server.tenant_id;
  });
  after(async () => {
    await c.stop();
  });

  it('refuses requests without the proxy headers or with a bad signature', async () => {
    assert.equal((await md('/openstack/latest/meta_data.json')).status, 400);
    const bad = await md('/openstack/latest/meta_data.json', {
      'X-Instance-ID': server,
      'X-Tenant-ID': project,
      'X-Instance-ID-Signature': signInstanceId('other', server),
    });
    assert.equal(bad.status, 403);
    assert.equal((await signed('/openstack/latest/meta_data.json', server, 'someone-else')).status, 404);
    const ghost = '00000000-0000-4000-8000-000000000000';
    assert.equal((await signed('/openstack/latest/meta_data.json', ghost)).status, 404);
  });

  it("answers the instance's OpenStack tree", async () => {
    assert.match((await signed('/openstack')).text, /2012-08-10[\s\S]*latest/);
    assert.match((await signed('/openstack/latest')).text, /meta_data.json[\s\S]*user_data/);
    const m = JSON.parse((await signed('/openstack/latest/meta_data.json')).text);
    assert.equal(m.uuid, server);
    assert.equal(m.name, 'md-server');
    assert.deepEqual(m.meta, { role: 'web' });
    assert.match(m.public_keys.mdkey, /^ssh-/);
    assert.equal(m.keys[0].name, 'mdkey');
    assert.equal((await signed('/openstack/2013-04-04/user_data')).text, '#!/bin/sh\necho hi\n');
    const nd = JSON.parse((await signed('/openstack/latest/network_data.json')).text);
    assert.deepEqual(nd, { links: [], networks: [], services: [] });
    assert.equal((await signed('/openstack/latest/vendor_data2.json')).text, '{}');
    assert.equal((await signed('/openstack/latest/nothing')).status, 404);
    assert.equal((await signed('/openstack/1999-01-01/meta_data.json')).status, 404);
  });

  it('answers the EC2 tree', async () => {
    assert.match((await md('/')).text, /2009-04-04\nlatest/);
    const dir = (await signed('/latest/meta-data/')).text.split('\n');
    for (const k of ['hostname', 'instance-id', 'local-ipv4', 'placement/', 'public-keys/', 'block-device-mapping/'])
      assert.ok(dir.includes(k), k);
    assert.equal((await signed('/latest/meta-data/public-keys/')).text, '0=mdkey');
    assert.match((await signed('/latest/meta-data/public-keys/0/openssh-key')).text, /^ssh-/);
    assert.equal((await signed('/latest/meta-data/placement/availability-zone')).text, 'nova');
    assert.equal((await signed('/2009-04-04/user-data')).text, '#!/bin/sh\necho hi\n');
    assert.equal((await signed('/latest/meta-data/nothing')).status, 404);
    assert.equal((await signed('/latest/meta-data/%E0%A4%A')).status, 400);
  });

  it('keeps subnet details in the info cache only for a config drive; network_data.json reads them', async () => {
    const neutron = (method: string, p: string, body?: unknown) => c.req(method, `${c.url}/networking${p}`, body);
    const net = (await neutron('POST', '/v2.0/networks', { network: { name: 'md-net' } })).body.network.id;
    const sub = await neutron('POST', '/v2.0/subnets', {
      subnet: {
        network_id: net,
        ip_version: 4,
        cidr: '10.44.0.0/24',
        enable_dhcp: false,
        dns_nameservers: ['10.44.0.53'],
      },
    });
    assert.equal(sub.status, 201, JSON.stringify(sub.body));
    const image = (await nova('GET', `/servers/${server}`)).body.server.image.id;
    const make = async (name: string, configDrive: boolean) => {
      const r = await nova('POST', '/servers', {
        server: { name, imageRef: image, flavorRef: '1', networks: [{ uuid: net }], config_drive: configDrive },
      });
      assert.equal(r.status, 202, JSON.stringify(r.body));
      const id = r.body.server.id as string;
      await until(`${name} ACTIVE`, async () => (await nova('GET', `/servers/${id}`)).body.server?.status === 'ACTIVE');
      return id;
    };
    const plain = await make('md-plain', false);
    const drive = await make('md-drive', true);
    const cached = async (id: string) => (await svc.parts.store.get(id))!.network_info[0]!.fixed_ips[0]!.subnet;
    assert.equal(await cached(plain), undefined);
    assert.equal((await cached(drive))?.cidr, '10.44.0.0/24');
    for (const id of [plain, drive]) {
      const nd = JSON.parse((await signed('/openstack/latest/network_data.json', id)).text);
      assert.equal(nd.networks[0].type, 'ipv4', id);
      assert.equal(nd.networks[0].netmask, '255.255.255.0');
      assert.deepEqual(nd.services, [{ type: 'dns', address: '10.44.0.53' }]);
    }
    // Shown with no volume (its mappings not read) and the same for both.
    for (const id of [plain, drive])
      assert.deepEqual((await nova('GET', `/servers/${id}`)).body.server['os-extended-volumes:volumes_attached'], []);
    for (const id of [plain, drive]) await nova('DELETE', `/servers/${id}`);
    for (const id of [plain, drive])
      await until('deleted', async () => (await nova('GET', `/servers/${id}`)).status === 404);
    await neutron('DELETE', `/v2.0/networks/${net}`);
  });

  it('writes the same tree on a config drive (ISO 9660, label config-2)', async (t) => {
    if (!fs.existsSync('/usr/bin/genisoimage') || !fs.existsSync('/usr/bin/isoinfo'))
      return t.skip('needs the Debian package genisoimage');
    const inst = await svc.parts.store.get(server);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-cd-'));
    try {
      const iso = path.join(dir, 'disk.config');
      await buildConfigDrive(inst!, iso);
      assert.match(execFileSync('isoinfo', ['-d', '-i', iso]).toString(), /Volume id: config-2/);
      const m = JSON.parse(
        execFileSync('isoinfo', ['-R', '-i', iso, '-x', '/openstack/latest/meta_data.json']).toString(),
      );
      assert.equal(m.uuid, server);
      const ud = execFileSync('isoinfo', ['-R', '-i', iso, '-x', '/openstack/latest/user_data']).toString();
      assert.equal(ud, '#!/bin/sh\necho hi\n');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    }
  });
});
