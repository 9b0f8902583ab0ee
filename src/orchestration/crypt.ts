// Secrets at rest (Heat's heat/common/crypt.py with auth_encryption_key): the stored user
// credentials, trust ids and hidden parameters are Fernet tokens (version 0x80, timestamp, IV,
// AES-128-CBC, HMAC-SHA256), under a key from `orchestration.authEncryptionKey` or, when that is
// absent, one generated once into the data directory (0600). The key is never logged.
import fs from 'node:fs';
import path from 'node:path';
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** How an encrypted column value starts. */
export const ENCRYPTED_PREFIX = 'fernet:';
/** How an encrypted parameter value is kept in the params map. */
export const ENCRYPTED_PARAM = '__heat_encrypted__';

export const KEY_FILE = 'orchestration_auth_encryption_key';

/** The key: the option's, else the data directory's file (made on the first start). */
export function loadEncryptionKey(option: string | undefined, dataDir: string): string {
  if (option) return option;
  const file = path.join(dataDir, KEY_FILE);
  if (fs.existsSync(file)) return fs.readFileSync(file, 'utf8').trim();
  const key = randomBytes(32).toString('base64url');
  fs.mkdirSync(dataDir, { recursive: true });
  try {
    fs.writeFileSync(file, `${key}\n`, { mode: 0o600, flag: 'wx' });
  } catch (e) {
    // Another process of the cloud made it first: that one is the key.
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return fs.readFileSync(file, 'utf8').trim();
    throw e;
  }
  return key;
}

export class Crypt {
  private readonly signing: Buffer;
  private readonly encryption: Buffer;

  constructor(key: string) {
    // Any key string: its SHA-256 is the Fernet key (16 bytes signing, 16 bytes encryption).
    const k = createHash('sha256').update(key).digest();
    this.signing = k.subarray(0, 16);
    this.encryption = k.subarray(16);
  }

  encrypt(plain: string): string {
    const iv = randomBytes(16);
    const ts = Buffer.alloc(8);
    ts.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 1000)));
    const c = createCipheriv('aes-128-cbc', this.encryption, iv);
    const body = Buffer.concat([Buffer.from([0x80]), ts, iv, c.update(plain, 'utf8'), c.final()]);
    const mac = createHmac('sha256', this.signing).update(body).digest();
    return Buffer.concat([body, mac]).toString('base64url');
  }

  decrypt(token: string): string {
    const raw = Buffer.from(token, 'base64url');
    if (raw.length < 1 + 8 + 16 + 16 + 32 || raw[0] !== 0x80) throw new Error('invalid encrypted value');
    const body = raw.subarray(0, raw.length - 32);
    const mac = createHmac('sha256', this.signing).update(body).digest();
    if (!timingSafeEqual(mac, raw.subarray(raw.length - 32)))
      throw new Error('the encrypted value does not match orchestration.authEncryptionKey');
    const d = createDecipheriv('aes-128-cbc', this.encryption, body.subarray(9, 25));
    return Buffer.concat([d.update(body.subarray(25)), d.final()]).toString('utf8');
  }

  /** A column value: encrypted with its prefix (null stays null; an encrypted one stays as is). */
  seal(v: string | null): string | null {
    if (v === null || v.startsWith(ENCRYPTED_PREFIX)) return v;
    return `${ENCRYPTED_PREFIX}${this.encrypt(v)}`;
  }

  /** A column value in clear (a value stored before encryption reads as it was). */
  open(v: string | null): string | null {
    if (v === null || !v.startsWith(ENCRYPTED_PREFIX)) return v;
    // A stack row is read at every node of a traversal: its trust id is decrypted once (the
    // same token always opens to the same text), not at each read.
    const hit = this.opened.get(v);
    if (hit !== undefined) return hit;
    const plain = this.decrypt(v.slice(ENCRYPTED_PREFIX.length));
    if (this.opened.size >= 1024) this.opened.clear();
    this.opened.set(v, plain);
    return plain;
  }
  private readonly opened = new Map<string, string>();
}

/** The names of a template's hidden parameters (HOT `hidden: true`, CFN `NoEcho: true`). */
export function hiddenParameters(template: Record<string, unknown>): Set<string> {
  const out = new Set<string>();
  const params = (template.parameters ?? template.Parameters ?? {}) as Record<string, unknown>;
  if (!params || typeof params !== 'object') return out;
  for (const [k, v] of Object.entries(params)) {
    const s = (v ?? {}) as Record<string, unknown>;
    if (s.hidden === true || String(s.hidden).toLowerCase() === 'true' || String(s.NoEcho).toLowerCase() === 'true')
      out.add(k);
  }
  return out;
}
