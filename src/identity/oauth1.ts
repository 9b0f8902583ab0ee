// OS-OAUTH1 delegation (keystone/oauth1/core.py, backends/sql.py, auth/plugins/oauth1.py): a
// consumer asks for a request token for a project (signed with its secret), a user of that
// project authorizes it with some of their roles (getting a verifier), the consumer exchanges
// it for an access token (signed with both secrets and the verifier), and then authenticates
// with the `oauth1` method (signed with the access token) to get a project token carrying the
// `OS-OAUTH1` section. The OAuth 1.0a HMAC-SHA1 request signature (RFC 5849 §3.4) is checked
// here, by our own code.
import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Selectable } from 'kysely';
import { ApiError, badRequest } from '../core/errors.ts';
import { json } from '../core/db.ts';
import { type IdentityBackend, notFound } from './backend.ts';
import type { OauthAccessTokenTable, OauthRequestTokenTable } from './db/schema.ts';
import type { AuthHttpRequest, OAuthAccessInfo, OAuthLookup } from './token/provider.ts';

/** Keystone's [oauth1] request_token_duration and access_token_duration (seconds). */
export const REQUEST_TOKEN_DURATION = 28800;
export const ACCESS_TOKEN_DURATION = 86400;
/** oauthlib's timestamp window: a signed request older or newer than this is refused. */
const TIMESTAMP_WINDOW = 600;
const VERIFIER_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

const unauthorized = (msg: string) => new ApiError(401, msg, 'Unauthorized');
const hex = () => randomUUID().replace(/-/g, '');
/** Keystone's utils.isotime(subsecond=True): microseconds and a Z. */
const isotime = (d: Date) => d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

// ---- RFC 5849 signing ----

/** RFC 5849 §3.6 percent-encoding: everything but ALPHA, DIGIT, '-', '.', '_', '~'. */
export function oauthEscape(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The parameters of an `Authorization: OAuth k="v", …` header (realm excluded). */
export function parseOAuthHeader(h: string | string[] | undefined): Record<string, string> {
  const v = Array.isArray(h) ? h[0] : h;
  const out: Record<string, string> = {};
  if (!v || !/^oauth\s/i.test(v)) return out;
  for (const part of v.replace(/^oauth\s+/i, '').split(',')) {
    const m = /^\s*([^=\s]+)\s*=\s*"?([^"]*)"?\s*$/.exec(part);
    if (!m) continue;
    let val: string;
    try {
      val = decodeURIComponent(m[2]!);
    } catch {
      throw badRequest('Invalid OAuth Authorization header.', 'ValidationError');
    }
    if (m[1] !== 'realm') out[m[1]!] = val;
  }
  return out;
}

/** RFC 5849 §3.4.1.2: scheme and host lower case, default port dropped, no query. */
export function baseStringUri(url: string): string {
  const u = new URL(url);
  const defaultPort = (u.protocol === 'http:' && u.port === '80') || (u.protocol === 'https:' && u.port === '443');
  const host = u.hostname.toLowerCase() + (u.port && !defaultPort ? `:${u.port}` : '');
  return `${u.protocol.toLowerCase()}//${host}${u.pathname.replace(/\/\//g, '/') || '/'}`;
}

