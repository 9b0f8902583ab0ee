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
    const req = (method: string, p: string, body?: unknown, token?: string) =>
      c.req(method, `${c.url}/networking${p}`, body, { token });
    const error = (r: { status: number; body: { NeutronError?: { type: string } } }, status: number, type?: string) => {
      assert.equal(r.status, status, JSON.stringify(r.body));
      if (type) assert.equal(r.body.NeutronError?.type, type, JSON.stringify(r.body));
    };

    before(async () => {
      c = await startCloud({ database: engine.database });
      alice = await member(c, 'alice');
      bob = await member(c, 'bob');
    });
    after(async () => {
      await c.stop();
    });

    it('lists the extensions that work', async () => {
      const r = await req('GET', '/v2.0/extensions');
      const aliases = r.body.extensions.map((e: { alias: string }) => e.alias);
      assert.ok(aliases.includes('address-group'));
      assert.ok(aliases.includes('rbac-address-group') && aliases.includes('security-groups-remote-address-group'));
    });

    it('address groups: normalized addresses, add and remove, errors leave the group unchanged', async () => {
      let r = await req(
        'POST',
        '/v2.0/address-groups',
        {
          address_group: {
            name: 'ag',
            description: 'd',
            addresses: ['10.10.10.3/32', '192.168.0.10/24', '2001:db8::f00/64'],
          },
        },
        alice.token,
      );
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const ag = r.body.address_group;
      assert.deepEqual([...ag.addresses].sort(), ['10.10.10.3/32', '192.168.0.0/24', '2001:db8::/64'].sort());
      assert.equal(ag.project_id, alice.project);
      assert.equal(ag.revision_number, 0);
      assert.equal(ag.shared, undefined);
      error(
        await req('POST', '/v2.0/address-groups', { address_group: { addresses: ['10.20.30.40'] } }, alice.token),
        400,
      );
      error(
        await req(
          'POST',
          '/v2.0/address-groups',
          { address_group: { addresses: ['this is bad IP address'] } },
          alice.token,
        ),
        400,
      );
      r = await req(
        'PUT',
        `/v2.0/address-groups/${ag.id}/add_addresses`,
        { addresses: ['10.20.30.40/32'] },
        alice.token,
      );
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.ok(r.body.address_group.addresses.includes('10.20.30.40/32'));
      error(
        await req('PUT', `/v2.0/address-groups/${ag.id}/add_addresses`, { addresses: ['10.20.30.40/32'] }, alice.token),
        400,
        'AddressesAlreadyExist',
      );
      error(
        await req(
          'PUT',
          `/v2.0/address-groups/${ag.id}/add_addresses`,
          { addresses: ['this is bad IP address'] },
          alice.token,
        ),
        400,
      );
      error(
        await req(
          'PUT',
          `/v2.0/address-groups/${ag.id}/remove_addresses`,
          { addresses: ['10.200.200.200'] },
          alice.token,
        ),
        404,
        'AddressesNotFound',
      );
      error(
        await req('PUT', `/v2.0/address-groups/${ag.id}/remove_addresses`, { addresses: ['bad'] }, alice.token),
        400,
      );
      r = await req(
        'PUT',
        `/v2.0/address-groups/${ag.id}/remove_addresses`,
        { addresses: ['10.10.10.3'] },
        alice.token,
      );
      assert.equal(r.status, 200, JSON.stringify(r.body));
      r = await req('GET', `/v2.0/address-groups/${ag.id}`, undefined, alice.token);
      assert.deepEqual(
        [...r.body.address_group.addresses].sort(),
        ['10.20.30.40/32', '192.168.0.0/24', '2001:db8::/64'].sort(),
      );
      assert.equal(r.body.address_group.revision_number, 2);
      r = await req('PUT', `/v2.0/address-groups/${ag.id}`, { address_group: { description: 'new' } }, alice.token);
      assert.equal(r.body.address_group.description, 'new');
      assert.equal(r.body.address_group.addresses.length, 3);
      error(await req('PUT', `/v2.0/address-groups/${ag.id}`, { address_group: { addresses: [] } }, alice.token), 400);
      // Another project neither sees nor changes it.
      error(await req('GET', `/v2.0/address-groups/${ag.id}`, undefined, bob.token), 404, 'AddressGroupNotFound');
      error(
        await req('PUT', `/v2.0/address-groups/${ag.id}/add_addresses`, { addresses: ['10.0.0.0/8'] }, bob.token),
        404,
        'AddressGroupNotFound',
      );
      r = await req('GET', '/v2.0/address-groups?name=ag', undefined, bob.token);
      assert.deepEqual(r.body.address_groups, []);
      r = await req('GET', '/v2.0/address-groups?name=ag', undefined, alice.token);
      assert.equal(r.body.address_groups.length, 1);
      r = await req('DELETE', `/v2.0/address-groups/${ag.id}`, undefined, alice.token);
      assert.equal(r.status, 204);
      error(await req('GET', `/v2.0/address-groups/${ag.id}`, undefined, alice.token), 404, 'AddressGroupNotFound');
    });
    it('address groups shared through RBAC and named by security group rules', async () => {
      let r = await req(
        'POST',
        '/v2.0/address-groups',
        { address_group: { name: 'shared-ag', addresses: ['10.1.0.0/16'] } },
        alice.token,
      );
      const ag = r.body.address_group;
      error(await req('GET', `/v2.0/address-groups/${ag.id}`, undefined, bob.token), 404, 'AddressGroupNotFound');
      r = await req('POST', '/v2.0/security-groups', { security_group: { name: 'bob-sg' } }, bob.token);
      const sg = r.body.security_group;
      const rule = {
        security_group_rule: { security_group_id: sg.id, direction: 'ingress', remote_address_group_id: ag.id },
      };
      error(await req('POST', '/v2.0/security-group-rules', rule, bob.token), 404, 'AddressGroupNotFound');
      r = await req(
        'POST',
        '/v2.0/rbac-policies',
        {
          rbac_policy: {
            object_type: 'address_group',
            object_id: ag.id,
            action: 'access_as_shared',
            target_tenant: bob.project,
          },
        },
        alice.token,
      );
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const policy = r.body.rbac_policy;
      r = await req('GET', `/v2.0/address-groups/${ag.id}`, undefined, bob.token);
      assert.equal(r.status, 200);
      assert.equal(r.body.address_group.shared, undefined);
      // Upstream's update re-checks visibility without the hidden `shared`: a 404, not a 403.
      error(
        await req('PUT', `/v2.0/address-groups/${ag.id}`, { address_group: { name: 'x' } }, bob.token),
        404,
        'AddressGroupNotFound',
      );
      error(
        await req(
          'POST',
          '/v2.0/security-group-rules',
          { security_group_rule: { ...rule.security_group_rule, remote_ip_prefix: '10.0.0.0/8' } },
          bob.token,
        ),
        400,
        'SecurityGroupMultipleRemoteEntites',
      );
      r = await req('POST', '/v2.0/security-group-rules', rule, bob.token);
      assert.equal(r.status, 201, JSON.stringify(r.body));
      assert.equal(r.body.security_group_rule.remote_address_group_id, ag.id);
      error(await req('POST', '/v2.0/security-group-rules', rule, bob.token), 409, 'SecurityGroupRuleExists');
      // Bob's rule depends on the policy, and the rule on the group.
      error(await req('DELETE', `/v2.0/rbac-policies/${policy.id}`, undefined, alice.token), 409, 'RbacPolicyInUse');
      error(await req('DELETE', `/v2.0/address-groups/${ag.id}`, undefined, alice.token), 409, 'AddressGroupInUse');
      assert.equal(
        (await req('DELETE', `/v2.0/security-group-rules/${r.body.security_group_rule.id}`, undefined, bob.token))
          .status,
        204,
      );
      assert.equal((await req('DELETE', `/v2.0/address-groups/${ag.id}`, undefined, alice.token)).status, 204);
      error(await req('GET', `/v2.0/rbac-policies/${policy.id}`, undefined, alice.token), 404);
    });

    it('metering: admin-only labels and rules, overlaps, prefixes, a label takes its rules', async () => {
      error(
        await req('POST', '/v2.0/metering/metering-labels', { metering_label: { name: 'm' } }, alice.token),
        403,
        'PolicyNotAuthorized',
      );
      error(await req('POST', '/v2.0/metering/metering-labels', { metering_label: { name: 'x'.repeat(256) } }), 400);
      let r = await req('POST', '/v2.0/metering/metering-labels', {
        metering_label: { name: 'm', description: 'd', tenant_id: alice.project },
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const label = r.body.metering_label;
      assert.deepEqual(Object.keys(label).sort(), ['description', 'id', 'name', 'project_id', 'shared', 'tenant_id']);
      assert.equal(label.tenant_id, alice.project);
      assert.equal(label.shared, false);
      r = await req('GET', `/v2.0/metering/metering-labels?id=${label.id}`);
      assert.equal(r.body.metering_labels.length, 1);
      r = await req('GET', `/v2.0/metering/metering-labels/${label.id}`, undefined, alice.token);
      assert.equal(r.status, 200);
      error(
        await req('GET', `/v2.0/metering/metering-labels/${label.id}`, undefined, bob.token),
        404,
        'MeteringLabelNotFound',
      );
      const rule = async (body: Record<string, unknown>) =>
        req('POST', '/v2.0/metering/metering-label-rules', {
          metering_label_rule: { metering_label_id: label.id, direction: 'ingress', ...body },
        });
      r = await rule({ remote_ip_prefix: '10.0.0.0/24' });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const mr = r.body.metering_label_rule;
      assert.deepEqual(mr, {
        id: mr.id,
        metering_label_id: label.id,
        direction: 'ingress',
        excluded: false,
        remote_ip_prefix: '10.0.0.0/24',
        source_ip_prefix: null,
        destination_ip_prefix: null,
      });
      error(await rule({ remote_ip_prefix: '10.0.0.128/25' }), 409, 'MeteringLabelRuleOverlaps');
      assert.equal((await rule({ remote_ip_prefix: '10.0.0.128/25', excluded: true })).status, 201);
      error(await rule({}), 400, 'Invalid');
      error(await rule({ remote_ip_prefix: '10.1.0.0/24', source_ip_prefix: '10.2.0.0/24' }), 400, 'Invalid');
      error(await rule({ source_ip_prefix: 'nope' }), 400, 'Invalid');
      error(await rule({ direction: 'sideways', source_ip_prefix: '10.2.0.0/24' }), 400);
      r = await rule({ source_ip_prefix: '10.2.0.1', destination_ip_prefix: '2001:db8::/64' });
      assert.equal(r.body.metering_label_rule.source_ip_prefix, '10.2.0.1/32');
      error(
        await req('POST', '/v2.0/metering/metering-label-rules', {
          metering_label_rule: {
            metering_label_id: '6a3b5f4e-1111-4222-8333-944455556666',
            direction: 'egress',
            remote_ip_prefix: '10.0.0.0/8',
          },
        }),
        404,
        'MeteringLabelNotFound',
      );
      r = await req('GET', `/v2.0/metering/metering-label-rules?metering_label_id=${label.id}`);
      assert.equal(r.body.metering_label_rules.length, 3);
      r = await req('GET', '/v2.0/metering/metering-label-rules', undefined, alice.token);
      assert.deepEqual(r.body.metering_label_rules, []);
      error(
        await req('DELETE', `/v2.0/metering/metering-label-rules/${mr.id}`, undefined, alice.token),
        404,
        'MeteringLabelRuleNotFound',
      );
      assert.equal((await req('DELETE', `/v2.0/metering/metering-label-rules/${mr.id}`)).status, 204);
      error(await req('GET', `/v2.0/metering/metering-label-rules/${mr.id}`), 404, 'MeteringLabelRuleNotFound');
      assert.equal((await req('DELETE', `/v2.0/metering/metering-labels/${label.id}`)).status, 204);
      r = await req('GET', `/v2.0/metering/metering-label-rules?metering_label_id=${label.id}`);
      assert.deepEqual(r.body.metering_label_rules, []);
    });
    it('conntrack helpers: on a router, allowed helpers only, once each, shown in the router', async () => {
      let r = await req('POST', '/v2.0/routers', { router: { name: 'r' } }, alice.token);
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const router = r.body.router;
      assert.deepEqual(router.conntrack_helpers, []);
      const base = `/v2.0/routers/${router.id}/conntrack_helpers`;
      r = await req('POST', base, { conntrack_helper: { helper: 'tftp', protocol: 'udp', port: 69 } }, alice.token);
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const cth = r.body.conntrack_helper;
      assert.deepEqual(cth, { id: cth.id, protocol: 'udp', port: 69, helper: 'tftp' });
      error(
        await req('POST', base, { conntrack_helper: { helper: 'tftp', protocol: 'udp', port: 69 } }, alice.token),
        400,
        'BadRequest',
      );
      error(
        await req('POST', base, { conntrack_helper: { helper: 'nope', protocol: 'udp', port: 69 } }, alice.token),
        400,
        'ConntrackHelperNotAllowed',
      );
      error(
        await req('POST', base, { conntrack_helper: { helper: 'tftp', protocol: 'tcp', port: 69 } }, alice.token),
        400,
        'InvalidProtocolForHelper',
      );
      error(
        await req('POST', base, { conntrack_helper: { helper: 'tftp', protocol: 'udp', port: 70000 } }, alice.token),
        400,
      );
      error(
        await req('POST', base, { conntrack_helper: { helper: 'ftp', protocol: 'tcp', port: 21 } }, bob.token),
        404,
        'RouterNotFound',
      );
      assert.equal(
        (await req('POST', base, { conntrack_helper: { helper: 'ftp', protocol: 'tcp', port: 21 } }, alice.token))
          .status,
        201,
      );
      r = await req('PUT', `${base}/${cth.id}`, { conntrack_helper: { port: 6969 } }, alice.token);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.conntrack_helper.port, 6969);
      r = await req('GET', `/v2.0/routers/${router.id}`, undefined, alice.token);
      assert.ok(
        r.body.router.conntrack_helpers.some(
          (h: { helper: string; port: number; protocol: string }) =>
            h.helper === 'tftp' && h.port === 6969 && h.protocol === 'udp',
        ),
      );
      assert.equal(r.body.router.conntrack_helpers.length, 2);
      r = await req('GET', `${base}?helper=ftp`, undefined, alice.token);
      assert.equal(r.body.conntrack_helpers.length, 1);
      assert.equal((await req('DELETE', `${base}/${cth.id}`, undefined, alice.token)).status, 204);
      error(await req('GET', `${base}/${cth.id}`, undefined, alice.token), 404, 'ConntrackHelperNotFound');
      assert.equal((await req('DELETE', `/v2.0/routers/${router.id}`, undefined, alice.token)).status, 204);
    });
  });
}
