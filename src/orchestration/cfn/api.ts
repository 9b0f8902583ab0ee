// heat-api-cfn (heat/api/cfn): the CloudFormation-compatible query API, service type
// `cloudformation`, DevStack path /heat-api-cfn/v1, port 8000 in the separate-ports mode. Requests
// are EC2-signed (heat/api/aws/ec2token.py): the signature, the access key and the request as it
// was signed are checked by Keystone's POST /v3/ec2tokens, whose token is the caller. Served: the
// pre-signed signal URLs (`PUT /v1/waitcondition/{arn}` of AWS::CloudFormation::WaitConditionHandle,
// `POST /v1/signal/{arn}`) and the read actions cfn clients call (ListStacks, DescribeStacks,
// DescribeStackResource, DescribeStackResources, ListStackResources, DescribeStackEvents,
// GetTemplate), answered in XML, or JSON with `ContentType=JSON` (what boto asks for).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServiceModule } from '../../core/http.ts';
import { ApiError } from '../../core/errors.ts';
import type { AuthContext } from '../../core/auth.ts';
import type { OrchestrationService } from '../service.ts';
import type { StackRow } from '../stacks.ts';
import { stackView } from '../api/stacks.ts';
import { serverDeployments } from '../api/software.ts';
import { heatTime } from '../api/common.ts';
import { parseArn, stackArn } from './signer.ts';

type Params = Record<string, string>;

/** Heat's HeatAPIException family: `Code`, the status and the message. */
function cfnError(status: number, code: string, message: string): ApiError {
  return new ApiError(status, message, code);
}

