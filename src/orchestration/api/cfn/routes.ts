// heat-api-cfn (heat/api/cfn): the CloudFormation-compatible query API, service type
// `cloudformation`, DevStack path /heat-api-cfn/v1, port 8000 in the separate-ports mode. Its route
// table and short handlers: each builds the request's context and parameters (authenticated by the
// EC2 signature through Keystone's ec2tokens, or by the token the core validated) and calls the
// logic (api/cfn/logic.ts), which never sees the HTTP request. Served: the pre-signed signal URLs
// (`PUT /v1/waitcondition/{arn}` of AWS::CloudFormation::WaitConditionHandle, `POST /v1/signal/{arn}`,
// a scaling policy's alarm_url) and the query actions of heat/api/cfn/v1/stacks.py: CreateStack,
// UpdateStack, CancelUpdateStack, DeleteStack, ListStacks, DescribeStacks, DescribeStackResource,
// DescribeStackResources, ListStackResources, DescribeStackEvents, GetTemplate, ValidateTemplate,
// EstimateTemplateCost; answered in XML, or JSON with `ContentType=JSON` (what boto asks for); errors
// as AWS error XML.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServiceModule } from '../../../core/http.ts';
import { SERVICE_CATALOG } from '../../../core/catalog_services.ts';
import type { ApiError } from '../../../core/errors.ts';
import type { OrchestrationService } from '../../service.ts';
import { CfnLogic, type Params, type SignedRequest, cfnErrorBody, toXml } from './logic.ts';

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

/** The request as it was signed, for the EC2 signature check. */
function signedOf(req: FastifyRequest, params: Params): SignedRequest {
  return { method: req.method, url: req.url, headers: req.headers, body: req.body, params };
}

export class CfnApi implements ServiceModule {
  readonly catalogEntry = SERVICE_CATALOG.cloudformation;
  errorContentType = 'text/xml';

  private readonly logic: CfnLogic;
  constructor(readonly svc: OrchestrationService) {
    this.logic = new CfnLogic(svc);
  }

  get policy() {
    return this.svc.policy;
  }

  renderError(e: ApiError) {
    return cfnErrorBody(e);
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
      // A token the core validated (no signature): the caller already; else the EC2 signature.
      if (!(req.ctx && !p.Signature && !String(req.headers.authorization ?? '').startsWith('AWS4')))
        req.ctx = await this.logic.authenticate(signedOf(req, p));
      const [action, result] = await this.logic.actions({ context: req.context, params: p, baseUrl: req.baseUrl });
      const doc = { [`${action}Response`]: { [`${action}Result`]: result } };
      if ((p.ContentType ?? '').toUpperCase() === 'JSON') return reply.type('application/json').send(doc);
      return reply.type('text/xml').send(toXml(`${action}Response`, doc[`${action}Response`]));
    };
    /** A pre-signed signal: the signer authenticated, the ARN of the path, the body as sent. */
    const signal = (kind: 'waitcondition' | 'signal') => async (req: FastifyRequest, reply: FastifyReply) => {
      const p = requestParams(req);
      req.ctx = await this.logic.authenticate(signedOf(req, p));
      const call = { context: req.context, params: p, baseUrl: req.baseUrl };
      const out = await this.logic.signal(call, (req.params as Params)['*'] ?? '', req.body, kind);
      return reply.type('application/json').send(kind === 'signal' ? JSON.stringify(out) : out);
    };
    // The route table.
    app.route({ method: ['GET', 'POST'], url: '/v1', config: { auth: 'optional' }, handler: query });
    app.put('/v1/waitcondition/*', { config: { auth: false } }, signal('waitcondition'));
    app.post('/v1/signal/*', { config: { auth: false } }, signal('signal'));
  }
}
