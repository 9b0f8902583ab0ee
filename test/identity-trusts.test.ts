// Trusts (OS-TRUST) against the real HTTP API: CRUD, policy, validation, trust-scoped tokens
// end to end (impersonation, role narrowing, remaining uses, deletion) and redelegation.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { RoleRef, WithId } from './lib/api-types.ts';
import { startCloud, type TestCloud } from './lib/cloud.ts';

describe('identity trusts', () => {
  let c: TestCloud;
  let projectId: string;
  let otherProjectId: string;
  let memberRole: { id: string; name: string };
  let extraRole: { id: string; name: string };
  let notHeldRole: { id: string; name: string };
  const users: Record<string, { id: string; password: string }> = {};
  let trustorToken: string;

  const mkUser = async (name: string) => {
    const r = await c.req('POST', '/v3/users', { user: { name, password: `${name}-pw`, domain_id: 'default' } });
    assert.equal(r.status, 201);
    users[name] = { id: r.body.user.id, password: `${name}-pw` };
    return users[name]!;
  };
  const mkRole = async (name: string) => {
    const r = await c.req('POST', '/v3/roles', { role: { name } });
    assert.equal(r.status, 201);
    return { id: r.body.role.id as string, name };
  };
  const tokenOf = (u: string, scope?: unknown) => c.token({ id: users[u]!.id, password: users[u]!.password }, scope);
  const trustAuth = (u: string, trustId: string) =>
    c.req(
      'POST',
      '/v3/auth/tokens',
      {
        auth: {
          identity: { methods: ['password'], password: { user: { id: users[u]!.id, password: users[u]!.password } } },
          scope: { 'OS-TRUST:trust': { id: trustId } },
        },
      },
      { token: null },
    );
  const trustBody = (over: Record<string, unknown> = {}) => ({
    trust: {
      trustor_user_id: users.trustor!.id,
      trustee_user_id: users.trustee!.id,
      project_id: projectId,
      impersonation: false,
      roles: [{ id: memberRole.id }],
      ...over,
    },
  });
  const createTrust = async (over: Record<string, unknown> = {}, token = trustorToken) => {
    const r = await c.req('POST', '/v3/OS-TRUST/trusts', trustBody(over), { token });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return r.body.trust;
  };

  before(async () => {
    c = await startCloud();
    const p = await c.req('POST', '/v3/projects', { project: { name: 'trust-project', domain_id: 'default' } });
    projectId = p.body.project.id;
    const p2 = await c.req('POST', '/v3/projects', { project: { name: 'other-project', domain_id: 'default' } });
    otherProjectId = p2.body.project.id;
    const roles = await c.req('GET', '/v3/roles?name=member');
    memberRole = { id: roles.body.roles[0].id, name: 'member' };
    extraRole = await mkRole('trust-extra');
    notHeldRole = await mkRole('trust-not-held');
    await mkUser('trustor');
    await mkUser('trustee');
    await mkUser('third');
    await mkUser('doomed');
    for (const [u, r] of [
      ['trustor', memberRole],
      ['trustor', extraRole],
      ['doomed', memberRole],
    ] as const) {
      const g = await c.req('PUT', `/v3/projects/${projectId}/users/${users[u]!.id}/roles/${r.id}`);
      assert.equal(g.status, 204);
    }
    trustorToken = await tokenOf('trustor', { project: { id: projectId } });
  });
  after(async () => {
    await c.stop();
  });

  it("creates a trust with Keystone's response shape", async () => {
    const expires = new Date(Date.now() + 3600_000);
    expires.setUTCMilliseconds(0);
    const iso = expires.toISOString().replace('.000Z', 'Z');
    const r = await c.req(
      'POST',
      '/v3/OS-TRUST/trusts',
      trustBody({ roles: [{ name: 'member' }], expires_at: iso, remaining_uses: 3 }),
      { token: trustorToken },
    );
    assert.equal(r.status, 201);
    const t = r.body.trust;
    assert.match(t.id, /^[0-9a-f]{32}$/);
    assert.equal(t.trustor_user_id, users.trustor!.id);
    assert.equal(t.trustee_user_id, users.trustee!.id);
    assert.equal(t.project_id, projectId);
    assert.equal(t.impersonation, false);
    assert.equal(t.expires_at, iso.replace('Z', '.000000Z'));
    assert.equal(t.remaining_uses, 3);
    assert.equal(t.redelegation_count, 0);
    assert.equal(t.redelegated_trust_id, null);
    assert.equal(t.deleted_at, null);
    assert.ok(!('allow_redelegation' in t));
    assert.equal(t.roles.length, 1);
    assert.equal(t.roles[0].id, memberRole.id);
    assert.equal(t.roles[0].name, 'member');
    assert.match(t.roles[0].links.self, new RegExp(`/v3/roles/${memberRole.id}$`));
    assert.match(t.roles_links.self, new RegExp(`/v3/OS-TRUST/trusts/${t.id}/roles$`));
    assert.match(t.links.self, new RegExp(`/v3/OS-TRUST/trusts/${t.id}$`));
    // A trust without a project (an unscoped trust) needs no roles.
    const u = await c.req(
      'POST',
      '/v3/OS-TRUST/trusts',
      { trust: { trustor_user_id: users.trustor!.id, trustee_user_id: users.trustee!.id, impersonation: true } },
      { token: trustorToken },
    );
    assert.equal(u.status, 201);
    assert.equal(u.body.trust.project_id, null);
    assert.deepEqual(u.body.trust.roles, []);
  });

  it("rejects bad trusts with Keystone's statuses", async () => {
    const post = (body: unknown, token = trustorToken) => c.req('POST', '/v3/OS-TRUST/trusts', body, { token });
    // Policy comes first: an empty trust does not name the caller as trustor.
    assert.equal((await post({ trust: {} })).status, 403);
    assert.equal((await post(trustBody({ trustor_user_id: users.third!.id }))).status, 403);
    const noImp = trustBody();
    delete (noImp.trust as { impersonation?: boolean }).impersonation;
    const r1 = await post(noImp);
    assert.equal(r1.status, 400);
    assert.match(r1.body.error.message, /impersonation/);
    assert.equal((await post(trustBody({ impersonation: 'yes' }))).status, 400);
    assert.equal((await post(trustBody({ remaining_uses: 0 }))).status, 400);
    assert.equal((await post(trustBody({ remaining_uses: 'x' }))).status, 400);
    assert.equal((await post(trustBody({ roles: [{ id: memberRole.id, fake_key: 'v' }] }))).status, 400);
    assert.equal((await post(trustBody({ roles: [{ fake_key: 'v' }] }))).status, 400);
    assert.equal((await post(trustBody({ redelegation_count: -1 }))).status, 400);
    for (const bad of ['bad', '', 'Z', 'bad.123Z', '2030-13-01T00:00:00Z']) {
      const r = await post(trustBody({ expires_at: bad }));
      assert.equal(r.status, 400, bad);
    }
    const past = await post(trustBody({ expires_at: '2001-01-01T00:00:00Z' }));
    assert.equal(past.status, 400);
    assert.match(past.body.error.message, /must not be before now/);
    const trustee = await post(trustBody({ trustee_user_id: 'nosuchuser' }));
    assert.equal(trustee.status, 404);
    assert.equal(trustee.body.error.message, 'Could not find user: nosuchuser.');
    assert.equal((await post(trustBody({ project_id: 'nosuchproject' }))).status, 404);
    const noRoles = await post(trustBody({ roles: [] }));
    assert.equal(noRoles.status, 403);
    assert.match(noRoles.body.error.message, /At least one role should be specified/);
    const notHeld = await post(trustBody({ roles: [{ id: notHeldRole.id }] }));
    assert.equal(notHeld.status, 404);
    assert.equal(notHeld.body.error.message, `Could not find role: ${notHeldRole.id}.`);
    assert.equal((await post(trustBody({ roles: [{ name: 'no-such-role' }] }))).status, 404);
    assert.equal((await post(trustBody({ project_id: otherProjectId }))).status, 404);
    // Redelegation depth beyond the configured maximum.
    const deep = await post(trustBody({ allow_redelegation: true, redelegation_count: 99 }));
    assert.equal(deep.status, 403);
    assert.equal((await post(trustBody({ allow_redelegation: true, remaining_uses: 2 }))).status, 400);
  });

  it("shows, lists and checks roles with Keystone's policy", async () => {
    const t = await createTrust({ roles: [{ id: memberRole.id }] });
    const trusteeToken = await tokenOf('trustee');
    const thirdToken = await tokenOf('third');
    for (const token of [trustorToken, trusteeToken, c.adminToken]) {
      const g = await c.req('GET', `/v3/OS-TRUST/trusts/${t.id}`, undefined, { token });
      assert.equal(g.status, 200);
      assert.equal(g.body.trust.id, t.id);
      assert.equal(g.body.trust.roles[0].name, 'member');
    }
    assert.equal((await c.req('GET', `/v3/OS-TRUST/trusts/${t.id}`, undefined, { token: thirdToken })).status, 403);
    const missing = await c.req('GET', '/v3/OS-TRUST/trusts/nosuchtrust', undefined, { token: thirdToken });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.message, 'Could not find trust: nosuchtrust.');

    // Lists: admin everything; others only their own, with the matching filter.
    const all = await c.req('GET', '/v3/OS-TRUST/trusts');
    assert.equal(all.status, 200);
    assert.ok(all.body.trusts.some((x: WithId) => x.id === t.id));
    const summary = all.body.trusts.find((x: WithId) => x.id === t.id);
    assert.ok(!('roles' in summary));
    assert.match(summary.links.self, /\/v3\/OS-TRUST\/trusts\//);
    assert.equal((await c.req('GET', '/v3/OS-TRUST/trusts', undefined, { token: trustorToken })).status, 403);
    const mine = await c.req('GET', `/v3/OS-TRUST/trusts?trustor_user_id=${users.trustor!.id}`, undefined, {
      token: trustorToken,
    });
    assert.equal(mine.status, 200);
    assert.ok(mine.body.trusts.length >= 1);
    assert.ok(mine.body.trusts.every((x: { trustor_user_id: string }) => x.trustor_user_id === users.trustor!.id));
    const asTrustee = await c.req('GET', `/v3/OS-TRUST/trusts?trustee_user_id=${users.trustee!.id}`, undefined, {
      token: trusteeToken,
    });
    assert.equal(asTrustee.status, 200);
    assert.ok(asTrustee.body.trusts.some((x: WithId) => x.id === t.id));
    assert.equal(
      (await c.req('GET', `/v3/OS-TRUST/trusts?trustor_user_id=${users.trustor!.id}`, undefined, { token: thirdToken }))
        .status,
      403,
    );
    assert.equal(
      (
        await c.req('GET', `/v3/OS-TRUST/trusts?trustee_user_id=${users.trustee!.id}`, undefined, {
          token: trustorToken,
        })
      ).status,
      403,
    );
    assert.equal(
      (
        await c.req('HEAD', `/v3/OS-TRUST/trusts?trustor_user_id=${users.trustor!.id}`, undefined, {
          token: trustorToken,
        })
      ).status,
      200,
    );

    // Roles of the trust.
    const roles = await c.req('GET', `/v3/OS-TRUST/trusts/${t.id}/roles`, undefined, { token: trusteeToken });
    assert.equal(roles.status, 200);
    assert.deepEqual(
      roles.body.roles.map((r: RoleRef) => r.id),
      [memberRole.id],
    );
    assert.match(roles.body.links.self, new RegExp(`/trusts/${t.id}/roles$`));
    const one = await c.req('GET', `/v3/OS-TRUST/trusts/${t.id}/roles/${memberRole.id}`, undefined, {
      token: trustorToken,
    });
    assert.equal(one.status, 200);
    assert.equal(one.body.role.name, 'member');
    assert.equal(
      (await c.req('HEAD', `/v3/OS-TRUST/trusts/${t.id}/roles/${memberRole.id}`, undefined, { token: trustorToken }))
        .status,
      200,
    );
    const notDelegated = await c.req('GET', `/v3/OS-TRUST/trusts/${t.id}/roles/${extraRole.id}`, undefined, {
      token: trustorToken,
    });
    assert.equal(notDelegated.status, 404);
    assert.equal(
      (await c.req('HEAD', `/v3/OS-TRUST/trusts/${t.id}/roles/${extraRole.id}`, undefined, { token: trustorToken }))
        .status,
      404,
    );
    assert.equal(
      (await c.req('GET', `/v3/OS-TRUST/trusts/${t.id}/roles`, undefined, { token: thirdToken })).status,
      403,
    );

    // Only the trustor (or an admin) deletes.
    assert.equal(
      (await c.req('DELETE', `/v3/OS-TRUST/trusts/${t.id}`, undefined, { token: trusteeToken })).status,
      403,
    );
    assert.equal(
      (await c.req('DELETE', `/v3/OS-TRUST/trusts/${t.id}`, undefined, { token: trustorToken })).status,
      204,
    );
    assert.equal((await c.req('GET', `/v3/OS-TRUST/trusts/${t.id}`, undefined, { token: trustorToken })).status, 404);
    assert.equal(
      (await c.req('DELETE', `/v3/OS-TRUST/trusts/${t.id}`, undefined, { token: trustorToken })).status,
      404,
    );
    const after = await c.req('GET', `/v3/OS-TRUST/trusts?trustor_user_id=${users.trustor!.id}`, undefined, {
      token: trustorToken,
    });
    assert.ok(!after.body.trusts.some((x: WithId) => x.id === t.id));
  });

  it("issues trust-scoped tokens limited to the trust's roles", async () => {
    const t = await createTrust({ impersonation: false });
    const r = await trustAuth('trustee', t.id);
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const tok = r.body.token;
    assert.equal(tok.user.id, users.trustee!.id);
    assert.equal(tok.project.id, projectId);
    // The delegated role and what it implies (member implies reader), nothing else the trustor holds.
    assert.deepEqual(tok.roles.map((x: RoleRef) => x.name).sort(), ['member', 'reader']);
    assert.ok(!tok.roles.some((x: RoleRef) => x.id === extraRole.id));
    assert.deepEqual(tok['OS-TRUST:trust'], {
      id: t.id,
      trustor_user: { id: users.trustor!.id },
      trustee_user: { id: users.trustee!.id },
      impersonation: false,
    });
    // The token validates, and is usable against the API.
    const subject = r.headers.get('x-subject-token')!;
    const v = await c.req('GET', '/v3/auth/tokens', undefined, { headers: { 'X-Subject-Token': subject } });
    assert.equal(v.status, 200);
    assert.equal(v.body.token['OS-TRUST:trust'].id, t.id);
    // Only the trustee may use the trust.
    assert.equal((await trustAuth('third', t.id)).status, 403);
    assert.equal((await trustAuth('trustee', 'nosuchtrust')).status, 401); // upstream: an unknown trust in the scope is a 401
  });

  it('puts the trustor in the token when the trust impersonates', async () => {
    const t = await createTrust({ impersonation: true });
    const r = await trustAuth('trustee', t.id);
    assert.equal(r.status, 201);
    assert.equal(r.body.token.user.id, users.trustor!.id);
    assert.equal(r.body.token['OS-TRUST:trust'].impersonation, true);
    assert.deepEqual(r.body.token.roles.map((x: RoleRef) => x.name).sort(), ['member', 'reader']);
  });

  it('counts down remaining_uses and refuses when none is left', async () => {
    const t = await createTrust({ remaining_uses: 2 });
    assert.equal((await trustAuth('trustee', t.id)).status, 201);
    const g = await c.req('GET', `/v3/OS-TRUST/trusts/${t.id}`, undefined, { token: trustorToken });
    assert.equal(g.body.trust.remaining_uses, 1);
    const last = await trustAuth('trustee', t.id);
    assert.equal(last.status, 201);
    const spent = await trustAuth('trustee', t.id);
    assert.equal(spent.status, 401);
    // A used-up trust is gone for the API, as upstream.
    assert.equal((await c.req('GET', `/v3/OS-TRUST/trusts/${t.id}`, undefined, { token: trustorToken })).status, 404);
  });

  it("invalidates the trust's tokens when it is deleted", async () => {
    const t = await createTrust();
    const r = await trustAuth('trustee', t.id);
    const subject = r.headers.get('x-subject-token')!;
    assert.equal(
      (await c.req('GET', '/v3/auth/tokens', undefined, { headers: { 'X-Subject-Token': subject } })).status,
      200,
    );
    assert.equal((await c.req('GET', `/v3/OS-TRUST/trusts/${t.id}`, undefined, { token: subject })).status, 200);
    assert.equal((await c.req('DELETE', `/v3/OS-TRUST/trusts/${t.id}`)).status, 204);
    assert.equal(
      (await c.req('GET', '/v3/auth/tokens', undefined, { headers: { 'X-Subject-Token': subject } })).status,
      404,
    );
    assert.equal((await c.req('GET', '/v3/auth/projects', undefined, { token: subject })).status, 401);
    const again = await trustAuth('trustee', t.id);
    assert.ok([401, 404].includes(again.status), String(again.status));
    // The deletion is a revocation event too.
    const ev = await c.req('GET', '/v3/OS-REVOKE/events');
    if (ev.status === 200) assert.ok(ev.body.events.some((e: { trust_id: string }) => e.trust_id === t.id));
  });

  it('drops the trust from tokens when the trustor loses the role', async () => {
    const t = await createTrust({ roles: [{ id: extraRole.id }] });
    const subject = (await trustAuth('trustee', t.id)).headers.get('x-subject-token')!;
    assert.equal(
      (await c.req('GET', '/v3/auth/tokens', undefined, { headers: { 'X-Subject-Token': subject } })).status,
      200,
    );
    assert.equal(
      (await c.req('DELETE', `/v3/projects/${projectId}/users/${users.trustor!.id}/roles/${extraRole.id}`)).status,
      204,
    );
    assert.equal(
      (await c.req('GET', '/v3/auth/tokens', undefined, { headers: { 'X-Subject-Token': subject } })).status,
      404,
    );
    assert.equal(
      (await c.req('PUT', `/v3/projects/${projectId}/users/${users.trustor!.id}/roles/${extraRole.id}`)).status,
      204,
    );
    // The revocation event covers tokens issued within its second.
    await new Promise((res) => setTimeout(res, 1100));
    trustorToken = await tokenOf('trustor', { project: { id: projectId } });
  });

  it('redelegates from a trust-scoped token, only narrowing', async () => {
    const expires = new Date(Date.now() + 2 * 3600_000).toISOString();
    const parent = await createTrust({
      impersonation: true,
      allow_redelegation: true,
      expires_at: expires,
      roles: [{ id: memberRole.id }, { id: extraRole.id }],
    });
    assert.equal(parent.redelegation_count, 3);
    const trustToken = (await trustAuth('trustee', parent.id)).headers.get('x-subject-token')!;
    // With impersonation the token's user is the trustor, who stays the trustor of the new trust.
    const child = {
      trustor_user_id: users.trustor!.id,
      trustee_user_id: users.third!.id,
      project_id: projectId,
      impersonation: true,
      allow_redelegation: true,
      roles: [{ id: memberRole.id }],
    };
    const post = (over: Record<string, unknown>) =>
      c.req('POST', '/v3/OS-TRUST/trusts', { trust: { ...child, ...over } }, { token: trustToken });
    assert.equal((await post({ roles: [{ id: notHeldRole.id }] })).status, 404);
    const tooLong = await post({ expires_at: new Date(Date.now() + 5 * 3600_000).toISOString() });
    assert.equal(tooLong.status, 403);
    assert.match(tooLong.body.error.message, /more than redelegated trust can provide/);
    assert.equal((await post({ redelegation_count: 1 })).status, 403);
    assert.equal((await post({ allow_redelegation: false, remaining_uses: 1 })).status, 403);
    const ok = await post({});
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
    const b = ok.body.trust;
    assert.equal(b.redelegated_trust_id, parent.id);
    assert.equal(b.redelegation_count, 2);
    // The child inherits the parent's expiry.
    assert.equal(b.expires_at, parent.expires_at);
    // The third user can use the redelegated trust.
    const third = await trustAuth('third', b.id);
    assert.equal(third.status, 201);
    assert.deepEqual(third.body.token.roles.map((x: RoleRef) => x.name).sort(), ['member', 'reader']);
    const thirdToken = third.headers.get('x-subject-token')!;
    // A terminator: no further redelegation from it.
    const term = await c.req(
      'POST',
      '/v3/OS-TRUST/trusts',
      { trust: { ...child, trustee_user_id: users.trustee!.id, allow_redelegation: false } },
      { token: thirdToken },
    );
    assert.equal(term.status, 201, JSON.stringify(term.body));
    assert.equal(term.body.trust.redelegation_count, 0);
    const termToken = (await trustAuth('trustee', term.body.trust.id)).headers.get('x-subject-token')!;
    const beyond = await c.req(
      'POST',
      '/v3/OS-TRUST/trusts',
      { trust: { ...child, allow_redelegation: false } },
      { token: termToken },
    );
    assert.equal(beyond.status, 403);
    // Without impersonation in the parent, the child may not impersonate.
    const plain = await createTrust({ impersonation: false, allow_redelegation: true });
    const plainToken = (await trustAuth('trustee', plain.id)).headers.get('x-subject-token')!;
    const imp = await c.req(
      'POST',
      '/v3/OS-TRUST/trusts',
      { trust: { ...child, trustor_user_id: users.trustee!.id } },
      { token: plainToken },
    );
    // The trustee holds no role on the project itself: Keystone answers 404 for the role.
    assert.equal(imp.status, 404);
    // Deleting the parent takes the chain down, tokens included.
    assert.equal(
      (await c.req('DELETE', `/v3/OS-TRUST/trusts/${parent.id}`, undefined, { token: trustorToken })).status,
      204,
    );
    assert.equal((await c.req('GET', `/v3/OS-TRUST/trusts/${b.id}`)).status, 404);
    assert.equal(
      (await c.req('GET', '/v3/auth/tokens', undefined, { headers: { 'X-Subject-Token': thirdToken } })).status,
      404,
    );
  });

  it('refuses to rescope a trust-scoped token', async () => {
    const t = await createTrust();
    const subject = (await trustAuth('trustee', t.id)).headers.get('x-subject-token')!;
    const r = await c.req(
      'POST',
      '/v3/auth/tokens',
      { auth: { identity: { methods: ['token'], token: { id: subject } }, scope: { project: { id: projectId } } } },
      { token: null },
    );
    assert.equal(r.status, 403);
  });

  it('deletes the trusts of a deleted user', async () => {
    const doomedToken = await tokenOf('doomed', { project: { id: projectId } });
    const r = await c.req(
      'POST',
      '/v3/OS-TRUST/trusts',
      {
        trust: {
          trustor_user_id: users.doomed!.id,
          trustee_user_id: users.trustee!.id,
          project_id: projectId,
          impersonation: false,
          roles: [{ id: memberRole.id }],
        },
      },
      { token: doomedToken },
    );
    assert.equal(r.status, 201);
    assert.equal((await c.req('DELETE', `/v3/users/${users.doomed!.id}`)).status, 204);
    let status = 0;
    for (let i = 0; i < 50 && status !== 404; i++) {
      await new Promise((res) => setTimeout(res, 20));
      status = (await c.req('GET', `/v3/OS-TRUST/trusts/${r.body.trust.id}`)).status;
    }
    assert.equal(status, 404);
  });
});
