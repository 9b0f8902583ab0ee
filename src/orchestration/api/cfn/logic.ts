// heat-api-cfn's logic (heat/api/cfn/v1/stacks.py, heat/api/aws/ec2token.py): the EC2 signature
// checked by Keystone, the query actions and the pre-signed signals, each given the request's
// context (who calls, its policy) and parameters, never the HTTP request (api/cfn/routes.ts builds
// them). Answers and errors as heat-api-cfn words them (XML, or JSON with `ContentType=JSON`).
import { createHash } from 'node:crypto';
import { ApiError } from '../../../core/errors.ts';
import type { AuthContext } from '../../../core/auth.ts';
import type { RequestContext } from '../../../core/context.ts';
import type { OrchestrationService } from '../../service.ts';
import type { ResourceRow, StackRow } from '../../stacks.ts';
import type { Caller } from '../../engine/engine.ts';
import { stackView } from '../stacks.ts';
import { serverDeployments } from '../software.ts';
import { heatTime } from '../common.ts';
import { HeatError } from '../../errors.ts';
import { environmentView, parseTemplate } from '../../template/index.ts';
import { asValidationError, loadStack } from '../../engine/stack.ts';
import { RpcError } from '../../../core/bus.ts';
import { emptyEnvironment } from '../../template/environment.ts';
import { parseArn, stackArn } from '../../cfn/signer.ts';

export type Params = Record<string, string>;

/** Heat's HeatAPIException family: `Code`, the status and the message. */
export function cfnError(status: number, code: string, message: string): ApiError {
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
      // A member without a value is left out (an empty timestamp would not parse in botocore).
      .filter(([, x]) => x !== null && x !== undefined)
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

/** Heat's map_remote_error: an engine error as the HeatAPIException the cfn API answers. */
const INVALID_PARAM = new Set([
  'AttributeError',
  'ValueError',
  'InvalidTenant',
  'EntityNotFound',
  'NotFound',
  'ResourceActionNotSupported',
  'ResourceNotFound',
  'ResourceNotAvailable',
  'StackValidationFailed',
  'InvalidSchemaError',
  'InvalidTemplateReference',
  'InvalidTemplateVersion',
  'InvalidTemplateSection',
  'UnknownUserParameter',
  'UserParameterMissing',
  'MissingCredentialError',
  'ResourcePropertyConflict',
  'PropertyUnspecifiedError',
  'NotSupported',
  'InvalidBreakPointHook',
  'PhysicalResourceIDAmbiguity',
  'HTTPBadRequest',
  'BadRequest',
]);
export function cfnEngineError(e: unknown): unknown {
  let type: string | undefined;
  let message = e instanceof Error ? e.message : String(e);
  if (e instanceof HeatError) type = e.type as string;
  else if (e instanceof RpcError) type = e.remoteType;
  else if (e instanceof ApiError) {
    if (e.status >= 500) return e;
    type = e.type;
  } else return e;
  message = message.replace(/^[A-Za-z]+: /, '');
  if (type === 'StackExists') return cfnError(400, 'AlreadyExists', message);
  if (type === 'ActionInProgress') return cfnError(400, 'InvalidAction', message);
  if (type === 'RequestLimitExceeded') return cfnError(400, 'RequestLimitExceeded', message);
  if (type === 'Forbidden' || type === 'NotAuthorized') return cfnError(403, 'AccessDenied', message);
  if (type && INVALID_PARAM.has(type)) return cfnError(400, 'InvalidParameterValue', message);
  if (e instanceof ApiError && e.status < 500) return cfnError(400, 'InvalidParameterValue', message);
  return cfnError(500, 'InternalFailure', message);
}

async function engine<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    throw cfnEngineError(e);
  }
}

/** api_utils.extract_param_pairs: `Parameters.member.N.ParameterKey` / `.ParameterValue` as a map. */
export function extractParamPairs(p: Params, prefix = 'Parameters', key = 'ParameterKey', value = 'ParameterValue') {
  const members: Record<string, Record<string, string>> = {};
  const re = new RegExp(`^${prefix}\\.member\\.(\\d+)\\.(${key}|${value})$`);
  for (const [k, v] of Object.entries(p)) {
    const m = re.exec(k);
    if (m) (members[m[1]!] ??= {})[m[2]!] = v;
  }
  const out: Record<string, string> = {};
  for (const m of Object.values(members)) if (m[key] !== undefined && m[value] !== undefined) out[m[key]] = m[value];
  return out;
}

/** What a query action or a signal is given: the caller's context, the parameters, the API's base URL. */
export interface CfnCall {
  context: RequestContext;
  params: Params;
  baseUrl: string;
}

/** A request as it was signed (EC2 signature v2 or v4), for Keystone's ec2tokens. */
export interface SignedRequest {
  method: string;
  /** The path and query string as received. */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
  params: Params;
}

