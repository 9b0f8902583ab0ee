// Key pairs (nova.api.openstack.compute.keypairs): create (generated ssh keys, or x509
// certificates from 2.2 to 2.91), import, list (paginated from 2.35), show, delete, the
// user_id parameter for admins (2.10), and 2.92 (no generation: public_key required).
// Servers find a key through the KeypairStore kept in svc.parts ('keypairs').
import { createHash, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ComputeService, Family } from '../service.ts';
import { keypairMigrations } from '../db/migrations/keypairs.ts';
import { type Keypair } from '../keypairs.ts';
import { authorize, badRequest, conflict, forbidden, mv, notFound, queryOf, validateBody } from './common.ts';
import { pyRepr } from '../../core/python.ts';
import { novaTime } from '../times.ts';
import { limitOf, nextLink } from './flavors.ts';
import { OverQuota } from '../quota.ts';

const run = promisify(execFile);
const KP = 'os_compute_api:os-keypairs';

// ---- keys ---------------------------------------------------------------------------------

const colonHex = (buf: Buffer) => buf.toString('hex').match(/../g)!.join(':');

function sshString(buf: Buffer, off: number): [Buffer, number] {
  if (off + 4 > buf.length) throw new Error('truncated');
  const n = buf.readUInt32BE(off);
  if (off + 4 + n > buf.length) throw new Error('truncated');
  return [buf.subarray(off + 4, off + 4 + n), off + 4 + n];
}

const SSH_KEY_TYPES: Record<string, number> = {
  // the number of further fields each key type's blob carries
  'ssh-rsa': 2,
  'ssh-dss': 4,
  'ssh-ed25519': 1,
  'ecdsa-sha2-nistp256': 2,
  'ecdsa-sha2-nistp384': 2,
  'ecdsa-sha2-nistp521': 2,
};

/** The MD5 fingerprint of an OpenSSH public key (nova.crypto.generate_fingerprint); 400 if it is not one. */
export function sshFingerprint(publicKey: string): string {
  try {
    const parts = publicKey.trim().split(/\s+/);
    if (parts.length < 2) throw new Error('not an OpenSSH key');
    const blob = Buffer.from(parts[1]!, 'base64');
    if (blob.toString('base64').replace(/=+$/, '') !== parts[1]!.replace(/=+$/, '')) throw new Error('bad base64');
    const [type, off] = sshString(blob, 0);
    const fields = SSH_KEY_TYPES[type.toString()];
    if (fields === undefined || type.toString() !== parts[0]) throw new Error('unknown key type');
    let o = off;
    for (let i = 0; i < fields; i++) [, o] = sshString(blob, o);
    if (o !== blob.length) throw new Error('trailing data');
    return colonHex(createHash('md5').update(blob).digest());
  } catch {
    throw badRequest('Keypair data is invalid: failed to generate fingerprint');
  }
}

export function x509Fingerprint(pem: string): string {
  try {
    return new X509Certificate(pem).fingerprint.toLowerCase();
  } catch (e) {
    throw badRequest(
      `Keypair data is invalid: failed to generate X509 fingerprint. Error message: ${(e as Error).message}`,
    );
  }
}

const sshMpint = (b: Buffer) => (b[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);
const sshField = (b: Buffer) => {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(b.length);
  return Buffer.concat([len, b]);
};

/** A new RSA key pair as nova.crypto.generate_key_pair gives it: PEM private key, OpenSSH public key. */
export function generateSshKey(): { privateKey: string; publicKey: string; fingerprint: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 65537 });
  const jwk = publicKey.export({ format: 'jwk' });
  const e = Buffer.from(jwk.e!, 'base64url'),
    n = Buffer.from(jwk.n!, 'base64url');
  const blob = Buffer.concat([sshField(Buffer.from('ssh-rsa')), sshField(sshMpint(e)), sshField(sshMpint(n))]);
  const pub = `ssh-rsa ${blob.toString('base64')} Generated-by-Nova`;
  return {
    privateKey: privateKey.export({ format: 'pem', type: 'pkcs1' }) as string,
    publicKey: pub,
    fingerprint: sshFingerprint(pub),
  };
}

