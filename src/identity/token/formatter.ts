/**
 * Keystone Fernet token payloads (keystone/token/token_formatters.py, Zed),
 * byte-compatible in both directions with a Keystone sharing the same key
 * repository.
 *
 * A token is `Fernet(msgpack([version, ...payload]))` with the base64 padding
 * stripped. Payload layouts by version (`id*` = flagged id, see below):
 *
 *   0 unscoped        [id* user, methods, expires, audits]
 *   1 domain          [id* user, methods, domain, expires, audits]
 *   2 project         [id* user, methods, id* project, expires, audits]
 *   3 trust           [id* user, methods, id* project, expires, audits, trust(16 bytes)]
 *   4 federated       [id* user, methods, [id* group...], id* idp, protocol, expires, audits]
 *   5/6 federated project/domain
 *                     [id* user, methods, id* scope, [id* group...], id* idp, protocol, expires, audits]
 *   7 OAuth1          [id* user, methods, id* project, id* access token, expires, audits]
 *   8 system          [id* user, methods, system ('all'), expires, audits]
 *   9 app credential  [id* user, methods, id* project, expires, audits, id* app_cred]
 *
 * - flagged id: `[true, <16 bytes>]` for a uuid hex id, `[false, "<str>"]`
 *   otherwise. The domain id of a domain-scoped token is unflagged: 16 bytes
 *   for a uuid, else the raw string (Keystone only accepts the default domain).
 * - methods: sum of `1 << index` in the configured method list (Keystone's
 *   `[auth] methods`), plus the fixed pseudo bits 2^32 'ec2credential' and
 *   2^33 'oauth2_credential'. Decoded in descending bit order, as Keystone does.
 * - expires: float64 seconds since the epoch.
 * - audits: list of 16-byte values; audit ids are their urlsafe base64
 *   without padding (22 chars).
 * - issued_at is not in the payload: it is the Fernet timestamp.
 *
 * Differences from Keystone, all on the encoding side and invisible to a
 * Keystone decoder: ids are compressed to 16 bytes only when they are
 * canonical uuid hex (32 lowercase hex digits), so every id round-trips
 * exactly (Keystone also compresses hyphenated/uppercase uuids, lossily);
 * an unknown auth method or a non-canonical audit id is rejected instead of
 * being silently dropped/altered.
 */
import { randomBytes } from 'node:crypto';
import { fernetDecryptDetailed, fernetEncrypt, InvalidToken } from './fernet.ts';
import type { KeyRepository } from './keys.ts';
import { isUuidLike } from '../../core/validate.ts';

export { InvalidToken } from './fernet.ts';

export interface TokenPayload {
  userId: string;
  methods: string[];
  expiresAt: Date;
  auditIds: string[];
  projectId?: string;
  domainId?: string;
  system?: string /* 'all' */;
  trustId?: string;
  appCredId?: string;
  /** An OS-OAUTH1 access token (payload version 7). */
  accessTokenId?: string;
  issuedAt?: Date;
  /** A federated token (payloads 4, 5, 6): the mapped groups, the identity provider and the protocol. */
  federated?: { groupIds: string[]; idpId: string; protocolId: string };
}

/** keystone.conf.constants._DEFAULT_AUTH_METHODS: bit i is method i. */
export const DEFAULT_AUTH_METHODS: readonly string[] = [
  'external',
  'password',
  'token',
  'oauth1',
  'mapped',
  'application_credential',
];

/** keystone.auth.plugins.core._PSEUDO_METHOD_BITS (fixed, independent of config). */
const PSEUDO_METHOD_BITS: ReadonlyArray<readonly [number, string]> = [
  [2 ** 32, 'ec2credential'],
  [2 ** 33, 'oauth2_credential'],
];

export const PayloadVersion = {
  Unscoped: 0,
  DomainScoped: 1,
  ProjectScoped: 2,
  TrustScoped: 3,
  FederatedUnscoped: 4,
  FederatedProjectScoped: 5,
  FederatedDomainScoped: 6,
  OauthScoped: 7,
  SystemScoped: 8,
  ApplicationCredentialScoped: 9,
} as const;

export function randomAuditId(): string {
  return randomBytes(16).toString('base64url');
}

// ---------------------------------------------------------------------------
// Minimal MessagePack, restricted to what the payloads use. The encoder emits
// exactly what Python msgpack>=1.0 `packb` (use_bin_type=True) emits: tuples
// as arrays, smallest int form, floats always float64, str vs bin kept apart.

