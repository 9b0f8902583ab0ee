// Nova's metadata API (nova/api/metadata/handler.py with the Neutron proxy's headers): a request
// names its instance with X-Instance-ID and X-Tenant-ID and proves it came through the
// network's metadata proxy with X-Instance-ID-Signature (HMAC-SHA256 of the id with the shared
// secret). It then reads its own OpenStack tree (/openstack/<version>/...) and EC2 tree
// (/<version>/meta-data/..., /<version>/user-data). Plain text or JSON, as Nova answers.
import type { Instance } from '../instances.ts';
import {
  EC2_VERSIONS,
  OPENSTACK_VERSIONS,
  ec2MetaData,
  openstackFiles,
  subnetsToRead,
  userData,
  withSubnets,
} from './content.ts';
import type { SubnetMeta } from '../subnet_meta.ts';
import { signatureValid } from '../../core/metadata_secret.ts';

export interface MetadataRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** The request body (the guest's POST of its encrypted password). */
  body?: Buffer;
}
export interface MetadataAnswer {
  status: number;
  contentType: string;
  body: string | Buffer;
}

export interface MetadataDeps {
  secret: string;
  getInstance(uuid: string): Promise<Instance | null>;
  /** Keeps the password a guest posts (the server's system metadata, read by os-server-password). */
  setPassword(uuid: string, password: string): Promise<void>;
  /**
   * The details of these subnets from the network service (network_data.json's address types,
   * for the fixed IPs whose subnet the info cache does not keep); a subnet not read is left out.
   */
  subnets?(ids: string[]): Promise<Map<string, SubnetMeta>>;
}

/** nova.api.metadata.password.MAX_SIZE: what a guest may post as its (encrypted) password. */
const PASSWORD_MAX_SIZE = 256;

const text = (status: number, body: string | Buffer, contentType = 'text/plain; charset=UTF-8'): MetadataAnswer => ({
  status,
  contentType,
  body,
});
const header = (r: MetadataRequest, name: string) => {
  const v = r.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
};
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A directory listing of the EC2 tree: sub-directories end in '/', public keys list as `0=name`. */
function listing(node: Record<string, unknown>): string {
  return Object.entries(node)
    .filter(([k]) => k !== '_name')
    .map(([k, v]) => {
      if (v && typeof v === 'object') {
        const name = (v as Record<string, unknown>)._name;
        return typeof name === 'string' ? name : `${k}/`;
      }
      return k;
    })
    .join('\n');
}

export async function handleMetadata(r: MetadataRequest, deps: MetadataDeps): Promise<MetadataAnswer> {
  if (r.method !== 'GET' && r.method !== 'HEAD' && r.method !== 'POST')
    return text(405, 'The method specified is not allowed for this resource.');
  let path: string;
  try {
    path = decodeURIComponent(r.path.split('?')[0] ?? '/').replace(/\/{2,}/g, '/');
  } catch {
    return text(400, 'The request path is not valid.');
  }
  // The version lists need no instance (Nova answers them to anyone who reaches it).
  if (path === '/' || path === '') return text(200, [...EC2_VERSIONS, 'latest'].join('\n'));
  const id = header(r, 'x-instance-id');
  const tenant = header(r, 'x-tenant-id');
  const sig = header(r, 'x-instance-id-signature');
  if (!id) return text(400, 'X-Instance-ID header is missing from request.');
  if (!tenant) return text(400, 'X-Tenant-ID header is missing from request.');
  if (!sig || !signatureValid(deps.secret, id, sig)) return text(403, 'Invalid proxy request signature.');
  if (!UUID.test(id)) return text(404, 'Instance not found.');
  let inst = await deps.getInstance(id);
  if (!inst || inst.deleted) return text(404, 'Instance not found.');
  if (inst.project_id !== tenant) return text(404, 'Tenant ID does not match.');
  const parts = path.split('/').filter(Boolean);

  if (parts[0] === 'openstack') {
    // The subnets are read only for network_data.json (the other files do not need them).
    const want = parts[parts.length - 1] === 'network_data.json' && deps.subnets ? subnetsToRead(inst) : [];
    if (want.length && deps.subnets) inst = withSubnets(inst, await deps.subnets(want));
    const files = openstackFiles(inst);
    const names = ['meta_data.json', 'password', 'vendor_data.json', 'network_data.json', 'vendor_data2.json'];
    if (files.user_data) names.push('user_data');
    if (parts.length === 1) return text(200, [...OPENSTACK_VERSIONS, 'latest'].join('\n'));
    const v = parts[1]!;
    if (v !== 'latest' && !OPENSTACK_VERSIONS.includes(v)) return text(404, 'Not Found');
    if (parts.length === 2) return text(200, names.join('\n'));
    const name = parts.slice(2).join('/');
    if (name === 'password') {
      // nova.api.metadata.password.handle_password: GET reads it, one POST sets it, once.
      const current = typeof inst.system_metadata?.password === 'string' ? inst.system_metadata.password : '';
      if (r.method === 'GET' || r.method === 'HEAD') return text(200, current);
      if (r.method !== 'POST') return text(400, 'Bad Request');
      if (current) return text(409, 'Conflict');
      const body = r.body ?? Buffer.alloc(0);
      if (body.length > PASSWORD_MAX_SIZE) return text(400, 'Request is too large.');
      await deps.setPassword(inst.uuid, body.toString('utf8'));
      return text(200, '');
    }
    const f = files[name];
    if (f === undefined) return text(404, 'Not Found');
    return text(200, f, name.endsWith('.json') ? 'application/json' : 'text/plain; charset=UTF-8');
  }

  const v = parts[0]!;
  if (v !== 'latest' && !EC2_VERSIONS.includes(v)) return text(404, 'Not Found');
  if (parts.length === 1) return text(200, ['meta-data/', 'user-data'].join('\n'));
  if (parts[1] === 'user-data') {
    const ud = userData(inst);
    return ud ? text(200, ud, 'application/octet-stream') : text(404, 'Not Found');
  }
  if (parts[1] !== 'meta-data') return text(404, 'Not Found');
  const md = ec2MetaData(inst);
  // Nova's shape of public-keys: {'0': {'_name': '0=name', 'openssh-key': key}}.
  if (md['public-keys']) {
    const [[k, v0]] = Object.entries(md['public-keys'] as Record<string, unknown>) as [
      [string, Record<string, unknown>],
    ];
    md['public-keys'] = { [k.split('=')[0]!]: { _name: k, ...v0 } };
  }
  let node: unknown = md;
  for (const p of parts.slice(2)) {
    if (!node || typeof node !== 'object' || !(p in (node as Record<string, unknown>)) || p === '_name')
      return text(404, 'Not Found');
    node = (node as Record<string, unknown>)[p];
  }
  if (node && typeof node === 'object') return text(200, listing(node as Record<string, unknown>));
  return text(200, String(node));
}
