// The typed auth body of POST /v3/auth/tokens (src/identity/token/auth_body.ts): what the token
// provider does with each part as the real API receives it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud } from './lib/cloud.ts';

describe('identity auth body', () => {
  let c: TestCloud;
  const admin = () => ({ name: 'admin', domain: { id: 'default' }, password: c.adminPassword });
  const issue = (auth: unknown) => c.req('POST', '/v3/auth/tokens', { auth }, { token: null });

  before(async () => {
    c = await startCloud();
  });
  after(async () => {
    await c?.stop();
  });

  it('scopes by each form the scope may take', async () => {
    const password = { methods: ['password'], password: { user: admin() } };
    const unscoped = await issue({ identity: password, scope: 'unscoped' });
    assert.equal(unscoped.status, 201, JSON.stringify(unscoped.body));
    assert.equal(unscoped.body.token.project, undefined);
    const system = await issue({ identity: password, scope: { system: { all: true } } });
    assert.equal(system.status, 201, JSON.stringify(system.body));
    assert.deepEqual(system.body.token.system, { all: true });
    const project = await issue({
      identity: password,
      scope: { project: { name: 'admin', domain: { name: 'Default' } } },
    });
    assert.equal(project.status, 201, JSON.stringify(project.body));
    assert.equal(project.body.token.project.name, 'admin');
    const domain = await issue({ identity: password, scope: { domain: { id: 'default' } } });
    // The admin has no role on the domain itself: Keystone's 401 names it.
    assert.equal(domain.status, 401);
    assert.match(domain.body.error.message, /has no access to domain default/);
  });

  it('answers 400 for a trust scope without an id, and for parts of the wrong type', async () => {
    const password = { methods: ['password'], password: { user: admin() } };
    const noTrustId = await issue({ identity: password, scope: { 'OS-TRUST:trust': {} } });
    assert.equal(noTrustId.status, 400);
    assert.match(noTrustId.body.error.message, /Expecting to find trust_id in trust/);
    const wrongType = await issue({ identity: { methods: ['password'], password: { user: { id: 7 } } } });
    assert.equal(wrongType.status, 400);
    assert.match(wrongType.body.error.message, /identity\/password\/user\/id/);
    const noBody = await issue({ identity: { methods: ['token'] } });
    assert.equal(noBody.status, 400);
    const badMapped = await issue({ identity: { methods: ['mapped'], mapped: {} } });
    assert.ok([400, 401].includes(badMapped.status), `mapped without a provider: ${badMapped.status}`);
  });

  it('rescopes a token with the token method', async () => {
    const first = await issue({ identity: { methods: ['password'], password: { user: admin() } }, scope: 'unscoped' });
    const id = first.headers.get('x-subject-token')!;
    const rescoped = await issue({
      identity: { methods: ['token'], token: { id } },
      scope: { project: { name: 'admin', domain: { id: 'default' } } },
    });
    assert.equal(rescoped.status, 201);
    assert.deepEqual(rescoped.body.token.methods.sort(), ['password', 'token']);
    assert.equal((await issue({ identity: { methods: ['token'], token: { id: 'nope' } } })).status, 404);
  });
});