/** The engine's caller: the context's user in `tenant`, with its token when it is of that project. */
function callerOf(context: RequestContext, tenant: string): Caller {
  const a = context.auth;
  return {
    projectId: tenant,
    userId: a?.userId ?? '',
    username: a?.userName ?? '',
    token: tenant === a?.projectId ? a?.token : undefined,
    roles: context.roles,
  };
}

export class CfnLogic {
  constructor(readonly svc: OrchestrationService) {}

  /**
   * EC2Token: the request's signature checked by Keystone (POST /v3/ec2tokens with the request as
   * it was signed: host, verb, unquoted path, the parameters without `Signature`).
   */
  async authenticate(request: SignedRequest): Promise<AuthContext> {
    const params = request.params;
    // Signature version 4 (botocore, the aws CLI): the Authorization header, checked by Keystone
    // with the headers and the body's hash (heat/api/aws/ec2token.py).
    const authz = typeof request.headers.authorization === 'string' ? request.headers.authorization : '';
    const v4 = authz.startsWith('AWS4-HMAC-SHA256');
    const signature = v4 ? (/Signature=([0-9a-f]+)/.exec(authz)?.[1] ?? '') : params.Signature;
    const access = v4 ? (/Credential=([^/,\s]+)/.exec(authz)?.[1] ?? '') : params.AWSAccessKeyId;
    if (!signature)
      throw cfnError(400, 'IncompleteSignature', 'The request signature does not conform to AWS standards');
    if (!access) throw cfnError(400, 'MissingParameter', 'The request is missing a required parameter: AWSAccessKeyId');
    const { Signature: _sig, ...signed } = params;
    // webob's header names (Title-Case), as Heat hands them to Keystone.
    const headers = v4
      ? Object.fromEntries(
          Object.entries(request.headers).map(([k, v]) => [
            k.replace(/(^|-)([a-z])/g, (_m, d: string, c: string) => d + c.toUpperCase()),
            Array.isArray(v) ? v.join(',') : String(v ?? ''),
          ]),
        )
      : {};
    const bodyHash = v4
      ? createHash('sha256')
          .update(typeof request.body === 'string' ? request.body : '')
          .digest('hex')
      : '';
    const rawPath = request.url.split('?')[0]!;
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
            host: request.headers.host ?? '',
            verb: request.method,
            path,
            // A v4 POST signs its form body (its hash), not its parameters.
            params:
              v4 && request.method === 'POST'
                ? Object.fromEntries(new URL(request.url, 'http://x').searchParams)
                : signed,
            headers,
            body_hash: bodyHash,
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
  /** The stack named (or ARN'd) by `nameOrArn`, or, without one, every stack of the caller's project. */
  private async stacksFor(call: CfnCall, nameOrArn: string | undefined): Promise<StackRow[]> {
    if (nameOrArn) return [await this.stackFor(call, nameOrArn)];
    return this.svc.store.listStacks({ projectId: call.context.projectId });
  }

  private async stackFor(call: CfnCall, nameOrArn: string | undefined, stackUsers = false): Promise<StackRow> {
    if (!nameOrArn) throw cfnError(400, 'MissingParameter', 'The request is missing a required parameter: StackName');
    const project = call.context.projectId ?? '';
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

  /** The template of a CreateStack/UpdateStack/ValidateTemplate: TemplateBody, or fetched from TemplateUrl. */
  private async templateOf(p: Params): Promise<unknown> {
    let body = p.TemplateBody;
    if (body === undefined && p.TemplateUrl) {
      try {
        const res = await fetch(p.TemplateUrl);
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        body = await res.text();
      } catch (e) {
        throw cfnError(400, 'InvalidParameterValue', `Could not retrieve template: ${(e as Error).message}`);
      }
    }
    if (body === undefined)
      throw cfnError(
        400,
        'MissingParameter',
        'The request is missing a required parameter: TemplateBody or TemplateUrl',
      );
    return body;
  }

  /** CreateStack and UpdateStack (heat/api/cfn/v1/stacks.py create_or_update). */
  private async createOrUpdate(call: CfnCall, p: Params, action: 'CreateStack' | 'UpdateStack') {
    if (!p.StackName) throw cfnError(400, 'MissingParameter', 'The request is missing a required parameter: StackName');
    const template = await this.templateOf(p);
    const parameters = extractParamPairs(p);
    const timeout = p.TimeoutInMinutes !== undefined ? Number(p.TimeoutInMinutes) : undefined;
    if (timeout !== undefined && !Number.isInteger(timeout))
      throw cfnError(400, 'InvalidParameterValue', `Invalid TimeoutInMinutes: ${p.TimeoutInMinutes}`);
    const disable = p.DisableRollback === undefined ? undefined : p.DisableRollback.toLowerCase() === 'true';
    const tenant = call.context.projectId ?? '';
    const caller = callerOf(call.context, tenant);
    const rpc = this.svc.engineRpc.call();
    if (action === 'CreateStack') {
      const count = (await this.svc.store.listStacks({ projectId: tenant })).length;
      if (count >= this.svc.options.maxStacksPerTenant)
        throw cfnError(
          400,
          'RequestLimitExceeded',
          `You have reached the maximum stacks per tenant, ${this.svc.options.maxStacksPerTenant}. Please delete some stacks.`,
        );
      const ref = await engine(
        rpc.create_stack({
          caller,
          req: {
            stack_name: p.StackName,
            template,
            parameters,
            timeout_mins: timeout ?? null,
            disable_rollback: disable ?? true,
          },
        }),
      );
      return { StackId: stackArn(ref.project_id, ref.name, ref.id) };
    }
    const row = await this.stackFor(call, p.StackName);
    await engine(
      rpc.update_stack({
        caller,
        stack_id: row.id,
        req: {
          stack_name: row.name,
          template,
          parameters,
          existing: false,
          ...(timeout !== undefined ? { timeout_mins: timeout } : {}),
          ...(disable !== undefined ? { disable_rollback: disable } : {}),
        },
      }),
    );
    return { StackId: stackArn(row.project_id, row.name, row.id) };
  }

  /** ValidateTemplate: the description and the parameters, or Heat's validation error. */
  private async validate(p: Params) {
    const template = await this.templateOf(p);
    let parsed: ReturnType<typeof parseTemplate>;
    try {
      parsed = parseTemplate(template as string, {});
    } catch (e) {
      const v = cfnEngineError(asValidationError(e));
      // template_format.parse's ValueError: Zed's "The Template must be a JSON or YAML document."
      if (v instanceof ApiError && v.status >= 500)
        throw cfnError(400, 'InvalidParameterValue', 'The Template must be a JSON or YAML document.');
      throw v;
    }
    // Validation needs no parameter values: a placeholder stands for each one without a default.
    const placeholders: Record<string, unknown> = {};
    for (const [k, def] of Object.entries(parsed.parameters)) {
      const d = def as unknown as Record<string, unknown>;
      if (d.default === undefined)
        placeholders[k] = /number/i.test(String(d.type)) ? 0 : /list/i.test(String(d.type)) ? '' : 'x';
    }
    try {
      await loadStack(this.svc.registry, template, emptyEnvironment(), {}, placeholders);
    } catch (e) {
      // Zed's engine answers a template that parses but does not validate with {'Error': str(ex)},
      // and the cfn API wraps that string as the result (200), where the native API says 400.
      const v = asValidationError(e);
      if (v instanceof HeatError) return v.message.replace(/^[A-Za-z]+: /, '');
      throw cfnEngineError(v);
    }
    // Zed's validate_template result as format_response wraps it: also ParameterGroups (when any)
    // and Environment (the user environment, empty here: the AWS API takes none).
    const { encrypted_param_names: _hidden, ...envView } = environmentView(emptyEnvironment());
    return {
      Description: parsed.description || 'No description',
      Parameters: Object.entries(parsed.parameters).map(([k, def]) => {
        const d = def as unknown as Record<string, unknown>;
        return {
          ParameterKey: k,
          // format_validate_parameter: value.get('Default', '').
          DefaultValue: d.default === undefined ? '' : String(d.default),
          NoEcho: String(d.hidden === true || String(d.NoEcho).toLowerCase() === 'true'),
          Description: String(d.description ?? d.Description ?? ''),
        };
      }),
      ...(parsed.parameterGroups.length ? { ParameterGroups: parsed.parameterGroups } : {}),
      Environment: envView,
    };
  }

  async actions(call: CfnCall): Promise<[string, unknown]> {
    const p = call.params;
    const target = { project_id: call.context.projectId ?? '', tenant_id: call.context.projectId ?? '' };
    const authorize = (action: string) => call.context.authorize(`cloudformation:${action}`, target);
    switch (p.Action) {
      case 'CreateStack':
      case 'UpdateStack': {
        authorize(p.Action);
        return [p.Action, await this.createOrUpdate(call, p, p.Action)];
      }
      case 'DeleteStack': {
        authorize('DeleteStack');
        const row = await this.stackFor(call, p.StackName);
        await engine(
          this.svc.engineRpc
            .call()
            .delete_stack({ caller: callerOf(call.context, call.context.projectId ?? ''), stack_id: row.id }),
        );
        return ['DeleteStack', ''];
      }
      case 'CancelUpdateStack': {
        // Heat's cancel_update: the engine's stack_cancel_update with rollback (cancel_update).
        authorize('CancelUpdateStack');
        const row = await this.stackFor(call, p.StackName);
        await engine(
          this.svc.engineRpc.call().stack_action({
            caller: callerOf(call.context, call.context.projectId ?? ''),
            stack_id: row.id,
            action: 'cancel_update',
          }),
        );
        return ['CancelUpdateStack', {}];
      }
      case 'ValidateTemplate': {
        authorize('ValidateTemplate');
        return ['ValidateTemplate', await this.validate(p)];
      }
      case 'EstimateTemplateCost': {
        authorize('EstimateTemplateCost');
        await this.templateOf(p);
        return ['EstimateTemplateCost', { Url: 'http://en.wikipedia.org/wiki/Gratis' }];
      }
      case 'ListStacks': {
        authorize('ListStacks');
        const rows = await this.svc.store.listStacks({ projectId: call.context.projectId });
        return ['ListStacks', { StackSummaries: rows.map((r) => this.stackSummary(r)) }];
      }
      case 'DescribeStacks': {
        authorize('DescribeStacks');
        const rows = await this.stacksFor(call, p.StackName);
        const stacks = [];
        for (const row of rows) {
          const v = (await stackView(this.svc, call, row, true)) as Record<string, unknown>;
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
        const row = await this.stackFor(call, p.StackName, true);
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
              ...cfnResource(r),
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
          row = await this.stackFor(call, found?.stack_id ?? p.PhysicalResourceId);
        } else row = await this.stackFor(call, p.StackName);
        const rs = (await this.svc.store.resources(row.id)).filter(
          (r) => !p.LogicalResourceId || r.name === p.LogicalResourceId,
        );
        return [
          'DescribeStackResources',
          {
            StackResources: rs.map((r) => ({
              StackId: stackArn(row.project_id, row.name, row.id),
              StackName: row.name,
              ...cfnResource(r),
              Timestamp: cfnTime(r.updated_at ?? r.created_at),
              Description: '',
            })),
          },
        ];
      }
      case 'ListStackResources': {
        authorize('ListStackResources');
        const row = await this.stackFor(call, p.StackName);
        return [
          'ListStackResources',
          {
            StackResourceSummaries: (await this.svc.store.resources(row.id)).map((r) => ({
              ...cfnResource(r),
              LastUpdatedTimestamp: cfnTime(r.updated_at ?? r.created_at),
            })),
          },
        ];
      }
      case 'DescribeStackEvents': {
        authorize('DescribeStackEvents');
        const rows = await this.stacksFor(call, p.StackName);
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
        const row = await this.stackFor(call, p.StackName);
        return ['GetTemplate', { TemplateBody: JSON.stringify(row.template) }];
      }
      case undefined:
        throw cfnError(400, 'MissingParameter', 'The request is missing a required parameter: Action');
      default:
        throw cfnError(400, 'InvalidAction', `The action or operation requested is invalid: ${p.Action}`);
    }
  }

  /** A signal through a pre-signed URL: the ARN names the resource; the signer must be of its stack. */
  async signal(call: CfnCall, raw: string, given: unknown, kind: 'waitcondition' | 'signal') {
    const arn = parseArn(raw.startsWith('/') ? raw.slice(1) : raw);
    if (!arn?.resource) throw cfnError(400, 'InvalidParameterValue', `Invalid ARN: ${raw}`);
    const row = await this.stackFor(call, arn.stackId, true);
    call.context.enforced = true;
    const res = await this.svc.store.resource(row.id, arn.resource);
    if (!res)
      throw cfnError(400, 'ValidationError', `The Resource (${arn.resource}) could not be found in Stack ${row.name}.`);
    // The keypair must be the resource's own stack user's (Heat's signal responders sign with it).
    const user = res.data.stack_user as { user_id?: string } | undefined;
    if (user?.user_id && user.user_id !== call.context.userId && call.context.projectId !== row.project_id)
      throw cfnError(403, 'AccessDenied', 'User is not authorized to perform action');
    let body: unknown = null;
    if (typeof given === 'string' && given.trim()) {
      try {
        body = JSON.parse(given);
      } catch {
        throw cfnError(400, 'InvalidParameterValue', 'The signal body is not valid JSON');
      }
    } else if (given && typeof given === 'object') body = given;
    try {
      await this.svc.engineRpc.call().signal_resource({
        caller: {
          projectId: row.project_id,
          userId: call.context.userId ?? '',
          username: call.context.auth?.userName ?? '',
          roles: call.context.roles,
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
}

/** The fields of a resource that DescribeStackResource(s) and ListStackResources all show. */
function cfnResource(r: ResourceRow) {
  return {
    LogicalResourceId: r.name,
    PhysicalResourceId: r.physical_resource_id ?? '',
    ResourceType: r.type,
    ResourceStatus: `${r.action}_${r.status}`,
    ResourceStatusReason: r.status_reason,
  };
}
