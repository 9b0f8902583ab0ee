// EC2 and S3 signatures checked against an EC2 credential's secret (keystone/api/ec2tokens.py
// with keystoneclient's Ec2Signer for AWS signature versions 0, 1, 2 and 4; and
// keystone/api/s3tokens.py for the S3 front end's string-to-sign, AWS v2 HMAC-SHA1 or v4), and
// the token issued for a credential whose signature holds (keystone/api/_shared/EC2_S3_Resource.py).
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { ApiError } from '../core/errors.ts';

/** The `credentials` object a front end posts: the request it received, as it was signed. */
export interface Ec2Request {
  access?: unknown;
  signature?: unknown;
  host?: unknown;
  verb?: unknown;
  path?: unknown;
  params?: unknown;
  headers?: unknown;
  body_hash?: unknown;
  /** s3tokens: the string-to-sign, base64. */
  token?: unknown;
}

const unauthorized = (msg: string) => new ApiError(401, msg, 'Unauthorized');
const invalidSignature = () => unauthorized('Invalid EC2 signature.');

/** keystoneclient's _get_utf8_value: a non-string is rendered the way Python's str() renders it. */
function str(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (v === null || v === undefined) return 'None';
  return String(v);
}

/** Python's urllib.parse.quote(v, safe='-_~') (and safe=''): RFC 3986 unreserved characters kept. */
function awsQuote(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function dict(v: unknown): Record<string, unknown> {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function canonicalQs(params: Record<string, unknown>): string {
  return Object.keys(params)
    .sort()
    .map((k) => `${awsQuote(k)}=${awsQuote(str(params[k]))}`)
    .join('&');
}

const hmac = (alg: 'sha1' | 'sha256', key: string | Buffer, msg: string | Buffer) =>
  createHmac(alg, key).update(msg).digest();

class SignatureFormatError extends Error {}

/** Ec2Signer.generate: the signature the credential's secret gives the request. */
export function ec2Signature(secret: string, c: Ec2Request): string {
  const params = dict(c.params);
  const version = params.SignatureVersion;
  if (version === '0') return hmac('sha1', secret, `${str(params.Action)}${str(params.Timestamp)}`).toString('base64');
  if (version === '1') {
    const h = createHmac('sha1', secret);
    // Python's sort by str.lower is stable: equal lower-cased keys keep their order.
    for (const k of Object.keys(params).sort((a, b) =>
      a.toLowerCase() < b.toLowerCase() ? -1 : a.toLowerCase() > b.toLowerCase() ? 1 : 0,
    )) {
      h.update(k);
      h.update(str(params[k]));
    }
    return h.digest('base64');
  }
  if (version === '2') {
    // The signer always signs with HMAC-SHA256 and says so in the parameters.
    const p = { ...params, SignatureMethod: 'HmacSHA256' };
    const sts = `${str(c.verb)}\n${str(c.host)}\n${str(c.path)}\n${canonicalQs(p)}`;
    return hmac('sha256', secret, sts).toString('base64');
  }
  const headers = dict(c.headers);
  const authz = typeof headers.Authorization === 'string' ? headers.Authorization : undefined;
  if (
    (authz ?? '').startsWith('AWS4-HMAC-SHA256') ||
    (authz === undefined && params['X-Amz-Algorithm'] === 'AWS4-HMAC-SHA256')
  )
    return v4Signature(secret, c, params, headers, authz);
  if (version !== undefined) throw new SignatureFormatError(`Unknown signature version: ${str(version)}`);
  throw new SignatureFormatError('Unexpected signature format');
}

function v4Signature(
  secret: string,
  c: Ec2Request,
  params: Record<string, unknown>,
  headers: Record<string, unknown>,
  authz: string | undefined,
): string {
  const authParam = (name: string): string => {
    if (authz !== undefined) {
      const at = authz.indexOf(`${name}=`);
      return at < 0 ? '' : authz.slice(at + name.length + 1).split(',')[0]!;
    }
    const v = params[`X-Amz-${name}`];
    return v === undefined ? '' : str(v);
  };
  const date = headers['X-Amz-Date'] !== undefined ? str(headers['X-Amz-Date']) : str(params['X-Amz-Date'] ?? '');
  const lower = new Map(Object.entries(headers).map(([k, v]) => [k.toLowerCase().trim(), str(v).trim()]));
  const strip = /Boto\/2\.[0-9]\.[0-2]/.test(lower.get('user-agent') ?? '');
  const signed = authParam('SignedHeaders');
  const canonHeaders = signed
    .split(';')
    .filter((h) => lower.has(h))
    .map((h) => `${h}:${h === 'host' && strip ? lower.get(h)!.split(':')[0] : lower.get(h)}`);
  const verb = str(c.verb).toUpperCase();
  const cr = [
    verb,
    str(c.path),
    verb !== 'POST' ? canonicalQs(params) : '',
    `${canonHeaders.join('\n')}\n`,
    signed,
    str(c.body_hash),
  ].join('\n');
  const credential = authParam('Credential').split('/');
  if (credential.length < 4) throw new SignatureFormatError('Invalid credential scope');
  const [, credDate, region, service] = credential as [string, string, string, string];
  if (!date.startsWith(credDate)) throw new SignatureFormatError('Request date mismatch error');
  const sts = [
    'AWS4-HMAC-SHA256',
    date,
    credential.slice(1).join('/'),
    createHash('sha256').update(cr).digest('hex'),
  ].join('\n');
  let key = hmac('sha256', `AWS4${secret}`, credDate);
  key = hmac('sha256', key, region);
  key = hmac('sha256', key, service);
  key = hmac('sha256', key, 'aws4_request');
  return hmac('sha256', key, sts).toString('hex');
}

const equal = (a: string, b: string) => {
  const x = Buffer.from(a),
    y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

/** ec2tokens' check: 401 unless the request's signature is the secret's (also tried without the host's port). */
export function checkEc2Signature(secret: string, c: Ec2Request): void {
  if (typeof c.signature !== 'string' || !c.signature) throw unauthorized('EC2 signature not supplied.');
  const sign = (creds: Ec2Request) => {
    try {
      return ec2Signature(secret, creds);
    } catch (e) {
      if (e instanceof SignatureFormatError) throw invalidSignature();
      throw e;
    }
  };
  if (equal(c.signature, sign(c))) return;
  // Some client libraries do not sign the port.
  if (typeof c.host === 'string' && c.host.includes(':')) {
    let hostname: string | undefined;
    try {
      hostname = new URL(`http://${c.host}`).hostname;
    } catch {
      hostname = undefined;
    }
    if (hostname !== undefined && equal(c.signature, sign({ ...c, host: hostname }))) return;
  }
  throw invalidSignature();
}

/** s3tokens' check: the string-to-sign is signed with AWS v2 (HMAC-SHA1) or v4 (s3 scope only). */
export function checkS3Signature(secret: string, c: Ec2Request): void {
  const mismatch = () => unauthorized('Credential signature mismatch');
  if (typeof c.token !== 'string' || typeof c.signature !== 'string') throw mismatch();
  const sts = Buffer.from(c.token, 'base64');
  let signature: string;
  if (sts.subarray(0, 4).toString('latin1') !== 'AWS4') {
    signature = hmac('sha1', secret, sts).toString('base64');
  } else {
    const parts = sts.toString('utf8').split('\n');
    if (parts.length !== 4 || parts[0] !== 'AWS4-HMAC-SHA256') throw invalidSignature();
    const scope = parts[2]!.split('/');
    if (scope.length !== 4 || scope[2] !== 's3' || scope[3] !== 'aws4_request') throw invalidSignature();
    let key = hmac('sha256', `AWS4${secret}`, scope[0]!);
    key = hmac('sha256', key, scope[1]!);
    key = hmac('sha256', key, 's3');
    key = hmac('sha256', key, 'aws4_request');
    signature = hmac('sha256', key, sts).toString('hex');
  }
  if (!equal(c.signature, signature)) throw mismatch();
}

/**
 * EC2_S3_Resource._check_timestamp: a signed Timestamp (v1/v2) or X-Amz-Date (v4) older than
 * `ttlMinutes` ([credential] auth_ttl) is refused; no timestamp is the signer's choice.
 */
export function checkTimestamp(c: Ec2Request, ttlMinutes: number, now = Date.now()): void {
  const params = dict(c.params),
    headers = dict(c.headers);
  const raw = params.Timestamp || headers['X-Amz-Date'] || params['X-Amz-Date'];
  if (!raw) return;
  const s = str(raw);
  const basic = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  // A time without a zone is UTC (oslo's normalize_time).
  const zoned = /T\d\d:\d\d(:\d\d(\.\d+)?)?$/.test(s) ? `${s}Z` : s;
  const t = basic
    ? Date.UTC(+basic[1]!, +basic[2]! - 1, +basic[3]!, +basic[4]!, +basic[5]!, +basic[6]!)
    : Date.parse(zoned);
  if (Number.isNaN(t)) throw unauthorized(`Credential timestamp is invalid: Unable to parse date string '${s}'`);
  if (now > t + ttlMinutes * 60_000) throw unauthorized('Credential is expired');
}