class Float64 {
  constructor(readonly value: number) {}
}
type Packable = null | boolean | number | string | Buffer | Float64 | Packable[];

class Writer {
  private buf = Buffer.allocUnsafe(256);
  private pos = 0;
  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
  byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }
  u16(v: number): void {
    this.ensure(2);
    this.buf.writeUInt16BE(v, this.pos);
    this.pos += 2;
  }
  u32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32BE(v, this.pos);
    this.pos += 4;
  }
  u64(v: number): void {
    this.ensure(8);
    this.buf.writeBigUInt64BE(BigInt(v), this.pos);
    this.pos += 8;
  }
  f64(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleBE(v, this.pos);
    this.pos += 8;
  }
  bytes(b: Buffer): void {
    this.ensure(b.length);
    b.copy(this.buf, this.pos);
    this.pos += b.length;
  }
  result(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.pos));
  }
}

function pack(w: Writer, v: Packable): void {
  if (v === null) return w.byte(0xc0);
  if (v === true) return w.byte(0xc3);
  if (v === false) return w.byte(0xc2);
  if (v instanceof Float64) {
    w.byte(0xcb);
    return w.f64(v.value);
  }
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v) || v < 0) throw new TypeError(`cannot pack ${v}`);
    if (v < 0x80) return w.byte(v);
    if (v < 0x100) return (w.byte(0xcc), w.byte(v));
    if (v < 0x10000) return (w.byte(0xcd), w.u16(v));
    if (v < 0x100000000) return (w.byte(0xce), w.u32(v));
    return (w.byte(0xcf), w.u64(v));
  }
  if (typeof v === 'string') {
    const b = Buffer.from(v, 'utf8');
    const n = b.length;
    if (n < 32) w.byte(0xa0 | n);
    else if (n < 0x100) w.byte(0xd9), w.byte(n);
    else if (n < 0x10000) w.byte(0xda), w.u16(n);
    else w.byte(0xdb), w.u32(n);
    return w.bytes(b);
  }
  if (Buffer.isBuffer(v)) {
    const n = v.length;
    if (n < 0x100) w.byte(0xc4), w.byte(n);
    else if (n < 0x10000) w.byte(0xc5), w.u16(n);
    else w.byte(0xc6), w.u32(n);
    return w.bytes(v);
  }
  const n = v.length;
  if (n < 16) w.byte(0x90 | n);
  else if (n < 0x10000) w.byte(0xdc), w.u16(n);
  else w.byte(0xdd), w.u32(n);
  for (const item of v) pack(w, item);
}

type Unpacked = null | boolean | number | string | Buffer | Unpacked[];

class MsgpackError extends Error {}
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Decode one msgpack value occupying the whole buffer. Maps and extension
 * types are not used by token payloads and are rejected. With `raw`, str
 * values are returned as Buffers (payloads written by msgpack < 1.0, which
 * Keystone also accepts by retrying with raw=True). A class rather than
 * closures: this is on the token validation hot path.
 */
class Unpacker {
  private pos = 0;
  constructor(
    private readonly buf: Buffer,
    private readonly raw: boolean,
  ) {}

  static unpack(buf: Buffer, raw: boolean): Unpacked {
    const u = new Unpacker(buf, raw);
    const v = u.value(0);
    if (u.pos !== buf.length) throw new MsgpackError('trailing bytes');
    return v;
  }

  private need(n: number): number {
    const at = this.pos;
    if (at + n > this.buf.length) throw new MsgpackError('truncated');
    this.pos = at + n;
    return at;
  }

  private str(n: number): string | Buffer {
    const at = this.need(n);
    const b = this.buf.subarray(at, at + n);
    return this.raw ? b : utf8.decode(b);
  }

  private bin(n: number): Buffer {
    const at = this.need(n);
    return this.buf.subarray(at, at + n);
  }

  private arr(n: number, depth: number): Unpacked[] {
    if (n > this.buf.length - this.pos) throw new MsgpackError('truncated');
    const out: Unpacked[] = new Array(n);
    for (let i = 0; i < n; i++) out[i] = this.value(depth + 1);
    return out;
  }

