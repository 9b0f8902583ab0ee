// Unified limits against the real HTTP API: registered limits, project and domain limits,
// validation, conflicts, scope-dependent listing and policy.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { WithId } from './lib/api-types.ts';
import { startCloud, type TestCloud } from './lib/cloud.ts';

describe('identity unified limits', () => {
  let c: TestCloud;
  let serviceId: string;
  let adminProjectId: string;
  let projectId: string;
  let memberToken: string;
  let systemToken: string;

  before(async () => {
    c = await startCloud();
    const svc = await c.req('GET', '/v3/services?type=identity');
    serviceId = svc.body.services[0].id;
    const ap = await c.req('GET', '/v3/projects?name=admin');
    adminProjectId = ap.body.projects[0].id;
    const p = await c.req('POST', '/v3/projects', { project: { name: 'limited', domain_id: 'default' } });
    projectId = p.body.project.id;
    const u = await c.req('POST', '/v3/users', {
      user: { name: 'limit-member', password: 'pw-limit', domain_id: 'default' },
    });
    const member = (await c.req('GET', '/v3/roles?name=member')).body.roles[0].id;
    assert.equal((await c.req('PUT', `/v3/projects/${projectId}/users/${u.body.user.id}/roles/${member}`)).status, 204);
    memberToken = await c.token({ id: u.body.user.id, password: 'pw-limit' }, { project: { id: projectId } });
    systemToken = await c.token({ name: 'admin', password: c.adminPassword }, { system: { all: true } });
  });
  after(async () => {
    await c.stop();
  });

  const reg = (over: Record<string, unknown> = {}) => ({
    service_id: serviceId,
    region_id: 'RegionOne',
    resource_name: 'widgets',
    default_limit: 10,
    ...over,
  });

  it('creates, lists, shows, updates and deletes registered limits', async () => {
    const r = await c.req('POST', '/v3/registered_limits', {
      registered_limits: [
        reg(),
        reg({ resource_name: 'gadgets', default_limit: 5, description: 'gadgets', region_id: undefined }),
      ],
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.ok(!('links' in r.body));
    assert.equal(r.body.registered_limits.length, 2);
    const [w, g] = r.body.registered_limits;
    assert.deepEqual(
      { ...w, id: undefined, links: undefined },
      {
        id: undefined,
        links: undefined,
        service_id: serviceId,
        region_id: 'RegionOne',
        resource_name: 'widgets',
        default_limit: 10,
        description: null,
      },
    );
    assert.match(w.links.self, new RegExp(`/v3/registered_limits/${w.id}$`));
    assert.equal(g.region_id, null);
    assert.equal(g.description, 'gadgets');

    const list = await c.req('GET', '/v3/registered_limits');
    assert.equal(list.status, 200);
    assert.equal(list.body.registered_limits.length, 2);
    assert.match(list.body.links.self, /\/v3\/registered_limits$/);
    const filtered = await c.req('GET', '/v3/registered_limits?resource_name=widgets');
    assert.deepEqual(
      filtered.body.registered_limits.map((x: WithId) => x.id),
      [w.id],
    );
    assert.equal((await c.req('GET', '/v3/registered_limits?region_id=RegionOne')).body.registered_limits.length, 1);
    assert.equal(
      (await c.req('GET', `/v3/registered_limits?service_id=${serviceId}`)).body.registered_limits.length,
      2,
    );
    assert.equal((await c.req('GET', '/v3/registered_limits?service_id=nope')).body.registered_limits.length, 0);

    const one = await c.req('GET', `/v3/registered_limits/${w.id}`, undefined, { token: memberToken });
    assert.equal(one.status, 200);
    assert.equal(one.body.registered_limit.default_limit, 10);
    const missing = await c.req('GET', '/v3/registered_limits/nope');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.message, 'Could not find registered limit for nope.');

    const up = await c.req('PATCH', `/v3/registered_limits/${g.id}`, {
      registered_limit: { default_limit: 7, description: null },
    });
    assert.equal(up.status, 200);
    assert.equal(up.body.registered_limit.default_limit, 7);
    assert.equal(up.body.registered_limit.description, null);
    // Moving gadgets onto widgets' (service, region, resource) is a duplicate.
    assert.equal(
      (
        await c.req('PATCH', `/v3/registered_limits/${g.id}`, {
          registered_limit: { resource_name: 'widgets', region_id: 'RegionOne' },
        })
      ).status,
      409,
    );
    // Re-stating its own values is not.
    assert.equal(
      (await c.req('PATCH', `/v3/registered_limits/${w.id}`, { registered_limit: { region_id: 'RegionOne' } })).status,
      200,
    );
    assert.equal(
      (await c.req('PATCH', `/v3/registered_limits/${g.id}`, { registered_limit: { region_id: 'Nowhere' } })).status,
      400,
    );
    assert.equal(
      (await c.req('PATCH', `/v3/registered_limits/${g.id}`, { registered_limit: { id: 'x' } })).status,
      400,
    );

    assert.equal((await c.req('DELETE', `/v3/registered_limits/${g.id}`)).status, 204);
    assert.equal((await c.req('GET', `/v3/registered_limits/${g.id}`)).status, 404);
    assert.equal((await c.req('DELETE', `/v3/registered_limits/${g.id}`)).status, 404);
  });

  it('validates registered limits as Keystone does', async () => {
    const post = (body: unknown, token?: string) =>
      c.req('POST', '/v3/registered_limits', body, token ? { token } : {});
    const badSvc = await post({ registered_limits: [reg({ service_id: 'nosuchservice', resource_name: 'x' })] });
    assert.equal(badSvc.status, 400);
    assert.match(badSvc.body.error.message, /^Expecting to find service_id in registered_limit/);
    const badRegion = await post({ registered_limits: [reg({ region_id: 'Nowhere', resource_name: 'x' })] });
    assert.equal(badRegion.status, 400);
    assert.match(badRegion.body.error.message, /region_id/);
    assert.equal((await post({ registered_limits: [] })).status, 400);
    assert.equal((await post({ registered_limit: reg() })).status, 400);
    assert.equal((await post({ registered_limits: [reg({ default_limit: -2, resource_name: 'x' })] })).status, 400);
    assert.equal((await post({ registered_limits: [reg({ default_limit: '5', resource_name: 'x' })] })).status, 400);
    assert.equal((await post({ registered_limits: [reg({ bogus: 1, resource_name: 'x' })] })).status, 400);
    assert.equal((await post({ registered_limits: [{ service_id: serviceId, resource_name: 'x' }] })).status, 400);
    const dup = await post({ registered_limits: [reg()] });
    assert.equal(dup.status, 409);
    assert.equal(dup.body.error.message, 'Conflict occurred attempting to store registered_limit - Duplicate entry.');
    assert.equal(
      (await post({ registered_limits: [reg({ resource_name: 'twice' }), reg({ resource_name: 'twice' })] })).status,
      409,
    );
    // Nothing of a failed batch is kept.
    assert.equal((await c.req('GET', '/v3/registered_limits?resource_name=twice')).body.registered_limits.length, 0);
    // Only an admin creates; anyone may read.
    assert.equal((await post({ registered_limits: [reg({ resource_name: 'member-made' })] }, memberToken)).status, 403);
    assert.equal((await c.req('GET', '/v3/registered_limits', undefined, { token: memberToken })).status, 200);
    // -1 means unlimited.
    const unl = await post({ registered_limits: [reg({ resource_name: 'unlimited', default_limit: -1 })] });
    assert.equal(unl.status, 201);
  });

  it('creates project and domain limits against registered limits', async () => {
    const r = await c.req('POST', '/v3/limits', {
      limits: [
        {
          project_id: projectId,
          service_id: serviceId,
          region_id: 'RegionOne',
          resource_name: 'widgets',
          resource_limit: 5,
          description: 'five',
        },
        {
          domain_id: 'default',
          service_id: serviceId,
          region_id: 'RegionOne',
          resource_name: 'widgets',
          resource_limit: 50,
        },
      ],
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.ok(!('links' in r.body));
    const [pl, dl] = r.body.limits;
    assert.deepEqual(
      { ...pl, id: undefined, links: undefined },
      {
        id: undefined,
        links: undefined,
        project_id: projectId,
        domain_id: null,
        service_id: serviceId,
        region_id: 'RegionOne',
        resource_name: 'widgets',
        resource_limit: 5,
        description: 'five',
      },
    );
    assert.match(pl.links.self, new RegExp(`/v3/limits/${pl.id}$`));
    assert.equal(dl.domain_id, 'default');
    assert.equal(dl.project_id, null);

    const post = (l: Record<string, unknown>, token?: string) =>
      c.req(
        'POST',
        '/v3/limits',
        {
          limits: [
            { service_id: serviceId, region_id: 'RegionOne', resource_name: 'widgets', resource_limit: 1, ...l },
          ],
        },
        token ? { token } : {},
      );
    const dup = await post({ project_id: projectId });
    assert.equal(dup.status, 409);
    assert.equal(dup.body.error.message, 'Conflict occurred attempting to store limit - Duplicate entry.');
    // A limit needs its registered limit (same service, region and resource).
    const noRef = await post({ project_id: projectId, resource_name: 'sprockets' });
    assert.equal(noRef.status, 403);
    assert.equal(noRef.body.error.message, 'Unable to create a limit that has no corresponding registered limit.');
    assert.equal((await post({ project_id: projectId, region_id: undefined })).status, 403);
    assert.equal((await post({ project_id: 'nosuchproject' })).status, 400);
    assert.equal((await post({ domain_id: 'nosuchdomain' })).status, 400);
    assert.equal((await post({ project_id: projectId, service_id: 'nosuchservice' })).status, 400);
    assert.equal((await post({ project_id: projectId, region_id: 'Nowhere' })).status, 400);
    assert.equal((await post({ project_id: projectId, domain_id: 'default' })).status, 400);
    assert.equal((await post({})).status, 400);
    assert.equal((await post({ project_id: projectId, resource_limit: 1.5 })).status, 400);
    assert.equal((await post({ project_id: projectId, region_id: null })).status, 400);
    assert.equal((await post({ project_id: adminProjectId }, memberToken)).status, 403);
    // A project acting as a domain makes a domain limit (and here, a duplicate of the one above).
    assert.equal((await post({ project_id: 'default' })).status, 409);
    const adminLimit = await post({ project_id: adminProjectId, resource_limit: 3 });
    assert.equal(adminLimit.status, 201);
  });

  it("lists limits by the caller's scope and filters", async () => {
    // System scope: everything.
    const sys = await c.req('GET', '/v3/limits', undefined, { token: systemToken });
    assert.equal(sys.status, 200);
    assert.equal(sys.body.limits.length, 3);
    assert.equal(
      (await c.req('GET', `/v3/limits?project_id=${projectId}`, undefined, { token: systemToken })).body.limits.length,
      1,
    );
    assert.equal(
      (await c.req('GET', '/v3/limits?domain_id=default', undefined, { token: systemToken })).body.limits.length,
      1,
    );
    assert.equal(
      (await c.req('GET', '/v3/limits?resource_name=widgets&region_id=RegionOne', undefined, { token: systemToken }))
        .body.limits.length,
      3,
    );
    assert.equal(
      (await c.req('GET', '/v3/limits?resource_name=nothing', undefined, { token: systemToken })).body.limits.length,
      0,
    );
    // Project scope: that project's limits only.
    const mine = await c.req('GET', '/v3/limits', undefined, { token: memberToken });
    assert.equal(mine.status, 200);
    assert.deepEqual(
      mine.body.limits.map((l: { project_id: string }) => l.project_id),
      [projectId],
    );
    assert.equal(
      (await c.req('GET', `/v3/limits?project_id=${adminProjectId}`, undefined, { token: memberToken })).body.limits
        .length,
      0,
    );
    const adminView = await c.req('GET', '/v3/limits');
    assert.deepEqual(
      adminView.body.limits.map((l: { project_id: string }) => l.project_id),
      [adminProjectId],
    );
    // Domain scope: the domain's limit and its projects' limits.
    const adminId = (await c.req('GET', '/v3/users?name=admin')).body.users[0].id;
    const readerId = (await c.req('GET', '/v3/roles?name=reader')).body.roles[0].id;
    assert.equal((await c.req('PUT', `/v3/domains/default/users/${adminId}/roles/${readerId}`)).status, 204);
    const domainToken = await c.token({ name: 'admin', password: c.adminPassword }, { domain: { id: 'default' } });
    const dom = await c.req('GET', '/v3/limits', undefined, { token: domainToken });
    assert.equal(dom.status, 200);
    assert.equal(dom.body.limits.length, 3);
    // A domain without limits or projects with limits sees none.
    const d2 = await c.req('POST', '/v3/domains', { domain: { name: 'empty-domain' } });
    assert.equal(
      (await c.req('PUT', `/v3/domains/${d2.body.domain.id}/users/${adminId}/roles/${readerId}`)).status,
      204,
    );
    const d2Token = await c.token({ name: 'admin', password: c.adminPassword }, { domain: { id: d2.body.domain.id } });
    assert.deepEqual((await c.req('GET', '/v3/limits', undefined, { token: d2Token })).body.limits, []);
  });

  it("shows, updates and deletes limits with Keystone's policy", async () => {
    const all = (await c.req('GET', '/v3/limits', undefined, { token: systemToken })).body.limits;
    const own = all.find((l: { project_id: string }) => l.project_id === projectId);
    const other = all.find((l: { project_id: string }) => l.project_id === adminProjectId);
    const g = await c.req('GET', `/v3/limits/${own.id}`, undefined, { token: memberToken });
    assert.equal(g.status, 200);
    assert.equal(g.body.limit.resource_limit, 5);
    assert.equal((await c.req('GET', `/v3/limits/${other.id}`, undefined, { token: memberToken })).status, 403);
    assert.equal((await c.req('GET', `/v3/limits/${other.id}`)).status, 200);
    const missing = await c.req('GET', '/v3/limits/nope');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.message, 'Could not find limit for nope.');

    const up = await c.req('PATCH', `/v3/limits/${own.id}`, { limit: { resource_limit: 0, description: 'zero' } });
    assert.equal(up.status, 200);
    assert.equal(up.body.limit.resource_limit, 0);
    assert.equal(up.body.limit.description, 'zero');
    assert.equal((await c.req('PATCH', `/v3/limits/${own.id}`, { limit: { resource_name: 'x' } })).status, 400);
    assert.equal(
      (await c.req('PATCH', `/v3/limits/${own.id}`, { limit: { resource_limit: 1 } }, { token: memberToken })).status,
      403,
    );
    assert.equal((await c.req('PATCH', '/v3/limits/nope', { limit: { resource_limit: 1 } })).status, 404);

    // A registered limit in use can be neither changed nor deleted.
    const rl = (await c.req('GET', '/v3/registered_limits?resource_name=widgets')).body.registered_limits[0];
    const inUse = await c.req('DELETE', `/v3/registered_limits/${rl.id}`);
    assert.equal(inUse.status, 403);
    assert.match(inUse.body.error.message, /because there are project limits associated with it/);
    assert.equal(
      (await c.req('PATCH', `/v3/registered_limits/${rl.id}`, { registered_limit: { default_limit: 11 } })).status,
      403,
    );

    assert.equal((await c.req('DELETE', `/v3/limits/${own.id}`, undefined, { token: memberToken })).status, 403);
    for (const l of all) assert.equal((await c.req('DELETE', `/v3/limits/${l.id}`)).status, 204);
    assert.equal((await c.req('DELETE', `/v3/limits/${own.id}`)).status, 404);
    assert.equal(
      (await c.req('PATCH', `/v3/registered_limits/${rl.id}`, { registered_limit: { default_limit: 11 } })).status,
      200,
    );
  });

  it("deletes a project's limits with the project", async () => {
    const p = await c.req('POST', '/v3/projects', { project: { name: 'short-lived', domain_id: 'default' } });
    const id = p.body.project.id;
    const r = await c.req('POST', '/v3/limits', {
      limits: [
        { project_id: id, service_id: serviceId, region_id: 'RegionOne', resource_name: 'widgets', resource_limit: 2 },
      ],
    });
    assert.equal(r.status, 201);
    assert.equal((await c.req('DELETE', `/v3/projects/${id}`)).status, 204);
    let gone = false;
    for (let i = 0; i < 50 && !gone; i++) {
      await new Promise((res) => setTimeout(res, 20));
      gone = (await c.req('GET', `/v3/limits/${r.body.limits[0].id}`)).status === 404;
    }
    assert.ok(gone);
  });

  it('reports the flat enforcement model', async () => {
    const r = await c.req('GET', '/v3/limits/model', undefined, { token: memberToken });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, {
      model: {
        name: 'flat',
        description: 'Limit enforcement and validation does not take project hierarchy into consideration.',
      },
    });
    assert.equal((await c.req('GET', '/v3/limits/model', undefined, { token: null })).status, 401);
  });
});
