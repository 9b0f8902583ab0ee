// TOTP and multi-factor rules against the real HTTP API: RFC 6238 codes, the totp method, a login
// that meets no MFA rule gets a 401 with an auth receipt, and the receipt plus the missing method
// gets the token.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud } from './lib/cloud.ts';
import { acceptedCodes, base32Decode, totpCode } from '../src/identity/totp.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeyRepository } from '../src/identity/token/keys.ts';
import { ReceiptFormatter } from '../src/identity/token/formatter.ts';
import { AUTH_METHODS } from '../src/identity/mfa.ts';

describe('TOTP codes', () => {
  it('follows RFC 6238 (SHA-1 test vectors, 6 digits)', () => {
    const key = Buffer.from('12345678901234567890');
    assert.equal(totpCode(key, 59, 8), '94287082');
    assert.equal(totpCode(key, 1111111109, 8), '07081804');
    assert.equal(totpCode(key, 59), '287082');
    assert.deepEqual(base32Decode('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ'), key);
    assert.deepEqual(base32Decode('gezdgnbvgy3tqojqgezdgnbvgy3tqojq'), key);
  });
});

describe('auth receipts', () => {
  it('round-trip as Fernet and refuse another key', () => {
    const dir = mkdtempSync(join(tmpdir(), 'stratus-receipt-'));
    const other = mkdtempSync(join(tmpdir(), 'stratus-receipt-'));
    try {
      const keys = new KeyRepository(dir);
      keys.setup();
      const fmt = new ReceiptFormatter(keys, { authMethods: AUTH_METHODS });
      const p = { userId: 'd'.repeat(32), methods: ['password', 'totp'], expiresAt: new Date(1893553445000) };
      const r = fmt.create(p);
      assert.ok(!r.endsWith('='));
      const back = fmt.validate(r);
      assert.equal(back.userId, p.userId);
      assert.deepEqual([...back.methods].sort(), ['password', 'totp']);
      assert.equal(back.expiresAt.getTime(), p.expiresAt.getTime());
      const k2 = new KeyRepository(other);
      k2.setup();
      assert.throws(() => new ReceiptFormatter(k2, { authMethods: AUTH_METHODS }).validate(r));
    } finally {
      rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
      rmSync(other, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    }
  });
});

describe('identity MFA', () => {
  let c: TestCloud;
  let userId: string;
  const secret = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
  const password = 'mfa-user-pw';
  const pw = () => ({ user: { id: userId, password } });
  const code = () => acceptedCodes(secret)[0]!;
  const login = (identity: Record<string, unknown>, headers: Record<string, string> = {}) =>
    c.req('POST', '/v3/auth/tokens', { auth: { identity } }, { token: null, headers });

  before(async () => {
    c = await startCloud();
    const u = await c.req('POST', '/v3/users', { user: { name: 'mfa-user', password, domain_id: 'default' } });
    userId = u.body.user.id;
    const cred = await c.req('POST', '/v3/credentials', {
      credential: { user_id: userId, type: 'totp', blob: secret },
    });
    assert.equal(cred.status, 201, JSON.stringify(cred.body));
  });
  after(() => c?.stop());

  it('authenticates with the totp method alone when no rule is set', async () => {
    const r = await login({ methods: ['totp'], totp: { user: { id: userId, passcode: code() } } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.deepEqual(r.body.token.methods, ['totp']);
    const byName = await login({
      methods: ['totp'],
      totp: { user: { name: 'mfa-user', domain: { id: 'default' }, passcode: code() } },
    });
    assert.equal(byName.status, 201);
    const bad = await login({
      methods: ['totp'],
      totp: { user: { id: userId, passcode: '000000' === code() ? '111111' : '000000' } },
    });
    assert.equal(bad.status, 401);
    const malformed = await login({ methods: ['totp'], totp: { user: { id: userId } } });
    assert.equal(malformed.status, 400);
  });

  it('answers a login that meets no rule with a receipt, and takes the receipt with the missing method', async () => {
    const set = await c.req('PATCH', `/v3/users/${userId}`, {
      user: { options: { multi_factor_auth_enabled: true, multi_factor_auth_rules: [['password', 'totp']] } },
    });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    const first = await login({ methods: ['password'], password: pw() });
    assert.equal(first.status, 401);
    const receipt = first.headers.get('openstack-auth-receipt');
    assert.ok(receipt);
    assert.deepEqual(first.body.receipt.methods, ['password']);
    assert.equal(first.body.receipt.user.id, userId);
    assert.deepEqual(first.body.required_auth_methods, [['password', 'totp']]);
    assert.ok(Date.parse(first.body.receipt.expires_at) > Date.now());

    const second = await login(
      { methods: ['totp'], totp: { user: { id: userId, passcode: code() } } },
      { 'Openstack-Auth-Receipt': receipt! },
    );
    assert.equal(second.status, 201, JSON.stringify(second.body));
    assert.deepEqual([...second.body.token.methods].sort(), ['password', 'totp']);

    // both methods in one request
    const both = await login({
      methods: ['password', 'totp'],
      password: pw(),
      totp: { user: { id: userId, passcode: code() } },
    });
    assert.equal(both.status, 201);
    // a bad receipt, and a receipt with a wrong code
    assert.equal(
      (
        await login(
          { methods: ['totp'], totp: { user: { id: userId, passcode: code() } } },
          { 'Openstack-Auth-Receipt': 'nope' },
        )
      ).status,
      401,
    );
    const wrong = await login(
      { methods: ['totp'], totp: { user: { id: userId, passcode: code() === '123456' ? '654321' : '123456' } } },
      { 'Openstack-Auth-Receipt': receipt! },
    );
    assert.equal(wrong.status, 401);
    assert.equal(wrong.headers.get('openstack-auth-receipt'), null);
    // totp alone meets no rule either
    const totpOnly = await login({ methods: ['totp'], totp: { user: { id: userId, passcode: code() } } });
    assert.equal(totpOnly.status, 401);
    assert.deepEqual(totpOnly.body.receipt.methods, ['totp']);
  });

  it('ignores rules that cannot be met and the rules when MFA is off', async () => {
    await c.req('PATCH', `/v3/users/${userId}`, {
      user: { options: { multi_factor_auth_rules: [['password', 'nosuchmethod']] } },
    });
    assert.equal((await login({ methods: ['password'], password: pw() })).status, 201);
    await c.req('PATCH', `/v3/users/${userId}`, {
      user: { options: { multi_factor_auth_enabled: false, multi_factor_auth_rules: [['password', 'totp']] } },
    });
    assert.equal((await login({ methods: ['password'], password: pw() })).status, 201);
  });
});