  private value(depth: number): Unpacked {
    if (depth > 8) throw new MsgpackError('too deep');
    const b = this.buf;
    const t = b[this.need(1)]!;
    if (t < 0x80) return t;
    if (t >= 0xe0) return t - 0x100;
    if ((t & 0xf0) === 0x90) return this.arr(t & 0x0f, depth);
    if ((t & 0xe0) === 0xa0) return this.str(t & 0x1f);
    switch (t) {
      case 0xc0:
        return null;
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xc4:
        return this.bin(b[this.need(1)]!);
      case 0xc5:
        return this.bin(b.readUInt16BE(this.need(2)));
      case 0xc6:
        return this.bin(b.readUInt32BE(this.need(4)));
      case 0xca:
        return b.readFloatBE(this.need(4));
      case 0xcb:
        return b.readDoubleBE(this.need(8));
      case 0xcc:
        return b[this.need(1)]!;
      case 0xcd:
        return b.readUInt16BE(this.need(2));
      case 0xce:
        return b.readUInt32BE(this.need(4));
      case 0xcf:
        return safeInt(b.readBigUInt64BE(this.need(8)));
      case 0xd0:
        return b.readInt8(this.need(1));
      case 0xd1:
        return b.readInt16BE(this.need(2));
      case 0xd2:
        return b.readInt32BE(this.need(4));
      case 0xd3:
        return safeInt(b.readBigInt64BE(this.need(8)));
      case 0xd9:
        return this.str(b[this.need(1)]!);
      case 0xda:
        return this.str(b.readUInt16BE(this.need(2)));
      case 0xdb:
        return this.str(b.readUInt32BE(this.need(4)));
      case 0xdc:
        return this.arr(b.readUInt16BE(this.need(2)), depth);
      case 0xdd:
        return this.arr(b.readUInt32BE(this.need(4)), depth);
      default:
        throw new MsgpackError(`unsupported msgpack type 0x${t.toString(16)}`);
    }
  }
}

function safeInt(v: bigint): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER))
    throw new MsgpackError('int too large');
  return Number(v);
}

// ---------------------------------------------------------------------------
// Field codecs.

const UUID_HEX = /^[0-9a-f]{32}$/;
/** A UUID in its hex (32) or dashed (36) form. */
const isUuid = (s: string) => (s.length === 32 || s.length === 36) && isUuidLike(s);

function flaggedId(id: string | undefined): Packable {
  if (id === undefined) return [false, null];
  return UUID_HEX.test(id) ? [true, Buffer.from(id, 'hex')] : [false, id];
}

function bad(what: string): never {
  throw new InvalidToken(`Malformed token payload: ${what}`);
}

function text(v: Unpacked, what: string): string {
  if (typeof v === 'string') return v;
  if (Buffer.isBuffer(v)) {
    try {
      return utf8.decode(v);
    } catch {
      bad(what);
    }
  }
  return bad(what);
}

/**
 * Bytes field. A str is accepted too: payloads packed without the bin type
 * (msgpack < 1.0) carry bytes as str, which decodes as str when it happens to
 * be valid UTF-8.
 */
function bytesOf(v: Unpacked, what: string): Buffer {
  if (Buffer.isBuffer(v)) return v;
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  return bad(what);
}

function uuidBytesToHex(v: Unpacked, what: string): string {
  const b = bytesOf(v, what);
  if (b.length !== 16) bad(what);
  return b.toString('hex');
}

/** BasePayload._convert_or_decode on a `(is_stored_as_bytes, value)` pair. */
function unflagId(v: Unpacked, what: string): string | undefined {
  if (!Array.isArray(v) || v.length !== 2 || typeof v[0] !== 'boolean') bad(what);
  if (v[0]) return uuidBytesToHex(v[1]!, what);
  if (v[1] === null) return undefined;
  return text(v[1]!, what);
}

class MethodCodec {
  private readonly bits = new Map<string, number>();
  /** [bit, name], highest bit first (Keystone's decode order). */
  private readonly descending: Array<readonly [number, string]>;

  constructor(methods: readonly string[]) {
    if (methods.length > 32) throw new RangeError('at most 32 configured auth methods');
    const entries: Array<readonly [number, string]> = methods.map((m, i) => [2 ** i, m] as const);
    entries.push(...PSEUDO_METHOD_BITS);
    for (const [bit, name] of entries) if (!this.bits.has(name)) this.bits.set(name, bit);
    this.descending = entries.sort((a, b) => b[0] - a[0]);
  }

