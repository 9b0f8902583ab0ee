// EC2 signature version 2 (keystoneclient's Ec2Signer, HMAC-SHA256) and the pre-signed URLs
// Heat's signal responders hand out (heat/engine/resources/signal_responder.py's
// _get_ec2_signed_url): a stack user's EC2 keypair signs `VERB\nhost\npath\nquery`, the path
// unquoted, the URL carrying the quoted ARN of the resource.
import { createHmac } from 'node:crypto';

/** Python's urllib.parse.quote(v, safe='-_~'): RFC 3986 unreserved characters kept. */
export function awsQuote(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Python's urllib.parse.quote(v) (safe='/'). */
export function quotePath(s: string): string {
  return awsQuote(s).replace(/%2F/g, '/');
}

export function canonicalQuery(params: Record<string, string>): string {
  return Object.keys(params)
    .sort()
    .map((k) => `${awsQuote(k)}=${awsQuote(params[k]!)}`)
    .join('&');
}

/** The v2 signature of a request (the params without `Signature`). */
export function signV2(
  secret: string,
  req: { verb: string; host: string; path: string; params: Record<string, string> },
): string {
  const params = { ...req.params, SignatureMethod: 'HmacSHA256' };
  const sts = `${req.verb}\n${req.host}\n${req.path}\n${canonicalQuery(params)}`;
  return createHmac('sha256', secret).update(sts).digest('base64');
}

/** A resource's ARN (HeatIdentifier.arn): `arn:openstack:heat::{tenant}:stacks/{name}/{id}/resources/{res}`. */
export function resourceArn(tenant: string, stackName: string, stackId: string, resource: string): string {
  return `arn:openstack:heat::${awsQuote(tenant)}:stacks/${awsQuote(stackName)}/${awsQuote(stackId)}/resources/${quotePath(resource)}`;
}

/** A stack's ARN. */
export function stackArn(tenant: string, stackName: string, stackId: string): string {
  return `arn:openstack:heat::${awsQuote(tenant)}:stacks/${awsQuote(stackName)}/${awsQuote(stackId)}`;
}

export interface ParsedArn {
  tenant: string;
  stackName: string;
  stackId: string;
  resource?: string;
}

/** HeatIdentifier.from_arn for stack and resource ARNs (unquoted); null when it is not one. */
export function parseArn(arn: string): ParsedArn | null {
  const m = /^arn:openstack:heat::([^:]+):stacks\/([^/]+)\/([^/]+)(?:\/resources\/(.+))?$/.exec(arn);
  if (!m) return null;
  const dec = (s: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  };
  return {
    tenant: dec(m[1]!),
    stackName: dec(m[2]!),
    stackId: dec(m[3]!),
    ...(m[4] !== undefined ? { resource: dec(m[4]) } : {}),
  };
}

/**
 * The pre-signed URL of a resource's signal: `{cfn}/waitcondition/{arn}` (PUT, a CFN wait
 * condition handle) or `{cfn}/signal/{arn}` (POST), signed with the stack user's keypair.
 * `timestamp` (Heat signs the resource's creation time) is left out for URLs that never expire.
 */
export function ec2SignedUrl(o: {
  /** The cloudformation endpoint, e.g. http://host:8000/v1. */
  cfnUrl: string;
  kind: 'waitcondition' | 'signal';
  arn: string;
  access: string;
  secret: string;
  timestamp?: Date;
}): string {
  const base = new URL(`${o.cfnUrl.replace(/\/+$/, '')}/${o.kind}`);
  const quoted = `/${quotePath(o.arn)}`;
  const params: Record<string, string> = {
    SignatureMethod: 'HmacSHA256',
    SignatureVersion: '2',
    AWSAccessKeyId: o.access,
  };
  if (o.timestamp) params.Timestamp = `${o.timestamp.toISOString().slice(0, 19)}Z`;
  const path = decodeURIComponent(base.pathname + quoted);
  params.Signature = signV2(o.secret, {
    verb: o.kind === 'waitcondition' ? 'PUT' : 'POST',
    host: base.host.toLowerCase(),
    path,
    params,
  });
  const qs = Object.entries(params)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join('&');
  return `${base.origin}${base.pathname}${quoted}?${qs}`;
}
