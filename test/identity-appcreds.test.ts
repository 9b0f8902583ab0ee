// Application credentials, their access rules and the application_credential auth method.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { RoleRef, WithName } from './lib/api-types.ts';
import { startCloud, type TestCloud } from './lib/cloud.ts';

describe('identity application credentials', () => {
  let c: TestCloud;
  let projectId: string, userId: string, otherId: string, userToken: string, otherToken: string;
  let member: string, reader: string, extraRole: string;
  const base = () => `/v3/users/${userId}/application_credentials`;
  const create = (body: Record<string, unknown>, token = userToken) =>
    c.req('POST', base(), { application_credential: body }, { token });
  const appCredAuth = (ac: Record<string, unknown>) =>
    c.req(
      'POST',
      '/v3/auth/tokens',
      { auth: { identity: { methods: ['application_credential'], application_credential: ac } } },
      { token: null },
    );

  before(async () => {
    c = await startCloud();
    projectId = (await c.req('POST', '/v3/projects', { project: { name: 'ac-p1', domain_id: 'default' } })).body.project
      .id;
    userId = (
      await c.req('POST', '/v3/users', { user: { name: 'ac-user', domain_id: 'default', password: 'secret-pw' } })
    ).body.user.id;
    otherId = (
      await c.req('POST', '/v3/users', { user: { name: 'ac-other', domain_id: 'default', password: 'secret-pw' } })
    ).body.user.id;
    member = (await c.req('GET', '/v3/roles?name=member')).body.roles[0].id;
    reader = (await c.req('GET', '/v3/roles?name=reader')).body.roles[0].id;
    extraRole = (await c.req('POST', '/v3/roles', { role: { name: 'ac-extra' } })).body.role.id;
    for (const u of [userId, otherId])
      assert.equal((await c.req('PUT', `/v3/projects/${projectId}/users/${u}/roles/${member}`)).status, 204);
    userToken = await c.token({ id: userId, password: 'secret-pw' }, { project: { id: projectId } });
    otherToken = await c.token({ id: otherId, password: 'secret-pw' }, { project: { id: projectId } });
  });
  after(async () => {
    await c.stop();
  });

  it('creates an application credential with the token roles and shows the secret only once', async () => {
    const r = await create({ name: 'ci', description: 'for CI' });
    assert.equal(r.status, 201);
    const ac = r.body.application_credential;
    assert.equal(ac.name, 'ci');
    assert.equal(ac.description, 'for CI');
    assert.equal(ac.user_id, userId);
    assert.equal(ac.project_id, projectId);
    assert.equal(ac.unrestricted, false);
    assert.equal(ac.expires_at, null);
    assert.match(ac.secret, /^[A-Za-z0-9_-]{86}$/);
    // member implies reader: the token's roles, implied ones included.
    assert.deepEqual(ac.roles.map((x: RoleRef) => x.id).sort(), [member, reader].sort());
    assert.deepEqual(Object.keys(ac.roles[0]).sort(), ['domain_id', 'id', 'name']);
    assert.match(ac.links.self, new RegExp(`${base()}/${ac.id}$`));
    const shown = await c.req('GET', `${base()}/${ac.id}`, undefined, { token: userToken });
    assert.equal(shown.status, 200);
    assert.equal(shown.body.application_credential.secret, undefined);
    assert.equal(shown.body.application_credential.name, 'ci');
    // The secret is stored hashed.
    const row = await c.cloud.identity.db
      .selectFrom('application_credential')
      .selectAll()
      .where('id', '=', ac.id)
      .executeTakeFirst();
    assert.ok(row);
    assert.ok(row.secret_hash.startsWith('$2'));
    assert.ok(!row.secret_hash.includes(ac.secret));
  });

  it('authenticates by id or by name and user, and refuses every mismatch with 401', async () => {
    const { body } = await create({ name: 'auth-me', secret: 'my-own-secret' });
    const ac = body.application_credential;
    assert.equal(ac.secret, 'my-own-secret');
    const byId = await appCredAuth({ id: ac.id, secret: 'my-own-secret' });
    assert.equal(byId.status, 201);
    assert.equal(byId.body.token.project.id, projectId);
    assert.equal(byId.body.token.user.id, userId);
    assert.deepEqual(byId.body.token.methods, ['application_credential']);
    assert.deepEqual(byId.body.token.application_credential, { id: ac.id, name: 'auth-me', restricted: true });
    const byName = await appCredAuth({ name: 'auth-me', user: { id: userId }, secret: 'my-own-secret' });
    assert.equal(byName.status, 201);
    const byUserName = await appCredAuth({
      name: 'auth-me',
      user: { name: 'ac-user', domain: { name: 'Default' } },
      secret: 'my-own-secret',
    });
    assert.equal(byUserName.status, 201);

    for (const bad of [
      { id: ac.id, secret: 'wrong' },
      { id: ac.id },
      { id: 'nope', secret: 'my-own-secret' },
      { name: 'auth-me', user: { id: otherId }, secret: 'my-own-secret' },
      { name: 'nope', user: { id: userId }, secret: 'my-own-secret' },
      { name: 'auth-me', user: { name: 'ac-user', domain: { name: 'nope' } }, secret: 'my-own-secret' },
    ]) {
      const r = await appCredAuth(bad);
      assert.equal(r.status, 401, JSON.stringify(bad));
      assert.equal(r.body.error.message, 'The request you have made requires authentication.');
    }
    assert.equal((await appCredAuth({ secret: 'x' })).status, 400);
  });

  it('validates the request: name, duplicates, roles, expiry, other users', async () => {
    assert.equal((await create({ description: 'no name' })).status, 400);
    assert.equal((await create({ name: '' })).status, 400);
    assert.equal((await create({ name: 'x', unrestricted: 'yes' })).status, 400);
    const dup = await create({ name: 'ci' });
    assert.equal(dup.status, 409);
    assert.match(dup.body.error.message, /Duplicate entry found with name ci/);
    // The other user may reuse the name.
    assert.equal(
      (
        await c.req(
          'POST',
          `/v3/users/${otherId}/application_credentials`,
          { application_credential: { name: 'ci' } },
          { token: otherToken },
        )
      ).status,
      201,
    );

    const unassigned = await create({ name: 'too-much', roles: [{ id: extraRole }] });
    assert.equal(unassigned.status, 400);
    assert.match(unassigned.body.error.message, /unassigned role/);
    assert.equal((await create({ name: 'r2', roles: [{ name: 'no-such-role' }] })).status, 404);
    assert.equal((await create({ name: 'r3', roles: [{ id: member, name: 'member' }] })).status, 400);
    const byName = await create({ name: 'reader-only', roles: [{ name: 'reader' }] });
    assert.equal(byName.status, 201);
    assert.deepEqual(
      byName.body.application_credential.roles.map((x: RoleRef) => x.id),
      [reader],
    );

    const past = await create({ name: 'old', expires_at: '2001-01-01T00:00:00' });
    assert.equal(past.status, 400);
    assert.match(past.body.error.message, /must not be before now/);
    assert.equal((await create({ name: 'bad-time', expires_at: 'tomorrow' })).status, 400);
    const when = new Date(Date.now() + 3600_000).toISOString().slice(0, 19) + '.123456';
    const future = await create({ name: 'future', expires_at: when });
    assert.equal(future.status, 201);
    assert.equal(future.body.application_credential.expires_at, when);

    const forOther = await c.req(
      'POST',
      `/v3/users/${otherId}/application_credentials`,
      { application_credential: { name: 'nope' } },
      { token: userToken },
    );
    assert.equal(forOther.status, 403);
    // Only a project-scoped token can create one.
    const unscoped = await c.token({ id: userId, password: 'secret-pw' });
    assert.equal((await create({ name: 'unscoped' }, unscoped)).status, 403);
  });

  it('lists, filters by name and keeps users apart', async () => {
    const list = await c.req('GET', base(), undefined, { token: userToken });
    assert.equal(list.status, 200);
    const names = list.body.application_credentials.map((x: WithName) => x.name);
    assert.ok(names.includes('ci') && names.includes('auth-me'));
    assert.ok(list.body.application_credentials.every((x: { secret?: string }) => x.secret === undefined));
    const one = await c.req('GET', `${base()}?name=ci`, undefined, { token: userToken });
    assert.deepEqual(
      one.body.application_credentials.map((x: WithName) => x.name),
      ['ci'],
    );
    const id = one.body.application_credentials[0].id;
    // The other user can neither list nor read them, even naming their own id in the path.
    assert.equal((await c.req('GET', base(), undefined, { token: otherToken })).status, 403);
    assert.equal((await c.req('GET', `${base()}/${id}`, undefined, { token: otherToken })).status, 403);
    assert.equal(
      (await c.req('GET', `/v3/users/${otherId}/application_credentials/${id}`, undefined, { token: otherToken }))
        .status,
      403,
    );
    assert.equal(
      (await c.req('DELETE', `/v3/users/${otherId}/application_credentials/${id}`, undefined, { token: otherToken }))
        .status,
      403,
    );
    // The admin can, but only under the owner's path.
    assert.equal((await c.req('GET', `${base()}/${id}`)).status, 200);
    assert.equal((await c.req('GET', `/v3/users/${otherId}/application_credentials/${id}`)).status, 404);
    const missing = await c.req('GET', `${base()}/nope`, undefined, { token: userToken });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.message, 'Could not find Application Credential: nope.');
  });

  it('lets only unrestricted application credentials manage application credentials', async () => {
    const restricted = (await create({ name: 'restricted', secret: 's1' })).body.application_credential;
    const unrestricted = (await create({ name: 'unrestricted', secret: 's2', unrestricted: true })).body
      .application_credential;
    assert.equal(unrestricted.unrestricted, true);
    const rTok = (await appCredAuth({ id: restricted.id, secret: 's1' })).headers.get('x-subject-token')!;
    const uTok = (await appCredAuth({ id: unrestricted.id, secret: 's2' })).headers.get('x-subject-token')!;
    const denied = await create({ name: 'from-restricted' }, rTok);
    assert.equal(denied.status, 403);
    assert.match(denied.body.error.message, /not allowed for managing additional application credentials/);
    assert.equal((await c.req('DELETE', `${base()}/${unrestricted.id}`, undefined, { token: rTok })).status, 403);
    const fromUnrestricted = await create({ name: 'from-unrestricted' }, uTok);
    assert.equal(fromUnrestricted.status, 201);
    // Reading is fine with a restricted one.
    assert.equal((await c.req('GET', base(), undefined, { token: rTok })).status, 200);
  });

  it('deleting an application credential revokes its tokens', async () => {
    const ac = (await create({ name: 'short-lived', secret: 'bye' })).body.application_credential;
    const tok = (await appCredAuth({ id: ac.id, secret: 'bye' })).headers.get('x-subject-token')!;
    assert.equal(
      (await c.req('GET', '/v3/auth/tokens', undefined, { headers: { 'X-Subject-Token': tok } })).status,
      200,
    );
    assert.equal((await c.req('DELETE', `${base()}/${ac.id}`, undefined, { token: userToken })).status, 204);
    assert.equal(
      (await c.req('GET', '/v3/auth/tokens', undefined, { headers: { 'X-Subject-Token': tok } })).status,
      404,
    );
    assert.equal((await appCredAuth({ id: ac.id, secret: 'bye' })).status, 401);
    assert.equal((await c.req('DELETE', `${base()}/${ac.id}`, undefined, { token: userToken })).status, 404);
  });

  it('refuses expired credentials and disabled users', async () => {
    const when = new Date(Date.now() + 1500).toISOString();
    const ac = (await create({ name: 'expiring', secret: 'tick', expires_at: when })).body.application_credential;
    const ok = await appCredAuth({ id: ac.id, secret: 'tick' });
    assert.equal(ok.status, 201);
    // The token does not outlive the credential.
    assert.ok(Date.parse(ok.body.token.expires_at) <= Date.parse(when) + 1);
    await new Promise((r) => setTimeout(r, 1700));
    assert.equal((await appCredAuth({ id: ac.id, secret: 'tick' })).status, 401);

    const d = (
      await c.req('POST', '/v3/users', { user: { name: 'ac-disabled', domain_id: 'default', password: 'pw-pw-pw' } })
    ).body.user.id;
    await c.req('PUT', `/v3/projects/${projectId}/users/${d}/roles/${member}`);
    const dTok = await c.token({ id: d, password: 'pw-pw-pw' }, { project: { id: projectId } });
    const dac = (
      await c.req(
        'POST',
        `/v3/users/${d}/application_credentials`,
        { application_credential: { name: 'd', secret: 'dd' } },
        { token: dTok },
      )
    ).body.application_credential;
    assert.equal((await appCredAuth({ id: dac.id, secret: 'dd' })).status, 201);
    assert.equal((await c.req('PATCH', `/v3/users/${d}`, { user: { enabled: false } })).status, 200);
    assert.equal((await appCredAuth({ id: dac.id, secret: 'dd' })).status, 401);
  });

  it('manages access rules: reused per user, not deletable while in use', async () => {
    const rule = { path: '/v2.1/servers/*/ips', method: 'GET', service: 'compute' };
    const a = await create({ name: 'ar-1', access_rules: [rule] });
    assert.equal(a.status, 201);
    const got = { ...a.body.application_credential.access_rules[0] };
    const ruleId = got.id;
    delete got.id;
    assert.deepEqual(got, rule);
    // An identical rule is the same rule; naming it by id works too.
    const b = await create({ name: 'ar-2', access_rules: [rule] });
    assert.equal(b.body.application_credential.access_rules[0].id, ruleId);
    const byId = await create({ name: 'ar-3', access_rules: [{ id: ruleId }] });
    assert.equal(byId.status, 201);
    assert.deepEqual(byId.body.application_credential.access_rules, [{ id: ruleId, ...rule }]);
    assert.equal((await create({ name: 'ar-bad', access_rules: [{ ...rule, method: 'FETCH' }] })).status, 400);
    assert.equal((await create({ name: 'ar-bad2', access_rules: [{ ...rule, path: 'no-slash' }] })).status, 400);
    assert.equal((await create({ name: 'ar-bad3', access_rules: [{ ...rule, extra: 1 }] })).status, 400);
    // Another user cannot borrow it by id.
    assert.equal(
      (
        await c.req(
          'POST',
          `/v3/users/${otherId}/application_credentials`,
          { application_credential: { name: 'steal', access_rules: [{ id: ruleId }] } },
          { token: otherToken },
        )
      ).status,
      400,
    );

    const rules = `/v3/users/${userId}/access_rules`;
    const list = await c.req('GET', rules, undefined, { token: userToken });
    assert.equal(list.status, 200);
    assert.equal(list.body.access_rules.length, 1);
    assert.equal(
      (await c.req('GET', `${rules}?service=image`, undefined, { token: userToken })).body.access_rules.length,
      0,
    );
    const shown = await c.req('GET', `${rules}/${ruleId}`, undefined, { token: userToken });
    assert.equal(shown.status, 200);
    assert.equal(shown.body.access_rule.path, rule.path);
    assert.equal((await c.req('GET', `${rules}/${ruleId}`, undefined, { token: otherToken })).status, 403);
    assert.equal(
      (await c.req('GET', `/v3/users/${otherId}/access_rules/${ruleId}`, undefined, { token: otherToken })).status,
      404,
    );

    // The token of a credential with access rules carries them.
    const ac = (await create({ name: 'ar-auth', secret: 'ar', access_rules: [rule] })).body.application_credential;
    const tok = await appCredAuth({ id: ac.id, secret: 'ar' });
    assert.deepEqual(tok.body.token.application_credential.access_rules, [{ id: ruleId, ...rule }]);

    const inUse = await c.req('DELETE', `${rules}/${ruleId}`, undefined, { token: userToken });
    assert.equal(inUse.status, 403);
    assert.equal(inUse.body.error.message, 'May not delete access rule in use');
    for (const id of [a, b, byId].map((x) => x.body.application_credential.id).concat(ac.id)) {
      assert.equal((await c.req('DELETE', `${base()}/${id}`, undefined, { token: userToken })).status, 204);
    }
    assert.equal((await c.req('GET', rules, undefined, { token: userToken })).body.access_rules.length, 1);
    assert.equal((await c.req('DELETE', `${rules}/${ruleId}`, undefined, { token: userToken })).status, 204);
    assert.equal((await c.req('GET', rules, undefined, { token: userToken })).body.access_rules.length, 0);
    const gone = await c.req('GET', `${rules}/${ruleId}`, undefined, { token: userToken });
    assert.equal(gone.status, 404);
    assert.equal(gone.body.error.message, `Could not find Access Rule: ${ruleId}.`);
  });
});