function xmlEscape(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&${{ '<': 'lt', '>': 'gt', '&': 'amp', '"': 'quot', "'": 'apos' }[c]};`);
}

/** Heat's XMLResponseSerializer: a map's keys as elements, a list's items as `<member>`. */
export function toXml(name: string, v: unknown): string {
  if (v === null || v === undefined) return `<${name}/>`;
  if (Array.isArray(v)) return `<${name}>${v.map((m) => toXml('member', m)).join('')}</${name}>`;
  if (typeof v === 'object')
    return `<${name}>${Object.entries(v as Record<string, unknown>)
      .map(([k, x]) => toXml(k, x))
      .join('')}</${name}>`;
  return `<${name}>${xmlEscape(String(v))}</${name}>`;
}

export function cfnErrorBody(e: ApiError): string {
  const code = e.type && !/\s/.test(e.type) ? e.type : e.status >= 500 ? 'InternalFailure' : 'InvalidParameterValue';
  return toXml('ErrorResponse', {
    Error: { Type: e.status >= 500 ? 'Server' : 'Sender', Code: code, Message: e.message },
  });
}

const cfnTime = (t: string | null | undefined) => heatTime(t);

/** The parameters of a query request: the query string, and a POST's form body. */
function requestParams(req: FastifyRequest): Params {
  const out: Params = {};
  for (const [k, v] of Object.entries((req.query ?? {}) as Record<string, unknown>))
    out[k] = Array.isArray(v) ? String(v[0]) : String(v);
  const form = String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded');
  if (form && typeof req.body === 'string' && req.body)
    for (const [k, v] of new URLSearchParams(req.body)) if (!(k in out)) out[k] = v;
  return out;
}

export class CfnApi implements ServiceModule {
  name = 'cloudformation';
  type = 'cloudformation';
  prefix = '/heat-api-cfn';
  standardPort = 8000;
  catalogPath = '/v1';
  catalogName = 'heat-cfn';
  errorContentType = 'text/xml';

  constructor(readonly svc: OrchestrationService) {}

  get policy() {
    return this.svc.policy;
  }

  renderError(e: ApiError) {
    return cfnErrorBody(e);
  }

  /**
   * EC2Token: the request's signature checked by Keystone (POST /v3/ec2tokens with the request as
   * it was signed: host, verb, unquoted path, the parameters without `Signature`).
   */
  async authenticate(req: FastifyRequest, params: Params): Promise<AuthContext> {
    const signature = params.Signature;
    const access = params.AWSAccessKeyId;
    if (!signature)
      throw cfnError(400, 'IncompleteSignature', 'The request signature does not conform to AWS standards');
    if (!access) throw cfnError(400, 'MissingParameter', 'The request is missing a required parameter: AWSAccessKeyId');
    const { Signature: _sig, ...signed } = params;
    const rawPath = req.url.split('?')[0]!;
    let path: string;
    try {
      path = decodeURIComponent(rawPath);
    } catch {
      path = rawPath;
    }
    const identity = (await this.svc.ctx.session.endpoint('identity', 'public'))
      .replace(/\/+$/, '')
      .replace(/\/v3$/, '');
    let res: Response;
    try {
      res = await fetch(`${identity}/v3/ec2tokens`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify({
          credentials: {
            access,
            signature,
            host: req.headers.host ?? '',
            verb: req.method,
            path,
            params: signed,
            headers: {},
            body_hash: '',
          },
        }),
      });
    } catch (err) {
      throw cfnError(500, 'InternalFailure', `Keystone did not answer: ${(err as Error).message}`);
    }
    if (res.status === 401 || res.status === 403 || res.status === 404)
      throw cfnError(
        403,
        'SignatureDoesNotMatch',
        'The request signature we calculated does not match the signature you provided',
      );
    if (!res.ok) throw cfnError(500, 'InternalFailure', `Keystone's ec2tokens answered ${res.status}`);
    const token = res.headers.get('x-subject-token') ?? '';
    const t = ((await res.json()) as { token: Record<string, unknown> }).token;
    const user = (t.user ?? {}) as { id: string; name: string; domain?: { id: string; name: string } };
    const project = t.project as { id: string; name: string; domain?: { id: string; name: string } } | undefined;
    const roles = (t.roles ?? []) as Array<{ id: string; name: string }>;
    return {
      token,
      userId: user.id,
      userName: user.name,
      userDomainId: user.domain?.id ?? '',
      userDomainName: user.domain?.name ?? '',
      projectId: project?.id,
      projectName: project?.name,
      projectDomainId: project?.domain?.id,
      projectDomainName: project?.domain?.name,
      roles: roles.map((r) => r.name),
      roleIds: roles.map((r) => r.id),
      methods: (t.methods ?? []) as string[],
      auditIds: (t.audit_ids ?? []) as string[],
      expiresAt: String(t.expires_at ?? ''),
      issuedAt: String(t.issued_at ?? ''),
      isAdminProject: !!t.is_admin_project,
    };
  }

  /** A stack by ARN, id or name, of the caller's project (or, for a stack user, of its stack user project). */
  private async stackFor(req: FastifyRequest, nameOrArn: string | undefined, stackUsers = false): Promise<StackRow> {
    if (!nameOrArn) throw cfnError(400, 'MissingParameter', 'The request is missing a required parameter: StackName');
    const project = req.context.projectId ?? '';
    const arn = parseArn(nameOrArn);
    const key = arn ? arn.stackId : nameOrArn;
    let row = await this.svc.store.findStack(project, key);
    if (!row && stackUsers) {
      const other = await this.svc.store.getStack(key, false);
      let root = other;
      for (let i = 0; root?.owner_id && i < 20; i++) root = (await this.svc.store.getStack(root.owner_id)) ?? null;
      if (other && root?.stack_user_project_id === project) row = other;
    }
    if (!row || row.deleted_at) throw cfnError(400, 'ValidationError', `Stack with id ${nameOrArn} does not exist`);
    return row;
  }

  private stackSummary(row: StackRow) {
    return {
      StackId: stackArn(row.project_id, row.name, row.id),
      StackName: row.name,
      CreationTime: cfnTime(row.created_at),
      LastUpdatedTime: cfnTime(row.updated_at),
      DeletionTime: cfnTime(row.deleted_at),
      StackStatus: `${row.action}_${row.status}`,
      StackStatusReason: row.status_reason,
      TemplateDescription: typeof row.template.description === 'string' ? row.template.description : '',
    };
  }

  private async actions(req: FastifyRequest, p: Params): Promise<[string, unknown]> {
    const target = { project_id: req.context.projectId ?? '', tenant_id: req.context.projectId ?? '' };
    const authorize = (action: string) => req.authorize(`cloudformation:${action}`, target);
    switch (p.Action) {
      case 'ListStacks': {
        authorize('ListStacks');
        const rows = await this.svc.store.listStacks({ projectId: req.context.projectId });
        return ['ListStacks', { StackSummaries: rows.map((r) => this.stackSummary(r)) }];
      }
      case 'DescribeStacks': {
        authorize('DescribeStacks');
        const rows = p.StackName
          ? [await this.stackFor(req, p.StackName)]
          : await this.svc.store.listStacks({ projectId: req.context.projectId });
        const stacks = [];
        for (const row of rows) {
          const v = (await stackView(this.svc, req, row, true)) as Record<string, unknown>;
          const s = this.stackSummary(row);
          stacks.push({
            StackId: s.StackId,
            StackName: s.StackName,
            Description: v.description,
            CreationTime: s.CreationTime,
            LastUpdatedTime: s.LastUpdatedTime,
            StackStatus: s.StackStatus,
            StackStatusReason: s.StackStatusReason,
            DisableRollback: String(row.disable_rollback),
            TimeoutInMinutes: row.timeout_mins,
            NotificationARNs: [],
            Capabilities: [],
            Parameters: Object.entries((v.parameters ?? {}) as Record<string, unknown>).map(([k, x]) => ({
              ParameterKey: k,
              ParameterValue: x,
            })),
            Outputs: ((v.outputs ?? []) as Array<Record<string, unknown>>).map((o) => ({
              OutputKey: o.output_key,
              OutputValue: o.output_value,
              Description: o.description,
            })),
          });
        }
        return ['DescribeStacks', { Stacks: stacks }];
      }
      case 'DescribeStackResource': {
        authorize('DescribeStackResource');
        const row = await this.stackFor(req, p.StackName, true);
        const name = p.LogicalResourceId;
        const r = name ? await this.svc.store.resource(row.id, name) : null;
        if (!r)
          throw cfnError(
            400,
            'ValidationError',
            `The Resource (${name ?? ''}) could not be found in Stack ${row.name}.`,
          );
        let metadata = r.metadata;
        if (r.type === 'OS::Nova::Server' && r.physical_resource_id) {
          const deployments = await serverDeployments(this.svc, r.physical_resource_id, row.project_id);
          if (deployments.length) metadata = { ...metadata, deployments };
        }
        return [
          'DescribeStackResource',
          {
            StackResourceDetail: {
              StackId: stackArn(row.project_id, row.name, row.id),
              StackName: row.name,
              LogicalResourceId: r.name,
              PhysicalResourceId: r.physical_resource_id ?? '',
              ResourceType: r.type,
              ResourceStatus: `${r.action}_${r.status}`,
              ResourceStatusReason: r.status_reason,
              LastUpdatedTimestamp: cfnTime(r.updated_at ?? r.created_at),
              Metadata: JSON.stringify(metadata),
              Description: '',
            },
          },
        ];
      }
      case 'DescribeStackResources': {
        authorize('DescribeStackResources');
        if (p.StackName && p.PhysicalResourceId)
          throw cfnError(400, 'InvalidParameterCombination', 'Use `StackName` or `PhysicalResourceId` but not both');
        let row: StackRow;
        if (p.PhysicalResourceId) {
          const found = await this.svc.store.db
            .selectFrom('resource')
            .select('stack_id')
            .where('physical_resource_id', '=', p.PhysicalResourceId)
            .executeTakeFirst();
          row = await this.stackFor(req, found?.stack_id ?? p.PhysicalResourceId);
        } else row = await this.stackFor(req, p.StackName);
        const rs = (await this.svc.store.resources(row.id)).filter(
          (r) => !p.LogicalResourceId || r.name === p.LogicalResourceId,
        );
        return [
          'DescribeStackResources',
          {
            StackResources: rs.map((r) => ({
              StackId: stackArn(row.project_id, row.name, row.id),
              StackName: row.name,
              LogicalResourceId: r.name,
              PhysicalResourceId: r.physical_resource_id ?? '',
              ResourceType: r.type,
              Timestamp: cfnTime(r.updated_at ?? r.created_at),
              ResourceStatus: `${r.action}_${r.status}`,
              ResourceStatusReason: r.status_reason,
              Description: '',
            })),
          },
        ];
      }
      case 'ListStackResources': {
        authorize('ListStackResources');
        const row = await this.stackFor(req, p.StackName);
        return [
          'ListStackResources',
          {
            StackResourceSummaries: (await this.svc.store.resources(row.id)).map((r) => ({
              LogicalResourceId: r.name,
              PhysicalResourceId: r.physical_resource_id ?? '',
              ResourceType: r.type,
              LastUpdatedTimestamp: cfnTime(r.updated_at ?? r.created_at),
              ResourceStatus: `${r.action}_${r.status}`,
              ResourceStatusReason: r.status_reason,
            })),
          },
        ];
      }
      case 'DescribeStackEvents': {
        authorize('DescribeStackEvents');
        const rows = p.StackName
          ? [await this.stackFor(req, p.StackName)]
          : await this.svc.store.listStacks({ projectId: req.context.projectId });
        const events = [];
        for (const row of rows)
          for (const e of await this.svc.store.events(row.id))
            events.push({
              EventId: e.id,
              StackId: stackArn(row.project_id, row.name, row.id),
              StackName: row.name,
              LogicalResourceId: e.resource_name,
              PhysicalResourceId: e.physical_resource_id ?? '',
              ResourceType: e.resource_type,
              Timestamp: cfnTime(e.created_at),
              ResourceStatus: `${e.action}_${e.status}`,
              ResourceStatusReason: e.status_reason,
            });
        return ['DescribeStackEvents', { StackEvents: events }];
      }
      case 'GetTemplate': {
        authorize('GetTemplate');
        const row = await this.stackFor(req, p.StackName);
        return ['GetTemplate', { TemplateBody: JSON.stringify(row.template) }];
      }
      case undefined:
        throw cfnError(400, 'MissingParameter', 'The request is missing a required parameter: Action');
      default:
        throw cfnError(400, 'InvalidAction', `The action or operation requested is invalid: ${p.Action}`);
    }
  }

  /** A signal through a pre-signed URL: the ARN names the resource; the signer must be of its stack. */
  private async signal(req: FastifyRequest, kind: 'waitcondition' | 'signal') {
    const p = requestParams(req);
    req.ctx = await this.authenticate(req, p);
    const raw = (req.params as Params)['*'] ?? '';
    const arn = parseArn(raw.startsWith('/') ? raw.slice(1) : raw);
    if (!arn?.resource) throw cfnError(400, 'InvalidParameterValue', `Invalid ARN: ${raw}`);
    const row = await this.stackFor(req, arn.stackId, true);
    req.context.enforced = true;
    const res = await this.svc.store.resource(row.id, arn.resource);
    if (!res)
      throw cfnError(400, 'ValidationError', `The Resource (${arn.resource}) could not be found in Stack ${row.name}.`);
    // The keypair must be the resource's own stack user's (Heat's signal responders sign with it).
    const user = res.data.stack_user as { user_id?: string } | undefined;
    if (user?.user_id && user.user_id !== req.context.userId && req.context.projectId !== row.project_id)
      throw cfnError(403, 'AccessDenied', 'User is not authorized to perform action');
    let body: unknown = null;
    if (typeof req.body === 'string' && req.body.trim()) {
      try {
        body = JSON.parse(req.body);
      } catch {
        throw cfnError(400, 'InvalidParameterValue', 'The signal body is not valid JSON');
      }
    } else if (req.body && typeof req.body === 'object') body = req.body;
    try {
      await this.svc.engineRpc.call().signal_resource({
        caller: {
          projectId: row.project_id,
          userId: req.context.userId ?? '',
          username: req.context.auth?.userName ?? '',
          roles: req.context.roles,
        },
        stack_id: row.id,
        resource: res.name,
        details: body,
      });
    } catch (e) {
      const err = e as { status?: number; message?: string; title?: string; code?: string };
      const msg = (err.message ?? String(e)).replace(/^[A-Za-z]+: /, '');
      throw cfnError(err.status && err.status < 500 ? 400 : 400, 'ValidationError', msg);
    }
    return kind === 'waitcondition' ? { resource: res.name, metadata: res.metadata } : null;
  }

  async register(app: FastifyInstance) {
    // Query requests come as a form body; signals as JSON of any declared type (cfn-signal sends none).
    app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));
    app.removeContentTypeParser('application/json');
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => done(null, body));
    app.get('/', { config: { auth: false } }, async (req) => {
      req.context.enforced = true;
      return {
        versions: [{ id: 'v1.0', status: 'CURRENT', links: [{ rel: 'self', href: `${req.baseUrl}/v1/` }] }],
      };
    });
    const query = async (req: FastifyRequest, reply: FastifyReply) => {
      const p = requestParams(req);
      req.ctx = await this.authenticate(req, p);
      const [action, result] = await this.actions(req, p);
      const doc = { [`${action}Response`]: { [`${action}Result`]: result } };
      if ((p.ContentType ?? '').toUpperCase() === 'JSON') return reply.type('application/json').send(doc);
      return reply.type('text/xml').send(toXml(`${action}Response`, doc[`${action}Response`]));
    };
    app.route({ method: ['GET', 'POST'], url: '/v1', config: { auth: false }, handler: query });
    app.put('/v1/waitcondition/*', { config: { auth: false } }, async (req, reply) =>
      reply.type('application/json').send(await this.signal(req, 'waitcondition')),
    );
    app.post('/v1/signal/*', { config: { auth: false } }, async (req, reply) =>
      reply.type('application/json').send(JSON.stringify(await this.signal(req, 'signal'))),
    );
  }
}
