// /v3/credentials and /v3/users/{user_id}/credentials/OS-EC2 against the real HTTP API.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { WithId } from './lib/api-types.ts';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { startCloud, type TestCloud } from './lib/cloud.ts';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

describe('identity credentials', () => {
  let c: TestCloud;
  let adminId: string, projectId: string, project2: string, userId: string, userToken: string;

  before(async () => {
    c = await startCloud();
    const me = await c.req('GET', '/v3/auth/tokens', undefined, { headers: { 'X-Subject-Token': c.adminToken } });
    adminId = me.body.token.user.id;
    projectId = (await c.req('POST', '/v3/projects', { project: { name: 'cred-p1', domain_id: 'default' } })).body
      .project.id;
    project2 = (await c.req('POST', '/v3/projects', { project: { name: 'cred-p2', domain_id: 'default' } })).body
      .project.id;
    userId = (
      await c.req('POST', '/v3/users', { user: { name: 'cred-user', domain_id: 'default', password: 'secret-pw' } })
    ).body.user.id;
    const member = (await c.req('GET', '/v3/roles?name=member')).body.roles[0].id;
    assert.equal((await c.req('PUT', `/v3/projects/${projectId}/users/${userId}/roles/${member}`)).status, 204);
    userToken = await c.token({ id: userId, password: 'secret-pw' }, { project: { id: projectId } });
  });
  after(async () => {
    await c.stop();
  });

  it('creates an ec2 credential whose id is the sha256 of its access key, encrypted at rest', async () => {
    const blob = JSON.stringify({ access: 'AKIA-one', secret: 's3cr3t-one' });
    const r = await c.req('POST', '/v3/credentials', {
      credential: { user_id: adminId, project_id: projectId, type: 'ec2', blob },
    });
    assert.equal(r.status, 201);
    assert.equal(r.body.credential.id, sha256('AKIA-one'));
    assert.equal(r.body.credential.blob, blob);
    assert.equal(r.body.credential.user_id, adminId);
    assert.equal(r.body.credential.project_id, projectId);
    assert.equal(r.body.credential.type, 'ec2');
    assert.match(r.body.credential.links.self, new RegExp(`/v3/credentials/${r.body.credential.id}$`));
    // At rest: no plaintext, and the hash of the primary key (the highest-numbered file) as Keystone writes it.
    const row = await c.cloud.identity.db
      .selectFrom('credential')
      .selectAll()
      .where('id', '=', r.body.credential.id)
      .executeTakeFirst();
    assert.ok(row);
    assert.ok(!row.encrypted_blob.includes('s3cr3t-one'));
    const dir = path.join(c.dataDir, 'credential-keys');
    const primary = fs
      .readdirSync(dir)
      .filter((f) => /^\d+$/.test(f))
      .map(Number)
      .sort((a, b) => b - a)[0]!;
    assert.equal(
      row.key_hash,
      createHash('sha1')
        .update(fs.readFileSync(path.join(dir, String(primary)), 'utf8').trim())
        .digest('hex'),
    );
    const got = await c.req('GET', `/v3/credentials/${r.body.credential.id}`);
    assert.equal(got.status, 200);
    assert.equal(got.body.credential.blob, blob);
  });

  it('rejects bad credentials with 400 and duplicates with 409', async () => {
    const ec2 = (blob: string, extra: Record<string, unknown> = {}) =>
      c.req('POST', '/v3/credentials', {
        credential: { user_id: adminId, project_id: projectId, type: 'ec2', blob, ...extra },
      });
    const noProject = await c.req('POST', '/v3/credentials', {
      credential: { user_id: adminId, type: 'ec2', blob: '{"access":"x"}' },
    });
    assert.equal(noProject.status, 400);
    assert.match(noProject.body.error.message, /project_id/);
    assert.equal((await ec2('not json')).status, 400);
    const noAccess = await ec2('{"secret":"x"}');
    assert.equal(noAccess.status, 400);
    assert.match(noAccess.body.error.message, /access/);
    assert.equal((await ec2('[]')).status, 400);
    assert.equal(
      (await c.req('POST', '/v3/credentials', { credential: { user_id: adminId, type: 'cert' } })).status,
      400,
    );
    assert.equal(
      (await c.req('POST', '/v3/credentials', { credential: { user_id: adminId, type: 'cert', blob: 42 } })).status,
      400,
    );
    assert.equal((await c.req('POST', '/v3/credentials', {})).status, 400);
    const dup = await ec2(JSON.stringify({ access: 'AKIA-one', secret: 'other' }));
    assert.equal(dup.status, 409);
  });

  it('creates non-ec2 credentials without a project, keeping extra attributes', async () => {
    const r = await c.req('POST', '/v3/credentials', {
      credential: { user_id: adminId, type: 'totp', blob: 'GEZDGNBVGY3TQOJQ', label: 'phone' },
    });
    assert.equal(r.status, 201);
    assert.match(r.body.credential.id, /^[0-9a-f]{32}$/);
    assert.equal(r.body.credential.project_id, null);
    assert.equal(r.body.credential.label, 'phone');
    assert.equal(r.body.credential.blob, 'GEZDGNBVGY3TQOJQ');
  });

  it('lists with user_id and type filters, updates and deletes', async () => {
    const all = await c.req('GET', '/v3/credentials');
    assert.equal(all.status, 200);
    assert.ok(all.body.credentials.length >= 2);
    const totp = await c.req('GET', `/v3/credentials?type=totp&user_id=${adminId}`);
    assert.deepEqual(
      totp.body.credentials.map((x: { type: string }) => x.type),
      ['totp'],
    );
    assert.equal((await c.req('GET', `/v3/credentials?user_id=${userId}`)).body.credentials.length, 0);

    const id = sha256('AKIA-one');
    const newBlob = JSON.stringify({ access: 'AKIA-one', secret: 'rotated' });
    const up = await c.req('PATCH', `/v3/credentials/${id}`, {
      credential: { blob: newBlob, project_id: project2, type: 'ec2' },
    });
    assert.equal(up.status, 200);
    assert.equal(up.body.credential.project_id, project2);
    assert.equal(up.body.credential.blob, newBlob);
    assert.equal((await c.req('GET', `/v3/credentials/${id}`)).body.credential.blob, newBlob);
    // The scope an ec2 credential was created with may not change.
    const scoped = await c.req('PATCH', `/v3/credentials/${id}`, {
      credential: { blob: JSON.stringify({ access: 'AKIA-one', trust_id: 'abc' }) },
    });
    assert.equal(scoped.status, 400);
    assert.equal((await c.req('PATCH', `/v3/credentials/${id}`, { credential: { id: 'other' } })).status, 400);
    assert.equal((await c.req('PATCH', `/v3/credentials/${id}`, { credential: {} })).status, 400);
    assert.equal((await c.req('PATCH', '/v3/credentials/nope', { credential: { blob: 'x' } })).status, 404);

    assert.equal((await c.req('DELETE', `/v3/credentials/${id}`)).status, 204);
    const gone = await c.req('GET', `/v3/credentials/${id}`);
    assert.equal(gone.status, 404);
    assert.equal(gone.body.error.message, `Could not find credential: ${id}.`);
    assert.equal((await c.req('DELETE', `/v3/credentials/${id}`)).status, 404);
  });

  it('lets a user manage only their own credentials', async () => {
    const own = await c.req(
      'POST',
      '/v3/credentials',
      { credential: { user_id: userId, type: 'cert', blob: 'mine' } },
      { token: userToken },
    );
    assert.equal(own.status, 201);
    const other = await c.req(
      'POST',
      '/v3/credentials',
      { credential: { user_id: adminId, type: 'cert', blob: 'theirs' } },
      { token: userToken },
    );
    assert.equal(other.status, 403);
    const list = await c.req('GET', '/v3/credentials', undefined, { token: userToken });
    assert.equal(list.status, 200);
    assert.deepEqual(
      list.body.credentials.map((x: WithId) => x.id),
      [own.body.credential.id],
    );
    const adminCred = (await c.req('GET', `/v3/credentials?user_id=${adminId}`)).body.credentials[0];
    assert.equal((await c.req('GET', `/v3/credentials/${adminCred.id}`, undefined, { token: userToken })).status, 403);
    assert.equal(
      (await c.req('DELETE', `/v3/credentials/${adminCred.id}`, undefined, { token: userToken })).status,
      403,
    );
    // Handing one's credential to another user is an update the policy refuses.
    assert.equal(
      (
        await c.req(
          'PATCH',
          `/v3/credentials/${own.body.credential.id}`,
          { credential: { user_id: adminId } },
          { token: userToken },
        )
      ).status,
      403,
    );
    assert.equal(
      (
        await c.req(
          'PATCH',
          `/v3/credentials/${own.body.credential.id}`,
          { credential: { blob: 'mine2' } },
          { token: userToken },
        )
      ).status,
      200,
    );
    assert.equal(
      (await c.req('DELETE', `/v3/credentials/${own.body.credential.id}`, undefined, { token: userToken })).status,
      204,
    );
    assert.equal((await c.req('GET', '/v3/credentials', undefined, { token: null })).status, 401);
  });

  it('serves OS-EC2 credentials under the user', async () => {
    const base = `/v3/users/${userId}/credentials/OS-EC2`;
    const r = await c.req('POST', base, { tenant_id: projectId }, { token: userToken });
    assert.equal(r.status, 201);
    const cred = r.body.credential;
    assert.equal(cred.user_id, userId);
    assert.equal(cred.tenant_id, projectId);
    assert.match(cred.access, /^[0-9a-f]{32}$/);
    assert.match(cred.secret, /^[0-9a-f]{32}$/);
    assert.equal(cred.trust_id, null);
    assert.match(cred.links.self, new RegExp(`${base}/${cred.access}$`));
    // Stored as an ec2 credential of the same table.
    const v3 = await c.req('GET', `/v3/credentials/${sha256(cred.access)}`);
    assert.equal(v3.status, 200);
    assert.equal(v3.body.credential.type, 'ec2');
    assert.equal(JSON.parse(v3.body.credential.blob).secret, cred.secret);

    const list = await c.req('GET', base, undefined, { token: userToken });
    assert.equal(list.status, 200);
    assert.deepEqual(
      list.body.credentials.map((x: { access: string }) => x.access),
      [cred.access],
    );
    const show = await c.req('GET', `${base}/${cred.access}`, undefined, { token: userToken });
    assert.equal(show.status, 200);
    for (const k of ['access', 'secret', 'user_id', 'tenant_id']) assert.equal(show.body.credential[k], cred[k]);

    assert.equal((await c.req('POST', base, {}, { token: userToken })).status, 400);
    assert.equal((await c.req('POST', base, { tenant_id: 'nope' }, { token: userToken })).status, 404);
    assert.equal(
      (await c.req('POST', `/v3/users/${adminId}/credentials/OS-EC2`, { tenant_id: projectId }, { token: userToken }))
        .status,
      403,
    );
    assert.equal(
      (await c.req('GET', `/v3/users/${adminId}/credentials/OS-EC2`, undefined, { token: userToken })).status,
      403,
    );
    assert.equal((await c.req('POST', '/v3/users/nope/credentials/OS-EC2', { tenant_id: projectId })).status, 404);
    // Another user's access key is not reachable under one's own path.
    const adminEc2 = (await c.req('POST', `/v3/users/${adminId}/credentials/OS-EC2`, { tenant_id: projectId })).body
      .credential;
    assert.equal((await c.req('GET', `${base}/${adminEc2.access}`, undefined, { token: userToken })).status, 403);

    assert.equal((await c.req('DELETE', `${base}/${cred.access}`, undefined, { token: userToken })).status, 204);
    const gone = await c.req('GET', `${base}/${cred.access}`, undefined, { token: userToken });
    assert.equal(gone.status, 404);
    assert.equal((await c.req('GET', base, undefined, { token: userToken })).body.credentials.length, 0);
  });

  it('keeps credentials readable across a credential key rotation', async () => {
    const blob = JSON.stringify({ access: 'AKIA-rot', secret: 'rot' });
    const r = await c.req('POST', '/v3/credentials', {
      credential: { user_id: adminId, project_id: projectId, type: 'ec2', blob },
    });
    assert.equal(r.status, 201);
    c.cloud.identity.credentialKeys.rotate();
    const got = await c.req('GET', `/v3/credentials/${r.body.credential.id}`);
    assert.equal(got.status, 200);
    assert.equal(got.body.credential.blob, blob);
  });
});
