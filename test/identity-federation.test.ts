// OS-FEDERATION against the real HTTP API: identity providers (remote ids, auto-created domain),
// mappings (schema validation, the rule engine), protocols, service providers (in tokens), and a
// federated login through a "test proxy" (the assertion's attributes as headers from 127.0.0.1)
// that gets a token with the mapped groups' roles.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud } from './lib/cloud.ts';
import { startOidcProxy } from './lib/oidc-proxy.ts';
import { processRules, validateMapping, type MappingRule } from '../src/identity/federation/mapping.ts';
import { FederationManager } from '../src/identity/federation/manager.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeyRepository } from '../src/identity/token/keys.ts';
import { randomAuditId, TokenFormatter, type TokenPayload } from '../src/identity/token/formatter.ts';
import type { IdentityService } from '../src/identity/service.ts';

describe('federation mapping rules', () => {
  it('validates rules as Keystone does', () => {
    assert.throws(() => validateMapping({}), /rules/);
    assert.throws(() => validateMapping({ rules: [] }), /Invalid input/);
    assert.throws(() => validateMapping({ rules: [{ local: [{ user: { name: '{0}' } }], remote: [] }] }));
    assert.throws(() => validateMapping({ rules: [{ local: [{ bogus: 1 }], remote: [{ type: 'a' }] }] }));
    assert.throws(() => validateMapping({ rules: [{ local: [{ group: { name: 'x' } }], remote: [{ type: 'a' }] }] }));
    assert.throws(() =>
      validateMapping({ rules: [{ local: [], remote: [{ type: 'a', any_one_of: ['x'], whitelist: ['y'] }] }] }),
    );
    assert.ok(
      validateMapping({
        rules: [
          {
            local: [{ user: { name: '{0}' } }, { group_ids: '{1}' }],
            remote: [{ type: 'openstack_username' }, { type: 'group_ids', whitelist: ['abc', '123'] }],
          },
        ],
        schema_version: '1.0',
      }),
    );
  });

  it('processes any_one_of, not_any_of, regex, whitelist, blacklist and direct maps', () => {
    const rules: MappingRule[] = [
      {
        local: [{ user: { name: '{0}' } }, { groups: '{1}', domain: { id: 'default' } }],
        remote: [{ type: 'REMOTE_USER' }, { type: 'groups', blacklist: ['evil'] }],
      },
      {
        local: [{ group: { id: 'admins-id' } }],
        remote: [{ type: 'orgPersonType', any_one_of: ['Admin', 'Boss'] }],
      },
      {
        local: [{ group: { id: 'regex-id' } }],
        remote: [{ type: 'email', any_one_of: ['.*@example\\.org$'], regex: true }],
      },
      {
        local: [{ group: { id: 'not-contractor' } }],
        remote: [{ type: 'orgPersonType', not_any_of: ['Contractor'] }],
      },
      {
        local: [{ group_ids: '{0}' }],
        remote: [{ type: 'ids', whitelist: ['g1', 'g2'] }],
      },
    ];
    const m = processRules(rules, {
      REMOTE_USER: ['alice'],
      groups: ['dev', 'evil', 'ops'],
      orgPersonType: ['Admin'],
      email: ['alice@example.org'],
      ids: ['g1', 'g3', 'g2'],
    });
    assert.equal(m.user.name, 'alice');
    assert.equal(m.user.type, 'ephemeral');
    assert.deepEqual(
      m.groupNames.map((g) => g.name),
      ['dev', 'ops'],
    );
    assert.deepEqual(m.groupIds.sort(), ['admins-id', 'g1', 'g2', 'not-contractor', 'regex-id']);
    const none = processRules(rules, { orgPersonType: ['Contractor'] });
    assert.deepEqual(none.groupIds, []);
    assert.equal(none.user.name, undefined);
  });
});

describe('federated Fernet payloads (versions 4, 5, 6)', () => {
  it('round-trip unscoped, project- and domain-scoped federated tokens', () => {
    const dir = mkdtempSync(join(tmpdir(), 'stratus-fedtok-'));
    try {
      const keys = new KeyRepository(dir);
      keys.setup();
      const fmt = new TokenFormatter(keys);
      const base: TokenPayload = {
        userId: 'a'.repeat(32),
        methods: ['mapped', 'token'],
        expiresAt: new Date(Math.floor(Date.now() / 1000) * 1000 + 3600_000),
        auditIds: [randomAuditId()],
        federated: { groupIds: ['b'.repeat(32), 'not-a-uuid'], idpId: 'my-idp', protocolId: 'openid' },
      };
      for (const scope of [{}, { projectId: 'c'.repeat(32) }, { domainId: 'some-domain' }]) {
        const p = { ...base, ...scope };
        const back = fmt.validate(fmt.create(p));
        delete back.issuedAt;
        assert.deepEqual(back, p);
      }
      assert.throws(() => fmt.create({ ...base, system: 'all' }));
    } finally {
      rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    }
  });
});

