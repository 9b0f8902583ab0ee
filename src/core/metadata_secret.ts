// The metadata proxy's shared secret (Nova's [neutron] metadata_proxy_shared_secret, Neutron's
// metadata_proxy_shared_secret): configured, or generated once into the data directory's
// secrets.yaml under `metadataProxySharedSecret`. Network's proxy signs with it, compute's
// metadata API checks the signature: one mechanism for both sides.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';

export const SECRET_KEY = 'metadataProxySharedSecret';

export function metadataSharedSecret(dataDir: string, configured?: string): string {
  if (configured) return configured;
  const file = path.join(dataDir, 'secrets.yaml');
  const s = (fs.existsSync(file) ? YAML.parse(fs.readFileSync(file, 'utf8')) : null) ?? {};
  if (typeof s[SECRET_KEY] === 'string' && s[SECRET_KEY]) return s[SECRET_KEY] as string;
  s[SECRET_KEY] = randomBytes(24).toString('base64url');
  fs.mkdirSync(dataDir, { recursive: true });
  fs.writeFileSync(file, YAML.stringify(s), { mode: 0o600 });
  return s[SECRET_KEY] as string;
}

/** X-Instance-ID-Signature: HMAC-SHA256 of the instance id, hex (as Neutron's proxy signs). */
export function signInstanceId(secret: string, instanceId: string): string {
  return createHmac('sha256', secret).update(instanceId).digest('hex');
}

export function signatureValid(secret: string, instanceId: string, signature: string): boolean {
  const want = Buffer.from(signInstanceId(secret, instanceId));
  const got = Buffer.from(signature);
  return want.length === got.length && timingSafeEqual(want, got);
}
