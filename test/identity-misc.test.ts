// Policy blobs (+ OS-ENDPOINT-POLICY), OS-EP-FILTER and domain-specific configuration, against the
// real HTTP API, on SQLite and (when STRATUS_TEST_PG is set) PostgreSQL.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ApiProject, WithId } from './lib/api-types.ts';
import { databaseEngines, startCloud, type TestCloud, type ApiAnswer } from './lib/cloud.ts';

const engines = databaseEngines('identity-misc');

for (const engine of engines) {
  describe(`identity policies, endpoint filter, domain config (${engine.name})`, () => {
    let c: TestCloud;
    /** A member (not admin) of a project of its own. */
    let memberToken: string;
    let projectId: string;
    let serviceId: string;
    const endpoints: Record<string, string> = {};

    before(async () => {
      c = await startCloud({ database: engine.database });
      const p = await c.req('POST', '/v3/projects', { project: { name: 'misc-project', domain_id: 'default' } });
      projectId = p.body.project.id;
      const u = await c.req('POST', '/v3/users', {
        user: { name: 'misc-user', password: 'pw-misc-1', domain_id: 'default' },
      });
      const roles = await c.req('GET', '/v3/roles?name=member');
      assert.equal(
        (await c.req('PUT', `/v3/projects/${projectId}/users/${u.body.user.id}/roles/${roles.body.roles[0].id}`))
          .status,
        204,
      );
      memberToken = await c.token({ name: 'misc-user', password: 'pw-misc-1' }, { project: { id: projectId } });
      // A service with endpoints in a region tree: RegionOne > misc-child.
      assert.equal(
        (await c.req('POST', '/v3/regions', { region: { id: 'misc-child', parent_region_id: 'RegionOne' } })).status,
        201,
      );
      serviceId = (await c.req('POST', '/v3/services', { service: { type: 'misc-type', name: 'misc' } })).body.service
        .id;
      for (const [iface, region] of [
        ['public', 'RegionOne'],
        ['internal', 'RegionOne'],
        ['admin', 'misc-child'],
      ] as const) {
        const e = await c.req('POST', '/v3/endpoints', {
          endpoint: { service_id: serviceId, interface: iface, region_id: region, url: `http://misc.example/${iface}` },
        });
        assert.equal(e.status, 201);
        endpoints[iface] = e.body.endpoint.id;
      }
    });
    after(async () => {
      await c?.stop();
    });

    // ---------------------------------------------------------------- policies
    describe('/v3/policies', () => {
      it('creates, shows, lists (with a type filter), updates and deletes a policy blob', async () => {
        const created = await c.req('POST', '/v3/policies', {
          policy: { blob: '{"a": "b"}', type: 'application/json', 'x-note': 'hi' },
        });
        assert.equal(created.status, 201);
        const p = created.body.policy;
        assert.match(p.id, /^[0-9a-f]{32}$/);
        assert.equal(p.blob, '{"a": "b"}');
        assert.equal(p.type, 'application/json');
        assert.equal(p.x_note, 'hi', "extra attribute names have '-' and ':' made '_'");
        assert.equal(p.links.self, `${c.identity}/v3/policies/${p.id}`);
        const other = (await c.req('POST', '/v3/policies', { policy: { blob: 'x', type: 'text/plain' } })).body.policy;

        const shown = await c.req('GET', `/v3/policies/${p.id}`);
        assert.equal(shown.status, 200);
        assert.deepEqual(shown.body.policy, p);

        const all = await c.req('GET', '/v3/policies');
        assert.equal(all.status, 200);
        assert.deepEqual(all.body.policies.map((x: WithId) => x.id).sort(), [p.id, other.id].sort());
        assert.equal(all.body.links.self, `${c.identity}/v3/policies`);
        const filtered = await c.req('GET', '/v3/policies?type=text/plain');
        assert.deepEqual(
          filtered.body.policies.map((x: WithId) => x.id),
          [other.id],
        );

        const updated = await c.req('PATCH', `/v3/policies/${p.id}`, { policy: { type: 'text/yaml', owner: 'me' } });
        assert.equal(updated.status, 200);
        assert.equal(updated.body.policy.type, 'text/yaml');
        assert.equal(updated.body.policy.blob, '{"a": "b"}');
        assert.equal(updated.body.policy.owner, 'me');
        assert.equal(updated.body.policy.x_note, 'hi');
        assert.equal((await c.req('GET', `/v3/policies/${p.id}`)).body.policy.type, 'text/yaml');

        assert.equal((await c.req('DELETE', `/v3/policies/${p.id}`)).status, 204);
        const gone = await c.req('GET', `/v3/policies/${p.id}`);
        assert.equal(gone.status, 404);
        assert.equal(gone.body.error.message, `Could not find policy: ${p.id}.`);
        assert.equal((await c.req('DELETE', `/v3/policies/${p.id}`)).status, 404);
        assert.equal((await c.req('DELETE', `/v3/policies/${other.id}`)).status, 204);
      });

      it('rejects bad input with 400', async () => {
        const noBlob = await c.req('POST', '/v3/policies', { policy: { type: 't' } });
        assert.equal(noBlob.status, 400);
        assert.match(noBlob.body.error.message, /blob/);
        assert.equal((await c.req('POST', '/v3/policies', { policy: { blob: 1, type: 't' } })).status, 400);
        assert.equal(
          (await c.req('POST', '/v3/policies', { policy: { blob: 'b', type: 'x'.repeat(256) } })).status,
          400,
        );
        const p = (await c.req('POST', '/v3/policies', { policy: { blob: 'b', type: 't' } })).body.policy;
        assert.equal((await c.req('PATCH', `/v3/policies/${p.id}`, { policy: {} })).status, 400);
        const changeId = await c.req('PATCH', `/v3/policies/${p.id}`, { policy: { id: 'other' } });
        assert.equal(changeId.status, 400);
        assert.equal(changeId.body.error.message, 'Cannot change policy ID');
        assert.equal((await c.req('PATCH', '/v3/policies/nope', { policy: { type: 'x' } })).status, 404);
        await c.req('DELETE', `/v3/policies/${p.id}`);
      });

      it('enforces the policy rules: members may neither read nor write', async () => {
        assert.equal((await c.req('GET', '/v3/policies', undefined, { token: memberToken })).status, 403);
        const r = await c.req('POST', '/v3/policies', { policy: { blob: 'b', type: 't' } }, { token: memberToken });
        assert.equal(r.status, 403);
        assert.equal(
          r.body.error.message,
          'You are not authorized to perform the requested action: identity:create_policy.',
        );
        assert.equal((await c.req('GET', '/v3/policies', undefined, { token: null })).status, 401);
      });
    });

    describe('OS-ENDPOINT-POLICY', () => {
      it('associates policies with endpoints, services and regions and answers the effective one', async () => {
        const mk = async (type: string) =>
          (await c.req('POST', '/v3/policies', { policy: { blob: type, type } })).body.policy.id as string;
        const [pEndpoint, pRegion, pService] = [await mk('endpoint'), await mk('region'), await mk('service')];
        const base = (p: string) => `/v3/policies/${p}/OS-ENDPOINT-POLICY`;
        const effective = async (e: string) => {
          const r = await c.req('GET', `/v3/endpoints/${e}/OS-ENDPOINT-POLICY/policy`);
          return r.status === 200 ? r.body.policy.id : r.status;
        };

        const none = await c.req('GET', `/v3/endpoints/${endpoints.public}/OS-ENDPOINT-POLICY/policy`);
        assert.equal(none.status, 404);
        assert.equal(none.body.error.message, `No policy is associated with endpoint ${endpoints.public}.`);

        assert.equal((await c.req('PUT', `${base(pService)}/services/${serviceId}`)).status, 204);
        assert.equal(await effective(endpoints.public!), pService);
        // The service in RegionOne applies to RegionOne's endpoints and, up the tree, misc-child's.
        assert.equal((await c.req('PUT', `${base(pRegion)}/services/${serviceId}/regions/RegionOne`)).status, 204);
        assert.equal(await effective(endpoints.public!), pRegion);
        assert.equal(await effective(endpoints.admin!), pRegion);
        assert.equal((await c.req('PUT', `${base(pEndpoint)}/endpoints/${endpoints.public}`)).status, 204);
        assert.equal(await effective(endpoints.public!), pEndpoint);
        assert.equal(await effective(endpoints.internal!), pRegion);

        assert.equal((await c.req('GET', `${base(pEndpoint)}/endpoints/${endpoints.public}`)).status, 204);
        assert.equal((await c.req('HEAD', `${base(pRegion)}/services/${serviceId}/regions/RegionOne`)).status, 204);
        const wrong = await c.req('GET', `${base(pService)}/endpoints/${endpoints.public}`);
        assert.equal(wrong.status, 404);
        assert.equal(wrong.body.error.message, 'Could not find policy association.');
        assert.equal((await c.req('PUT', `${base(pEndpoint)}/endpoints/nope`)).status, 404);
        assert.equal((await c.req('PUT', `${base(pEndpoint)}/services/${serviceId}/regions/nope`)).status, 404);
        assert.equal((await c.req('PUT', '/v3/policies/nope/OS-ENDPOINT-POLICY/services/' + serviceId)).status, 404);

        const listed = await c.req('GET', `${base(pRegion)}/endpoints`);
        assert.equal(listed.status, 200);
        assert.deepEqual(listed.body.endpoints.map((e: WithId) => e.id).sort(), Object.values(endpoints).sort());
        assert.deepEqual(
          (await c.req('GET', `${base(pEndpoint)}/endpoints`)).body.endpoints.map((e: WithId) => e.id),
          [endpoints.public],
        );

        assert.equal((await c.req('DELETE', `${base(pEndpoint)}/endpoints/${endpoints.public}`)).status, 204);
        assert.equal(await effective(endpoints.public!), pRegion);
        // Deleting a policy drops its associations.
        assert.equal((await c.req('DELETE', `/v3/policies/${pRegion}`)).status, 204);
        assert.equal(await effective(endpoints.admin!), pService);
        for (const p of [pEndpoint, pService]) await c.req('DELETE', `/v3/policies/${p}`);
        assert.equal(await effective(endpoints.admin!), 404);
        assert.equal(
          (
            await c.req('GET', `/v3/endpoints/${endpoints.admin}/OS-ENDPOINT-POLICY/policy`, undefined, {
              token: memberToken,
            })
          ).status,
          403,
        );
      });
    });

    // ---------------------------------------------------------------- OS-EP-FILTER
    describe('OS-EP-FILTER', () => {
      const EG = '/v3/OS-EP-FILTER/endpoint_groups';

      it('creates, shows, lists, updates and deletes endpoint groups', async () => {
        const created = await c.req('POST', EG, {
          endpoint_group: {
            name: 'eg-public',
            description: 'the public ones',
            filters: { service_id: serviceId, interface: 'public' },
          },
        });
        assert.equal(created.status, 201);
        const g = created.body.endpoint_group;
        assert.deepEqual(Object.keys(g).sort(), ['description', 'filters', 'id', 'links', 'name']);
        assert.deepEqual(g.filters, { service_id: serviceId, interface: 'public' });
        assert.equal(g.links.self, `${c.identity}/v3/OS-EP-FILTER/endpoint_groups/${g.id}`);
        const bare = (
          await c.req('POST', EG, { endpoint_group: { name: 'eg-region', filters: { region_id: 'RegionOne' } } })
        ).body.endpoint_group;
        assert.equal(bare.description, null);

        assert.deepEqual((await c.req('GET', `${EG}/${g.id}`)).body.endpoint_group, g);
        assert.equal((await c.req('HEAD', `${EG}/${g.id}`)).status, 200);
        const list = await c.req('GET', EG);
        assert.equal(list.status, 200);
        assert.ok(list.body.endpoint_groups.some((x: unknown) => JSON.stringify(x) === JSON.stringify(g)));
        assert.deepEqual(
          (await c.req('GET', `${EG}?name=eg-region`)).body.endpoint_groups.map((x: WithId) => x.id),
          [bare.id],
        );

        const inGroup = await c.req('GET', `${EG}/${g.id}/endpoints`);
        assert.equal(inGroup.status, 200);
        assert.deepEqual(
          inGroup.body.endpoints.map((e: WithId) => e.id),
          [endpoints.public],
        );
        assert.equal(inGroup.body.endpoints[0].region, 'RegionOne');
        // region_id matches exactly (misc-child's endpoint is not in RegionOne's group).
        const regionEps = (await c.req('GET', `${EG}/${bare.id}/endpoints`)).body.endpoints.map((e: WithId) => e.id);
        assert.ok(
          regionEps.includes(endpoints.public) &&
            regionEps.includes(endpoints.internal) &&
            !regionEps.includes(endpoints.admin),
        );

        const upd = await c.req('PATCH', `${EG}/${g.id}`, {
          endpoint_group: {
            name: 'eg-admin',
            description: null,
            filters: { interface: 'admin', service_id: serviceId },
          },
        });
        assert.equal(upd.status, 200);
        assert.equal(upd.body.endpoint_group.name, 'eg-admin');
        assert.equal(upd.body.endpoint_group.description, null);
        assert.deepEqual(upd.body.endpoint_group.filters, { interface: 'admin', service_id: serviceId });
        assert.deepEqual(
          (await c.req('GET', `${EG}/${g.id}/endpoints`)).body.endpoints.map((e: WithId) => e.id),
          [endpoints.admin],
        );

        assert.equal((await c.req('DELETE', `${EG}/${g.id}`)).status, 204);
        const gone = await c.req('GET', `${EG}/${g.id}`);
        assert.equal(gone.status, 404);
        assert.equal(gone.body.error.message, `Could not find Endpoint Group: ${g.id}.`);
        assert.equal((await c.req('DELETE', `${EG}/${g.id}`)).status, 404);
        assert.equal((await c.req('GET', `${EG}/${g.id}/endpoints`)).status, 404);
        await c.req('DELETE', `${EG}/${bare.id}`);
      });

      it('rejects bad endpoint groups with 400', async () => {
        const badKey = await c.req('POST', EG, { endpoint_group: { name: 'x', filters: { url: 'y' } } });
        assert.equal(badKey.status, 400);
        assert.match(
          badKey.body.error.message,
          /^Expecting to find service_id or region_id or interface in endpoint_group/,
        );
        const empty = await c.req('POST', EG, { endpoint_group: { name: 'x', filters: {} } });
        assert.equal(empty.status, 400);
        assert.equal(empty.body.error.message, 'filters field is required and cannot be empty');
        assert.equal((await c.req('POST', EG, { endpoint_group: { name: 'x' } })).status, 400);
        assert.equal((await c.req('POST', EG, { endpoint_group: { filters: { interface: 'public' } } })).status, 400);
        assert.equal(
          (await c.req('POST', EG, { endpoint_group: { name: '', filters: { interface: 'public' } } })).status,
          400,
        );
        assert.equal((await c.req('POST', EG, { endpoint_group: { name: 'x', filters: 'interface' } })).status, 400);
        const g = (await c.req('POST', EG, { endpoint_group: { name: 'x', filters: { interface: 'public' } } })).body
          .endpoint_group;
        assert.equal((await c.req('PATCH', `${EG}/${g.id}`, { endpoint_group: {} })).status, 400);
        assert.equal(
          (await c.req('PATCH', `${EG}/${g.id}`, { endpoint_group: { filters: { bogus: 1 } } })).status,
          400,
        );
        const changeId = await c.req('PATCH', `${EG}/${g.id}`, { endpoint_group: { id: 'other' } });
        assert.equal(changeId.status, 400);
        assert.equal(changeId.body.error.message, 'Cannot change ID');
        assert.equal((await c.req('PATCH', `${EG}/nope`, { endpoint_group: { name: 'y' } })).status, 404);
        assert.equal(
          (
            await c.req(
              'POST',
              EG,
              { endpoint_group: { name: 'x', filters: { interface: 'public' } } },
              { token: memberToken },
            )
          ).status,
          403,
        );
        assert.equal((await c.req('GET', EG, undefined, { token: memberToken })).status, 403);
        await c.req('DELETE', `${EG}/${g.id}`);
      });

      it('associates endpoint groups with projects', async () => {
        const g = (
          await c.req('POST', EG, {
            endpoint_group: { name: 'eg-internal', filters: { interface: 'internal', service_id: serviceId } },
          })
        ).body.endpoint_group;
        const assoc = `${EG}/${g.id}/projects/${projectId}`;
        assert.equal((await c.req('GET', assoc)).status, 404);
        assert.equal((await c.req('PUT', assoc)).status, 204);
        const dup = await c.req('PUT', assoc);
        assert.equal(dup.status, 409);
        const shown = await c.req('GET', assoc);
        assert.equal(shown.status, 200);
        assert.deepEqual(shown.body.project_endpoint_group, {
          endpoint_group_id: g.id,
          project_id: projectId,
          links: { self: `${c.identity}${assoc}` },
        });
        assert.equal((await c.req('HEAD', assoc)).status, 200);

        const projects = await c.req('GET', `${EG}/${g.id}/projects`);
        assert.equal(projects.status, 200);
        assert.deepEqual(
          projects.body.projects.map((p: ApiProject) => p.id),
          [projectId],
        );
        assert.equal(projects.body.projects[0].name, 'misc-project');
        assert.equal(projects.body.projects[0].links.self, `${c.identity}/v3/projects/${projectId}`);

        const groups = await c.req('GET', `/v3/OS-EP-FILTER/projects/${projectId}/endpoint_groups`);
        assert.equal(groups.status, 200);
        assert.deepEqual(groups.body.endpoint_groups, [g]);
        const eps = await c.req('GET', `/v3/OS-EP-FILTER/projects/${projectId}/endpoints`);
        assert.deepEqual(
          eps.body.endpoints.map((e: WithId) => e.id),
          [endpoints.internal],
        );

        assert.equal((await c.req('PUT', `${EG}/${g.id}/projects/nope`)).status, 404);
        assert.equal((await c.req('PUT', `${EG}/nope/projects/${projectId}`)).status, 404);
        assert.equal((await c.req('GET', '/v3/OS-EP-FILTER/projects/nope/endpoint_groups')).status, 404);

        assert.equal((await c.req('DELETE', assoc)).status, 204);
        const again = await c.req('DELETE', assoc);
        assert.equal(again.status, 404);
        assert.equal(again.body.error.message, 'Endpoint Group Project Association not found');
        assert.deepEqual(
          (await c.req('GET', `/v3/OS-EP-FILTER/projects/${projectId}/endpoint_groups`)).body.endpoint_groups,
          [],
        );

        // Deleting the group drops its associations.
        assert.equal((await c.req('PUT', assoc)).status, 204);
        assert.equal((await c.req('DELETE', `${EG}/${g.id}`)).status, 204);
        assert.deepEqual(
          (await c.req('GET', `/v3/OS-EP-FILTER/projects/${projectId}/endpoint_groups`)).body.endpoint_groups,
          [],
        );
      });

      it('associates endpoints with projects', async () => {
        const pe = (e: string, p = projectId) => `/v3/OS-EP-FILTER/projects/${p}/endpoints/${e}`;
        const missing = await c.req('GET', pe(endpoints.public!));
        assert.equal(missing.status, 404);
        assert.equal(missing.body.error.message, `Endpoint ${endpoints.public} not found in project ${projectId}`);
        assert.equal((await c.req('PUT', pe(endpoints.public!))).status, 204);
        assert.equal((await c.req('PUT', pe(endpoints.public!))).status, 409);
        assert.equal((await c.req('GET', pe(endpoints.public!))).status, 204);
        assert.equal((await c.req('HEAD', pe(endpoints.public!))).status, 204);
        assert.equal((await c.req('PUT', pe('nope'))).status, 404);
        assert.equal((await c.req('PUT', pe(endpoints.public!, 'nope'))).status, 404);

        // The project's endpoints are its own plus those of its endpoint groups, once each.
        const g = (
          await c.req('POST', EG, {
            endpoint_group: { name: 'eg-region-one', filters: { region_id: 'RegionOne', service_id: serviceId } },
          })
        ).body.endpoint_group;
        assert.equal((await c.req('PUT', `${EG}/${g.id}/projects/${projectId}`)).status, 204);
        const eps = await c.req('GET', `/v3/OS-EP-FILTER/projects/${projectId}/endpoints`);
        assert.equal(eps.status, 200);
        assert.deepEqual(
          eps.body.endpoints.map((e: WithId) => e.id).sort(),
          [endpoints.public, endpoints.internal].sort(),
        );
        assert.equal(eps.body.endpoints[0].links.self, `${c.identity}/v3/endpoints/${eps.body.endpoints[0].id}`);

        const projects = await c.req('GET', `/v3/OS-EP-FILTER/endpoints/${endpoints.public}/projects`);
        assert.equal(projects.status, 200);
        assert.deepEqual(
          projects.body.projects.map((p: ApiProject) => p.id),
          [projectId],
        );
        assert.deepEqual(
          (await c.req('GET', `/v3/OS-EP-FILTER/endpoints/${endpoints.internal}/projects`)).body.projects,
          [],
        );
        assert.equal((await c.req('GET', '/v3/OS-EP-FILTER/endpoints/nope/projects')).status, 404);
        assert.equal((await c.req('GET', '/v3/OS-EP-FILTER/projects/nope/endpoints')).status, 404);
        assert.equal((await c.req('PUT', pe(endpoints.admin!), undefined, { token: memberToken })).status, 403);

        assert.equal((await c.req('DELETE', pe(endpoints.public!))).status, 204);
        assert.equal((await c.req('DELETE', pe(endpoints.public!))).status, 404);
        await c.req('DELETE', `${EG}/${g.id}`);
      });

      it("forgets a deleted project's associations", async () => {
        const p = (await c.req('POST', '/v3/projects', { project: { name: 'misc-doomed', domain_id: 'default' } })).body
          .project;
        const g = (await c.req('POST', EG, { endpoint_group: { name: 'eg-doomed', filters: { interface: 'public' } } }))
          .body.endpoint_group;
        assert.equal(
          (await c.req('PUT', `/v3/OS-EP-FILTER/projects/${p.id}/endpoints/${endpoints.admin}`)).status,
          204,
        );
        assert.equal((await c.req('PUT', `${EG}/${g.id}/projects/${p.id}`)).status, 204);
        assert.equal((await c.req('DELETE', `/v3/projects/${p.id}`)).status, 204);
        assert.deepEqual(
          (await c.req('GET', `/v3/OS-EP-FILTER/endpoints/${endpoints.admin}/projects`)).body.projects,
          [],
        );
        assert.deepEqual((await c.req('GET', `${EG}/${g.id}/projects`)).body.projects, []);
        // ... and the rows themselves go with the project's deletion event (delivered asynchronously).
        const db = c.cloud.identity.db;
        const rows = async () =>
          (await db.selectFrom('project_endpoint').select('project_id').where('project_id', '=', p.id).execute())
            .length +
          (await db.selectFrom('project_endpoint_group').select('project_id').where('project_id', '=', p.id).execute())
            .length;
        for (let i = 0; i < 50 && (await rows()); i++) await new Promise((r) => setTimeout(r, 20));
        assert.equal(await rows(), 0);
        await c.req('DELETE', `${EG}/${g.id}`);
      });
    });

    // ---------------------------------------------------------------- domain config
    describe('domain configuration', () => {
      let domainId: string;
      const cfg = {
        identity: { driver: 'ldap' },
        ldap: { url: 'ldap://myldap.com:389/', user_tree_dn: 'ou=Users,dc=org' },
      };
      before(async () => {
        domainId = (await c.req('POST', '/v3/domains', { domain: { name: 'misc-config-domain' } })).body.domain.id;
      });

      it('answers the defaults of the whitelisted options', async () => {
        const all = await c.req('GET', '/v3/domains/config/default');
        assert.equal(all.status, 200);
        assert.deepEqual(Object.keys(all.body.config).sort(), ['identity', 'ldap']);
        assert.deepEqual(all.body.config.identity, { driver: 'sql', list_limit: null });
        assert.equal(all.body.config.ldap.url, 'ldap://localhost');
        assert.equal(all.body.config.ldap.password, undefined, 'sensitive options have no default shown');
        assert.deepEqual((await c.req('GET', '/v3/domains/config/identity/default')).body.config, {
          identity: { driver: 'sql', list_limit: null },
        });
        assert.deepEqual((await c.req('GET', '/v3/domains/config/ldap/user_tree_dn/default')).body.config, {
          user_tree_dn: null,
        });
        assert.equal((await c.req('HEAD', '/v3/domains/config/default')).status, 200);
        const pw = await c.req('GET', '/v3/domains/config/ldap/password/default');
        assert.equal(pw.status, 403);
        assert.equal(
          pw.body.error.message,
          'Invalid domain specific configuration: Reading the default for option password in group ldap is not supported.',
        );
        const group = await c.req('GET', '/v3/domains/config/assignment/default');
        assert.equal(group.status, 403);
        assert.equal(
          group.body.error.message,
          'Invalid domain specific configuration: Group assignment is not supported for domain specific configurations.',
        );
        assert.equal((await c.req('GET', '/v3/domains/config/ldap/bogus/default')).status, 403);
        assert.equal((await c.req('GET', '/v3/domains/config/default', undefined, { token: memberToken })).status, 403);
      });

      it('creates (201, then 200 on replace), shows, updates and deletes a domain configuration', async () => {
        const created = await c.req('PUT', `/v3/domains/${domainId}/config`, {
          config: { ...cfg, ldap: { ...cfg.ldap, password: 's3cret' } },
        });
        assert.equal(created.status, 201);
        assert.deepEqual(created.body.config, cfg, 'the sensitive password is not shown');
        const replaced = await c.req('PUT', `/v3/domains/${domainId}/config`, { config: cfg });
        assert.equal(replaced.status, 200);
        assert.deepEqual(replaced.body.config, cfg);

        assert.deepEqual((await c.req('GET', `/v3/domains/${domainId}/config`)).body.config, cfg);
        assert.deepEqual((await c.req('GET', `/v3/domains/${domainId}/config/ldap`)).body.config, { ldap: cfg.ldap });
        assert.deepEqual((await c.req('GET', `/v3/domains/${domainId}/config/ldap/url`)).body.config, {
          url: cfg.ldap.url,
        });
        assert.equal((await c.req('HEAD', `/v3/domains/${domainId}/config/ldap/url`)).status, 200);

        // Whole-config PATCH merges.
        const merged = await c.req('PATCH', `/v3/domains/${domainId}/config`, {
          config: { ldap: { url: 'ldap://other/', password: 'pw' } },
        });
        assert.equal(merged.status, 200);
        assert.deepEqual(merged.body.config, { identity: cfg.identity, ldap: { ...cfg.ldap, url: 'ldap://other/' } });
        // Group PATCH, with a non-string value kept as such.
        const grp = await c.req('PATCH', `/v3/domains/${domainId}/config/identity`, {
          config: { identity: { driver: 'mydriver', list_limit: 42 } },
        });
        assert.equal(grp.status, 200);
        assert.deepEqual(grp.body.config.identity, { driver: 'mydriver', list_limit: 42 });
        // Option PATCH (the sensitive one can be updated, as it exists).
        const opt = await c.req('PATCH', `/v3/domains/${domainId}/config/identity/driver`, {
          config: { driver: 'other' },
        });
        assert.equal(opt.status, 200);
        assert.equal(opt.body.config.identity.driver, 'other');
        assert.equal(
          (await c.req('PATCH', `/v3/domains/${domainId}/config/ldap/password`, { config: { password: 'new' } }))
            .status,
          200,
        );
        const hidden = await c.req('GET', `/v3/domains/${domainId}/config/ldap/password`);
        assert.equal(hidden.status, 404);
        assert.equal(
          hidden.body.error.message,
          `Could not find option password in group ldap in domain configuration for domain ${domainId}.`,
        );

        // Option then group DELETE.
        assert.equal((await c.req('DELETE', `/v3/domains/${domainId}/config/identity/driver`)).status, 204);
        const noOpt = await c.req('GET', `/v3/domains/${domainId}/config/identity/driver`);
        assert.equal(noOpt.status, 404);
        assert.equal((await c.req('DELETE', `/v3/domains/${domainId}/config/identity/driver`)).status, 404);
        assert.equal((await c.req('DELETE', `/v3/domains/${domainId}/config/identity`)).status, 204);
        const noGroup = await c.req('GET', `/v3/domains/${domainId}/config/identity`);
        assert.equal(noGroup.status, 404);
        assert.equal(
          noGroup.body.error.message,
          `Could not find group identity in domain configuration for domain ${domainId}.`,
        );
        const delGone = await c.req('DELETE', `/v3/domains/${domainId}/config/identity/driver`);
        assert.equal(
          delGone.body.error.message,
          `Could not find group identity in domain configuration for domain ${domainId}.`,
        );

        assert.equal((await c.req('DELETE', `/v3/domains/${domainId}/config`)).status, 204);
        const none = await c.req('GET', `/v3/domains/${domainId}/config`);
        assert.equal(none.status, 404);
        assert.equal(
          none.body.error.message,
          `Could not find any options in domain configuration for domain ${domainId}.`,
        );
        // After deletion, PUT creates again.
        assert.equal((await c.req('PUT', `/v3/domains/${domainId}/config`, { config: cfg })).status, 201);
        await c.req('DELETE', `/v3/domains/${domainId}/config`);
      });

      it('rejects unsupported or inconsistent configurations with 403, unknown parts with 404', async () => {
        const put = (config: unknown) =>
          c.req('PUT', `/v3/domains/${domainId}/config`, config === undefined ? {} : { config });
        const expect403 = async (r: Promise<ApiAnswer>, reason: string) => {
          const res = await r;
          assert.equal(res.status, 403);
          assert.equal(res.body.error.message, `Invalid domain specific configuration: ${reason}.`);
        };
        await expect403(put(undefined), 'No options specified');
        await expect403(put({}), 'No options specified');
        await expect403(
          put({ ldap: {} }),
          'The value of group ldap specified in the config should be a dictionary of options',
        );
        await expect403(
          put({ ldap: 'x' }),
          'The value of group ldap specified in the config should be a dictionary of options',
        );
        await expect403(
          put({ assignment: { driver: 'x' } }),
          'Group assignment is not supported for domain specific configurations',
        );
        await expect403(
          put({ ldap: { bogus: 1 } }),
          'Option bogus in group ldap is not supported for domain specific configurations',
        );

        assert.equal((await put(cfg)).status, 201);
        const base = `/v3/domains/${domainId}/config`;
        await expect403(
          c.req('PATCH', `${base}/identity`, { config: { ldap: { url: 'x' } } }),
          'request to update group identity, but config provided contains group ldap instead',
        );
        await expect403(
          c.req('PATCH', `${base}/identity`, { config: { identity: { driver: 'x' }, ldap: { url: 'x' } } }),
          'Trying to update group identity, so that, and only that, group must be specified in the config',
        );
        await expect403(
          c.req('PATCH', `${base}/ldap/url`, { config: { url: 'x', user_tree_dn: 'y' } }),
          'Trying to update option url in group ldap, so that, and only that, option must be specified  in the config',
        );
        await expect403(
          c.req('PATCH', `${base}/ldap/url`, { config: { user_tree_dn: 'y' } }),
          'Trying to update option url in group ldap, but config provided contains option user_tree_dn instead',
        );
        await expect403(
          c.req('GET', `${base}/ldap/bogus`),
          'Option bogus in group ldap is not supported for domain specific configurations',
        );
        await expect403(
          c.req('DELETE', `${base}/assignment`),
          'Group assignment is not supported for domain specific configurations',
        );
        const notThere = await c.req('PATCH', `${base}/ldap/user_filter`, { config: { user_filter: 'x' } });
        assert.equal(notThere.status, 404);
        assert.equal(
          notThere.body.error.message,
          `Could not find option user_filter in group ldap in domain configuration for domain ${domainId}.`,
        );

        const unknown = await c.req('GET', '/v3/domains/nope/config');
        assert.equal(unknown.status, 404);
        assert.equal(unknown.body.error.message, 'Could not find domain: nope.');
        assert.equal((await c.req('PUT', '/v3/domains/nope/config', { config: cfg })).status, 404);
        assert.equal((await c.req('PATCH', '/v3/domains/nope/config', { config: cfg })).status, 404);
        assert.equal((await c.req('DELETE', '/v3/domains/nope/config')).status, 404);
        // A project is not a domain.
        assert.equal((await c.req('GET', `/v3/domains/${projectId}/config`)).status, 404);

        assert.equal((await c.req('GET', base, undefined, { token: memberToken })).status, 403);
        assert.equal((await c.req('PUT', base, { config: cfg }, { token: memberToken })).status, 403);
        assert.equal((await c.req('DELETE', base, undefined, { token: memberToken })).status, 403);
        await c.req('DELETE', base);
      });

      it('reads security_compliance for the default domain only, for anyone', async () => {
        const sc = await c.req('GET', '/v3/domains/default/config/security_compliance', undefined, {
          token: memberToken,
        });
        assert.equal(sc.status, 200);
        assert.deepEqual(sc.body.config, {
          security_compliance: { password_regex: null, password_regex_description: null },
        });
        assert.deepEqual(
          (await c.req('GET', '/v3/domains/default/config/security_compliance/password_regex')).body.config,
          { password_regex: null },
        );
        const other = await c.req('GET', `/v3/domains/${domainId}/config/security_compliance`);
        assert.equal(other.status, 403);
        assert.match(other.body.error.message, /other than the default domain is not allowed or supported\.$/);
        const opt = await c.req('GET', '/v3/domains/default/config/security_compliance/lockout_duration');
        assert.equal(opt.status, 403);
        assert.match(
          opt.body.error.message,
          /other than password_regex and password_regex_description is not allowed\.$/,
        );
        assert.equal(
          (
            await c.req('PATCH', '/v3/domains/default/config/security_compliance', {
              config: { security_compliance: { password_regex: 'x' } },
            })
          ).status,
          403,
        );
      });
    });
  });
}
