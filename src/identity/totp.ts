// The `totp` auth method (keystone/auth/plugins/totp.py): RFC 6238 passcodes (HMAC-SHA1, 6 digits,
// 30-second steps) from the user's `totp` credentials, whose blob is the base32 shared secret. As
// Keystone's [totp] included_previous_windows = 1, the current and the previous step's codes pass.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { ApiError, badRequest } from '../core/errors.ts';
import type { IdentityService } from './service.ts';
import type { User } from './users.ts';

const STEP = 30;
const DIGITS = 6;
const PREVIOUS_WINDOWS = 1;

/** RFC 4648 base32 (padding optional, case-insensitive), as Keystone pads and decodes a secret. */
export function base32Decode(s: string): Buffer {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const clean = s.replace(/=+$/, '').toUpperCase();
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const ch of clean) {
    const i = alphabet.indexOf(ch);
    if (i < 0) throw new Error('invalid base32');
    value = (value << 5) | i;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** The RFC 6238 passcode of `key` at `time` (seconds). */
export function totpCode(key: Buffer, time: number, digits = DIGITS, step = STEP): string {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(time / step)));
  const mac = createHmac('sha1', key).update(counter).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  const bin = (mac.readUInt32BE(offset) & 0x7fffffff) % 10 ** digits;
  return String(bin).padStart(digits, '0');
}

/** The passcodes a secret accepts now: this step's and the previous ones'. */
export function acceptedCodes(secret: string, now = Date.now() / 1000): string[] {
  const key = base32Decode(secret);
  return Array.from({ length: PREVIOUS_WINDOWS + 1 }, (_, i) => totpCode(key, now - i * STEP));
}

const invalid = () => new ApiError(401, 'Invalid username or TOTP passcode', 'Unauthorized');

export class TotpAuth {
  constructor(private s: IdentityService) {}

  /** identity.totp = {user: {id | name + domain, passcode}} → the user, or 401. */
  async authenticate(body: unknown): Promise<User> {
    const u = (body as { user?: Record<string, unknown> } | undefined)?.user;
    if (!u || typeof u !== 'object' || typeof u.passcode !== 'string')
      throw badRequest(
        "Invalid input for field 'identity/totp/user': a user with a passcode is required.",
        'ValidationError',
      );
    let user: User | undefined;
    if (typeof u.id === 'string') user = await this.s.users.find(u.id);
    else if (typeof u.name === 'string') {
      const d = u.domain as { id?: unknown; name?: unknown } | undefined;
      const domain =
        typeof d?.id === 'string'
          ? await this.s.resource.find(d.id)
          : typeof d?.name === 'string'
            ? await this.s.resource.findDomainByName(d.name)
            : undefined;
      if (!d) throw badRequest("Invalid input for field 'identity/totp/user/domain'.", 'ValidationError');
      if (domain?.is_domain) user = await this.s.users.findByName(u.name, domain.id);
    } else throw badRequest("Invalid input for field 'identity/totp/user': id or name is required.", 'ValidationError');
    if (!user) throw invalid();
    const given = Buffer.from(u.passcode);
    for (const cred of await this.s.credentials.list({ userId: user.id, type: 'totp' })) {
      let codes: string[];
      try {
        codes = acceptedCodes(cred.blob);
      } catch {
        continue; // a blob that is not base32 never matches
      }
      for (const code of codes) {
        const want = Buffer.from(code);
        if (want.length === given.length && timingSafeEqual(want, given)) return user;
      }
    }
    throw invalid();
  }
}
