// Keystone-to-Keystone between two in-process clouds: cloud A, the SAML2 identity provider, signs
// an assertion of a project token for its service provider B (bare and ECP-wrapped; the metadata
// carries its certificate); B's ECP endpoint (as a Shibboleth front) verifies it against A's
// certificate and the federated auth URL then maps its attributes to a token of B, as
// keystoneauth's k2k plugin drives it (POST the envelope, follow with the session cookie).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import fs from 'node:fs';
import os from 'node:os';
import { startCloud, type TestCloud } from './lib/cloud.ts';
import { verifyAssertion } from '../src/identity/federation/saml.ts';
import { relayTarget } from '../src/identity/api/saml.ts';

describe('SAML2 identity provider and K2K', () => {
  let a: TestCloud;
  let b: TestCloud;
  let projectB: string;
  const certDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-k2k-'));
  const certCopy = path.join(certDir, 'idp-a.pem');
  // B keeps its data across a restart (its ECP sessions are in its database).
  const dataB = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-k2k-b-'));
  const startB = () =>
    startCloud({
      dataDir: dataB,
      configure: (cfg) => {
        cfg.federation = { saml2: { trustedIdpCertificates: [certCopy] } };
      },
    });

  before(async () => {
    a = await startCloud();
    b = await startB();
    // A's metadata (its certificate is generated into its data dir on first use)
    const md = await fetch(`${a.identity}/v3/OS-FEDERATION/saml2/metadata`);
    assert.equal(md.status, 200);
    const metadata = await md.text();
    assert.match(md.headers.get('content-type') ?? '', /text\/xml/);
    assert.ok(metadata.includes(`entityID="${a.identity}/v3/OS-FEDERATION/saml2/idp"`), metadata);
    const cert = fs.readFileSync(path.join(a.dataDir, 'saml2', 'signing_cert.pem'), 'utf8');
    assert.ok(metadata.includes(cert.split('\n')[1]!));
    fs.writeFileSync(certCopy, cert);

    // A: B as a service provider
    const sp = await a.req('PUT', '/v3/OS-FEDERATION/service_providers/cloud-b', {
      service_provider: {
        auth_url: `${b.identity}/v3/OS-FEDERATION/identity_providers/cloud-a/protocols/saml2/auth`,
        sp_url: `${b.identity}/Shibboleth.sso/SAML2/ECP`,
        enabled: true,
      },
    });
    assert.equal(sp.status, 201, JSON.stringify(sp.body));

    // B: A as an identity provider; its members get B's k2k group (member on k2k-project)
    projectB = (await b.req('POST', '/v3/projects', { project: { name: 'k2k-project', domain_id: 'default' } })).body
      .project.id;
    const group = (await b.req('POST', '/v3/groups', { group: { name: 'k2k-users', domain_id: 'default' } })).body.group
      .id;
    const member = (await b.req('GET', '/v3/roles?name=member')).body.roles[0].id;
    assert.equal((await b.req('PUT', `/v3/projects/${projectB}/groups/${group}/roles/${member}`)).status, 204);
    assert.equal(
      (
        await b.req('PUT', '/v3/OS-FEDERATION/identity_providers/cloud-a', {
          identity_provider: { enabled: true, remote_ids: [`${a.identity}/v3/OS-FEDERATION/saml2/idp`] },
        })
      ).status,
      201,
    );
    const rules = [
      {
        local: [{ user: { name: '{0}' } }, { group: { name: 'k2k-users', domain: { id: 'default' } } }],
        remote: [{ type: 'openstack_user' }, { type: 'openstack_roles', any_one_of: ['admin', 'member'] }],
      },
    ];
    assert.equal((await b.req('PUT', '/v3/OS-FEDERATION/mappings/k2k', { mapping: { rules } })).status, 201);
    assert.equal(
      (
        await b.req('PUT', '/v3/OS-FEDERATION/identity_providers/cloud-a/protocols/saml2', {
          protocol: { mapping_id: 'k2k', remote_id_attribute: 'Shib-Identity-Provider' },
        })
      ).status,
      201,
    );
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
    fs.rmSync(certDir, { recursive: true, force: true });
    fs.rmSync(dataB, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  });

  const samlBody = (token: string, sp = 'cloud-b') => ({
    auth: { identity: { methods: ['token'], token: { id: token } }, scope: { service_provider: { id: sp } } },
  });

  it('signs an assertion of a project token for a service provider', async () => {
    const r = await fetch(`${a.identity}/v3/auth/OS-FEDERATION/saml2`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(samlBody(a.adminToken)),
    });
    assert.equal(r.status, 200);
    const xml = await r.text();
    assert.ok(xml.startsWith('<samlp:Response '), xml.slice(0, 200));
    const cert = fs.readFileSync(certCopy, 'utf8');
    const v = verifyAssertion(xml, [cert]);
    assert.equal(v.issuer, `${a.identity}/v3/OS-FEDERATION/saml2/idp`);
    assert.equal(v.subject, 'admin');
    assert.deepEqual(v.attributes.openstack_project, ['admin']);
    assert.deepEqual(v.attributes.openstack_user_domain, ['Default']);
    assert.ok(v.attributes.openstack_roles!.includes('admin'));
    // tampering breaks it
    assert.throws(() =>
      verifyAssertion(xml.replace('>admin</saml:AttributeValue>', '>root</saml:AttributeValue>'), [cert]),
    );

    // an unscoped token, an unknown service provider, no token: refused
    const unscoped = await a.req(
      'POST',
      '/v3/auth/tokens',
      {
        auth: {
          identity: {
            methods: ['password'],
            password: { user: { name: 'admin', domain: { id: 'default' }, password: 'admin-secret' } },
          },
        },
      },
      { token: null },
    );
    const u = unscoped.headers.get('x-subject-token')!;
    assert.equal((await a.req('POST', '/v3/auth/OS-FEDERATION/saml2', samlBody(u), { token: null })).status, 403);
    assert.equal(
      (await a.req('POST', '/v3/auth/OS-FEDERATION/saml2', samlBody(a.adminToken, 'nope'), { token: null })).status,
      404,
    );
    assert.equal((await a.req('POST', '/v3/auth/OS-FEDERATION/saml2/ecp', { auth: {} }, { token: null })).status, 400);
  });

  it("gets a token of the service provider's cloud through ECP (K2K)", async () => {
    const ecp = await fetch(`${a.identity}/v3/auth/OS-FEDERATION/saml2/ecp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(samlBody(a.adminToken)),
    });
    assert.equal(ecp.status, 200);
    const envelope = await ecp.text();
    assert.ok(envelope.startsWith('<soap11:Envelope '));
    assert.ok(envelope.includes('<ecp:RelayState '));

    // a tampered envelope is refused by B
    const bad = await fetch(`${b.identity}/Shibboleth.sso/SAML2/ECP`, {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.paos+xml' },
      body: envelope.replace('>admin</saml:NameID>', '>mallory</saml:NameID>'),
      redirect: 'manual',
    });
    assert.equal(bad.status, 401);

    const posted = await fetch(`${b.identity}/Shibboleth.sso/SAML2/ECP`, {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.paos+xml' },
      body: envelope,
      redirect: 'manual',
    });
    assert.equal(posted.status, 302, await posted.text());
    const cookie = posted.headers.get('set-cookie')!.split(';')[0]!;
    const authUrl = `${b.identity}/v3/OS-FEDERATION/identity_providers/cloud-a/protocols/saml2/auth`;
    // without the session: no assertion (and no trusted proxy)
    assert.equal((await fetch(authUrl)).status, 401);
    const got = await fetch(authUrl, { headers: { cookie } });
    const body = (await got.json()) as {
      token: { user: { name: string; 'OS-FEDERATION': { identity_provider: { id: string } } } };
    };
    assert.equal(got.status, 201, JSON.stringify(body));
    assert.equal(body.token.user.name, 'admin');
    assert.equal(body.token.user['OS-FEDERATION'].identity_provider.id, 'cloud-a');
    const unscoped = got.headers.get('x-subject-token')!;
    const scoped = await b.req(
      'POST',
      '/v3/auth/tokens',
      { auth: { identity: { methods: ['token'], token: { id: unscoped } }, scope: { project: { id: projectB } } } },
      { token: null },
    );
    assert.equal(scoped.status, 201, JSON.stringify(scoped.body));
    assert.ok(scoped.body.token.roles.some((r: { name: string }) => r.name === 'member'));

    // A restart of B loses no acknowledged session: the cookie still authenticates.
    await b.stop();
    b = await startB();
    const again = await fetch(`${b.identity}/v3/OS-FEDERATION/identity_providers/cloud-a/protocols/saml2/auth`, {
      headers: { cookie },
    });
    assert.equal(again.status, 201, await again.text());
    // An unknown session is no assertion.
    const forged = await fetch(`${b.identity}/v3/OS-FEDERATION/identity_providers/cloud-a/protocols/saml2/auth`, {
      headers: { cookie: cookie.replace(/=.*/, `=${'0'.repeat(48)}`) },
    });
    assert.equal(forged.status, 401);
  });

  it('browser SSO: the HTTP-POST binding opens a session and returns to RelayState', async () => {
    // B has restarted on another port: A's service provider follows it (the audience is its sp_url).
    const sp = await a.req('PATCH', '/v3/OS-FEDERATION/service_providers/cloud-b', {
      service_provider: {
        auth_url: `${b.identity}/v3/OS-FEDERATION/identity_providers/cloud-a/protocols/saml2/auth`,
        sp_url: `${b.identity}/Shibboleth.sso/SAML2/POST`,
      },
    });
    assert.equal(sp.status, 200, JSON.stringify(sp.body));
    const r = await fetch(`${a.identity}/v3/auth/OS-FEDERATION/saml2`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(samlBody(a.adminToken)),
    });
    const response = Buffer.from(await r.text()).toString('base64');
    const authPath = '/v3/OS-FEDERATION/identity_providers/cloud-a/protocols/saml2/auth';
    const post = (form: Record<string, string>) =>
      fetch(`${b.identity}/Shibboleth.sso/SAML2/POST`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(form).toString(),
        redirect: 'manual',
      });
    const posted = await post({ SAMLResponse: response, RelayState: `${b.identity}${authPath}` });
    assert.equal(posted.status, 302, await posted.text());
    assert.equal(posted.headers.get('location'), `${b.identity}${authPath}`);
    const cookie = posted.headers.get('set-cookie')!.split(';')[0]!;
    const got = await fetch(posted.headers.get('location')!, { headers: { cookie } });
    assert.equal(got.status, 201, await got.text());
    // no form field, a tampered response: refused
    assert.equal((await post({ RelayState: authPath })).status, 400);
    const tampered = Buffer.from(
      Buffer.from(response, 'base64').toString('utf8').replace('>admin</saml:NameID>', '>mallory</saml:NameID>'),
    ).toString('base64');
    assert.equal((await post({ SAMLResponse: tampered })).status, 401);
    // RelayState never leaves this identity service (no open redirect)
    const base = 'http://h:5000/identity';
    assert.equal(relayTarget('http://evil.example/x', base), `${base}/v3/auth/tokens`);
    assert.equal(relayTarget('//evil.example/x', base), `${base}/v3/auth/tokens`);
    assert.equal(relayTarget('/other/x', base), `${base}/v3/auth/tokens`);
    assert.equal(relayTarget(null, base), `${base}/v3/auth/tokens`);
    assert.equal(relayTarget(`/identity${authPath}?x=1`, base), `${base}${authPath}?x=1`);
  });
});