/** RFC 5849 §3.4.1: the signature base string of a request. */
export function signatureBaseString(method: string, url: string, params: Array<[string, string]>): string {
  const norm = params
    .filter(([k]) => k !== 'oauth_signature')
    .map(([k, v]) => [oauthEscape(k), oauthEscape(v)] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  return [oauthEscape(method.toUpperCase()), oauthEscape(baseStringUri(url)), oauthEscape(norm)].join('&');
}

/** HMAC-SHA1 (or -SHA256) of the base string, keyed by the two secrets. */
export function oauthSign(
  base: string,
  clientSecret: string,
  tokenSecret = '',
  method: 'HMAC-SHA1' | 'HMAC-SHA256' = 'HMAC-SHA1',
): string {
  return createHmac(
    method === 'HMAC-SHA1' ? 'sha1' : 'sha256',
    `${oauthEscape(clientSecret)}&${oauthEscape(tokenSecret)}`,
  )
    .update(base)
    .digest('base64');
}

const safeEqual = (a: string, b: string) => {
  const x = Buffer.from(a),
    y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

/** What a signed request carries: its method, the URL(s) it may have been signed for, and its parameters. */
export type SignedRequest = AuthHttpRequest;

/**
 * Checks an OAuth1 request signature; returns the oauth_* parameters. 401 (Keystone's
 * 'Invalid signature') when no candidate URL gives the signature, or the timestamp is stale.
 */
export function verifyOAuthRequest(r: SignedRequest, clientSecret: string, tokenSecret = ''): Record<string, string> {
  const p = parseOAuthHeader(r.headers.authorization);
  const method = p.oauth_signature_method;
  if (method !== 'HMAC-SHA1' && method !== 'HMAC-SHA256') throw unauthorized('Invalid signature');
  if (!p.oauth_signature || !p.oauth_nonce || !p.oauth_timestamp) throw unauthorized('Invalid signature');
  const ts = Number(p.oauth_timestamp);
  if (!/^\d+$/.test(p.oauth_timestamp) || Math.abs(Date.now() / 1000 - ts) > TIMESTAMP_WINDOW)
    throw unauthorized('Invalid signature');
  const params: Array<[string, string]> = [...Object.entries(p), ...(r.query ?? [])];
  for (const url of r.urls) {
    if (
      safeEqual(
        oauthSign(signatureBaseString(r.method, url, params), clientSecret, tokenSecret, method),
        p.oauth_signature,
      )
    )
      return p;
  }
  throw unauthorized('Invalid signature');
}

// ---- request and access tokens ----

export type RequestToken = Selectable<OauthRequestTokenTable>;

export class OAuth1Manager implements OAuthLookup {
  constructor(private b: IdentityBackend) {}

  private async consumer(id: string) {
    const c = await this.b.db.selectFrom('consumer').selectAll().where('id', '=', id).executeTakeFirst();
    if (!c) throw notFound('consumer', id);
    return c;
  }

  async getRequestToken(id: string): Promise<RequestToken> {
    const r = await this.b.db.selectFrom('oauth_request_token').selectAll().where('id', '=', id).executeTakeFirst();
    if (!r) throw notFound('request token', id, 'NotFound');
    return r;
  }

  /** POST /v3/OS-OAUTH1/request_token: signed with the consumer's secret. */
  async createRequestToken(http: SignedRequest, projectExists: (id: string) => Promise<void>): Promise<RequestToken> {
    const oauth = parseOAuthHeader(http.headers.authorization);
    const consumerId = oauth.oauth_consumer_key;
    const rp = http.headers['requested-project-id'];
    const projectId = Array.isArray(rp) ? rp[0] : rp;
    if (!consumerId)
      throw badRequest(
        'Expecting to find oauth_consumer_key in request. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.',
        'ValidationError',
      );
    if (!projectId)
      throw badRequest(
        'Expecting to find Requested-Project-Id in request. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.',
        'ValidationError',
      );
    await projectExists(projectId);
    const consumer = await this.consumer(consumerId);
    verifyOAuthRequest(http, consumer.secret);
    const row = {
      id: hex(),
      request_secret: hex(),
      verifier: null,
      authorizing_user_id: null,
      requested_project_id: projectId,
      role_ids: null,
      consumer_id: consumer.id,
      expires_at: isotime(new Date(Date.now() + REQUEST_TOKEN_DURATION * 1000)),
    };
    await this.b.db.insertInto('oauth_request_token').values(row).execute();
    this.b.notify('OS-OAUTH1:request_token', 'created', row.id);
    return row;
  }

  /** PUT /v3/OS-OAUTH1/authorize/{id}: the user's roles on the project, delegated; returns the verifier. */
  async authorize(id: string, userId: string, roleIds: string[], heldRoleIds: string[]): Promise<string> {
    const t = await this.getRequestToken(id);
    if (t.expires_at && Date.parse(t.expires_at) < Date.now()) throw unauthorized('Request token is expired');
    const held = new Set(heldRoleIds);
    if (!roleIds.every((r) => held.has(r))) throw unauthorized('authorizing user does not have role required');
    const bytes = randomBytes(8);
    const verifier = [...bytes].map((x) => VERIFIER_CHARS[x % VERIFIER_CHARS.length]).join('');
    await this.b.db
      .updateTable('oauth_request_token')
      .set({ verifier, authorizing_user_id: userId, role_ids: JSON.stringify([...new Set(roleIds)]) })
      .where('id', '=', id)
      .execute();
    return verifier;
  }

  /** POST /v3/OS-OAUTH1/access_token: signed with both secrets and carrying the verifier. */
  async createAccessToken(http: SignedRequest): Promise<Selectable<OauthAccessTokenTable>> {
    const oauth = parseOAuthHeader(http.headers.authorization);
    for (const attr of ['oauth_consumer_key', 'oauth_token', 'oauth_verifier'])
      if (!oauth[attr])
        throw badRequest(
          `Expecting to find ${attr} in request. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.`,
          'ValidationError',
        );
    const req = await this.getRequestToken(oauth.oauth_token!);
    if (req.expires_at && Date.parse(req.expires_at) < Date.now()) throw unauthorized('Request token is expired');
    const consumer = await this.b.db
      .selectFrom('consumer')
      .selectAll()
      .where('id', '=', oauth.oauth_consumer_key!)
      .executeTakeFirst();
    if (!consumer) throw unauthorized('Provided consumer does not exist.');
    if (req.consumer_id !== consumer.id)
      throw unauthorized('Provided consumer key does not match stored consumer key.');
    if (req.verifier !== oauth.oauth_verifier) throw unauthorized('Provided verifier does not match stored verifier');
    verifyOAuthRequest(http, consumer.secret, req.request_secret);
    if (!req.authorizing_user_id) throw unauthorized('Request Token does not have an authorizing user id.');
    const row = {
      id: hex(),
      access_secret: hex(),
      authorizing_user_id: req.authorizing_user_id,
      project_id: req.requested_project_id,
      role_ids: req.role_ids ?? '[]',
      consumer_id: consumer.id,
      expires_at: isotime(new Date(Date.now() + ACCESS_TOKEN_DURATION * 1000)),
    };
    await this.b.db.transaction().execute(async (tx) => {
      await tx.insertInto('oauth_access_token').values(row).execute();
      // a request token is spent once
      await tx.deleteFrom('oauth_request_token').where('id', '=', req.id).execute();
    });
    this.b.notify('OS-OAUTH1:access_token', 'created', row.id);
    return row;
  }

  private info(r: Selectable<OauthAccessTokenTable>): OAuthAccessInfo {
    return {
      id: r.id,
      consumer_id: r.consumer_id,
      project_id: r.project_id,
      authorizing_user_id: r.authorizing_user_id,
      roleIds: json<string[]>(r.role_ids, []),
      expires_at: r.expires_at,
    };
  }

  async getAccessToken(id: string): Promise<OAuthAccessInfo | undefined> {
    const r = await this.b.db.selectFrom('oauth_access_token').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? this.info(r) : undefined;
  }

  /** A user's access token; 404 when it is not theirs. */
  async userAccessToken(userId: string, id: string): Promise<OAuthAccessInfo> {
    const t = await this.getAccessToken(id);
    if (!t || t.authorizing_user_id !== userId) throw notFound('access token', id, 'NotFound');
    return t;
  }

  async listAccessTokens(userId: string): Promise<OAuthAccessInfo[]> {
    const rows = await this.b.db
      .selectFrom('oauth_access_token')
      .selectAll()
      .where('authorizing_user_id', '=', userId)
      .orderBy('id')
      .execute();
    return rows.map((r) => this.info(r));
  }

  async deleteAccessToken(userId: string, id: string): Promise<void> {
    await this.userAccessToken(userId, id);
    await this.b.db.deleteFrom('oauth_access_token').where('id', '=', id).execute();
    this.b.notify('OS-OAUTH1:access_token', 'deleted', id);
    this.b.changed(); // its tokens stop validating
  }

  /** The `oauth1` auth method: the request is signed with the consumer's and the access token's secrets. */
  async authenticate(http: AuthHttpRequest): Promise<OAuthAccessInfo> {
    const oauth = parseOAuthHeader(http.headers.authorization);
    const tokenId = oauth.oauth_token;
    if (!tokenId) throw badRequest('Expecting to find oauth_token in request.', 'ValidationError');
    const row = await this.b.db
      .selectFrom('oauth_access_token')
      .selectAll()
      .where('id', '=', tokenId)
      .executeTakeFirst();
    if (!row) throw unauthorized('Could not validate the access token');
    if (row.expires_at && Date.parse(row.expires_at) < Date.now()) throw unauthorized('Access token is expired');
    const consumer = await this.b.db
      .selectFrom('consumer')
      .selectAll()
      .where('id', '=', row.consumer_id)
      .executeTakeFirst();
    if (!consumer || oauth.oauth_consumer_key !== consumer.id)
      throw unauthorized('Could not validate the access token');
    verifyOAuthRequest(http, consumer.secret, row.access_secret);
    return this.info(row);
  }
}
