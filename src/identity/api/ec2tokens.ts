// POST /v3/ec2tokens and /v3/s3tokens (keystone/api/ec2tokens.py, s3tokens.py,
// _shared/EC2_S3_Resource.py): unauthenticated calls from EC2-compatible and S3 front ends
// (Swift's s3api) that pass the request a client signed; when the signature is the EC2
// credential's, the answer is a project token for the credential's user (method
// `ec2credential`): 200, with X-Subject-Token for ec2tokens.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, badRequest } from '../../core/errors.ts';
import type { IdentityService } from '../service.ts';
import { hashAccessKey } from '../credential.ts';
import { checkEc2Signature, checkS3Signature, checkTimestamp, type Ec2Request } from '../ec2.ts';
import { q } from './common.ts';

/** Keystone's [credential] auth_ttl default (minutes): how old a signed timestamp may be. */
export const AUTH_TTL_MINUTES = 15;

const unauthorized = (msg: string) => new ApiError(401, msg, 'Unauthorized');
const accessKeyNotFound = () => new ApiError(404, 'EC2 access key not found.', 'NotFound');

async function authenticate(s: IdentityService, body: unknown, check: (secret: string, c: Ec2Request) => void) {
  if (!body || typeof body !== 'object' || Array.isArray(body) || !Object.keys(body).length)
    throw badRequest('request must include a request body', 'ValidationError');
  const b = body as Record<string, unknown>;
  const raw = b.credentials || b.credential || b.ec2Credentials;
  const c = (raw && typeof raw === 'object' && !Array.isArray(raw) ? raw : {}) as Ec2Request;
  if (c.access === undefined) throw unauthorized('EC2 Signature not supplied');
  if (typeof c.access !== 'string') throw accessKeyNotFound();
  const cred = await s.credentials.find(hashAccessKey(c.access));
  if (!cred || cred.type !== 'ec2') throw accessKeyNotFound();
  let blob: Record<string, unknown>;
  try {
    blob = JSON.parse(cred.blob) as Record<string, unknown>;
  } catch {
    throw accessKeyNotFound();
  }
  if (typeof blob.secret !== 'string') throw unauthorized('Invalid EC2 signature.');
  check(blob.secret, c);
  if (!cred.project_id) throw unauthorized('User not valid for project.');
  const project = await s.resource.find(cred.project_id);
  const user = await s.users.find(cred.user_id);
  if (!project || project.is_domain || !user) throw unauthorized('The request you have made requires authentication.');
  const domain = await s.resource.find(user.domain_id);
  const pdomain = project.domain_id ? await s.resource.find(project.domain_id) : undefined;
  if (!user.enabled || !domain?.enabled || !project.enabled || (pdomain && !pdomain.enabled))
    throw unauthorized('The request you have made requires authentication.');
  checkTimestamp(c, AUTH_TTL_MINUTES);

  let userId = user.id;
  const trustId = typeof blob.trust_id === 'string' ? blob.trust_id : undefined;
  const appCredId = typeof blob.app_cred_id === 'string' ? blob.app_cred_id : undefined;
  const accessTokenId = typeof blob.access_token_id === 'string' ? blob.access_token_id : undefined;
  if (trustId) {
    const t = await s.trusts.getTrust(trustId);
    if (!t || t.deleted) throw unauthorized('The request you have made requires authentication.');
    // A credential made with an impersonating trust's token names the trustor: the trustee asks.
    if (t.impersonation) userId = t.trustee_user_id;
  } else if (appCredId) {
    const ac = await s.applicationCredentials.getAppCred(appCredId);
    if (!ac) throw unauthorized('The request you have made requires authentication.');
    if (ac.project_id !== project.id)
      throw unauthorized('EC2 credential project does not match the application credential project.');
  } else if (accessTokenId) {
    const at = await s.tokens.oauth?.getAccessToken(accessTokenId);
    if (!at) throw unauthorized('The request you have made requires authentication.');
    if (at.project_id !== project.id)
      throw unauthorized('EC2 credential project does not match the OAuth1 access token project.');
  }
  return s.tokens.issue({
    userId,
    methods: ['ec2credential'],
    projectId: project.id,
    trustId,
    appCredId,
    accessTokenId,
  });
}

const methodNotAllowed = async (_req: FastifyRequest, reply: FastifyReply) => {
  reply.header('Allow', 'POST');
  throw new ApiError(405, 'The method is not allowed for the requested URL.', 'Method Not Allowed');
};

export function ec2TokenHandlers(s: IdentityService) {
  async function ec2Tokens(req: FastifyRequest, reply: FastifyReply) {
    const model = await authenticate(s, req.body, checkEc2Signature);
    reply.header('X-Subject-Token', model.id);
    return s.tokens.render(model, q(req).nocatalog === undefined);
  }
  async function s3Tokens(req: FastifyRequest) {
    const model = await authenticate(s, req.body, checkS3Signature);
    return s.tokens.render(model, q(req).nocatalog === undefined);
  }

  return { ec2Tokens, s3Tokens, methodNotAllowed };
}
