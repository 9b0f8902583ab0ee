/**
 * Fernet symmetric authenticated encryption (https://github.com/fernet/spec),
 * byte-compatible with Python's `cryptography.fernet` as used by Keystone.
 *
 * Token layout (before base64url):
 *
 *   0x80 | timestamp (u64 BE, seconds) | IV (16) | AES-128-CBC(PKCS7) ciphertext | HMAC-SHA256 (32)
 *
 * The HMAC covers everything before it. A key is 32 raw bytes (stored as
 * urlsafe base64): bytes 0..15 are the signing key, 16..31 the encryption key.
 *
 * MultiFernet semantics: encrypt with one (the primary) key, decrypt by trying
 * every key in turn.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export class InvalidToken extends Error {
  constructor(message = 'Invalid token') {
    super(message);
    this.name = 'InvalidToken';
  }
}

const VERSION = 0x80;
const HEADER_LEN = 1 + 8 + 16; // version + timestamp + IV
const HMAC_LEN = 32;
const BLOCK = 16;
/** cryptography.fernet._MAX_CLOCK_SKEW */
const MAX_CLOCK_SKEW = 60;

export const FERNET_KEY_BYTES = 32;

/** A fresh random Fernet key (32 raw bytes). */
export function generateFernetKey(): Buffer {
  return randomBytes(FERNET_KEY_BYTES);
}

/** Decode a urlsafe-base64 key (as stored in a key file) into 32 raw bytes. */
export function decodeFernetKey(encoded: string): Buffer {
  const s = encoded.trim();
  if (!/^[A-Za-z0-9_-]{43}=?$/.test(s)) throw new Error('Fernet key must be 32 url-safe base64-encoded bytes');
  const key = Buffer.from(s, 'base64url');
  if (key.length !== FERNET_KEY_BYTES) throw new Error('Fernet key must be 32 url-safe base64-encoded bytes');
  return key;
}

/** Encode 32 raw key bytes the way `Fernet.generate_key()` does (urlsafe base64, padded). */
export function encodeFernetKey(key: Buffer): string {
  checkKey(key);
  return toBase64UrlPadded(key);
}

function checkKey(key: Buffer): void {
  if (!Buffer.isBuffer(key) || key.length !== FERNET_KEY_BYTES) {
    throw new TypeError(`Fernet key must be ${FERNET_KEY_BYTES} bytes`);
  }
}

function toBase64UrlPadded(buf: Buffer): string {
  const s = buf.toString('base64url');
  const pad = (4 - (s.length % 4)) % 4;
  return pad ? s + '='.repeat(pad) : s;
}

/**
 * Encrypt `plaintext` with a single key. `now` sets the token timestamp
 * (whole seconds, truncated); `iv` is only for reproducible test vectors.
 * Returns the standard padded urlsafe-base64 token.
 */
export function fernetEncrypt(key: Buffer, plaintext: Buffer, now: Date = new Date(), iv?: Buffer): string {
  checkKey(key);
  const seconds = Math.floor(now.getTime() / 1000);
  if (!Number.isSafeInteger(seconds) || seconds < 0) throw new RangeError('Fernet timestamp out of range');
  const theIv = iv ?? randomBytes(BLOCK);
  if (theIv.length !== BLOCK) throw new TypeError('Fernet IV must be 16 bytes');

  const cipher = createCipheriv('aes-128-cbc', key.subarray(16, 32), theIv);
  const ct1 = cipher.update(plaintext);
  const ct2 = cipher.final();

  const out = Buffer.allocUnsafe(HEADER_LEN + ct1.length + ct2.length + HMAC_LEN);
  out[0] = VERSION;
  out.writeBigUInt64BE(BigInt(seconds), 1);
  theIv.copy(out, 9);
  ct1.copy(out, HEADER_LEN);
  ct2.copy(out, HEADER_LEN + ct1.length);
  const macStart = out.length - HMAC_LEN;
  createHmac('sha256', key.subarray(0, 16)).update(out.subarray(0, macStart)).digest().copy(out, macStart);
  return toBase64UrlPadded(out);
}

const B64URL_INDEX = (() => {
  const table = new Int8Array(128).fill(-1);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  for (let i = 0; i < alphabet.length; i++) table[alphabet.charCodeAt(i)] = i;
  return table;
})();

