// /v3/credentials and /v3/users/{user_id}/credentials/OS-EC2 (keystone/api/credentials.py and
// the OS-EC2 resources of keystone/api/users.py). Both live in the credential table.
import { randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, badRequest } from '../../core/errors.ts';
import type { IdentityService } from '../service.ts';
import { CREDENTIAL_COLUMNS, hashAccessKey, type Credential } from '../credential.ts';
import { listBody, q, requireBody } from './common.ts';
import { pyRepr } from '../../core/python.ts';

/** Methods that authenticate a user directly; any other method is a delegation (keystone/api/_shared/delegation.py). */
export const PRIMARY_AUTH_METHODS = new Set([
  'external',
  'kerberos',
  'mapped',
  'openid',
  'password',
  'saml2',
  'token',
  'totp',
  'x509',
]);

/** A trust-scoped token, or one obtained by a delegated method (application credential, OAuth1, EC2). */
export function isDelegated(req: FastifyRequest): boolean {
  const ctx = req.ctx;
  if (!ctx) return false;
  return !!ctx.trustId || !ctx.methods.length || !ctx.methods.every((m) => PRIMARY_AUTH_METHODS.has(m));
}

const forbiddenAction = (action: string) =>
  new ApiError(403, `You are not authorized to perform the requested action: ${action}.`, 'ForbiddenAction');

/** Delegated tokens may not touch credentials (LP#2159643). */
function requirePrimaryAuth(req: FastifyRequest) {
  if (isDelegated(req)) throw forbiddenAction('Delegated tokens cannot access credentials directly');
}

export const renderCredential = (req: FastifyRequest, c: Credential) => ({
  ...c.extra,
  id: c.id,
  user_id: c.user_id,
  project_id: c.project_id,
  type: c.type,
  blob: c.blob,
  links: { self: `${req.baseUrl}/v3/credentials/${c.id}` },
});

const credTarget = (c: Partial<Credential> | undefined) => ({ target: c ? { credential: c } : {} });

const validationError = (attribute: string, target: string) =>
  badRequest(
    `Expecting to find ${attribute} in ${target}. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.`,
    'ValidationError',
  );

/** An ec2 blob must be a JSON object with an access key. */
function ec2Blob(blob: unknown): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(String(blob));
  } catch {
    throw badRequest('Invalid blob in credential', 'ValidationError');
  }
  if (!v || typeof v !== 'object' || Array.isArray(v) || !Object.keys(v).length)
    throw validationError('blob', 'credential');
  const o = v as Record<string, unknown>;
  if (o.access === undefined || o.access === null) throw validationError('access', 'credential');
  return o;
}

/** A credential body as checkTypes let it through: its columns are strings when given. */
type CredentialBody = Record<string, unknown> & { blob?: string; project_id?: string; type?: string; user_id?: string };

function checkTypes(c: Record<string, unknown>): asserts c is CredentialBody {
  for (const k of ['blob', 'project_id', 'type', 'user_id']) {
    if (c[k] !== undefined && typeof c[k] !== 'string') {
      // Keystone's schema has no null for these: a wrong type is a 400 naming the field.
      throw badRequest(`Invalid input for field '${k}': ${pyRepr(c[k])} is not of type 'string'`, 'ValidationError');
    }
  }
}

const splitExtra = (body: Record<string, unknown>) => {
  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body)) if (!CREDENTIAL_COLUMNS.includes(k) && k !== 'links') extra[k] = v;
  return extra;
};

/** The OS-EC2 view of an ec2 credential. */
function renderEc2(req: FastifyRequest, c: Credential) {
  let blob: Record<string, unknown> = {};
  try {
    blob = JSON.parse(c.blob);
  } catch {
    /* not JSON: show what we can */
  }
  return {
    user_id: c.user_id,
    tenant_id: c.project_id,
    access: blob.access ?? null,
    secret: blob.secret ?? null,
    trust_id: blob.trust_id ?? null,
    links: { self: `${req.baseUrl}/v3/users/${c.user_id}/credentials/OS-EC2/${blob.access}` },
  };
}

