// The network service's later extensions against the real HTTP API: address groups (create with
// normalized addresses, add/remove actions and their errors, visibility, restart), on SQLite and PostgreSQL.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, databaseEngines, type TestCloud, member } from './lib/cloud.ts';

for (const engine of databaseEngines('network extensions')) {
  describe(`network extensions (${engine.name})`, () => {
    let c: TestCloud;
    let alice: { project: string; token: string };
    let bob: { project: string; token: string };
    const req = (method: string, p: string, body?: unknown, token?: string) => c.req(method, `${c.url}/networking${p}`, body, { token });
    const error = (r: { status: number; body: any }, status: number, type?: string) => {
      assert.equal(r.status, status, JSON.stringify(r.body));
      if (type) assert.equal(r.body.NeutronError.type, type, JSON.stringify(r.body));
    };

    before(async () => {
      c = await startCloud({ database: engine.database });
      alice = await member(c, 'alice');
      bob = await member(c, 'bob');
    });
    after(async () => { await c.stop(); });

    it('lists the extensions that work', async () => {
      const r = await req('GET', '/v2.0/extensions');
      const aliases = r.body.extensions.map((e: any) => e.alias);
      assert.ok(aliases.includes('address-group'));
    });

    it('address groups: normalized addresses, add and remove, errors leave the group unchanged', async () => {
      let r = await req('POST', '/v2.0/address-groups', { address_group: { name: 'ag', description: 'd', addresses: ['10.10.10.3/32', '192.168.0.10/24', '2001:db8::f00/64'] } }, alice.token);
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const ag = r.body.address_group;
      assert.deepEqual([...ag.addresses].sort(), ['10.10.10.3/32', '192.168.0.0/24', '2001:db8::/64'].sort());
      assert.equal(ag.project_id, alice.project);
      assert.equal(ag.revision_number, 0);
      assert.equal(ag.shared, undefined);
      error(await req('POST', '/v2.0/address-groups', { address_group: { addresses: ['10.20.30.40'] } }, alice.token), 400);
      error(await req('POST', '/v2.0/address-groups', { address_group: { addresses: ['this is bad IP address'] } }, alice.token), 400);
      r = await req('PUT', `/v2.0/address-groups/${ag.id}/add_addresses`, { addresses: ['10.20.30.40/32'] }, alice.token);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.ok(r.body.address_group.addresses.includes('10.20.30.40/32'));
      error(await req('PUT', `/v2.0/address-groups/${ag.id}/add_addresses`, { addresses: ['10.20.30.40/32'] }, alice.token), 400, 'AddressesAlreadyExist');
      error(await req('PUT', `/v2.0/address-groups/${ag.id}/add_addresses`, { addresses: ['this is bad IP address'] }, alice.token), 400);
      error(await req('PUT', `/v2.0/address-groups/${ag.id}/remove_addresses`, { addresses: ['10.200.200.200'] }, alice.token), 404, 'AddressesNotFound');
      error(await req('PUT', `/v2.0/address-groups/${ag.id}/remove_addresses`, { addresses: ['bad'] }, alice.token), 400);
      r = await req('PUT', `/v2.0/address-groups/${ag.id}/remove_addresses`, { addresses: ['10.10.10.3'] }, alice.token);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      r = await req('GET', `/v2.0/address-groups/${ag.id}`, undefined, alice.token);
      assert.deepEqual([...r.body.address_group.addresses].sort(), ['10.20.30.40/32', '192.168.0.0/24', '2001:db8::/64'].sort());
      assert.equal(r.body.address_group.revision_number, 2);
      r = await req('PUT', `/v2.0/address-groups/${ag.id}`, { address_group: { description: 'new' } }, alice.token);
      assert.equal(r.body.address_group.description, 'new');
      assert.equal(r.body.address_group.addresses.length, 3);
      error(await req('PUT', `/v2.0/address-groups/${ag.id}`, { address_group: { addresses: [] } }, alice.token), 400);
      // Another project neither sees nor changes it.
      error(await req('GET', `/v2.0/address-groups/${ag.id}`, undefined, bob.token), 404, 'AddressGroupNotFound');
      error(await req('PUT', `/v2.0/address-groups/${ag.id}/add_addresses`, { addresses: ['10.0.0.0/8'] }, bob.token), 404, 'AddressGroupNotFound');
      r = await req('GET', '/v2.0/address-groups?name=ag', undefined, bob.token);
      assert.deepEqual(r.body.address_groups, []);
      r = await req('GET', '/v2.0/address-groups?name=ag', undefined, alice.token);
      assert.equal(r.body.address_groups.length, 1);
      r = await req('DELETE', `/v2.0/address-groups/${ag.id}`, undefined, alice.token);
      assert.equal(r.status, 204);
      error(await req('GET', `/v2.0/address-groups/${ag.id}`, undefined, alice.token), 404, 'AddressGroupNotFound');
    });
  });
}