  encode(methods: readonly string[]): number {
    let sum = 0;
    const seen = new Set<number>();
    for (const m of methods) {
      const bit = this.bits.get(m);
      if (bit === undefined) throw new Error(`Auth method '${m}' is not in the configured auth methods`);
      if (!seen.has(bit)) seen.add(bit), (sum += bit);
    }
    return sum;
  }

  decode(n: Unpacked): string[] {
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) bad('methods');
    const out: string[] = [];
    for (const [bit, name] of this.descending) {
      if (Math.floor(n / bit) % 2 === 1) out.push(name);
    }
    return out;
  }
}

function expiresToFloat(d: Date): Float64 {
  const ms = d.getTime();
  if (!Number.isFinite(ms)) throw new RangeError('expiresAt is not a valid date');
  return new Float64(ms / 1000);
}

function floatToExpires(v: Unpacked): Date {
  if (typeof v !== 'number' || !Number.isFinite(v)) bad('expires_at');
  return new Date(Math.round(v * 1000));
}

function auditToBytes(id: string): Buffer {
  const b = Buffer.from(id, 'base64url');
  if (b.toString('base64url') !== id) throw new Error(`Audit id '${id}' is not canonical unpadded urlsafe base64`);
  return b;
}

function auditsFromBytes(v: Unpacked): string[] {
  if (!Array.isArray(v)) bad('audit_ids');
  const out: string[] = new Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = bytesOf(v[i]!, 'audit_ids').toString('base64url');
  return out;
}

// ---------------------------------------------------------------------------

export interface TokenFormatterOptions {
  /** Keystone `[auth] methods`, in order; defaults to Keystone's default list. */
  authMethods?: readonly string[];
}

export class TokenFormatter {
  private keys: Buffer[] | undefined;
  private readonly methods: MethodCodec;

  constructor(
    private readonly repo: KeyRepository,
    options: TokenFormatterOptions = {},
  ) {
    this.methods = new MethodCodec(options.authMethods ?? DEFAULT_AUTH_METHODS);
  }

  /** Re-read the key repository (call after rotation or a key sync). */
  reload(): void {
    this.keys = this.repo.load();
  }

  private loadedKeys(): Buffer[] {
    if (this.keys === undefined || this.keys.length === 0) this.reload();
    return this.keys!;
  }

  /** Serialised (msgpack) payload of a token, exactly as Keystone would build it. */
  encodePayload(p: TokenPayload): Buffer {
    const user = flaggedId(p.userId);
    const methods = this.methods.encode(p.methods);
    const expires = expiresToFloat(p.expiresAt);
    const audits = p.auditIds.map(auditToBytes);

    const scopes = [p.projectId, p.domainId, p.system].filter((s) => s !== undefined).length;
    if (scopes > 1) throw new Error('A token can be scoped to only one of project, domain or system');
    if (p.trustId !== undefined && p.appCredId !== undefined) {
      throw new Error('A token cannot be both trust-scoped and application-credential-scoped');
    }

    let body: Packable[];
    if (p.accessTokenId !== undefined) {
      if (p.projectId === undefined || p.trustId !== undefined || p.appCredId !== undefined)
        throw new Error('An OAuth1 token is only project-scoped');
      body = [
        PayloadVersion.OauthScoped,
        user,
        methods,
        flaggedId(p.projectId),
        flaggedId(p.accessTokenId),
        expires,
        audits,
      ];
    } else if (p.federated !== undefined) {
      if (p.trustId !== undefined || p.appCredId !== undefined || p.system !== undefined)
        throw new Error('A federated token can only be unscoped, project- or domain-scoped');
      const f = p.federated;
      const fed: Packable[] = [f.groupIds.map((g) => flaggedId(g)), flaggedId(f.idpId), f.protocolId, expires, audits];
      const scope = p.projectId ?? p.domainId;
      body =
        scope === undefined
          ? [PayloadVersion.FederatedUnscoped, user, methods, ...fed]
          : [
              p.projectId !== undefined ? PayloadVersion.FederatedProjectScoped : PayloadVersion.FederatedDomainScoped,
              user,
              methods,
              flaggedId(scope),
              ...fed,
            ];
    } else if (p.trustId !== undefined) {
      if (p.projectId === undefined) throw new Error('A trust-scoped token needs a projectId');
      if (!isUuid(p.trustId)) throw new Error('A trust id must be a uuid');
      const trust = Buffer.from(p.trustId.replaceAll('-', ''), 'hex');
      body = [PayloadVersion.TrustScoped, user, methods, flaggedId(p.projectId), expires, audits, trust];
    } else if (p.appCredId !== undefined) {
      if (p.domainId !== undefined || p.system !== undefined) {
        throw new Error('An application-credential token can only be project-scoped');
      }
      body = [
        PayloadVersion.ApplicationCredentialScoped,
        user,
        methods,
        flaggedId(p.projectId),
        expires,
        audits,
        flaggedId(p.appCredId),
      ];
    } else if (p.projectId !== undefined) {
      body = [PayloadVersion.ProjectScoped, user, methods, flaggedId(p.projectId), expires, audits];
    } else if (p.domainId !== undefined) {
      const domain = UUID_HEX.test(p.domainId) ? Buffer.from(p.domainId, 'hex') : p.domainId;
      body = [PayloadVersion.DomainScoped, user, methods, domain, expires, audits];
    } else if (p.system !== undefined) {
      body = [PayloadVersion.SystemScoped, user, methods, p.system, expires, audits];
    } else {
      body = [PayloadVersion.Unscoped, user, methods, expires, audits];
    }
    const w = new Writer();
    pack(w, body);
    return w.result();
  }

