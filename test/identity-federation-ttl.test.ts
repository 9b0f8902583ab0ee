// An identity provider's authorization_ttl (Keystone's expiring group memberships): the groups a
// federated login mapped count for the user for that many minutes after the login, are shown with
// membership_expires_at, lapse after it (the group's roles go) and are renewed by the next login.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import Database from 'better-sqlite3';
import { startCloud, type TestCloud } from './lib/cloud.ts';

describe('federation: authorization_ttl', () => {
  let c: TestCloud;
  let projectId: string;
  let groupId: string;
  const fed = (p: string) => `/v3/OS-FEDERATION/${p}`;
  const headers = { 'X-Remote-User': 'tina', 'X-Groups': 'ttl-users' };
  const login = async () => {
    const r = await c.req('POST', fed('identity_providers/ttl-idp/protocols/oidc/auth'), undefined, {
      token: null,
      headers,
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return { token: r.headers.get('x-subject-token')!, userId: r.body.token.user.id as string };
  };
  const scope = (token: string) =>
    c.req(
      'POST',
      '/v3/auth/tokens',
      { auth: { identity: { methods: ['token'], token: { id: token } }, scope: { project: { id: projectId } } } },
      { token: null },
    );
  /** Moves every expiring membership's last login `minutes` into the past (as if that time went by). */
  const age = (minutes: number) => {
    const db = new Database(path.join(c.dataDir, 'identity.sqlite'));
    try {
      db.prepare('UPDATE expiring_user_group_membership SET last_verified = last_verified - ?').run(minutes * 60_000);
    } finally {
      db.close();
    }
  };

  before(async () => {
    c = await startCloud({
      configure: (cfg) => {
        cfg.federation = { trustedProxies: ['127.0.0.1', '::1'] };
      },
    });
    projectId = (await c.req('POST', '/v3/projects', { project: { name: 'ttl-project', domain_id: 'default' } })).body
      .project.id;
    groupId = (await c.req('POST', '/v3/groups', { group: { name: 'ttl-users', domain_id: 'default' } })).body.group.id;
    const member = (await c.req('GET', '/v3/roles?name=member')).body.roles[0].id;
    assert.equal((await c.req('PUT', `/v3/projects/${projectId}/groups/${groupId}/roles/${member}`)).status, 204);
    const idp = await c.req('PUT', fed('identity_providers/ttl-idp'), {
      identity_provider: { enabled: true, authorization_ttl: 5 },
    });
    assert.equal(idp.status, 201, JSON.stringify(idp.body));
    const rules = [
      {
        local: [{ user: { name: '{0}' } }, { groups: '{1}', domain: { id: 'default' } }],
        remote: [{ type: 'REMOTE_USER' }, { type: 'X-Groups' }],
      },
    ];
    assert.equal((await c.req('PUT', fed('mappings/ttl-map'), { mapping: { rules } })).status, 201);
    assert.equal(
      (await c.req('PUT', fed('identity_providers/ttl-idp/protocols/oidc'), { protocol: { mapping_id: 'ttl-map' } }))
        .status,
      201,
    );
  });
  after(() => c?.stop());

  it('keeps the mapped groups for the TTL, then drops them until the next login', async () => {
    const before = Date.now();
    const first = await login();
    const scoped = await scope(first.token);
    assert.equal(scoped.status, 201, JSON.stringify(scoped.body));
    const scopedToken = scoped.headers.get('x-subject-token')!;

    // the membership shows, with when it lapses (the login + 5 minutes)
    const groups = (await c.req('GET', `/v3/users/${first.userId}/groups`)).body.groups;
    assert.deepEqual(
      groups.map((g: { id: string }) => g.id),
      [groupId],
    );
    const expires = Date.parse(`${groups[0].membership_expires_at.slice(0, 23)}Z`);
    assert.ok(expires >= before + 5 * 60_000 - 1000 && expires <= Date.now() + 5 * 60_000 + 1000, String(expires));
    const members = (await c.req('GET', `/v3/groups/${groupId}/users/${first.userId}`)).status;
    assert.ok(members === 204 || members === 404); // permanent membership checks are not about TTLs

    // six minutes later: the membership lapsed, and with it the group's role on the project
    age(6);
    assert.deepEqual((await c.req('GET', `/v3/users/${first.userId}/groups`)).body.groups, []);
    assert.equal((await scope(first.token)).status, 401);
    assert.equal(
      (await c.req('GET', '/v3/auth/tokens', undefined, { headers: { 'X-Subject-Token': scopedToken } })).status,
      404,
    );

    // the next login renews it
    const second = await login();
    assert.equal(second.userId, first.userId);
    assert.equal((await scope(second.token)).status, 201);

    // no TTL on the provider (and no default): the memberships stay until the next login
    const up = await c.req('PATCH', fed('identity_providers/ttl-idp'), {
      identity_provider: { authorization_ttl: null },
    });
    assert.equal(up.status, 200, JSON.stringify(up.body));
    age(60 * 24);
    const kept = (await c.req('GET', `/v3/users/${first.userId}/groups`)).body.groups;
    assert.deepEqual(
      kept.map((g: { id: string; membership_expires_at: string | null }) => [g.id, g.membership_expires_at]),
      [[groupId, null]],
    );
    assert.equal((await scope(second.token)).status, 201);
  });
});
