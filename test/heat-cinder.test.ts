// OS::Cinder:: resources through the block storage API of an in-process cloud: the acceptance's
// server.yaml (a server with a port, a floating IP and a volume attached), volume update (extend,
// metadata, name), VolumeType and QoSSpecs; a stack delete leaves no volume, type, QoS, server,
// port or floating IP behind.
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import YAML from 'yaml';
import { startCloud, type TestCloud, until } from './lib/cloud.ts';

describe('orchestration: OS::Cinder:: resources', () => {
  let c: TestCloud;
  let base: string;
  let image: string;

  before(async () => {
    c = await startCloud();
    const tok = await c.req('GET', '/v3/auth/tokens', undefined, { headers: { 'X-Subject-Token': c.adminToken } });
    base = `${c.url}/heat-api/v1/${tok.body.token.project.id}`;
    const img = await c.req('POST', `${c.url}/image/v2/images`, {
      name: 'cirros',
      disk_format: 'qcow2',
      container_format: 'bare',
      visibility: 'public',
    });
    image = img.body.id;
    await fetch(`${c.url}/image/v2/images/${image}/file`, {
      method: 'PUT',
      headers: { 'X-Auth-Token': c.adminToken, 'Content-Type': 'application/octet-stream' },
      body: new Uint8Array(Buffer.from('fake image')),
    });
    // The public network the template's router and floating IP use.
    const net = await c.req('POST', `${c.url}/networking/v2.0/networks`, {
      network: { name: 'public', 'router:external': true },
    });
    assert.equal(net.status, 201, JSON.stringify(net.body));
    const sub = await c.req('POST', `${c.url}/networking/v2.0/subnets`, {
      subnet: { network_id: net.body.network.id, cidr: '172.24.4.0/24', ip_version: 4 },
    });
    assert.equal(sub.status, 201, JSON.stringify(sub.body));
  });
  after(async () => {
    await c?.stop();
  });

  const h = (method: string, p: string, body?: unknown) => c.req(method, `${base}${p}`, body);
  const waitStatus = async (id: string, want: string, ms = 60_000) => {
    let last = '';
    await until(
      `stack ${id} ${want}`,
      async () => {
        const s = (await h('GET', `/stacks/${id}`)).body.stack;
        last = `${s?.stack_status} ${s?.stack_status_reason}`;
        if (s?.stack_status === want) return true;
        if (s?.stack_status?.endsWith('FAILED')) throw new Error(last);
        return null;
      },
      ms,
    );
    return last;
  };
  const count = async (p: string, key: string) => ((await c.req('GET', `${c.url}${p}`)).body[key] as unknown[]).length;

  it('creates server.yaml (server + port + floating IP + attached volume), updates the volume, deletes it all', async () => {
    const template = YAML.parse(fs.readFileSync(path.resolve('src/orchestration/examples/server.yaml'), 'utf8'));
    const before = {
      volumes: await count('/volume/v3/volumes', 'volumes'),
      servers: await count('/compute/v2.1/servers', 'servers'),
      fips: await count('/networking/v2.0/floatingips', 'floatingips'),
      ports: await count('/networking/v2.0/ports', 'ports'),
    };
    const r = await h('POST', '/stacks', { stack_name: 'srv', template, parameters: { image, flavor: '1' } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const id = r.body.stack.id as string;
    await waitStatus(id, 'CREATE_COMPLETE');
    const outs = (await h('GET', `/stacks/srv/${id}/outputs`)).body.outputs as Array<{ output_key: string }>;
    const out = async (k: string) => (await h('GET', `/stacks/srv/${id}/outputs/${k}`)).body.output.output_value;
    assert.equal(outs.length, 3);
    assert.match(String(await out('server_ip')), /^10\.20\.30\./);
    assert.match(String(await out('floating_ip')), /^172\.24\.4\./);
    assert.equal(
      await out('volume_id'),
      (await h('GET', `/stacks/srv/${id}/resources/volume`)).body.resource.physical_resource_id,
    );
    const vol = (await h('GET', `/stacks/srv/${id}/resources/volume`)).body.resource.physical_resource_id;
    const server = (await h('GET', `/stacks/srv/${id}/resources/server`)).body.resource.physical_resource_id;
    const v = (await c.req('GET', `${c.url}/volume/v3/volumes/${vol}`)).body.volume;
    assert.equal(v.status, 'in-use');
    assert.equal(v.attachments[0].server_id, server);

    // In-place update: a bigger volume (extend while attached).
    const u = await h('PATCH', `/stacks/srv/${id}`, { existing: true, parameters: { volume_size: 2 } });
    assert.equal(u.status, 202, JSON.stringify(u.body));
    await waitStatus(id, 'UPDATE_COMPLETE');
    const v2 = (await c.req('GET', `${c.url}/volume/v3/volumes/${vol}`)).body.volume;
    assert.equal(v2.size, 2);
    assert.equal(v2.id, vol);

    assert.equal((await h('DELETE', `/stacks/srv/${id}`)).status, 204);
    await until(
      'srv deleted',
      async () => {
        const s = (await h('GET', `/stacks/${id}`)).body.stack;
        if (s?.stack_status === 'DELETE_FAILED') throw new Error(s.stack_status_reason);
        return !s || s.stack_status === 'DELETE_COMPLETE' ? true : null;
      },
      60_000,
    );
    assert.deepEqual(
      {
        volumes: await count('/volume/v3/volumes', 'volumes'),
        servers: await count('/compute/v2.1/servers', 'servers'),
        fips: await count('/networking/v2.0/floatingips', 'floatingips'),
        ports: await count('/networking/v2.0/ports', 'ports'),
      },
      before,
    );
  });

  it('VolumeType, QoSSpecs and a volume of that type; metadata and name updated in place', async () => {
    const template = {
      heat_template_version: '2021-04-16',
      parameters: { meta: { type: 'string', default: 'a' }, key_size: { type: 'number', default: 512 } },
      resources: {
        qos: { type: 'OS::Cinder::QoSSpecs', properties: { name: 'heat-qos', specs: { read_iops_sec: 100 } } },
        vtype: {
          type: 'OS::Cinder::VolumeType',
          properties: { name: 'heat-type', metadata: { 'heat:tier': 'gold' }, description: 'made by heat' },
        },
        luks: { type: 'OS::Cinder::VolumeType', properties: { name: 'heat-luks' } },
        enc: {
          type: 'OS::Cinder::EncryptedVolumeType',
          properties: {
            provider: 'luks',
            cipher: 'aes-xts-plain64',
            key_size: { get_param: 'key_size' },
            volume_type: { get_resource: 'luks' },
          },
        },
        vol: {
          type: 'OS::Cinder::Volume',
          properties: {
            size: 1,
            volume_type: { get_resource: 'vtype' },
            metadata: { m: { get_param: 'meta' } },
          },
        },
      },
      outputs: { vt: { value: { get_attr: ['vol', 'volume_type'] } } },
    };
    const r = await h('POST', '/stacks', { stack_name: 'vt', template });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const id = r.body.stack.id as string;
    await waitStatus(id, 'CREATE_COMPLETE');
    const types = (await c.req('GET', `${c.url}/volume/v3/types`)).body.volume_types as Array<Record<string, unknown>>;
    const t = types.find((x) => x.name === 'heat-type');
    assert.deepEqual(t?.extra_specs, { 'heat:tier': 'gold' });
    const qos = (await c.req('GET', `${c.url}/volume/v3/qos-specs`)).body.qos_specs as Array<Record<string, unknown>>;
    assert.deepEqual(qos.find((x) => x.name === 'heat-qos')?.specs, { read_iops_sec: '100' });
    assert.equal((await h('GET', `/stacks/vt/${id}/outputs/vt`)).body.output.output_value, 'heat-type');
    const vol = (await h('GET', `/stacks/vt/${id}/resources/vol`)).body.resource.physical_resource_id;
    const luks = types.find((x) => x.name === 'heat-luks');
    const enc = async () => (await c.req('GET', `${c.url}/volume/v3/types/${luks?.id}/encryption`)).body;
    assert.equal((await h('GET', `/stacks/vt/${id}/resources/enc`)).body.resource.physical_resource_id, luks?.id);
    assert.equal((await enc()).key_size, 512);
    await h('PATCH', `/stacks/vt/${id}`, { existing: true, parameters: { meta: 'b', key_size: 256 } });
    await waitStatus(id, 'UPDATE_COMPLETE');
    assert.equal((await enc()).key_size, 256);
    const v = (await c.req('GET', `${c.url}/volume/v3/volumes/${vol}`)).body.volume;
    assert.deepEqual(v.metadata, { m: 'b' });
    assert.equal((await h('DELETE', `/stacks/vt/${id}`)).status, 204);
    await until(
      'vt deleted',
      async () => {
        const s = (await h('GET', `/stacks/${id}`)).body.stack;
        if (s?.stack_status === 'DELETE_FAILED') throw new Error(s.stack_status_reason);
        return !s || s.stack_status === 'DELETE_COMPLETE' ? true : null;
      },
      60_000,
    );
    const after = (await c.req('GET', `${c.url}/volume/v3/types`)).body.volume_types as Array<{ name: string }>;
    assert.equal(after.filter((x) => x.name === 'heat-type').length, 0);
    const qosAfter = (await c.req('GET', `${c.url}/volume/v3/qos-specs`)).body.qos_specs as Array<{ name: string }>;
    assert.equal(qosAfter.filter((x) => x.name === 'heat-qos').length, 0);
    assert.equal((await c.req('GET', `${c.url}/volume/v3/volumes/${vol}`)).status, 404);
  });
});
