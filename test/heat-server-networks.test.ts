// OS::Nova::Server's `networks` updated in place (Heat's server_network_mixin): a nic that still
// matches a port of the server keeps it (network ↔ subnet swaps, the same fixed IP, the port
// itself), a new nic gets a port attached, a removed one is detached and its internal port deleted;
// the `addresses` attribute carries each address's port; the server shows the template's security
// groups; a stack delete leaves no port behind.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud, until } from './lib/cloud.ts';

describe('orchestration: OS::Nova::Server networks update in place', () => {
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
  };
  const template = (networks: unknown) => ({
    heat_template_version: '2016-04-08',
    parameters: { image: { type: 'string' }, flavor: { type: 'string' } },
    resources: {
      net: { type: 'OS::Neutron::Net', properties: { name: 'the_net' } },
      subnet: {
        type: 'OS::Neutron::Subnet',
        properties: { network: { get_resource: 'net' }, cidr: '11.11.11.0/24' },
      },
      sg: { type: 'OS::Neutron::SecurityGroup', properties: { name: 'the_sg', rules: [{ protocol: 'icmp' }] } },
      server: {
        type: 'OS::Nova::Server',
        properties: {
          image: { get_param: 'image' },
          flavor: { get_param: 'flavor' },
          networks,
          security_groups: [{ get_resource: 'sg' }],
        },
      },
    },
    outputs: {
      port0: { value: { get_attr: ['server', 'addresses', 'the_net', 0, 'port'] } },
      ip0: { value: { get_attr: ['server', 'addresses', 'the_net', 0, 'addr'] } },
      nets: { value: { get_attr: ['server', 'networks', 'the_net'] } },
      server: { value: { get_resource: 'server' } },
    },
  });
  const out = async (id: string, key: string) =>
    (await h('GET', `/stacks/nets/${id}/outputs/${key}`)).body.output?.output_value;
  const ports = async () =>
    ((await c.req('GET', `${c.url}/networking/v2.0/ports?device_owner=compute:nova`)).body.ports as unknown[]).length;

  it('swaps network and subnet, keeps the same fixed IP, attaches and detaches nics in place', async () => {
    const created = await h('POST', '/stacks', {
      stack_name: 'nets',
      template: template([{ network: { get_resource: 'net' } }]),
      parameters: { image, flavor: '1' },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.stack.id;
    await waitStatus(id, 'CREATE_COMPLETE');
    const port0 = await out(id, 'port0');
    const ip0 = await out(id, 'ip0');
    const server = await out(id, 'server');
    assert.match(String(port0), /^[0-9a-f-]{36}$/, JSON.stringify((await h('GET', `/stacks/nets/${id}/outputs`)).body));
    const shown = await c.req('GET', `${c.url}/compute/v2.1/servers/${server}`);
    assert.deepEqual(shown.body.server.security_groups, [{ name: 'the_sg' }]);

    const update = async (networks: unknown) => {
      const r = await h('PUT', `/stacks/nets/${id}`, {
        template: template(networks),
        parameters: { image, flavor: '1' },
      });
      assert.equal(r.status, 202, JSON.stringify(r.body));
      await waitStatus(id, 'UPDATE_COMPLETE');
    };
    await update([{ subnet: { get_resource: 'subnet' } }]);
    assert.equal(await out(id, 'port0'), port0);
    await update([{ network: { get_resource: 'net' }, fixed_ip: ip0 }]);
    assert.equal(await out(id, 'port0'), port0);
    await update([{ port: port0 }]);
    assert.equal(await out(id, 'port0'), port0);
    assert.equal(await out(id, 'server'), server, 'the server was not replaced');

    await update([{ port: port0 }, { subnet: { get_resource: 'subnet' }, fixed_ip: '11.11.11.33' }]);
    assert.deepEqual(((await out(id, 'nets')) as string[]).sort(), [ip0, '11.11.11.33'].sort());
    assert.equal(await ports(), 2);
    await update([{ network: { get_resource: 'net' }, fixed_ip: '11.11.11.33' }]);
    assert.deepEqual(await out(id, 'nets'), ['11.11.11.33']);
    assert.equal(await out(id, 'server'), server);
    const all = (await c.req('GET', `${c.url}/networking/v2.0/ports`)).body.ports as Array<{ id: string }>;
    assert.ok(!all.some((p) => p.id === port0), 'the detached internal port is deleted');

    const del = await h('DELETE', `/stacks/nets/${id}`);
    assert.equal(del.status, 204);
    await until(
      'stack gone',
      async () => {
        const s = (await h('GET', `/stacks/${id}`)).body.stack;
        if (s?.stack_status === 'DELETE_FAILED')
          throw new Error(
            `${s.stack_status_reason} ${JSON.stringify((await c.req('GET', `${c.url}/networking/v2.0/ports`)).body)}`,
          );
        return !s || s.stack_status === 'DELETE_COMPLETE' ? true : null;
      },
      60_000,
    );
    assert.equal(await ports(), 0);
  });
});
