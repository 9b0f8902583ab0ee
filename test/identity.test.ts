// Identity core against the real HTTP API, on SQLite and (when STRATUS_TEST_PG is set, as in CI) PostgreSQL.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ApiProject, CatalogEntry, RoleRef } from './lib/api-types.ts';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { databaseEngines, startCloud, type TestCloud } from './lib/cloud.ts';

const engines = databaseEngines('identity');

for (const engine of engines) {
  describe(`identity (${engine.name})`, () => {
    let c: TestCloud;
    before(async () => {
      c = await startCloud({ database: engine.database });
    });
    after(async () => {
      await c.stop();
    });

    it('serves the version documents without a token', async () => {
      const root = await c.req('GET', '/', undefined, { token: null });
      assert.equal(root.status, 300);
      assert.equal(root.body.versions.values[0].id, 'v3.14');
      const v3 = await c.req('GET', '/v3', undefined, { token: null });
      assert.equal(v3.status, 200);
      assert.match(v3.body.version.links[0].href, /\/identity\/v3\/$/);
      assert.ok(v3.headers.get('x-openstack-request-id')?.startsWith('req-'));
    });

    it('issues, validates and revokes a project-scoped token', async () => {
      const t = await c.token(
        { name: 'admin', password: c.adminPassword },
        { project: { name: 'admin', domain: { name: 'Default' } } },
      );
      const v = await c.req('GET', '/v3/auth/tokens', undefined, { headers: { 'X-Subject-Token': t } });
      assert.equal(v.status, 200);
      assert.deepEqual(v.body.token.methods, ['password']);
      assert.equal(v.body.token.project.name, 'admin');
      assert.deepEqual(v.body.token.roles.map((r: RoleRef) => r.name).sort(), ['admin', 'member', 'reader']);
      assert.ok(v.body.token.catalog.some((s: CatalogEntry) => s.type === 'identity'));
      assert.match(v.body.token.expires_at, /\.000000Z$/);
      const nocat = await c.req('GET', '/v3/auth/tokens?nocatalog', undefined, { headers: { 'X-Subject-Token': t } });
      assert.equal(nocat.body.token.catalog, undefined);
      assert.equal(
        (await c.req('HEAD', '/v3/auth/tokens', undefined, { headers: { 'X-Subject-Token': t } })).status,
        200,
      );
      assert.equal(
        (await c.req('DELETE', '/v3/auth/tokens', undefined, { headers: { 'X-Subject-Token': t } })).status,
        204,
      );
      assert.equal(
        (await c.req('GET', '/v3/auth/tokens', undefined, { headers: { 'X-Subject-Token': t } })).status,
        404,
      );
      assert.equal((await c.req('GET', '/v3/users', undefined, { token: t })).status, 401);
    });

    it('answers 401 with one message for an unknown user and a wrong password', async () => {
      const body = (name: string, password: string) => ({
        auth: {
          identity: { methods: ['password'], password: { user: { name, domain: { id: 'default' }, password } } },
        },
      });
      const a = await c.req('POST', '/v3/auth/tokens', body('nobody', 'x'), { token: null });
      const b = await c.req('POST', '/v3/auth/tokens', body('admin', 'wrong'), { token: null });
      assert.equal(a.status, 401);
      assert.equal(b.status, 401);
      assert.equal(a.body.error.message, b.body.error.message);
      assert.equal(a.body.error.code, 401);
    });

    it('validates bodies with a 400 that names the field, and rejects bad JSON', async () => {
      const r = await c.req('POST', '/v3/projects', { project: { name: 5 } });
      assert.equal(r.status, 400);
      assert.match(r.body.error.message, /name/);
      const res = await fetch(`${c.identity}/v3/projects`, {
        method: 'POST',
        headers: { 'X-Auth-Token': c.adminToken, 'Content-Type': 'application/json' },
        body: '{bad',
      });
      assert.equal(res.status, 400);
      assert.equal((await res.json()).error.title, 'Bad Request');
    });

    it('creates a project hierarchy and lists parents and subtree', async () => {
      const p = await c.req('POST', '/v3/projects', { project: { name: 'top', tags: ['a'] } });
      assert.equal(p.status, 201);
      const k = await c.req('POST', '/v3/projects', { project: { name: 'kid', parent_id: p.body.project.id } });
      assert.equal(k.body.project.parent_id, p.body.project.id);
      const dup = await c.req('POST', '/v3/projects', { project: { name: 'top' } });
      assert.equal(dup.status, 409);
      const sub = await c.req('GET', `/v3/projects/${p.body.project.id}?subtree_as_list`);
      assert.deepEqual(
        sub.body.project.subtree.map((x: { project: ApiProject }) => x.project.name),
        ['kid'],
      );
      const par = await c.req('GET', `/v3/projects/${k.body.project.id}?parents_as_list`);
      assert.deepEqual(
        par.body.project.parents.map((x: { project: ApiProject }) => x.project.name),
        ['top'],
      );
      assert.equal((await c.req('DELETE', `/v3/projects/${p.body.project.id}`)).status, 403);
      const tagged = await c.req('GET', '/v3/projects?tags=a');
      assert.deepEqual(
        tagged.body.projects.map((x: ApiProject) => x.name),
        ['top'],
      );
    });

    it('computes effective roles through groups, inheritance and implied roles', async () => {
      const u = await c.req('POST', '/v3/users', { user: { name: 'alice', password: 'pw-alice' } });
      assert.equal(u.status, 201);
      assert.equal(u.body.user.password, undefined);
      const g = await c.req('POST', '/v3/groups', { group: { name: 'devs' } });
      assert.equal((await c.req('PUT', `/v3/groups/${g.body.group.id}/users/${u.body.user.id}`)).status, 204);
      const roles = (await c.req('GET', '/v3/roles?name=member')).body.roles;
      const member = roles[0].id;
      const proj = await c.req('POST', '/v3/projects', { project: { name: 'inh-parent' } });
      const child = await c.req('POST', '/v3/projects', {
        project: { name: 'inh-child', parent_id: proj.body.project.id },
      });
      const inh = await c.req(
        'PUT',
        `/v3/OS-INHERIT/projects/${proj.body.project.id}/groups/${g.body.group.id}/roles/${member}/inherited_to_projects`,
      );
      assert.equal(inh.status, 204);
      const eff = await c.req('GET', `/v3/role_assignments?effective&include_names&user.id=${u.body.user.id}`);
      const names = eff.body.role_assignments
        .map(
          (a: { role: { name: string }; scope: { project?: { name: string } } }) =>
            `${a.role.name}@${a.scope.project?.name}`,
        )
        .sort();
      assert.deepEqual(names, ['member@inh-child', 'reader@inh-child']);
      const t = await c.token({ name: 'alice', password: 'pw-alice' }, { project: { id: child.body.project.id } });
      const v = await c.req('GET', '/v3/auth/tokens', undefined, { headers: { 'X-Subject-Token': t } });
      assert.deepEqual(v.body.token.roles.map((r: RoleRef) => r.name).sort(), ['member', 'reader']);
      // no role on the parent itself: scoping there is refused
      const body = {
        auth: {
          identity: {
            methods: ['password'],
            password: { user: { name: 'alice', domain: { id: 'default' }, password: 'pw-alice' } },
          },
          scope: { project: { id: proj.body.project.id } },
        },
      };
      assert.equal((await c.req('POST', '/v3/auth/tokens', body, { token: null })).status, 401);
      // a member may not list users
      assert.equal((await c.req('GET', '/v3/users', undefined, { token: t })).status, 403);
      // removing the user from the group invalidates the token
      assert.equal((await c.req('DELETE', `/v3/groups/${g.body.group.id}/users/${u.body.user.id}`)).status, 204);
      assert.equal(
        (await c.req('GET', '/v3/auth/tokens', undefined, { headers: { 'X-Subject-Token': t } })).status,
        404,
      );
    });

    it("drops a user's application credentials when their role on the project is removed", async () => {
      const u = await c.req('POST', '/v3/users', { user: { name: 'carol', password: 'pw-carol' } });
      const p = await c.req('POST', '/v3/projects', { project: { name: 'carol-proj' } });
      const member = (await c.req('GET', '/v3/roles?name=member')).body.roles[0].id;
      assert.equal(
        (await c.req('PUT', `/v3/projects/${p.body.project.id}/users/${u.body.user.id}/roles/${member}`)).status,
        204,
      );
      const t = await c.token({ name: 'carol', password: 'pw-carol' }, { project: { id: p.body.project.id } });
      const ac = await c.req(
        'POST',
        `/v3/users/${u.body.user.id}/application_credentials`,
        { application_credential: { name: 'ci' } },
        { token: t },
      );
      assert.equal(ac.status, 201);
      assert.equal(
        (await c.req('DELETE', `/v3/projects/${p.body.project.id}/users/${u.body.user.id}/roles/${member}`)).status,
        204,
      );
      assert.equal(
        (await c.req('GET', `/v3/users/${u.body.user.id}/application_credentials/${ac.body.application_credential.id}`))
          .status,
        404,
      );
    });

    it('rescopes an unscoped token and keeps the audit chain', async () => {
      const unscoped = await c.token({ name: 'admin', password: c.adminPassword });
      const r = await c.req(
        'POST',
        '/v3/auth/tokens',
        { auth: { identity: { methods: ['token'], token: { id: unscoped } }, scope: { system: { all: true } } } },
        { token: null },
      );
      assert.equal(r.status, 201);
      assert.deepEqual(r.body.token.system, { all: true });
      assert.equal(r.body.token.audit_ids.length, 2);
      assert.ok(r.body.token.methods.includes('token'));
    });
  });
}

describe('identity: a restart keeps users, keys and tokens', () => {
  it('validates a token issued before the restart', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-restart-'));
    let c = await startCloud({ dataDir });
    const u = await c.req('POST', '/v3/users', { user: { name: 'bob', password: 'pw-bob' } });
    assert.equal(u.status, 201);
    const t = c.adminToken;
    await c.stop();
    c = await startCloud({ dataDir });
    const v = await c.req('GET', '/v3/auth/tokens', undefined, { token: t, headers: { 'X-Subject-Token': t } });
    assert.equal(v.status, 200);
    assert.equal((await c.req('GET', `/v3/users/${u.body.user.id}`)).body.user.name, 'bob');
    await c.stop();
    fs.rmSync(dataDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  });
});