/**
 * Strict urlsafe-base64 decode: only the urlsafe alphabet, optional correct
 * padding, and canonical trailing bits (so one token has exactly one spelling).
 */
function decodeTokenBytes(token: string): Buffer {
  let end = token.length;
  while (end > 0 && token.charCodeAt(end - 1) === 61 /* = */) end--;
  const padding = token.length - end;
  const rem = end % 4;
  if (end === 0 || rem === 1 || padding > 2 || (padding > 0 && (end + padding) % 4 !== 0)) {
    throw new InvalidToken('Token is not valid base64');
  }
  for (let i = 0; i < end; i++) {
    const c = token.charCodeAt(i);
    if (c >= 128 || B64URL_INDEX[c] < 0) throw new InvalidToken('Token is not valid base64');
  }
  if (rem !== 0) {
    const last = B64URL_INDEX[token.charCodeAt(end - 1)];
    if ((rem === 2 && (last & 0x0f) !== 0) || (rem === 3 && (last & 0x03) !== 0)) {
      throw new InvalidToken('Token is not valid base64');
    }
  }
  return Buffer.from(padding ? token.slice(0, end) : token, 'base64url');
}

export interface FernetDecrypted {
  plaintext: Buffer;
  /** Token creation time, seconds since the epoch. */
  timestamp: number;
  /** Index into the key list of the key that verified the token. */
  keyIndex: number;
}

/**
 * Verify and decrypt a token, trying each key in order (MultiFernet).
 * Accepts tokens with or without base64 padding. With `ttlSeconds`, tokens
 * older than the TTL, or more than 60 s in the future, are rejected (as
 * cryptography does); without it the timestamp is not checked.
 */
export function fernetDecryptDetailed(
  keys: readonly Buffer[],
  token: string,
  ttlSeconds?: number,
  now: Date = new Date(),
): FernetDecrypted {
  if (typeof token !== 'string') throw new InvalidToken('Token must be a string');
  const data = decodeTokenBytes(token);
  if (data.length < HEADER_LEN + BLOCK + HMAC_LEN || data[0] !== VERSION) throw new InvalidToken();
  if ((data.length - HEADER_LEN - HMAC_LEN) % BLOCK !== 0) throw new InvalidToken();

  const tsBig = data.readBigUInt64BE(1);
  if (tsBig > BigInt(Number.MAX_SAFE_INTEGER)) throw new InvalidToken();
  const timestamp = Number(tsBig);
  if (ttlSeconds !== undefined) {
    const current = Math.floor(now.getTime() / 1000);
    if (timestamp + ttlSeconds < current) throw new InvalidToken('Token has expired');
    if (current + MAX_CLOCK_SKEW < timestamp) throw new InvalidToken('Token timestamp is in the future');
  }

  const macStart = data.length - HMAC_LEN;
  const signed = data.subarray(0, macStart);
  const mac = data.subarray(macStart);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    if (key.length !== FERNET_KEY_BYTES) continue;
    const expected = createHmac('sha256', key.subarray(0, 16)).update(signed).digest();
    if (!timingSafeEqual(expected, mac)) continue;
    try {
      const decipher = createDecipheriv('aes-128-cbc', key.subarray(16, 32), data.subarray(9, HEADER_LEN));
      const p1 = decipher.update(data.subarray(HEADER_LEN, macStart));
      const p2 = decipher.final();
      return { plaintext: p2.length ? Buffer.concat([p1, p2]) : p1, timestamp, keyIndex: i };
    } catch {
      // Authentic but badly padded: cryptography raises InvalidToken here too.
      throw new InvalidToken();
    }
  }
  throw new InvalidToken();
}

/** MultiFernet decrypt; throws InvalidToken. */
export function fernetDecrypt(keys: Buffer[], token: string, ttlSeconds?: number, now?: Date): Buffer {
  return fernetDecryptDetailed(keys, token, ttlSeconds, now).plaintext;
}

/** Creation time embedded in a token, without verifying it. */
export function fernetTimestamp(token: string): Date {
  const data = decodeTokenBytes(token);
  if (data.length < 9 || data[0] !== VERSION) throw new InvalidToken();
  return new Date(Number(data.readBigUInt64BE(1)) * 1000);
}
