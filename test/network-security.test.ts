// The network service's security family against the real HTTP API: security groups and rules
// (the default group, validation, duplicates, visibility), port security and security groups
// on ports, RBAC policies, and the quotas API. Runs on SQLite, and on PostgreSQL when
// STRATUS_TEST_PG is set.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ApiPort, ApiProject, SecurityGroup, SecurityGroupRule, WithId } from './lib/api-types.ts';
import { startCloud, databaseEngines, type TestCloud } from './lib/cloud.ts';

for (const engine of databaseEngines('network security')) {
  describe(`network security (${engine.name})`, () => {
    let c: TestCloud;
    let adminProject: string;
    const users = {} as Record<'member' | 'alt', { token: string; project: string }>;
    const api = (p: string) => `${c.url}/networking/v2.0${p}`;
    const req = (method: string, p: string, body?: unknown, token?: string) => c.req(method, api(p), body, { token });
    const as = (who: 'member' | 'alt') => ({
      get: (p: string) => req('GET', p, undefined, users[who].token),
      post: (p: string, b: unknown) => req('POST', p, b, users[who].token),
      put: (p: string, b: unknown) => req('PUT', p, b, users[who].token),
      del: (p: string) => req('DELETE', p, undefined, users[who].token),
    });
    const hasPorts = () => req('GET', '/ports').then((r) => r.status === 200);

    before(async () => {
      c = await startCloud({ database: engine.database });
      adminProject = (await c.req('GET', '/v3/auth/projects')).body.projects.find(
        (p: ApiProject) => p.name === 'admin',
      ).id;
      const member = (await c.req('GET', '/v3/roles?name=member')).body.roles[0].id;
      for (const who of ['member', 'alt'] as const) {
        const p = await c.req('POST', '/v3/projects', { project: { name: `sec-${who}`, domain_id: 'default' } });
        const u = await c.req('POST', '/v3/users', {
          user: { name: `sec-${who}`, password: 'pw-sec', domain_id: 'default' },
        });
        await c.req('PUT', `/v3/projects/${p.body.project.id}/users/${u.body.user.id}/roles/${member}`);
        users[who] = {
          project: p.body.project.id,
          token: await c.token({ id: u.body.user.id, password: 'pw-sec' }, { project: { id: p.body.project.id } }),
        };
      }
    });
    after(async () => {
      await c.stop();
    });

    it("creates each project's default group once, on first need, with its four rules", async () => {
      const lists = await Promise.all([1, 2, 3, 4, 5].map(() => as('member').get('/security-groups')));
      for (const l of lists) assert.equal(l.status, 200, JSON.stringify(l.body));
      const again = await as('member').get('/security-groups');
      const defaults = again.body.security_groups.filter((g: SecurityGroup) => g.name === 'default');
      assert.equal(defaults.length, 1);
      const d = defaults[0];
      assert.equal(d.project_id, users.member.project);
      assert.equal(d.tenant_id, users.member.project);
      assert.equal(d.description, 'Default security group');
      assert.equal(d.stateful, true);
      assert.equal(d.shared, false);
      const rules = d.security_group_rules
        .map(
          (r: SecurityGroupRule) =>
            `${r.direction}/${r.ethertype}/${r.remote_group_id === d.id ? 'self' : r.remote_group_id}`,
        )
        .sort();
      assert.deepEqual(rules, ['egress/IPv4/null', 'egress/IPv6/null', 'ingress/IPv4/self', 'ingress/IPv6/self']);
      // Rules listing shows them too; another project's default is not made by a member.
      const r = await as('member').get('/security-group-rules');
      assert.equal(r.body.security_group_rules.length, 4);
      const other = await as('member').get(`/security-groups?project_id=${users.alt.project}`);
      assert.equal(other.body.security_groups.length, 0);
      // An admin listing for a project creates its default.
      const forAlt = await req('GET', `/security-groups?tenant_id=${users.alt.project}`);
      assert.equal(forAlt.body.security_groups.length, 1);
      assert.equal(forAlt.body.security_groups[0].name, 'default');
    });

    it('protects the default group and the `default` name', async () => {
      const d = (await as('member').get('/security-groups?name=default')).body.security_groups[0];
      let r = await as('member').put(`/security-groups/${d.id}`, { security_group: { name: 'renamed' } });
      assert.equal(r.status, 409);
      assert.equal(r.body.NeutronError.type, 'SecurityGroupCannotUpdateDefault');
      r = await as('member').put(`/security-groups/${d.id}`, { security_group: { description: 'mine' } });
      assert.equal(r.status, 200);
      assert.equal(r.body.security_group.description, 'mine');
      r = await as('member').del(`/security-groups/${d.id}`);
      assert.equal(r.status, 409);
      assert.equal(r.body.NeutronError.message, 'Insufficient rights for removing default security group.');
      r = await as('member').post('/security-groups', { security_group: { name: 'Default' } });
      assert.equal(r.status, 409);
      assert.equal(r.body.NeutronError.type, 'SecurityGroupDefaultAlreadyExists');
      r = await as('member').post('/security-groups', { security_group: { name: 'x'.repeat(256) } });
      assert.equal(r.status, 400);
      r = await as('member').post('/security-groups', { security_group: { name: true } });
      assert.equal(r.status, 400);
      assert.match(r.body.NeutronError.message, /'True' is not a valid string/);
      r = await as('member').post('/security-groups', { security_group: { name: 'web', shared: true } });
      assert.equal(r.status, 400);
    });

    it('creates, updates and deletes a group with its egress rules and revisions', async () => {
      let r = await as('member').post('/security-groups', {
        security_group: { name: 'web', description: 'd', stateful: false },
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const g = r.body.security_group;
      assert.equal(g.stateful, false);
      assert.deepEqual(g.security_group_rules.map((x: SecurityGroupRule) => `${x.direction}/${x.ethertype}`).sort(), [
        'egress/IPv4',
        'egress/IPv6',
      ]);
      assert.equal(g.revision_number, 0);
      assert.deepEqual(g.tags, []);
      r = await as('member').put(`/security-groups/${g.id}`, { security_group: { stateful: true, name: 'web2' } });
      assert.equal(r.body.security_group.stateful, true);
      assert.equal(r.body.security_group.revision_number, 1);
      r = await as('member').put(`/security-groups/${g.id}`, { security_group: { name: 'default' } });
      assert.equal(r.status, 409);
      const rule = await as('member').post('/security-group-rules', {
        security_group_rule: {
          security_group_id: g.id,
          direction: 'ingress',
          protocol: 'tcp',
          port_range_min: 22,
          port_range_max: 22,
        },
      });
      assert.equal(rule.status, 201, JSON.stringify(rule.body));
      const shown = (await as('member').get(`/security-groups/${g.id}`)).body.security_group;
      assert.ok(shown.revision_number > 1);
      assert.ok(shown.security_group_rules.some((x: SecurityGroupRule) => x.id === rule.body.security_group_rule.id));
      assert.equal((await as('alt').get(`/security-groups/${g.id}`)).status, 404);
      assert.equal((await as('member').del(`/security-groups/${g.id}`)).status, 204);
      assert.equal((await as('member').get(`/security-group-rules/${rule.body.security_group_rule.id}`)).status, 404);
      // Filters, sorting and bulk create.
      r = await as('member').post('/security-groups', { security_groups: [{ name: 'b1' }, { name: 'b1' }] });
      assert.equal(r.status, 201);
      assert.equal(r.body.security_groups.length, 2);
      r = await as('member').get('/security-groups?name=b1&sort_key=name&sort_dir=desc');
      assert.equal(r.body.security_groups.length, 2);
      r = await as('member').get('/security-groups?shared=false&fields=id&fields=name');
      assert.ok(r.body.security_groups.every((x: SecurityGroup) => Object.keys(x).sort().join() === 'id,name'));
    });

    it('validates rules as upstream does and normalizes what it stores', async () => {
      const g = (await as('member').post('/security-groups', { security_group: { name: 'rules' } })).body
        .security_group;
      const mk = (body: Record<string, unknown>) =>
        as('member').post('/security-group-rules', {
          security_group_rule: { security_group_id: g.id, direction: 'ingress', ...body },
        });
      const bad = async (body: Record<string, unknown>, status: number, type: string, message?: string) => {
        const r = await mk(body);
        assert.equal(r.status, status, `${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
        assert.equal(r.body.NeutronError.type, type);
        if (message) assert.equal(r.body.NeutronError.message, message);
      };
      await bad(
        { protocol: 'tcp', port_range_min: 90, port_range_max: 80 },
        400,
        'SecurityGroupInvalidPortRange',
        'For TCP/UDP protocols, port_range_min must be <= port_range_max',
      );
      await bad(
        { protocol: 'tcp', port_range_min: 0, port_range_max: 80 },
        400,
        'SecurityGroupInvalidPortValue',
        'Invalid value for port 0',
      );
      await bad(
        { protocol: 'tcp', port_range_min: 70000 },
        400,
        'SecurityGroupInvalidPortValue',
        'Invalid value for port 70000',
      );
      await bad(
        { protocol: 'icmp', port_range_min: 300 },
        400,
        'SecurityGroupInvalidIcmpValue',
        'Invalid value for ICMP type (port_range_min) 300. It must be 0 to 255.',
      );
      await bad({ protocol: 'icmp', port_range_max: 3 }, 400, 'SecurityGroupMissingIcmpType');
      await bad({ port_range_min: 22, port_range_max: 22 }, 400, 'SecurityGroupProtocolRequiredWithPorts');
      await bad(
        { protocol: 'gre', port_range_min: 22, port_range_max: 22 },
        400,
        'SecurityGroupInvalidProtocolForPort',
        'Ports cannot be specified for protocol 47. Ports are only supported for DCCP, SCTP, TCP, UDP, UDPLITE.',
      );
      await bad({ protocol: 'bogus' }, 400, 'SecurityGroupRuleInvalidProtocol');
      await bad({ protocol: 256 }, 400, 'SecurityGroupRuleInvalidProtocol');
      await bad(
        { protocol: 'ipv6-icmp', ethertype: 'IPv4' },
        400,
        'SecurityGroupEthertypeConflictWithProtocol',
        'Invalid ethertype IPv4 for protocol ipv6-icmp.',
      );
      await bad({ protocol: '58' }, 400, 'SecurityGroupEthertypeConflictWithProtocol');
      await bad(
        { ethertype: 'IPv6', remote_ip_prefix: '10.0.0.0/8' },
        400,
        'SecurityGroupRuleParameterConflict',
        'Conflicting value ethertype IPv6 for CIDR 10.0.0.0/8',
      );
      await bad(
        { ethertype: 'IPv5' },
        400,
        'SecurityGroupRuleInvalidEtherType',
        "Security group rule for ethertype 'IPv5' not supported. Allowed values are ['IPv4', 'IPv6'].",
      );
      await bad({ remote_ip_prefix: '10.0.0.300/8' }, 400, 'InvalidCIDR');
      await bad({ remote_ip_prefix: '10.0.0.0/8', remote_group_id: g.id }, 400, 'SecurityGroupMultipleRemoteEntites');
      await bad(
        { direction: 'sideways' },
        400,
        'HTTPBadRequest',
        'Invalid input for direction. Reason: sideways is not in valid_values.',
      );
      await bad({ remote_group_id: '6a1c7f4e-0000-4000-8000-000000000000' }, 404, 'SecurityGroupNotFound');
      let r = await as('member').post('/security-group-rules', { security_group_rule: { direction: 'ingress' } });
      assert.equal(r.status, 400);
      // Canonical forms: ethertype case, host bits kept, legacy IPv6 ICMP names, the whole port range.
      r = await mk({
        ethertype: 'ipv4',
        protocol: 'TCP',
        port_range_min: '1',
        port_range_max: 65535,
        remote_ip_prefix: '10.1.2.3/16',
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const rule = r.body.security_group_rule;
      assert.equal(rule.ethertype, 'IPv4');
      assert.equal(rule.protocol, 'tcp');
      assert.equal(rule.port_range_min, null);
      assert.equal(rule.port_range_max, null);
      assert.equal(rule.remote_ip_prefix, '10.1.2.3/16');
      assert.equal(rule.normalized_cidr, '10.1.0.0/16');
      assert.equal(rule.remote_group_id, null);
      assert.equal(rule.project_id, users.member.project);
      assert.deepEqual((await as('member').get(`/security-group-rules/${rule.id}`)).body.security_group_rule, rule);
      r = await mk({ ethertype: 'IPv6', protocol: 'icmpv6', remote_ip_prefix: '2001:DB8::1' });
      assert.equal(r.body.security_group_rule.protocol, 'ipv6-icmp');
      assert.equal(r.body.security_group_rule.remote_ip_prefix, '2001:db8::1/128');
      r = await mk({ ethertype: 'IPv6', protocol: '1' });
      assert.equal(r.body.security_group_rule.protocol, '58');
      r = await mk({ protocol: 17, port_range_min: 53, port_range_max: 53 });
      assert.equal(r.body.security_group_rule.protocol, '17');
      r = await mk({ protocol: 'icmp', port_range_min: 8, port_range_max: 0 });
      assert.equal(r.status, 201);
      // Duplicates: the same protocol by name or number, any-address prefixes are no prefix.
      r = await mk({ protocol: 'udp', port_range_min: 53, port_range_max: 53, remote_ip_prefix: '0.0.0.0/0' });
      assert.equal(r.status, 409);
      assert.equal(r.body.NeutronError.type, 'SecurityGroupRuleExists');
      assert.match(r.body.NeutronError.message, /^Security group rule already exists\. Rule id is [0-9a-f-]{36}\.$/);
      r = await as('member').post('/security-group-rules', {
        security_group_rules: [
          { security_group_id: g.id, direction: 'egress', protocol: 'tcp', port_range_min: 80, port_range_max: 80 },
          { security_group_id: g.id, direction: 'egress', protocol: '6', port_range_min: 80, port_range_max: 80 },
        ],
      });
      assert.equal(r.status, 409);
      assert.equal(r.body.NeutronError.type, 'DuplicateSecurityGroupRuleInPost');
      assert.equal(
        (await as('member').get('/security-group-rules?direction=egress&protocol=tcp')).body.security_group_rules
          .length,
        0,
      );
      // Another project's group takes no rules from a member; its rules are invisible.
      const admins = (await req('POST', '/security-groups', { security_group: { name: 'admin-only' } })).body
        .security_group;
      r = await as('member').post('/security-group-rules', {
        security_group_rule: { security_group_id: admins.id, direction: 'ingress' },
      });
      assert.equal(r.status, 404);
      assert.equal(r.body.NeutronError.type, 'SecurityGroupNotFound');
      assert.equal((await as('member').get(`/security-group-rules/${admins.security_group_rules[0].id}`)).status, 404);
      const mine = (await as('member').get('/security-group-rules')).body.security_group_rules;
      assert.ok(!mine.some((x: { security_group_id: string }) => x.security_group_id === admins.id));
      assert.ok(mine.some((x: WithId) => x.id === rule.id));
      assert.equal((await as('member').del(`/security-group-rules/${rule.id}`)).status, 204);
      assert.equal((await as('member').get(`/security-group-rules/${rule.id}`)).status, 404);
      // An admin's rule in the member's group is the member's to see.
      r = await req('POST', '/security-group-rules', {
        security_group_rule: {
          security_group_id: g.id,
          direction: 'ingress',
          protocol: 'vrrp',
          project_id: adminProject,
        },
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      assert.ok(
        (await as('member').get('/security-group-rules')).body.security_group_rules.some(
          (x: SecurityGroupRule) => x.id === r.body.security_group_rule.id,
        ),
      );
      assert.equal((await as('member').get(`/security-group-rules/${r.body.security_group_rule.id}`)).status, 200);
    });

    it("counts groups and rules against the project's quotas", async () => {
      const p = users.alt.project;
      const have = (await as('alt').get('/security-groups')).body.security_groups.length;
      let r = await req('PUT', `/quotas/${p}`, { quota: { security_group: have + 1 } });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal((await as('alt').post('/security-groups', { security_group: { name: 'q1' } })).status, 201);
      r = await as('alt').post('/security-groups', { security_group: { name: 'q2' } });
      assert.equal(r.status, 409);
      assert.equal(r.body.NeutronError.message, "Quota exceeded for resources: ['security_group'].");
      await req('PUT', `/quotas/${p}`, { quota: { security_group: -1, security_group_rule: 0 } });
      r = await as('alt').post('/security-groups', { security_group: { name: 'q3' } });
      assert.equal(r.status, 409);
      assert.equal(r.body.NeutronError.message, "Quota exceeded for resources: ['security_group_rule'].");
      const rules = (await as('alt').get(`/security-group-rules?project_id=${p}`)).body.security_group_rules.length;
      await req('PUT', `/quotas/${p}`, { quota: { security_group_rule: rules + 1 } });
      const g = (await as('alt').get('/security-groups?name=q1')).body.security_groups[0];
      assert.equal(
        (
          await as('alt').post('/security-group-rules', {
            security_group_rule: { security_group_id: g.id, direction: 'ingress' },
          })
        ).status,
        201,
      );
      r = await as('alt').post('/security-group-rules', {
        security_group_rule: { security_group_id: g.id, direction: 'ingress', protocol: 'tcp' },
      });
      assert.equal(r.status, 409);
      assert.equal(r.body.NeutronError.type, 'OverQuota');
      assert.equal((await req('DELETE', `/quotas/${p}`)).status, 204);
    });

    it('serves the quotas API with upstream validation and policy', async () => {
      const p = users.member.project;
      let r = await req('GET', `/quotas/${p}`);
      assert.equal(r.status, 200);
      assert.equal(r.body.quota.security_group, 10);
      assert.equal(r.body.quota.security_group_rule, 100);
      assert.equal(r.body.quota.rbac_policy, 10);
      assert.deepEqual((await req('GET', `/quotas/${p}/default`)).body.quota, r.body.quota);
      for (const [v, msg] of [
        [-2, "Invalid input for security_group. Reason: '-2' is too small - must be at least '-1'."],
        [
          2147483648,
          "Invalid input for security_group. Reason: '2147483648' is too large - must be no larger than '2147483647'.",
        ],
        ['value', "Invalid input for operation: 'value' is not an integer."],
      ] as const) {
        r = await req('PUT', `/quotas/${p}`, { quota: { security_group: v } });
        assert.equal(r.status, 400);
        assert.equal(r.body.NeutronError.message, msg);
      }
      r = await req('PUT', `/quotas/${p}`, { quota: { widgets: 3 } });
      assert.equal(r.status, 400);
      assert.equal(r.body.NeutronError.message, "Unrecognized attribute(s) 'widgets'");
      r = await req('PUT', `/quotas/${p}`, { quota: { security_group: '7', rbac_policy: 2147483647, force: true } });
      assert.equal(r.status, 200);
      assert.equal(r.body.quota.security_group, 7);
      assert.equal(r.body.quota.rbac_policy, 2147483647);
      const listed = (await req('GET', '/quotas')).body.quotas.find((q: { project_id: string }) => q.project_id === p);
      assert.equal(listed.tenant_id, p);
      assert.equal(listed.security_group, 7);
      // check_limit refuses a limit under the usage.
      r = await req('PUT', `/quotas/${p}`, { quota: { security_group: 0, check_limit: true } });
      assert.equal(r.status, 400);
      assert.match(
        r.body.NeutronError.message,
        /^Quota limit 0 for security_group must be greater than or equal to already used \d+$/,
      );
      const details = (await as('member').get(`/quotas/${p}/details`)).body.quota;
      assert.equal(details.security_group.limit, 7);
      assert.equal(details.security_group.reserved, 0);
      assert.equal(
        details.security_group.used,
        (await as('member').get('/security-groups')).body.security_groups.length,
      );
      // A member reads its own quotas, not others', and changes none.
      assert.equal((await as('member').get(`/quotas/${p}`)).status, 200);
      assert.equal((await as('member').get(`/quotas/${users.alt.project}`)).status, 403);
      assert.equal(
        (await as('member').get(`/quotas/${users.alt.project}/details`)).body.NeutronError.type,
        'AdminRequired',
      );
      assert.equal((await as('member').put(`/quotas/${p}`, { quota: { port: 1 } })).status, 403);
      assert.equal((await as('member').get('/quotas')).status, 403);
      assert.deepEqual((await as('member').get('/quotas/tenant')).body, { tenant: { tenant_id: p } });
      assert.deepEqual((await as('member').get('/quotas/project')).body, { project: { project_id: p } });
      assert.equal((await req('POST', '/quotas', { quota: {} })).status, 501);
      assert.equal((await req('DELETE', `/quotas/${p}`)).status, 204);
      r = await req('DELETE', `/quotas/${p}`);
      assert.equal(r.status, 404);
      assert.equal(r.body.NeutronError.type, 'TenantQuotaNotFound');
      assert.ok(!(await req('GET', '/quotas')).body.quotas.some((q: { project_id: string }) => q.project_id === p));
    });

    it('shares security groups through RBAC policies', async () => {
      const sg = (await req('POST', '/security-groups', { security_group: { name: 'to-share' } })).body.security_group;
      assert.equal((await as('member').get(`/security-groups/${sg.id}`)).status, 404);
      let r = await req('POST', '/rbac-policies', {
        rbac_policy: {
          object_type: 'security_group',
          object_id: sg.id,
          action: 'access_as_shared',
          target_tenant: users.member.project,
        },
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const pol = r.body.rbac_policy;
      assert.deepEqual(Object.keys(pol).sort(), [
        'action',
        'id',
        'object_id',
        'object_type',
        'project_id',
        'target_tenant',
        'tenant_id',
      ]);
      assert.equal(pol.project_id, adminProject);
      assert.deepEqual((await req('GET', `/rbac-policies/${pol.id}`)).body.rbac_policy, pol);
      r = await as('member').get(`/security-groups/${sg.id}`);
      assert.equal(r.status, 200);
      assert.equal(r.body.security_group.shared, true);
      assert.equal(r.body.security_group.security_group_rules.length, 2);
      assert.ok(
        (await as('member').get('/security-groups?shared=true')).body.security_groups.some(
          (g: SecurityGroup) => g.id === sg.id,
        ),
      );
      assert.ok(
        !(await as('member').get('/security-groups?shared=false')).body.security_groups.some(
          (g: SecurityGroup) => g.id === sg.id,
        ),
      );
      assert.equal((await req('GET', `/security-groups/${sg.id}`)).body.security_group.shared, false);
      assert.equal((await as('alt').get(`/security-groups/${sg.id}`)).status, 404);
      // The target does not see the policy; it cannot share what it does not own.
      assert.deepEqual((await as('member').get('/rbac-policies')).body.rbac_policies, []);
      assert.equal((await as('member').get(`/rbac-policies/${pol.id}`)).status, 404);
      r = await as('member').post('/rbac-policies', {
        rbac_policy: {
          object_type: 'security_group',
          object_id: sg.id,
          action: 'access_as_shared',
          target_tenant: users.alt.project,
        },
      });
      assert.equal(r.status, 400);
      r = await req('POST', '/rbac-policies', {
        rbac_policy: {
          object_type: 'security_group',
          object_id: sg.id,
          action: 'access_as_shared',
          target_tenant: users.member.project,
        },
      });
      assert.equal(r.status, 409);
      assert.equal(r.body.NeutronError.type, 'DuplicateRbacPolicy');
      r = await req('POST', '/rbac-policies', {
        rbac_policy: {
          object_type: 'security_group',
          object_id: sg.id,
          action: 'access_as_external',
          target_tenant: '*',
        },
      });
      assert.equal(r.status, 400);
      assert.equal(
        r.body.NeutronError.message,
        "Invalid action 'access_as_external' for object type 'security_group'. Valid actions: ('access_as_shared',)",
      );
      r = await req('POST', '/rbac-policies', {
        rbac_policy: { object_type: 'widget', object_id: sg.id, action: 'access_as_shared', target_tenant: '*' },
      });
      assert.equal(r.status, 400);
      r = await req('POST', '/rbac-policies', {
        rbac_policy: {
          object_type: 'security_group',
          object_id: sg.id,
          action: 'access_as_shared',
          target_tenant: null,
        },
      });
      assert.equal(r.status, 400);
      r = await req('POST', '/rbac-policies', {
        rbac_policy: {
          object_type: 'security_group',
          object_id: sg.id,
          action: 'access_as_shared',
          target_tenant: '1234'.repeat(100),
        },
      });
      assert.equal(r.status, 400);
      r = await req('POST', '/rbac-policies', {
        rbac_policy: {
          object_type: 'security_group',
          object_id: '6a1c7f4e-0000-4000-8000-000000000000',
          action: 'access_as_shared',
          target_tenant: '*',
        },
      });
      assert.equal(r.status, 404);
      // A member shares its own group, but not with everyone.
      const own = (await as('member').post('/security-groups', { security_group: { name: 'mine' } })).body
        .security_group;
      r = await as('member').post('/rbac-policies', {
        rbac_policy: {
          object_type: 'security_group',
          object_id: own.id,
          action: 'access_as_shared',
          target_tenant: '*',
        },
      });
      assert.equal(r.status, 403);
      r = await as('member').post('/rbac-policies', {
        rbac_policy: {
          object_type: 'security_group',
          object_id: own.id,
          action: 'access_as_shared',
          target_tenant: users.alt.project,
        },
      });
      assert.equal(r.status, 201);
      const mine = r.body.rbac_policy;
      assert.equal(
        (await as('member').put(`/rbac-policies/${mine.id}`, { rbac_policy: { target_tenant: '*' } })).status,
        403,
      );
      assert.equal((await as('alt').get(`/security-groups/${own.id}`)).status, 200);
      // Retarget: only target_tenant moves.
      r = await req('PUT', `/rbac-policies/${pol.id}`, { rbac_policy: { target_tenant: users.alt.project } });
      assert.equal(r.status, 200);
      assert.deepEqual(r.body.rbac_policy, { ...pol, target_tenant: users.alt.project });
      assert.equal((await as('member').get(`/security-groups/${sg.id}`)).status, 404);
      assert.equal((await req('PUT', `/rbac-policies/${pol.id}`, { rbac_policy: { action: 'x' } })).status, 400);
      // Filters and fields.
      r = await req('GET', `/rbac-policies?object_id=${sg.id}&fields=id&fields=target_tenant`);
      assert.deepEqual(r.body.rbac_policies, [{ id: pol.id, target_tenant: users.alt.project }]);
      // Deleting the group takes its policies with it.
      assert.equal((await req('DELETE', `/security-groups/${sg.id}`)).status, 204);
      assert.equal((await req('GET', `/rbac-policies/${pol.id}`)).status, 404);
      assert.equal((await as('member').del(`/rbac-policies/${mine.id}`)).status, 204);
      assert.equal((await as('alt').get(`/security-groups/${own.id}`)).status, 404);
    });

    it('counts RBAC policies against the rbac_policy quota', async () => {
      const sg = (await as('alt').post('/security-groups', { security_group: { name: 'many' } })).body.security_group;
      await req('PUT', `/quotas/${users.alt.project}`, { quota: { rbac_policy: 1 } });
      const mk = (t: string) =>
        as('alt').post('/rbac-policies', {
          rbac_policy: {
            object_type: 'security_group',
            object_id: sg.id,
            action: 'access_as_shared',
            target_tenant: t,
          },
        });
      assert.equal((await mk('p1')).status, 201);
      const r = await mk('p2');
      assert.equal(r.status, 409);
      assert.equal(r.body.NeutronError.message, "Quota exceeded for resources: ['rbac_policy'].");
      await req('DELETE', `/quotas/${users.alt.project}`);
    });

    it('declares the extensions it serves', async () => {
      const aliases = (await req('GET', '/extensions')).body.extensions.map((e: { alias: string }) => e.alias);
      for (const a of [
        'security-group',
        'port-security',
        'rbac-policies',
        'rbac-security-groups',
        'quotas',
        'quota_details',
        'stateful-security-group',
      ])
        assert.ok(aliases.includes(a), a);
      // With address groups, rules may name one as their remote.
      assert.ok(aliases.includes('security-groups-remote-address-group'));
    });

    it('puts ports in security groups and keeps port security consistent', async (t) => {
      if (!(await hasPorts())) return t.skip('no ports resource yet');
      const m = as('member');
      const net = (await m.post('/networks', { network: { name: 'sec-net' } })).body.network;
      assert.equal(net.port_security_enabled, true);
      await m.post('/subnets', { subnet: { network_id: net.id, cidr: '10.9.0.0/24', ip_version: 4 } });
      const def = (await m.get('/security-groups?name=default')).body.security_groups[0];
      let r = await m.post('/ports', { port: { network_id: net.id } });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      let port = r.body.port;
      assert.deepEqual(port.security_groups, [def.id]);
      assert.equal(port.port_security_enabled, true);
      const sg = (await m.post('/security-groups', { security_group: { name: 'app' } })).body.security_group;
      // In use: the group cannot go, nor switch statefulness.
      r = await m.put(`/ports/${port.id}`, { port: { security_groups: [sg.id, sg.id] } });
      assert.equal(r.status, 400);
      r = await m.put(`/ports/${port.id}`, { port: { security_groups: ['6a1c7f4e-0000-4000-8000-000000000000'] } });
      assert.equal(r.status, 404);
      assert.deepEqual((await m.get(`/ports/${port.id}`)).body.port.security_groups, [def.id]);
      r = await m.put(`/ports/${port.id}`, { port: { security_groups: [sg.id] } });
      assert.deepEqual(r.body.port.security_groups, [sg.id]);
      r = await m.del(`/security-groups/${sg.id}`);
      assert.equal(r.status, 409);
      assert.equal(r.body.NeutronError.type, 'SecurityGroupInUse');
      assert.equal((await m.put(`/security-groups/${sg.id}`, { security_group: { stateful: false } })).status, 409);
      assert.deepEqual(
        (await m.get(`/ports?security_groups=${sg.id}`)).body.ports.map((p: ApiPort) => p.id),
        [port.id],
      );
      assert.deepEqual((await m.get(`/ports?security_groups=${def.id}`)).body.ports, []);
      // Port security off needs no groups and no address pairs.
      r = await m.put(`/ports/${port.id}`, { port: { port_security_enabled: false } });
      assert.equal(r.status, 409);
      assert.equal(r.body.NeutronError.type, 'PortSecurityPortHasSecurityGroup');
      r = await m.put(`/ports/${port.id}`, { port: { port_security_enabled: false, security_groups: [sg.id] } });
      assert.equal(r.status, 400);
      assert.equal(r.body.NeutronError.type, 'PortSecurityAndIPRequiredForSecurityGroups');
      r = await m.put(`/ports/${port.id}`, { port: { port_security_enabled: false, security_groups: [] } });
      assert.equal(r.status, 200);
      port = r.body.port;
      assert.equal(port.port_security_enabled, false);
      assert.deepEqual(port.security_groups, []);
      r = await m.put(`/ports/${port.id}`, { port: { allowed_address_pairs: [{ ip_address: '10.0.0.1' }] } });
      assert.equal(r.status, 409);
      assert.equal(r.body.NeutronError.type, 'AddressPairAndPortSecurityRequired');
      assert.equal((await m.del(`/security-groups/${sg.id}`)).status, 204);
      // Ports inherit the network's port security; a port with it off gets no group.
      const open = (await m.post('/networks', { network: { name: 'open', port_security_enabled: false } })).body
        .network;
      assert.equal(open.port_security_enabled, false);
      r = await m.post('/ports', { port: { network_id: open.id } });
      assert.equal(r.body.port.port_security_enabled, false);
      assert.deepEqual(r.body.port.security_groups, []);
      r = await m.post('/ports', { port: { network_id: open.id, security_groups: [def.id] } });
      assert.equal(r.status, 400);
      r = await m.post('/ports', { port: { network_id: open.id, port_security_enabled: true } });
      assert.deepEqual(r.body.port.security_groups, [def.id]);
      r = await m.post('/ports', { port: { network_id: net.id, security_groups: [] } });
      assert.deepEqual(r.body.port.security_groups, []);
      assert.equal(r.body.port.port_security_enabled, true);
      // The default group comes back when a port changes after an admin removed it.
      assert.equal((await req('DELETE', `/security-groups/${def.id}`)).status, 409);
      for (const p of (await m.get('/ports')).body.ports)
        await m.put(`/ports/${p.id}`, { port: { security_groups: [] } });
      assert.equal((await req('DELETE', `/security-groups/${def.id}`)).status, 204);
      await m.put(`/ports/${r.body.port.id}`, { port: { name: 'again' } });
      assert.equal((await m.get('/security-groups?name=default')).body.security_groups.length, 1);
    });

    it('keeps a network policy while another project has ports on the network', async (t) => {
      if (!(await hasPorts())) return t.skip('no ports resource yet');
      const net = (await req('POST', '/networks', { network: { name: 'rbac-net' } })).body.network;
      await req('POST', '/subnets', { subnet: { network_id: net.id, cidr: '10.8.0.0/24', ip_version: 4 } });
      const rev = net.revision_number;
      const pol = (
        await req('POST', '/rbac-policies', {
          rbac_policy: {
            object_type: 'network',
            object_id: net.id,
            action: 'access_as_shared',
            target_tenant: users.member.project,
          },
        })
      ).body.rbac_policy;
      assert.ok((await req('GET', `/networks/${net.id}`)).body.network.revision_number > rev);
      assert.equal((await as('member').get(`/networks/${net.id}`)).status, 200);
      assert.equal((await as('alt').get(`/networks/${net.id}`)).status, 404);
      const port = (await as('member').post('/ports', { port: { network_id: net.id } })).body.port;
      let r = await req('DELETE', `/rbac-policies/${pol.id}`);
      assert.equal(r.status, 409);
      assert.equal(r.body.NeutronError.type, 'RbacPolicyInUse');
      assert.equal(
        (await req('PUT', `/rbac-policies/${pol.id}`, { rbac_policy: { target_tenant: users.alt.project } })).status,
        409,
      );
      // A wildcard policy covers the port, so the specific one may go.
      const star = (
        await req('POST', '/rbac-policies', {
          rbac_policy: { object_type: 'network', object_id: net.id, action: 'access_as_shared', target_tenant: '*' },
        })
      ).body.rbac_policy;
      assert.equal((await req('GET', `/networks/${net.id}`)).body.network.shared, true);
      assert.equal((await req('DELETE', `/rbac-policies/${pol.id}`)).status, 204);
      assert.equal((await req('DELETE', `/rbac-policies/${star.id}`)).status, 409);
      assert.equal((await as('member').del(`/ports/${port.id}`)).status, 204);
      assert.equal((await req('DELETE', `/rbac-policies/${star.id}`)).status, 204);
      // A member cannot share a network it does not own, nor see one not shared with it.
      r = await as('member').post('/rbac-policies', {
        rbac_policy: {
          object_type: 'network',
          object_id: net.id,
          action: 'access_as_shared',
          target_tenant: users.member.project,
        },
      });
      assert.equal(r.status, 404);
    });
  });
}