/** A self-signed client certificate for WinRM (nova.crypto.generate_winrm_x509_cert), by openssl. */
export async function generateX509(
  userId: string,
): Promise<{ privateKey: string; publicKey: string; fingerprint: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-x509-'));
  try {
    const conf = path.join(dir, 'req.conf'),
      key = path.join(dir, 'key.pem'),
      cert = path.join(dir, 'cert.pem'),
      p12 = path.join(dir, 'key.p12');
    fs.writeFileSync(
      conf,
      `distinguished_name = req_distinguished_name\n[req_distinguished_name]\n[v3_req_client]\nextendedKeyUsage = clientAuth\nsubjectAltName = otherName:1.3.6.1.4.1.311.20.2.3;UTF8:${userId}@localhost\n`,
    );
    await run('openssl', [
      'req',
      '-x509',
      '-nodes',
      '-days',
      '3650',
      '-config',
      conf,
      '-newkey',
      'rsa:2048',
      '-outform',
      'PEM',
      '-keyout',
      key,
      '-out',
      cert,
      '-subj',
      `/CN=${userId}`,
      '-extensions',
      'v3_req_client',
    ]);
    await run('openssl', ['pkcs12', '-export', '-inkey', key, '-in', cert, '-out', p12, '-password', 'pass:']);
    const certificate = fs.readFileSync(cert, 'utf8');
    return {
      privateKey: fs.readFileSync(p12).toString('base64'),
      publicKey: certificate,
      fingerprint: x509Fingerprint(certificate),
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// ---- the API ------------------------------------------------------------------------------

const schema = (props: Record<string, unknown>, required = ['name']) => ({
  type: 'object',
  required: ['keypair'],
  additionalProperties: false,
  properties: {
    keypair: {
      type: 'object',
      required,
      additionalProperties: false,
      properties: { name: { type: 'string', minLength: 1, maxLength: 255 }, public_key: { type: 'string' }, ...props },
    },
  },
});
const CREATE_21 = schema({});
const CREATE_22 = schema({ type: { type: 'string', enum: ['ssh', 'x509'] } });
const CREATE_210 = schema({ type: { type: 'string', enum: ['ssh', 'x509'] }, user_id: { type: 'string' } });
const CREATE_292 = schema({ type: { type: 'string', enum: ['ssh', 'x509'] }, user_id: { type: 'string' } }, [
  'name',
  'public_key',
]);

function checkKeypairName(name: string, v292: boolean) {
  const safe = v292 ? /^[@._\- 0-9a-zA-Z]*$/ : /^[_\- 0-9a-zA-Z]*$/;
  const chars = v292
    ? '@._- 0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'
    : '_- 0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
  if (/^\s/.test(name) || /\s$/.test(name))
    throw badRequest(`Invalid input for field/attribute name. Value: ${name}. ${pyRepr(name)} is not a 'name'`);
  if (!safe.test(name))
    throw badRequest(
      `Invalid input for field/attribute name. Value: ${name}. An invalid 'name' value was provided. The name must be: Only expected characters: [${chars}]`,
    );
}

function view(k: Keypair, fields: string[], privateKey?: string) {
  const all: Record<string, unknown> = {
    name: k.name,
    public_key: k.public_key,
    fingerprint: k.fingerprint,
    user_id: k.user_id,
    type: k.type,
    created_at: novaTime(k.created_at),
    updated_at: novaTime(k.updated_at),
    deleted: false,
    deleted_at: null,
    id: k.id,
    private_key: privateKey,
  };
  return Object.fromEntries(fields.map((f) => [f, all[f]]));
}

/** The query's user_id (2.10+), and 2.75's refusal of unknown parameters. */
function userParam(req: FastifyRequest, allowed: string[]): string | undefined {
  const q = queryOf(req);
  if (mv(req).gte('2.75'))
    for (const k of q.keys())
      if (!allowed.includes(k))
        throw badRequest(
          `Invalid input for query parameters ${k}. Value: ${q.get(k)}. Additional properties are not allowed ('${k}' was unexpected)`,
        );
  return mv(req).gte('2.10') ? q.getAll('user_id')[0] || undefined : undefined;
}

export async function createKeypair(svc: ComputeService, req: FastifyRequest, reply: FastifyReply) {
  const v = mv(req);
  const body = validateBody<{
    keypair: { name: string; type?: 'ssh' | 'x509'; user_id?: string; public_key?: string };
  }>(req, v.gte('2.92') ? CREATE_292 : v.gte('2.10') ? CREATE_210 : v.gte('2.2') ? CREATE_22 : CREATE_21);
  const p = body.keypair;
  checkKeypairName(p.name, v.gte('2.92'));
  const name = String(p.name).trim();
  const type: 'ssh' | 'x509' = p.type ?? 'ssh';
  const userId: string = (v.gte('2.10') ? p.user_id : undefined) || req.ctx!.userId;
  authorize(req, `${KP}:create`, { user_id: userId });
  try {
    const used = await svc.parts.keypairs.count(userId);
    await svc.parts.quotas.check(
      req.ctx?.projectId ?? '',
      userId,
      { key_pairs: 1 },
      { project: { key_pairs: used }, user: { key_pairs: used } },
    );
  } catch (e) {
    if (e instanceof OverQuota) throw forbidden('Quota exceeded, too many key pairs.');
    throw e;
  }
  // Nova rechecks the quota after the create (recheck_quota), so racing creates cannot both pass.
  const recheck = async (k: Keypair) => {
    const used = await svc.parts.keypairs.count(userId);
    try {
      await svc.parts.quotas.check(
        req.ctx?.projectId ?? '',
        userId,
        { key_pairs: 0 },
        { project: { key_pairs: used }, user: { key_pairs: used } },
      );
    } catch (e) {
      await svc.parts.keypairs.destroy(userId, k.name);
      if (e instanceof OverQuota) throw forbidden('Quota exceeded, too many key pairs.');
      throw e;
    }
  };
  let kp: Keypair, priv: string | undefined;
  if (p.public_key !== undefined) {
    const fingerprint = type === 'x509' ? x509Fingerprint(p.public_key) : sshFingerprint(p.public_key);
    kp = await svc.parts.keypairs.create({ name, user_id: userId, fingerprint, public_key: p.public_key, type });
  } else {
    if (await svc.parts.keypairs.get(userId, name)) throw conflict(`Key pair '${name}' already exists.`);
    const gen = type === 'x509' ? await generateX509(userId) : generateSshKey();
    kp = await svc.parts.keypairs.create({
      name,
      user_id: userId,
      fingerprint: gen.fingerprint,
      public_key: gen.publicKey,
      type,
    });
    priv = gen.privateKey;
  }
  await recheck(kp);
  reply.code(v.gte('2.2') ? 201 : 200);
  const fields = [
    ...(priv !== undefined ? ['private_key'] : []),
    ...(v.gte('2.2') ? ['type'] : []),
    'name',
    'public_key',
    'fingerprint',
    'user_id',
  ];
  return { keypair: view(kp, fields, priv) };
}

export async function listKeypairs(svc: ComputeService, req: FastifyRequest) {
  const v = mv(req);
  const userId = userParam(req, ['user_id', 'limit', 'marker']) ?? req.ctx!.userId;
  authorize(req, `${KP}:index`, { user_id: userId });
  let list = await svc.parts.keypairs.list(userId);
  let more = false;
  if (v.gte('2.35')) {
    const limit = limitOf(req);
    const marker = queryOf(req).get('marker');
    if (marker !== null) {
      const i = list.findIndex((k) => k.name === marker);
      if (i < 0) throw badRequest(`Marker ${marker} could not be found.`);
      list = list.slice(i + 1);
    }
    list = list.slice(0, limit);
    more = list.length > 0 && list.length === limit;
  }
  const fields = v.gte('2.2') ? ['name', 'public_key', 'fingerprint', 'type'] : ['name', 'public_key', 'fingerprint'];
  const out: Record<string, unknown> = { keypairs: list.map((k) => ({ keypair: view(k, fields) })) };
  if (more) out.keypairs_links = nextLink(req, 'os-keypairs', list[list.length - 1]!.name);
  return out;
}

export async function showKeypair(svc: ComputeService, req: FastifyRequest<{ Params: { name: string } }>) {
  const userId = userParam(req, ['user_id']) ?? req.ctx!.userId;
  authorize(req, `${KP}:show`, { user_id: userId });
  const k = await svc.parts.keypairs.get(userId, req.params.name);
  if (!k) throw notFound(`Keypair ${req.params.name} not found for user ${userId}`);
  const fields = [
    'name',
    'public_key',
    'fingerprint',
    'user_id',
    'created_at',
    'deleted',
    'deleted_at',
    'id',
    'updated_at',
    ...(mv(req).gte('2.2') ? ['type'] : []),
  ];
  return { keypair: view(k, fields) };
}

export async function deleteKeypair(
  svc: ComputeService,
  req: FastifyRequest<{ Params: { name: string } }>,
  reply: FastifyReply,
) {
  const userId = userParam(req, ['user_id']) ?? req.ctx!.userId;
  authorize(req, `${KP}:delete`, { user_id: userId });
  if (!(await svc.parts.keypairs.destroy(userId, req.params.name)))
    throw notFound(`Keypair ${req.params.name} not found for user ${userId}`);
  reply.code(mv(req).gte('2.2') ? 204 : 202).send();
}

export const keypairsFamily: Family = {
  name: 'keypairs',
  migrations: keypairMigrations,
  async init(svc) {
    const store = svc.parts.keypairs;
    svc.providers.keypairs = {
      async find(userId: string, name: string) {
        const k = await store.get(userId, name);
        return k ? { name: k.name, public_key: k.public_key, type: k.type, user_id: k.user_id } : null;
      },
    };
  },
};
