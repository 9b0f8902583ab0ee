// Secure RBAC through HTTP, a small sample per service on a cloud started with the switch on:
// project readers read and may not write, members write their project, a token of a scope the
// rule does not list gets the service's 403; Keystone's OS-EC2 credentials are the policy's (the
// system admin reaches any user's credential whatever user the path names, as in Zed).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startCloud, type TestCloud } from './lib/cloud.ts';

describe('secure RBAC over HTTP', () => {
  let c: TestCloud;
  let systemToken: string;
  let project: string;
  let readerToken: string;
  let memberToken: string;
  let memberId: string;
  let otherToken: string;
  let otherId: string;

  before(async () => {
    c = await startCloud({
      configure: (cfg) => {
        cfg.secureRbac = true;
      },
    });
    systemToken = await c.token({ name: 'admin', password: c.adminPassword }, { system: { all: true } });
    const role = async (name: string) =>
      (await c.req('GET', `/v3/roles?name=${name}`, undefined, { token: systemToken })).body.roles[0].id as string;
    project = (
      await c.req('POST', '/v3/projects', { project: { name: 'rbac-p', domain_id: 'default' } }, { token: systemToken })
    ).body.project.id;
    const user = async (name: string, roleName: string) => {
      const id = (
        await c.req(
          'POST',
          '/v3/users',
          { user: { name, password: `pw-${name}`, domain_id: 'default' } },
          { token: systemToken },
        )
      ).body.user.id as string;
      const put = await c.req('PUT', `/v3/projects/${project}/users/${id}/roles/${await role(roleName)}`, undefined, {
        token: systemToken,
      });
      assert.equal(put.status, 204);
      return { id, token: await c.token({ id, password: `pw-${name}` }, { project: { id: project } }) };
    };
    const reader = await user('rbac-reader', 'reader');
    readerToken = reader.token;
    const member = await user('rbac-member', 'member');
    memberToken = member.token;
    memberId = member.id;
    const other = await user('rbac-other', 'member');
    otherToken = other.token;
    otherId = other.id;
  });
  after(async () => {
    await c?.stop();
  });

  it('network: a reader lists, may not create; a member creates; the system scope is refused', async () => {
    const base = `${c.url}/networking/v2.0/networks`;
    assert.equal((await c.req('GET', base, undefined, { token: readerToken })).status, 200);
    const denied = await c.req('POST', base, { network: { name: 'r' } }, { token: readerToken });
    assert.equal(denied.status, 403);
    assert.equal(denied.body.NeutronError.type, 'PolicyNotAuthorized');
    const made = await c.req('POST', base, { network: { name: 'm' } }, { token: memberToken });
    assert.equal(made.status, 201);
    assert.equal(made.body.network.project_id, project);
    // (Without a project in the body neutron answers 400 before its policy: the token has none.)
    const sys = await c.req('POST', base, { network: { name: 's', project_id: project } }, { token: systemToken });
    assert.equal(sys.status, 403, JSON.stringify(sys.body));
    assert.equal(sys.body.NeutronError.type, 'PolicyNotAuthorized');
  });

  it('compute: a reader lists servers; the system scope is refused with nova 403', async () => {
    const base = `${c.url}/compute/v2.1/servers`;
    assert.equal((await c.req('GET', base, undefined, { token: readerToken })).status, 200);
    const sys = await c.req('GET', base, undefined, { token: systemToken });
    assert.equal(sys.status, 403);
    assert.equal(sys.body.forbidden.code, 403);
  });

  it('identity: OS-EC2 credentials are reached through the policy, not the path', async () => {
    const made = await c.req(
      'POST',
      `/v3/users/${memberId}/credentials/OS-EC2`,
      { tenant_id: project },
      { token: systemToken },
    );
    assert.equal(made.status, 201);
    const access = made.body.credential.access as string;
    // Another member names itself in the path: the credential's owner is not it.
    const other = await c.req('GET', `/v3/users/${otherId}/credentials/OS-EC2/${access}`, undefined, {
      token: otherToken,
    });
    assert.equal(other.status, 403);
    // The system admin, under its own path (tempest's clean-up does so).
    const me = (await c.req('GET', '/v3/auth/tokens', undefined, { headers: { 'X-Subject-Token': systemToken } })).body
      .token.user.id as string;
    const got = await c.req('GET', `/v3/users/${me}/credentials/OS-EC2/${access}`, undefined, { token: systemToken });
    assert.equal(got.status, 200);
    assert.equal(got.body.credential.user_id, memberId);
    const del = await c.req('DELETE', `/v3/users/${me}/credentials/OS-EC2/${access}`, undefined, {
      token: systemToken,
    });
    assert.equal(del.status, 204);
    const gone = await c.req('GET', `/v3/users/${memberId}/credentials/OS-EC2/${access}`, undefined, {
      token: memberToken,
    });
    assert.equal(gone.status, 404);
  });
});