export function credentialHandlers(s: IdentityService) {
  const creds = s.credentials;
  // ---- /v3/credentials ----
  async function createCredential(req: FastifyRequest, reply: FastifyReply) {
    const body = requireBody(req.body, 'credential');
    req.authorize('identity:create_credential', credTarget(body));
    checkTypes(body);
    const { blob, type, user_id } = body;
    if (blob === undefined || type === undefined || user_id === undefined) {
      const k = blob === undefined ? 'blob' : type === undefined ? 'type' : 'user_id';
      throw badRequest(`Invalid input for field '${k}': '${k}' is a required property`, 'ValidationError');
    }
    if (body.type === 'ec2' && body.project_id === undefined)
      throw badRequest(
        "Invalid input for field 'project_id': 'project_id' is a required property for a credential of type ec2",
        'ValidationError',
      );
    requirePrimaryAuth(req);
    let id: string | undefined;
    if (String(body.type).toLowerCase() === 'ec2') id = hashAccessKey(String(ec2Blob(body.blob).access));
    const c = await creds.create({
      id,
      user_id,
      project_id: body.project_id ?? null,
      type,
      blob,
      extra: splitExtra(body),
    });
    reply.code(201);
    return { credential: renderCredential(req, c) };
  }

  async function listCredentials(req: FastifyRequest) {
    const query = q(req);
    // Outside the system scope the caller is checked as the owner of what they list.
    req.authorize('identity:list_credentials', req.ctx?.system ? {} : credTarget({ user_id: req.ctx?.userId }));
    const list = await creds.list({ userId: query.user_id, type: query.type });
    // Only what the caller may read, as upstream re-checks each one.
    const visible = list.filter((c) => req.allowed('identity:get_credential', credTarget(c)) && !isDelegated(req));
    return listBody(
      req,
      'credentials',
      visible.map((c) => renderCredential(req, c)),
    );
  }

  async function getCredential(req: FastifyRequest) {
    const { credential_id } = req.params as { credential_id: string };
    const cur = await creds.find(credential_id);
    req.authorize('identity:get_credential', credTarget(cur));
    if (!cur) throw new ApiError(404, `Could not find credential: ${credential_id}.`, 'CredentialNotFound');
    requirePrimaryAuth(req);
    return { credential: renderCredential(req, cur) };
  }

  async function updateCredential(req: FastifyRequest) {
    const { credential_id } = req.params as { credential_id: string };
    const cur = await creds.find(credential_id);
    req.authorize('identity:update_credential', credTarget(cur));
    const patch = requireBody(req.body, 'credential');
    checkTypes(patch);
    if (!Object.keys(patch).length)
      throw badRequest("Invalid input for field 'credential': {} does not have enough properties", 'ValidationError');
    if (!cur) throw new ApiError(404, `Could not find credential: ${credential_id}.`, 'CredentialNotFound');
    requirePrimaryAuth(req);
    if (cur.type.toLowerCase() === 'ec2' && patch.blob !== undefined) {
      // The scope an ec2 credential was created with may not change.
      const nb = ec2Blob(patch.blob);
      let ob: Record<string, unknown> = {};
      try {
        ob = JSON.parse(cur.blob);
      } catch {
        /* keep empty */
      }
      for (const k of ['trust_id', 'app_cred_id', 'access_token_id', 'access_id']) {
        if ((ob[k] ?? null) !== (nb[k] ?? null))
          throw badRequest(`${k} can not be updated for credential`, 'ValidationError');
      }
    }
    if (patch.id !== undefined && patch.id !== null && patch.id !== credential_id)
      throw badRequest('Cannot change ID', 'ValidationError');
    const newType = patch.type ?? cur.type;
    if (newType === 'ec2' && !(patch.project_id !== undefined ? patch.project_id : cur.project_id))
      throw validationError('project_id', 'credential');
    if (newType.toLowerCase() === 'ec2' && cur.type.toLowerCase() !== 'ec2') ec2Blob(patch.blob ?? cur.blob);
    // The caller must also be allowed the credential as it will be (no handing it to another user).
    req.authorize('identity:update_credential', credTarget({ ...cur, ...patch }));
    const { id: _i, links: _l, ...rest } = patch;
    const updated = await creds.update(credential_id, {
      user_id: rest.user_id,
      project_id: rest.project_id,
      type: rest.type,
      blob: rest.blob,
      extra: splitExtra(rest),
    });
    return { credential: renderCredential(req, updated) };
  }

  async function deleteCredential(req: FastifyRequest, reply: FastifyReply) {
    const { credential_id } = req.params as { credential_id: string };
    const cur = await creds.find(credential_id);
    req.authorize('identity:delete_credential', credTarget(cur));
    if (!cur) throw new ApiError(404, `Could not find credential: ${credential_id}.`, 'CredentialNotFound');
    requirePrimaryAuth(req);
    await creds.delete(credential_id);
    reply.code(204).send();
  }

  // ---- /v3/users/{user_id}/credentials/OS-EC2 ----
  const ec2Delegated = (req: FastifyRequest) => {
    if (isDelegated(req)) throw forbiddenAction('Delegated tokens cannot access credentials directly');
  };

  async function listEc2Credentials(req: FastifyRequest) {
    const { user_id } = req.params as { user_id: string };
    req.authorize('identity:ec2_list_credentials', { user_id });
    ec2Delegated(req);
    await s.users.get(user_id);
    const list = await creds.list({ userId: user_id, type: 'ec2' });
    return listBody(
      req,
      'credentials',
      list.map((c) => renderEc2(req, c)),
    );
  }

  async function createEc2Credential(req: FastifyRequest, reply: FastifyReply) {
    const { user_id } = req.params as { user_id: string };
    req.authorize('identity:ec2_create_credential', { user_id, target: { credential: { user_id } } });
    await s.users.get(user_id);
    const body = (req.body ?? {}) as Record<string, unknown>;
    if (typeof body !== 'object' || Array.isArray(body)) throw badRequest('Malformed request body.', 'ValidationError');
    const tenantId = body.tenant_id;
    if (typeof tenantId !== 'string' || !tenantId)
      throw badRequest("Invalid input for field 'tenant_id': a project id is required.", 'ValidationError');
    const project = await s.resource.find(tenantId);
    if (!project || project.is_domain)
      throw new ApiError(404, `Could not find project: ${tenantId}.`, 'ProjectNotFound');
    ec2Delegated(req);
    const blob = {
      access: randomUUID().replace(/-/g, ''),
      secret: randomUUID().replace(/-/g, ''),
      trust_id: req.ctx?.trustId ?? null,
    };
    const c = await creds.create({
      id: hashAccessKey(blob.access),
      user_id,
      project_id: tenantId,
      type: 'ec2',
      blob: JSON.stringify(blob),
    });
    reply.code(201);
    return { credential: renderEc2(req, c) };
  }

  const getEc2 = async (req: FastifyRequest, rule: string) => {
    const { user_id, credential_id } = req.params as { user_id: string; credential_id: string };
    const id = hashAccessKey(credential_id);
    const cur = await creds.find(id);
    // Upstream loads the credential to build the policy target, so an unknown access key is a 404 first.
    if (!cur) {
      req.authorized = true;
      throw new ApiError(404, `Could not find credential: ${id}.`, 'CredentialNotFound');
    }
    req.authorize(rule, { user_id, ...credTarget(cur) });
    await s.users.get(user_id);
    // Zed checks the type only: the owner is the policy's (user_id:%(target.credential.user_id)s, in
    // the new default and in the deprecated rule), so a system admin reaches any user's credential
    // whatever user the path names.
    if (cur.type !== 'ec2') throw new ApiError(401, 'EC2 access key not found.', 'Unauthorized');
    ec2Delegated(req);
    return cur;
  };

  async function getEc2Credential(req: FastifyRequest) {
    return { credential: renderEc2(req, await getEc2(req, 'identity:ec2_get_credential')) };
  }

  async function deleteEc2Credential(req: FastifyRequest, reply: FastifyReply) {
    const cur = await getEc2(req, 'identity:ec2_delete_credential');
    await creds.delete(cur.id);
    reply.code(204).send();
  }
  return {
    createCredential,
    listCredentials,
    getCredential,
    updateCredential,
    deleteCredential,
    listEc2Credentials,
    createEc2Credential,
    getEc2Credential,
    deleteEc2Credential,
  };
}