  /** Inverse of encodePayload (issuedAt is left unset). Throws InvalidToken. */
  decodePayload(serialized: Buffer): TokenPayload {
    let v: Unpacked;
    try {
      v = Unpacker.unpack(serialized, false);
    } catch (err) {
      if (!(err instanceof TypeError)) bad('not msgpack');
      // Invalid UTF-8 in a str: written by msgpack < 1.0; Keystone retries raw.
      try {
        v = Unpacker.unpack(serialized, true);
      } catch {
        bad('not msgpack');
      }
    }
    if (!Array.isArray(v) || v.length === 0) bad('not a versioned payload');
    const version = v[0];
    switch (version) {
      case PayloadVersion.Unscoped:
        this.checkLength(v, 5);
        return this.common(v, 3, 4);
      case PayloadVersion.DomainScoped: {
        this.checkLength(v, 6);
        const p = this.common(v, 4, 5);
        const d = v[3]!;
        p.domainId = Buffer.isBuffer(d) && d.length === 16 ? d.toString('hex') : text(d, 'domain_id');
        return p;
      }
      case PayloadVersion.ProjectScoped: {
        this.checkLength(v, 6);
        const p = this.common(v, 4, 5);
        const projectId = unflagId(v[3]!, 'project_id');
        if (projectId !== undefined) p.projectId = projectId;
        return p;
      }
      case PayloadVersion.TrustScoped: {
        this.checkLength(v, 7);
        const p = this.common(v, 4, 5);
        const projectId = unflagId(v[3]!, 'project_id');
        if (projectId !== undefined) p.projectId = projectId;
        p.trustId = uuidBytesToHex(v[6]!, 'trust_id');
        return p;
      }
      case PayloadVersion.SystemScoped: {
        this.checkLength(v, 6);
        const p = this.common(v, 4, 5);
        p.system = text(v[3]!, 'system');
        return p;
      }
      case PayloadVersion.ApplicationCredentialScoped: {
        this.checkLength(v, 7);
        const p = this.common(v, 4, 5);
        const projectId = unflagId(v[3]!, 'project_id');
        if (projectId !== undefined) p.projectId = projectId;
        const appCredId = unflagId(v[6]!, 'app_cred_id');
        if (appCredId !== undefined) p.appCredId = appCredId;
        return p;
      }
      case PayloadVersion.FederatedUnscoped: {
        this.checkLength(v, 8);
        const p = this.common(v, 6, 7);
        p.federated = this.federated(v, 2);
        return p;
      }
      case PayloadVersion.FederatedProjectScoped:
      case PayloadVersion.FederatedDomainScoped: {
        this.checkLength(v, 9);
        const p = this.common(v, 7, 8);
        const scope = unflagId(v[3]!, 'scope_id') ?? bad('scope_id');
        if (version === PayloadVersion.FederatedProjectScoped) p.projectId = scope;
        else p.domainId = scope;
        p.federated = this.federated(v, 3);
        return p;
      }
      case PayloadVersion.OauthScoped: {
        this.checkLength(v, 7);
        const p = this.common(v, 5, 6);
        const projectId = unflagId(v[3]!, 'project_id');
        if (projectId !== undefined) p.projectId = projectId;
        p.accessTokenId = unflagId(v[4]!, 'access_token_id') ?? bad('access_token_id');
        return p;
      }
      default:
        throw new InvalidToken(`This is not a recognized Fernet payload version: ${String(version)}`);
    }
  }