describe('identity federation API', () => {
  let c: TestCloud;
  let projectId: string;
  let groupId: string;
  let memberRoleId: string;
  const fed = (p: string) => `/v3/OS-FEDERATION/${p}`;

  before(async () => {
    c = await startCloud({
      configure: (cfg) => {
        cfg.federation = {
          trustedProxies: ['127.0.0.1', '::1'],
          trustedDashboards: ['https://horizon.example/auth/websso/'],
        };
      },
    });
    projectId = (await c.req('POST', '/v3/projects', { project: { name: 'fed-project', domain_id: 'default' } })).body
      .project.id;
    groupId = (await c.req('POST', '/v3/groups', { group: { name: 'fed-users', domain_id: 'default' } })).body.group.id;
    const roles = (await c.req('GET', '/v3/roles?name=member')).body.roles;
    memberRoleId = roles[0].id;
    const g = await c.req('PUT', `/v3/projects/${projectId}/groups/${groupId}/roles/${memberRoleId}`);
    assert.equal(g.status, 204);
  });
  after(() => c?.stop());

  it('creates identity providers with remote ids and an auto-created domain', async () => {
    const r = await c.req('PUT', fed('identity_providers/idp1'), {
      identity_provider: { description: 'one', remote_ids: ['https://idp1.example/'] },
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const idp = r.body.identity_provider;
    assert.equal(idp.enabled, false);
    assert.deepEqual(idp.remote_ids, ['https://idp1.example/']);
    assert.equal(idp.authorization_ttl, null);
    const d = await c.req('GET', `/v3/domains/${idp.domain_id}`);
    assert.equal(d.status, 200);
    assert.equal(d.body.domain.name, 'idp1');
    // remote ids are unique across providers; ids too
    const dup = await c.req('PUT', fed('identity_providers/idp2'), {
      identity_provider: { remote_ids: ['https://idp1.example/'] },
    });
    assert.equal(dup.status, 409);
    assert.equal((await c.req('PUT', fed('identity_providers/idp1'), { identity_provider: {} })).status, 409);
    assert.equal((await c.req('PUT', fed('identity_providers/idp3'), { identity_provider: { bogus: 1 } })).status, 400);
    assert.equal(
      (await c.req('PUT', fed('identity_providers/idp3'), { identity_provider: { domain_id: 'nope' } })).status,
      404,
    );
    const up = await c.req('PATCH', fed('identity_providers/idp1'), {
      identity_provider: { enabled: true, authorization_ttl: 60 },
    });
    assert.equal(up.status, 200);
    assert.equal(up.body.identity_provider.enabled, true);
    assert.equal(up.body.identity_provider.authorization_ttl, 60);
    assert.equal(
      (await c.req('PATCH', fed('identity_providers/idp1'), { identity_provider: { domain_id: 'x' } })).status,
      400,
    );
    const list = await c.req('GET', fed('identity_providers?enabled=true'));
    assert.deepEqual(
      list.body.identity_providers.map((i: { id: string }) => i.id),
      ['idp1'],
    );
    assert.equal((await c.req('GET', fed('identity_providers/nope'))).status, 404);
  });

  it('manages mappings and protocols', async () => {
    assert.equal((await c.req('PUT', fed('mappings/bad'), { mapping: {} })).status, 400);
    const rules = [
      {
        local: [{ user: { name: '{0}', email: '{1}' } }, { groups: '{2}', domain: { id: 'default' } }],
        remote: [{ type: 'REMOTE_USER' }, { type: 'HTTP_X_EMAIL' }, { type: 'x-groups' }],
      },
    ];
    const m = await c.req('PUT', fed('mappings/m1'), { mapping: { rules } });
    assert.equal(m.status, 201, JSON.stringify(m.body));
    assert.deepEqual(m.body.mapping.rules, rules);
    assert.equal(m.body.mapping.schema_version, '1.0');
    assert.equal((await c.req('GET', fed('mappings/m1'))).status, 200);
    assert.equal((await c.req('GET', fed('mappings'))).body.mappings.length, 1);
    // a protocol needs an existing mapping
    assert.equal(
      (await c.req('PUT', fed('identity_providers/idp1/protocols/oidc'), { protocol: { mapping_id: 'x' } })).status,
      400,
    );
    const p = await c.req('PUT', fed('identity_providers/idp1/protocols/oidc'), { protocol: { mapping_id: 'm1' } });
    assert.equal(p.status, 201, JSON.stringify(p.body));
    assert.equal(p.body.protocol.mapping_id, 'm1');
    assert.equal((await c.req('GET', fed('identity_providers/idp1/protocols'))).body.protocols.length, 1);
    assert.equal((await c.req('GET', fed('identity_providers/idp1/protocols/nope'))).status, 404);
    assert.equal(
      (await c.req('PATCH', fed('identity_providers/idp1/protocols/oidc'), { protocol: { mapping_id: 'nope' } }))
        .status,
      400,
    );
  });

  it("logs a federated user in through the trusted proxy, with the mapped groups' roles", async () => {
    const headers = { 'X-Remote-User': 'fred', 'X-Email': 'fred@example.org', 'X-Groups': 'fed-users;unknown' };
    // an unknown group name is refused
    const bad = await c.req('GET', fed('identity_providers/idp1/protocols/oidc/auth'), undefined, {
      token: null,
      headers,
    });
    assert.equal(bad.status, 401);
    headers['X-Groups'] = 'fed-users';
    const r = await c.req('POST', fed('identity_providers/idp1/protocols/oidc/auth'), undefined, {
      token: null,
      headers,
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const unscoped = r.headers.get('x-subject-token')!;
    const t = r.body.token;
    assert.deepEqual(t.methods, ['mapped']);
    assert.equal(t.user.name, 'fred');
    assert.deepEqual(t.user['OS-FEDERATION'], {
      identity_provider: { id: 'idp1' },
      protocol: { id: 'oidc' },
      groups: [{ id: groupId }],
    });
    // the shadow user lives in the provider's domain
    const idp = (await c.req('GET', fed('identity_providers/idp1'))).body.identity_provider;
    assert.equal(t.user.domain.id, idp.domain_id);
    // the projects it may scope to
    const projects = await c.req('GET', fed('projects'), undefined, { token: unscoped });
    assert.equal(projects.status, 200, JSON.stringify(projects.body));
    assert.deepEqual(
      projects.body.projects.map((p: { id: string }) => p.id),
      [projectId],
    );
    const auth = await c.req('GET', '/v3/auth/projects', undefined, { token: unscoped });
    assert.equal(auth.body.projects.length, 1);
    // rescoped to the project: the group's role, still a federated token
    const scoped = await c.req(
      'POST',
      '/v3/auth/tokens',
      { auth: { identity: { methods: ['token'], token: { id: unscoped } }, scope: { project: { id: projectId } } } },
      { token: null },
    );
    assert.equal(scoped.status, 201, JSON.stringify(scoped.body));
    // member, and what it implies (reader)
    assert.ok(scoped.body.token.roles.some((x: { id: string }) => x.id === memberRoleId));
    assert.equal(scoped.body.token.user['OS-FEDERATION'].identity_provider.id, 'idp1');
    const scopedId = scoped.headers.get('x-subject-token')!;
    const v = await c.req('GET', '/v3/auth/tokens', undefined, { headers: { 'X-Subject-Token': scopedId } });
    assert.equal(v.status, 200);
    assert.equal(v.body.token.project.id, projectId);
    // a login that maps fewer groups: the membership goes, the new token is valid, the old scoped one loses the role
    const second = (await c.req('POST', '/v3/groups', { group: { name: 'fed-extra', domain_id: 'default' } })).body
      .group;
    const two = await c.req('GET', fed('identity_providers/idp1/protocols/oidc/auth'), undefined, {
      token: null,
      headers: { ...headers, 'X-Groups': 'fed-extra' },
    });
    assert.equal(two.status, 201);
    assert.deepEqual(two.body.token.user['OS-FEDERATION'].groups, [{ id: second.id }]);
    const twoToken = two.headers.get('x-subject-token')!;
    assert.equal(
      (await c.req('GET', '/v3/auth/tokens', undefined, { headers: { 'X-Subject-Token': twoToken } })).status,
      200,
    );
    assert.equal(
      (await c.req('GET', '/v3/auth/tokens', undefined, { headers: { 'X-Subject-Token': scopedId } })).status,
      404,
    );
    // the same person logs in again: the same shadow user
    const again = await c.req('GET', fed('identity_providers/idp1/protocols/oidc/auth'), undefined, {
      token: null,
      headers,
    });
    assert.equal(again.body.token.user.id, t.user.id);
    const againToken = again.headers.get('x-subject-token')!;
    // the mapped method through /v3/auth/tokens too
    const direct = await c.req(
      'POST',
      '/v3/auth/tokens',
      { auth: { identity: { methods: ['mapped'], mapped: { identity_provider: 'idp1', protocol: 'oidc' } } } },
      { token: null, headers },
    );
    assert.equal(direct.status, 201, JSON.stringify(direct.body));
    // a disabled provider: its tokens stop validating and logins are refused
    await c.req('PATCH', fed('identity_providers/idp1'), { identity_provider: { enabled: false } });
    assert.equal(
      (await c.req('GET', '/v3/auth/tokens', undefined, { headers: { 'X-Subject-Token': againToken } })).status,
      404,
    );
    assert.equal(
      (await c.req('GET', fed('identity_providers/idp1/protocols/oidc/auth'), undefined, { token: null, headers }))
        .status,
      403,
    );
    await c.req('PATCH', fed('identity_providers/idp1'), { identity_provider: { enabled: true } });
  });

  it('checks the asserting provider against its remote ids', async () => {
    await c.req('PATCH', fed('identity_providers/idp1/protocols/oidc'), {
      protocol: { remote_id_attribute: 'HTTP_X_IDP' },
    });
    const headers: Record<string, string> = { 'X-Remote-User': 'fred', 'X-Email': 'f@x', 'X-Groups': 'fed-users' };
    const missing = await c.req('GET', fed('identity_providers/idp1/protocols/oidc/auth'), undefined, {
      token: null,
      headers,
    });
    assert.equal(missing.status, 400);
    headers['X-Idp'] = 'https://other.example/';
    const wrong = await c.req('GET', fed('identity_providers/idp1/protocols/oidc/auth'), undefined, {
      token: null,
      headers,
    });
    assert.equal(wrong.status, 403);
    headers['X-Idp'] = 'https://idp1.example/';
    const ok = await c.req('GET', fed('identity_providers/idp1/protocols/oidc/auth'), undefined, {
      token: null,
      headers,
    });
    assert.equal(ok.status, 201);
  });

  it('manages service providers and lists the enabled ones in tokens', async () => {
    const bad = await c.req('PUT', fed('service_providers/sp0'), {
      service_provider: { auth_url: 'nourl', sp_url: 'https://sp.example/Shibboleth.sso/SAML2/ECP' },
    });
    assert.equal(bad.status, 400);
    assert.equal((await c.req('PUT', fed('service_providers/sp0'), { service_provider: {} })).status, 400);
    const r = await c.req('PUT', fed('service_providers/sp1'), {
      service_provider: {
        auth_url: 'https://sp.example/v3/OS-FEDERATION/identity_providers/acme/protocols/saml2/auth',
        sp_url: 'https://sp.example/Shibboleth.sso/SAML2/ECP',
        enabled: true,
      },
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.service_provider.relay_state_prefix, 'ss:mem:');
    await c.req('PUT', fed('service_providers/sp2'), {
      service_provider: { auth_url: 'https://b.example/', sp_url: 'https://b.example/sp' },
    });
    const tok = await c.req('GET', '/v3/auth/tokens', undefined, { headers: { 'X-Subject-Token': c.adminToken } });
    assert.deepEqual(
      tok.body.token.service_providers.map((s: { id: string }) => s.id),
      ['sp1'],
    );
    assert.equal(
      (await c.req('PATCH', fed('service_providers/sp1'), { service_provider: { sp_url: 'bad' } })).status,
      400,
    );
    assert.equal((await c.req('DELETE', fed('service_providers/sp1'))).status, 204);
    assert.equal((await c.req('DELETE', fed('service_providers/sp1'))).status, 404);
  });

  it('refuses an assertion from an untrusted peer', async () => {
    const config = { federation: { trustedProxies: ['127.0.0.1'] } };
    const m = new FederationManager({ config } as unknown as IdentityService);
    await assert.rejects(m.assertion({ ip: '10.0.0.9', headers: { 'x-remote-user': 'eve' } }), /trusted proxy/);
    assert.deepEqual((await m.assertion({ ip: '::ffff:127.0.0.1', headers: { 'x-remote-user': 'a;b' } })).REMOTE_USER, [
      'a',
      'b',
    ]);
    const off = new FederationManager({ config: {} } as unknown as IdentityService);
    await assert.rejects(off.assertion({ ip: '127.0.0.1', headers: {} }), /trusted proxy/);
  });

  it('posts a WebSSO token back to a trusted dashboard only', async () => {
    const headers = {
      'X-Remote-User': 'fred',
      'X-Email': 'f@x',
      'X-Groups': 'fed-users',
      'X-Idp': 'https://idp1.example/',
    };
    const origin = encodeURIComponent('https://horizon.example/auth/websso/');
    const base = '/v3/auth/OS-FEDERATION';
    const noOrigin = await c.req('GET', `${base}/identity_providers/idp1/protocols/oidc/websso`, undefined, {
      token: null,
      headers,
    });
    assert.equal(noOrigin.status, 400);
    const evil = await c.req(
      'GET',
      `${base}/websso/oidc?origin=${encodeURIComponent('https://evil.example/')}`,
      undefined,
      {
        token: null,
        headers,
      },
    );
    assert.equal(evil.status, 403);
    for (const path of [`${base}/identity_providers/idp1/protocols/oidc/websso`, `${base}/websso/oidc`]) {
      const r = await c.req('POST', `${path}?origin=${origin}`, undefined, { token: null, headers });
      assert.equal(r.status, 200, String(r.body));
      assert.match(r.headers.get('content-type')!, /text\/html/);
      assert.match(r.body, /action="https:\/\/horizon\.example\/auth\/websso\/"/);
      const token = /name="token" id="token" value="([^"]+)"/.exec(r.body)![1]!;
      const v = await c.req('GET', '/v3/auth/tokens', undefined, { headers: { 'X-Subject-Token': token } });
      assert.equal(v.status, 200);
      assert.equal(v.body.token.user.name, 'fred');
    }
  });

  it('logs in end to end through a small OpenID Connect provider and its front proxy', async () => {
    const proxy = await startOidcProxy(c.url);
    try {
      await c.req('PUT', fed('identity_providers/oidc-idp'), {
        identity_provider: { enabled: true, remote_ids: ['https://oidc.test/'] },
      });
      await c.req('PUT', fed('mappings/oidc-map'), {
        mapping: {
          rules: [
            {
              local: [{ user: { name: '{0}', email: '{1}' } }, { groups: '{2}', domain: { id: 'default' } }],
              remote: [{ type: 'OIDC-sub' }, { type: 'OIDC-email' }, { type: 'OIDC-groups', whitelist: ['fed-users'] }],
            },
          ],
        },
      });
      await c.req('PUT', fed('identity_providers/oidc-idp/protocols/openid'), {
        protocol: { mapping_id: 'oidc-map', remote_id_attribute: 'OIDC-iss' },
      });
      const authUrl = `${proxy.url}/identity/v3/OS-FEDERATION/identity_providers/oidc-idp/protocols/openid/auth`;
      const noToken = await fetch(authUrl, { method: 'POST' });
      assert.equal(noToken.status, 401);
      const access = proxy.issue({ sub: 'olga', email: 'olga@oidc.test', groups: ['fed-users', 'staff'] });
      // a header the client forges is stripped by the proxy: the claims win
      const r = await fetch(authUrl, {
        method: 'POST',
        headers: { Authorization: `Bearer ${access}`, 'OIDC-sub': 'admin' },
      });
      assert.equal(r.status, 201);
      const body = (await r.json()) as { token: { user: { name: string; 'OS-FEDERATION': { groups: unknown[] } } } };
      assert.equal(body.token.user.name, 'olga');
      assert.deepEqual(body.token.user['OS-FEDERATION'].groups, [{ id: groupId }]);
      const scoped = await c.req(
        'POST',
        '/v3/auth/tokens',
        {
          auth: {
            identity: { methods: ['token'], token: { id: r.headers.get('x-subject-token') } },
            scope: { project: { id: projectId } },
          },
        },
        { token: null },
      );
      assert.equal(scoped.status, 201, JSON.stringify(scoped.body));
      assert.ok(scoped.body.token.roles.some((x: { id: string }) => x.id === memberRoleId));
    } finally {
      await proxy.close();
    }
  });

  it('deletes a provider with its protocols and shadow users', async () => {
    const del = await c.req('DELETE', fed('identity_providers/idp1'));
    assert.equal(del.status, 204);
    const users = await c.req('GET', '/v3/users?name=fred');
    assert.equal(users.body.users.length, 0);
    assert.equal((await c.req('GET', fed('identity_providers/idp1/protocols'))).status, 404);
  });
});
