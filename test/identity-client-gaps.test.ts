// What client libraries trip over in identity (issue 21, items 1-5): inexact list filters,
// domain grants of another domain's role, ec2tokens/s3tokens, the OAuth1 delegation flow,
// and access rules in creation order.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { databaseEngines, startCloud, type TestCloud } from './lib/cloud.ts';
import { checkEc2Signature, checkS3Signature, checkTimestamp, ec2Signature } from '../src/identity/ec2.ts';

/** An OAuth 1.0a HMAC-SHA1 Authorization header, built the way tempest's oauth_token_client builds it. */
function oauthHeader(
  method: string,
  url: string,
  o: {
    consumer: string;
    consumerSecret: string;
    token?: string;
    tokenSecret?: string;
    verifier?: string;
    callback?: string;
  },
) {
  const esc = (v: string) =>
    encodeURIComponent(v).replace(/[!'()*]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`);
  const params: Array<[string, string]> = [
    ['oauth_nonce', randomBytes(8).toString('hex')],
    ['oauth_timestamp', String(Math.floor(Date.now() / 1000))],
    ['oauth_version', '1.0'],
    ['oauth_signature_method', 'HMAC-SHA1'],
    ['oauth_consumer_key', o.consumer],
  ];
  if (o.token) params.push(['oauth_token', o.token]);
  if (o.callback) params.push(['oauth_callback', o.callback]);
  if (o.verifier) params.push(['oauth_verifier', o.verifier]);
  const norm = params
    .map(([k, v]) => `${esc(k)}=${esc(v)}`)
    .sort()
    .join('&');
  const base = `${esc(method)}&${esc(url)}&${esc(norm)}`;
  const sig = createHmac('sha1', `${esc(o.consumerSecret)}&${esc(o.tokenSecret ?? '')}`)
    .update(base)
    .digest('base64');
  params.push(['oauth_signature', sig]);
  return `OAuth ${params.map(([k, v]) => `${esc(k)}="${esc(v)}"`).join(', ')}`;
}
const form = (s: string) => Object.fromEntries(new URLSearchParams(s));

for (const engine of databaseEngines('identity client gaps'))
  describe(`identity client gaps (${engine.name})`, () => {
    let c: TestCloud;
    before(async () => {
      c = await startCloud({ database: engine.database });
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
      assert.equal(
        r.body.error.message,
        `Project ${p2} must be in the same domain as the role ${role} being assigned.`,
      );
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
      const shown = await c.req(
        'GET',
        `/v3/users/${admin}/application_credentials/${r.body.application_credential.id}`,
      );
      assert.deepEqual(strip(shown.body.application_credential.access_rules), rules);
      const listed = await c.req('GET', `/v3/users/${admin}/access_rules`);
      assert.deepEqual(strip(listed.body.access_rules), rules);
    });

    it('runs the OAuth1 delegation flow and authenticates with the oauth1 method', async () => {
      const me = (await c.req('GET', '/v3/auth/tokens', undefined, { headers: { 'X-Subject-Token': c.adminToken } }))
        .body.token;
      const projectId = me.project.id;
      const consumer = (await c.req('POST', '/v3/OS-OAUTH1/consumers', { consumer: { description: 'gaps' } })).body
        .consumer;
      const url = (p: string) => `${c.identity}/v3/OS-OAUTH1/${p}`;
      // request token: signed by the consumer, unauthenticated
      const rtRes = await fetch(url('request_token'), {
        method: 'POST',
        headers: {
          'Requested-Project-Id': projectId,
          Authorization: oauthHeader('POST', url('request_token'), {
            consumer: consumer.id,
            consumerSecret: consumer.secret,
            callback: 'oob',
          }),
        },
      });
      assert.equal(rtRes.status, 201);
      assert.match(rtRes.headers.get('content-type') ?? '', /application\/x-www-form-urlencoded/);
      const rt = form(await rtRes.text());
      assert.ok(rt.oauth_token && rt.oauth_token_secret && rt.oauth_expires_at);
      // a bad signature is a 401
      const bad = await fetch(url('request_token'), {
        method: 'POST',
        headers: {
          'Requested-Project-Id': projectId,
          Authorization: oauthHeader('POST', url('request_token'), { consumer: consumer.id, consumerSecret: 'wrong' }),
        },
      });
      assert.equal(bad.status, 401);
      assert.equal((await bad.json()).error.message, 'Invalid signature');
      // authorize with the admin's member role
      const member = (await c.req('GET', '/v3/roles?name=member')).body.roles[0];
      const admin = (await c.req('GET', '/v3/roles?name=admin')).body.roles[0];
      const auth = await c.req('PUT', `/v3/OS-OAUTH1/authorize/${rt.oauth_token}`, { roles: [{ id: admin.id }] });
      assert.equal(auth.status, 200);
      const verifier = auth.body.token.oauth_verifier;
      assert.match(verifier, /^[A-Za-z0-9]{8}$/);
      // access token: signed with both secrets and the verifier
      const atHeader = (v: string) =>
        oauthHeader('POST', url('access_token'), {
          consumer: consumer.id,
          consumerSecret: consumer.secret,
          token: rt.oauth_token,
          tokenSecret: rt.oauth_token_secret,
          verifier: v,
        });
      const wrongVerifier = await fetch(url('access_token'), {
        method: 'POST',
        headers: { Authorization: atHeader('xxxxxxxx') },
      });
      assert.equal(wrongVerifier.status, 401);
      const atRes = await fetch(url('access_token'), {
        method: 'POST',
        headers: { Authorization: atHeader(verifier) },
      });
      assert.equal(atRes.status, 201);
      const at = form(await atRes.text());
      // the request token is spent
      assert.equal(
        (await fetch(url('access_token'), { method: 'POST', headers: { Authorization: atHeader(verifier) } })).status,
        404,
      );
      // the user's access tokens and their roles
      const list = await c.req('GET', `/v3/users/${me.user.id}/OS-OAUTH1/access_tokens`);
      assert.equal(list.status, 200);
      const shown = list.body.access_tokens.find((t: { id: string }) => t.id === at.oauth_token);
      assert.equal(shown.consumer_id, consumer.id);
      assert.equal(shown.project_id, projectId);
      assert.equal(shown.authorizing_user_id, me.user.id);
      assert.equal(shown.expires_at, at.oauth_expires_at);
      const got = await c.req('GET', `/v3/users/${me.user.id}/OS-OAUTH1/access_tokens/${at.oauth_token}`);
      assert.equal(got.body.access_token.expires_at, at.oauth_expires_at);
      const roles = await c.req('GET', `/v3/users/${me.user.id}/OS-OAUTH1/access_tokens/${at.oauth_token}/roles`);
      assert.deepEqual(
        roles.body.roles.map((r: { id: string }) => r.id),
        [admin.id],
      );
      const role = await c.req(
        'GET',
        `/v3/users/${me.user.id}/OS-OAUTH1/access_tokens/${at.oauth_token}/roles/${admin.id}`,
      );
      assert.equal(role.body.role.id, admin.id);
      assert.equal(
        (await c.req('GET', `/v3/users/${me.user.id}/OS-OAUTH1/access_tokens/${at.oauth_token}/roles/${member.id}`))
          .status,
        404,
      );
      // authenticate with the access token
      const tokUrl = `${c.identity}/v3/auth/tokens`;
      const tokRes = await fetch(tokUrl, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          Authorization: oauthHeader('POST', tokUrl, {
            consumer: consumer.id,
            consumerSecret: consumer.secret,
            token: at.oauth_token,
            tokenSecret: at.oauth_token_secret,
          }),
        },
        body: JSON.stringify({ auth: { identity: { methods: ['oauth1'], oauth1: {} } } }),
      });
      assert.equal(tokRes.status, 201);
      const tok = (await tokRes.json()).token;
      assert.deepEqual(tok.methods, ['oauth1']);
      assert.equal(tok.project.id, projectId);
      assert.deepEqual(tok['OS-OAUTH1'], { access_token_id: at.oauth_token, consumer_id: consumer.id });
      // admin implies member implies reader: the delegated roles and those they imply
      assert.ok(tok.roles.some((r: { id: string }) => r.id === admin.id));
      const oauthToken = tokRes.headers.get('x-subject-token')!;
      const v = await c.req('GET', '/v3/auth/tokens', undefined, { headers: { 'X-Subject-Token': oauthToken } });
      assert.equal(v.status, 200);
      assert.equal(v.body.token['OS-OAUTH1'].access_token_id, at.oauth_token);
      // a delegated token can neither list access tokens nor be rescoped
      assert.equal(
        (await c.req('GET', `/v3/users/${me.user.id}/OS-OAUTH1/access_tokens`, undefined, { token: oauthToken }))
          .status,
        403,
      );
      // revoking the access token invalidates its tokens
      assert.equal(
        (await c.req('DELETE', `/v3/users/${me.user.id}/OS-OAUTH1/access_tokens/${at.oauth_token}`)).status,
        204,
      );
      assert.equal(
        (await c.req('GET', '/v3/auth/tokens', undefined, { headers: { 'X-Subject-Token': oauthToken } })).status,
        404,
      );
      assert.equal(
        (await c.req('GET', `/v3/users/${me.user.id}/OS-OAUTH1/access_tokens/${at.oauth_token}`)).status,
        404,
      );
    });

    // Vectors from keystoneclient's Ec2Signer (Debian python3-keystoneclient) and Keystone's s3tokens algorithm.
    const SECRET = 'e7a7a2240136494986991a6598d9fb9f';
    const TS = '2026-12-06T11:00:00Z';
    const v2params = {
      SignatureVersion: '2',
      Action: 'DescribeInstances',
      AWSAccessKeyId: 'AK',
      Timestamp: TS,
      SignatureMethod: 'HmacSHA256',
      Name: "a b/c*~!'",
    };
    const v4headers = {
      Authorization:
        'AWS4-HMAC-SHA256 Credential=AK/20261206/RegionOne/ec2/aws4_request, SignedHeaders=host;x-amz-date, Signature=whatever',
      Host: 'ec2.example.com',
      'X-Amz-Date': '20261206T110000Z',
    };
    const bodyHash = 'd2c784fddd5cb885f870e1ea4d0e9cf479296ad64ca693b8e26d872b0cfa3689';

    it('computes EC2 signatures v0, v1, v2 and v4 as keystoneclient does, and S3 v2/v4', () => {
      assert.equal(
        ec2Signature(SECRET, { params: { SignatureVersion: '0', Action: 'DescribeInstances', Timestamp: TS } }),
        'pXvGdhUTRER79zP+awjxN6VrgYE=',
      );
      assert.equal(
        ec2Signature(SECRET, {
          params: {
            SignatureVersion: '1',
            Action: 'DescribeInstances',
            AWSAccessKeyId: 'AK',
            Timestamp: TS,
            b: 'x y',
            Zeta: '1',
          },
        }),
        'b4uu2Q6kY6gM4u2R2/bRdgB739g=',
      );
      const v2 = { params: v2params, verb: 'GET', host: 'ec2.example.com:8773', path: '/services/Cloud' };
      assert.equal(ec2Signature(SECRET, v2), 'o1HWE4Bq8PfZabEBa8Ju+6zJAGUZa6UqF3H0OscKDJg=');
      // a client that did not sign the port is accepted too
      checkEc2Signature(SECRET, { ...v2, signature: 'knjgGfYyPbUV8RyD16R1G9ID0q5fpBvT+vSxT9b6CCQ=' });
      const v4 = {
        params: { Action: 'DescribeInstances' },
        verb: 'POST',
        host: 'ec2.example.com',
        path: '/',
        headers: v4headers,
        body_hash: bodyHash,
      };
      assert.equal(ec2Signature(SECRET, v4), 'b0525ee5016d6081dc96aabcffb80bb61d54a70fb294f9cf9edbc6c1582a4068');
      assert.equal(
        ec2Signature(SECRET, { ...v4, verb: 'GET', params: { Action: 'DescribeInstances', Version: '2016-11-15' } }),
        'd01c744b51653d1460589fb59bc21eede8016d18be73a1b224adc5d008969e69',
      );
      assert.throws(() => checkEc2Signature(SECRET, { ...v2, signature: 'AAAA' }), /Invalid EC2 signature/);
      assert.throws(() => checkEc2Signature(SECRET, { ...v2 }), /EC2 signature not supplied/);
      assert.throws(
        () => checkEc2Signature(SECRET, { params: { SignatureVersion: '9' }, signature: 'x' }),
        /Invalid EC2 signature/,
      );

      checkS3Signature(SECRET, {
        token: 'R0VUCgoKVHVlLCAwNiBEZWMgMjAyNiAxMTowMDowMCBHTVQKL2J1Y2tldC9rZXk=',
        signature: 'cRPJEBZ9FL9vissYI8dfeI2E+CQ=',
      });
      const s3v4 =
        'QVdTNC1ITUFDLVNIQTI1NgoyMDI2MTIwNlQxMTAwMDBaCjIwMjYxMjA2L1JlZ2lvbk9uZS9zMy9hd3M0X3JlcXVlc3QKMmQ3MTE2NDJiNzI2YjA0NDAxNjI3Y2E5ZmJhYzMyZjVjODUzMGZiMTkwM2NjNGRiMDIyNTg3MTc5MjFhNDg4MQ==';
      checkS3Signature(SECRET, {
        token: s3v4,
        signature: '310d045a965ee7e354e3a494fa2763adec7c71a8a8eda8300143b91e1d9b87f3',
      });
      assert.throws(
        () =>
          checkS3Signature('other', {
            token: s3v4,
            signature: '310d045a965ee7e354e3a494fa2763adec7c71a8a8eda8300143b91e1d9b87f3',
          }),
        /Credential signature mismatch/,
      );

      const now = Date.parse(TS);
      checkTimestamp({ params: { Timestamp: TS } }, 15, now + 14 * 60_000);
      assert.throws(
        () => checkTimestamp({ params: { Timestamp: TS } }, 15, now + 16 * 60_000),
        /Credential is expired/,
      );
      assert.throws(
        () => checkTimestamp({ headers: { 'X-Amz-Date': '20261206T110000Z' } }, 15, now + 16 * 60_000),
        /expired/,
      );
      assert.throws(() => checkTimestamp({ params: { Timestamp: 'yesterday' } }, 15), /timestamp is invalid/);
    });

    it('answers POST /v3/ec2tokens and /v3/s3tokens without authentication', async () => {
      const me = (await c.req('GET', '/v3/auth/tokens', undefined, { headers: { 'X-Subject-Token': c.adminToken } }))
        .body.token;
      const access = `AK${Date.now()}`;
      const cr = await c.req('POST', '/v3/credentials', {
        credential: {
          type: 'ec2',
          user_id: me.user.id,
          project_id: me.project.id,
          blob: JSON.stringify({ access, secret: SECRET }),
        },
      });
      assert.equal(cr.status, 201);
      const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
      const params = { ...v2params, AWSAccessKeyId: access, Timestamp: now };
      const creds = { access, host: 'ec2.example.com:8773', verb: 'GET', path: '/services/Cloud', params };
      const signature = ec2Signature(SECRET, creds);
      const ok = await c.req('POST', '/v3/ec2tokens', { credentials: { ...creds, signature } }, { token: null });
      assert.equal(ok.status, 200);
      assert.ok(ok.headers.get('x-subject-token'));
      assert.deepEqual(ok.body.token.methods, ['ec2credential']);
      assert.equal(ok.body.token.project.id, me.project.id);
      assert.equal(ok.body.token.user.id, me.user.id);
      assert.ok(Array.isArray(ok.body.token.catalog));
      // the token validates
      const v = await c.req('GET', '/v3/auth/tokens', undefined, {
        headers: { 'X-Subject-Token': ok.headers.get('x-subject-token')! },
      });
      assert.equal(v.status, 200);
      // the legacy body names ("credential", "ec2Credentials") are accepted
      assert.equal(
        (await c.req('POST', '/v3/ec2tokens', { ec2Credentials: { ...creds, signature } }, { token: null })).status,
        200,
      );
      const bad = await c.req(
        'POST',
        '/v3/ec2tokens',
        { credentials: { ...creds, signature: 'AAAA' } },
        { token: null },
      );
      assert.equal(bad.status, 401);
      assert.deepEqual(bad.body, { error: { code: 401, title: 'Unauthorized', message: 'Invalid EC2 signature.' } });
      const unknown = await c.req(
        'POST',
        '/v3/ec2tokens',
        { credentials: { ...creds, access: 'nope', signature } },
        { token: null },
      );
      assert.equal(unknown.status, 404);
      assert.equal(unknown.body.error.message, 'EC2 access key not found.');
      assert.equal((await c.req('POST', '/v3/ec2tokens', {}, { token: null })).status, 400);
      assert.equal((await c.req('POST', '/v3/ec2tokens', { credentials: {} }, { token: null })).status, 401);
      const old = { ...creds, params: { ...params, Timestamp: '2020-01-01T00:00:00Z' } };
      const expired = await c.req(
        'POST',
        '/v3/ec2tokens',
        { credentials: { ...old, signature: ec2Signature(SECRET, old) } },
        { token: null },
      );
      assert.equal(expired.status, 401);
      assert.equal(expired.body.error.message, 'Credential is expired');

      const sts = Buffer.from(`GET\n\n\n${new Date().toUTCString()}\n/bucket/key`);
      const { createHmac: h } = await import('node:crypto');
      const s3sig = h('sha1', SECRET).update(sts).digest('base64');
      const s3 = await c.req(
        'POST',
        '/v3/s3tokens',
        { credentials: { access, token: sts.toString('base64'), signature: s3sig } },
        { token: null },
      );
      assert.equal(s3.status, 200);
      assert.equal(s3.headers.get('x-subject-token'), null);
      assert.equal(s3.body.token.project.id, me.project.id);
      const s3bad = await c.req(
        'POST',
        '/v3/s3tokens',
        { credentials: { access, token: sts.toString('base64'), signature: 'x' } },
        { token: null },
      );
      assert.equal(s3bad.status, 401);
      assert.equal(s3bad.body.error.message, 'Credential signature mismatch');
      assert.equal((await c.req('GET', '/v3/s3tokens', undefined, { token: null })).status, 405);
    });

    it('answers bad OAuth1 and EC2 input with OpenStack errors, never a 500', async () => {
      const post = (path: string, headers: Record<string, string>, body?: unknown) =>
        fetch(`${c.identity}${path}`, {
          method: 'POST',
          headers: body === undefined ? headers : { ...headers, 'Content-Type': 'application/json' },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
      const consumer = (await c.req('POST', '/v3/OS-OAUTH1/consumers', { consumer: {} })).body.consumer;
      const project = (await c.req('GET', '/v3/projects?name=admin')).body.projects[0].id;
      const cases: Array<[Promise<Response>, number]> = [
        [post('/v3/OS-OAUTH1/request_token', { 'Requested-Project-Id': project }), 400],
        [post('/v3/OS-OAUTH1/request_token', { Authorization: `OAuth oauth_consumer_key="${consumer.id}"` }), 400],
        [
          post('/v3/OS-OAUTH1/request_token', {
            'Requested-Project-Id': project,
            Authorization: 'OAuth oauth_consumer_key="nope"',
          }),
          404,
        ],
        [
          post('/v3/OS-OAUTH1/request_token', {
            'Requested-Project-Id': 'nope',
            Authorization: `OAuth oauth_consumer_key="${consumer.id}"`,
          }),
          404,
        ],
        [
          post('/v3/OS-OAUTH1/request_token', {
            'Requested-Project-Id': project,
            Authorization: `OAuth oauth_consumer_key="${consumer.id}", oauth_signature="%E0%A4%A"`,
          }),
          400,
        ],
        [
          post('/v3/OS-OAUTH1/request_token', {
            'Requested-Project-Id': project,
            Authorization: `OAuth oauth_consumer_key="${consumer.id}", oauth_signature_method="PLAINTEXT", oauth_signature="x"`,
          }),
          401,
        ],
        [post('/v3/OS-OAUTH1/access_token', {}), 400],
        [
          post('/v3/OS-OAUTH1/access_token', {
            Authorization: `OAuth oauth_consumer_key="${consumer.id}", oauth_token="nope", oauth_verifier="x"`,
          }),
          404,
        ],
        [post('/v3/auth/tokens', {}, { auth: { identity: { methods: ['oauth1'], oauth1: {} } } }), 400],
        [
          post(
            '/v3/auth/tokens',
            { Authorization: 'OAuth oauth_consumer_key="x", oauth_token="nope"' },
            { auth: { identity: { methods: ['oauth1'], oauth1: {} } } },
          ),
          401,
        ],
        [post('/v3/ec2tokens', {}, []), 400],
        [post('/v3/ec2tokens', {}, { credentials: 'x' }), 401],
        [post('/v3/ec2tokens', {}, { credentials: { access: 5 } }), 404],
        [post('/v3/s3tokens', {}, { credentials: { access: 'nope', token: 'x', signature: 'y' } }), 404],
      ];
      for (const [i, [res, status]] of cases.entries()) {
        const r = await res;
        assert.equal(r.status, status, `case ${i}`);
        const body = await r.json();
        assert.equal(body.error.code, status, `case ${i}`);
      }
      for (const [body, status] of [
        [{ roles: 'x' }, 400],
        [{ roles: [{ id: 'a', name: 'b' }] }, 400],
        [{ roles: [{ id: 5 }] }, 400],
        [{ roles: [{ id: 'a' }] }, 404],
      ] as const)
        assert.equal((await c.req('PUT', '/v3/OS-OAUTH1/authorize/nope', body)).status, status, JSON.stringify(body));
    });
  });