  /** group ids, idp id and protocol id at v[i+1], v[i+2], v[i+3]. */
  private federated(v: Unpacked[], i: number): NonNullable<TokenPayload['federated']> {
    const groups = v[i + 1];
    if (!Array.isArray(groups)) bad('group_ids');
    return {
      groupIds: groups.map((g) => unflagId(g, 'group_id') ?? bad('group_id')),
      idpId: unflagId(v[i + 2]!, 'idp_id') ?? bad('idp_id'),
      protocolId: text(v[i + 3]!, 'protocol_id'),
    };
  }

  private checkLength(v: Unpacked[], n: number): void {
    if (v.length !== n) bad(`wrong length for version ${String(v[0])}`);
  }

  /** Fields shared by all layouts: user (1), methods (2), expiry, audit ids. */
  private common(v: Unpacked[], expiresIdx: number, auditIdx: number): TokenPayload {
    return {
      userId: unflagId(v[1]!, 'user_id') ?? bad('user_id'),
      methods: this.methods.decode(v[2]!),
      expiresAt: floatToExpires(v[expiresIdx]!),
      auditIds: auditsFromBytes(v[auditIdx]!),
    };
  }

  /** Issue a token; `issuedAt` (default now) becomes the Fernet timestamp. */
  create(p: TokenPayload): string {
    const keys = this.loadedKeys();
    if (keys.length === 0) throw new Error(`No Fernet keys found in ${this.repo.dir}; run setup()`);
    const token = fernetEncrypt(keys[0]!, this.encodePayload(p), p.issuedAt ?? new Date());
    // base64 padding is not URL-safe; Keystone strips it.
    let end = token.length;
    while (token.charCodeAt(end - 1) === 61) end--;
    return token.slice(0, end);
  }

  /**
   * Verify, decrypt and decode a token (with or without padding). Expiry is
   * NOT checked here. Throws InvalidToken.
   */
  validate(token: string): TokenPayload {
    const { plaintext, timestamp } = fernetDecryptDetailed(this.loadedKeys(), token);
    const payload = this.decodePayload(plaintext);
    payload.issuedAt = new Date(timestamp * 1000);
    return payload;
  }
}

/**
 * Keystone's auth receipts (keystone/receipt/providers/fernet): `Fernet(msgpack([id* user, methods,
 * expires]))` under their own key repository, padding stripped. A receipt proves the methods it
 * lists were passed by the user until it expires.
 */
export interface ReceiptPayload {
  userId: string;
  methods: string[];
  expiresAt: Date;
  issuedAt?: Date;
}

export class ReceiptFormatter {
  private readonly methods: MethodCodec;
  constructor(
    private readonly repo: KeyRepository,
    options: TokenFormatterOptions = {},
  ) {
    this.methods = new MethodCodec(options.authMethods ?? DEFAULT_AUTH_METHODS);
  }

  create(p: ReceiptPayload): string {
    const keys = this.repo.load();
    if (keys.length === 0) throw new Error(`No Fernet keys found in ${this.repo.dir}; run setup()`);
    const w = new Writer();
    pack(w, [flaggedId(p.userId), this.methods.encode(p.methods), expiresToFloat(p.expiresAt)]);
    const receipt = fernetEncrypt(keys[0]!, w.result(), p.issuedAt ?? new Date());
    return receipt.replace(/=+$/, '');
  }

  /** Throws InvalidToken for a receipt that does not decrypt or decode (expiry is not checked here). */
  validate(receipt: string): ReceiptPayload {
    const { plaintext, timestamp } = fernetDecryptDetailed(this.repo.load(), receipt);
    let v: Unpacked;
    try {
      v = Unpacker.unpack(plaintext, false);
    } catch {
      bad('not msgpack');
    }
    if (!Array.isArray(v) || v.length !== 3) bad('not a receipt payload');
    return {
      userId: unflagId(v[0]!, 'user_id') ?? bad('user_id'),
      methods: this.methods.decode(v[1]!),
      expiresAt: floatToExpires(v[2]!),
      issuedAt: new Date(timestamp * 1000),
    };
  }
}
