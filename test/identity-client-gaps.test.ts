// What client libraries trip over in identity (issue 21, items 1-5): inexact list filters,
// domain grants of another domain's role, ec2tokens/s3tokens, the OAuth1 delegation flow,
// and access rules in creation order.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud } from './lib/cloud.ts';

describe('identity client gaps', () => {
  let c: TestCloud;
  before(async () => {
    c = await startCloud();
  });
  after(async () => {
    await c.stop();
  });

  const names = (body: Record<string, Array<{ name: string }>>, key: string) => body[key]!.map((x) => x.name).sort();

  it('applies the inexact filters to every list, case-sensitive or not', async () => {
    for (const name of ['FooBar_1', 'foobar%2', 'xfooy', 'other'])
      assert.equal(
        (await c.req('POST', '/v3/users', { user: { name, domain_id: 'default', password: 'pw-123456' } })).status,
        201,
      );
    const list = async (q: string) => {
      const r = await c.req('GET', `/v3/users?${q}`);
      assert.equal(r.status, 200);
      return names(r.body, 'users').filter((n) => ['FooBar_1', 'foobar%2', 'xfooy', 'other'].includes(n));
    };
    assert.deepEqual(await list('name__contains=foo'), ['foobar%2', 'xfooy']);
    assert.deepEqual(await list('name__icontains=FOO'), ['FooBar_1', 'foobar%2', 'xfooy']);
    assert.deepEqual(await list('name__startswith=Foo'), ['FooBar_1']);
    assert.deepEqual(await list('name__istartswith=foo'), ['FooBar_1', 'foobar%2']);
    assert.deepEqual(await list('name__endswith=y'), ['xfooy']);
    assert.deepEqual(await list('name__iendswith=R_1'), ['FooBar_1']);
    // LIKE's wildcards are plain characters
    assert.deepEqual(await list(`name__contains=${encodeURIComponent('%')}`), ['foobar%2']);
    assert.deepEqual(await list('name__contains=_'), ['FooBar_1']);
    // combined with an exact filter, and with each other
    assert.deepEqual(await list('domain_id=default&name__icontains=foo&name__endswith=2'), ['foobar%2']);
    // an attribute the list does not filter on, or an unknown comparator, is ignored (as Keystone does)
    assert.equal((await list('email__contains=zzz')).length, 4);
    assert.equal((await list('name__like=zzz')).length, 4);

    // the same mechanism on other lists
    for (const name of ['gap-alpha', 'gap-beta']) await c.req('POST', '/v3/projects', { project: { name } });
    for (const name of ['gap-alpha', 'Gap-Gamma']) await c.req('POST', '/v3/groups', { group: { name } });
    await c.req('POST', '/v3/roles', { role: { name: 'gap-role-x' } });
    await c.req('POST', '/v3/services', { service: { name: 'gapsvc', type: 'gap-type' } });
    assert.deepEqual(names((await c.req('GET', '/v3/projects?name__startswith=gap-a')).body, 'projects'), [
      'gap-alpha',
    ]);
    assert.deepEqual(names((await c.req('GET', '/v3/groups?name__istartswith=GAP-')).body, 'groups'), [
      'Gap-Gamma',
      'gap-alpha',
    ]);
    assert.deepEqual(names((await c.req('GET', '/v3/roles?name__endswith=-x')).body, 'roles'), ['gap-role-x']);
    const svcs = (await c.req('GET', '/v3/services?type__contains=gap')).body.services;
    assert.deepEqual(
      svcs.map((s: { name: string }) => s.name),
      ['gapsvc'],
    );
    assert.deepEqual(names((await c.req('GET', '/v3/domains?name__icontains=DEF')).body, 'domains'), ['Default']);
  });

  it('grants a domain-specific role on another domain, but not on a project of another domain', async () => {
    const d1 = (await c.req('POST', '/v3/domains', { domain: { name: 'gaps-d1' } })).body.domain.id;
    const d2 = (await c.req('POST', '/v3/domains', { domain: { name: 'gaps-d2' } })).body.domain.id;
    const role = (await c.req('POST', '/v3/roles', { role: { name: 'd1-only', domain_id: d1 } })).body.role.id;
    const user = (await c.req('POST', '/v3/users', { user: { name: 'gaps-du', domain_id: d2 } })).body.user.id;
    const group = (await c.req('POST', '/v3/groups', { group: { name: 'gaps-dg', domain_id: d2 } })).body.group.id;
    assert.equal((await c.req('PUT', `/v3/domains/${d2}/users/${user}/roles/${role}`)).status, 204);
    assert.equal((await c.req('HEAD', `/v3/domains/${d2}/users/${user}/roles/${role}`)).status, 204);
    assert.equal((await c.req('PUT', `/v3/domains/${d2}/groups/${group}/roles/${role}`)).status, 204);
    const p2 = (await c.req('POST', '/v3/projects', { project: { name: 'gaps-p2', domain_id: d2 } })).body.project.id;
    const r = await c.req('PUT', `/v3/projects/${p2}/users/${user}/roles/${role}`);
    assert.equal(r.status, 403);
    assert.equal(r.body.error.message, `Project ${p2} must be in the same domain as the role ${role} being assigned.`);
    const p1 = (await c.req('POST', '/v3/projects', { project: { name: 'gaps-p1', domain_id: d1 } })).body.project.id;
    assert.equal((await c.req('PUT', `/v3/projects/${p1}/users/${user}/roles/${role}`)).status, 204);
  });

  it('lists access rules in the order they were created', async () => {
    const admin = (await c.req('GET', '/v3/auth/tokens', undefined, { headers: { 'X-Subject-Token': c.adminToken } }))
      .body.token.user.id;
    const rules = [
      { service: 'compute', path: '/v2.1/servers', method: 'GET' },
      { service: 'compute', path: '/v2.1/flavors', method: 'GET' },
      { service: 'image', path: '/v2/images', method: 'GET' },
      { service: 'block-storage', path: '/v3/*', method: 'POST' },
    ];
    const r = await c.req('POST', `/v3/users/${admin}/application_credentials`, {
      application_credential: { name: 'ordered', access_rules: rules },
    });
    assert.equal(r.status, 201);
    const strip = (l: Array<Record<string, string>>) =>
      l.map(({ service, path, method }) => ({ service, path, method }));
    assert.deepEqual(strip(r.body.application_credential.access_rules), rules);
    const shown = await c.req('GET', `/v3/users/${admin}/application_credentials/${r.body.application_credential.id}`);
    assert.deepEqual(strip(shown.body.application_credential.access_rules), rules);
    const listed = await c.req('GET', `/v3/users/${admin}/access_rules`);
    assert.deepEqual(strip(listed.body.access_rules), rules);
  });
});
