// /v3/OS-FEDERATION (keystone/api/os_federation.py): identity providers, their protocols, mappings,
// service providers, the projects and domains a federated token may scope to, and the federated
// authentication endpoint (the `mapped` method through an identity provider's protocol).
// WebSSO posts the token back to a trusted dashboard. SAML2 (the IdP side, ECP, metadata): saml.ts.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../../core/errors.ts';
import type { IdentityService } from '../service.ts';
import type { IdentityProvider, Mapping, Protocol, ServiceProvider } from '../federation/manager.ts';
import { deleteOne, getOne, listBody, q, queryBool, updateOne, wrap } from './common.ts';

const FED = 'OS-FEDERATION';
const link = (req: FastifyRequest, path: string) => `${req.baseUrl}/v3/${FED}/${path}`;

const renderIdp = (req: FastifyRequest, i: IdentityProvider) => ({
  id: i.id,
  enabled: i.enabled,
  description: i.description,
  domain_id: i.domain_id,
  authorization_ttl: i.authorization_ttl,
  remote_ids: i.remote_ids,
  links: {
    self: link(req, `identity_providers/${i.id}`),
    protocols: link(req, `identity_providers/${i.id}/protocols`),
  },
});
const renderProtocol = (req: FastifyRequest, p: Protocol) => ({
  id: p.id,
  mapping_id: p.mapping_id,
  remote_id_attribute: p.remote_id_attribute,
  links: {
    identity_provider: link(req, `identity_providers/${p.idp_id}`),
    self: link(req, `identity_providers/${p.idp_id}/protocols/${p.id}`),
  },
});
const renderMapping = (req: FastifyRequest, m: Mapping) => ({
  id: m.id,
  rules: m.rules,
  schema_version: m.schema_version,
  links: { self: link(req, `mappings/${m.id}`) },
});
const renderSp = (req: FastifyRequest, s: ServiceProvider) => ({
  id: s.id,
  enabled: s.enabled,
  description: s.description,
  auth_url: s.auth_url,
  sp_url: s.sp_url,
  relay_state_prefix: s.relay_state_prefix,
  links: { self: link(req, `service_providers/${s.id}`) },
});

// ---- Keystone's federation schemas (keystone/federation/schema.py) ----

const url = { type: 'string', minLength: 0, maxLength: 225, pattern: '^[a-zA-Z0-9+.-]+:.+' };
const nullableString = { type: ['string', 'null'] };
const idpProps = {
  description: nullableString,
  enabled: { type: 'boolean' },
  remote_ids: { type: ['array', 'null'], items: { type: 'string' }, uniqueItems: true },
  authorization_ttl: { type: ['integer', 'null'], minimum: 0 },
};
const idpCreate = wrap('identity_provider', {
  additionalProperties: false,
  properties: { ...idpProps, domain_id: { type: ['string', 'null'], minLength: 1, maxLength: 64 } },
});
const idpUpdate = wrap('identity_provider', { additionalProperties: false, properties: idpProps });
const protocolProps = {
  mapping_id: { type: 'string', minLength: 1, maxLength: 64, pattern: '^[a-zA-Z0-9-_]+$' },
  remote_id_attribute: { type: 'string', maxLength: 64 },
};
const protocolCreate = wrap('protocol', {
  required: ['mapping_id'],
  additionalProperties: false,
  properties: protocolProps,
});
const protocolUpdate = wrap('protocol', { minProperties: 1, additionalProperties: false, properties: protocolProps });
const spProps = {
  auth_url: url,
  sp_url: url,
  description: nullableString,
  enabled: { type: 'boolean' },
  relay_state_prefix: { type: 'string' },
};
const spCreate = wrap('service_provider', {
  required: ['auth_url', 'sp_url'],
  additionalProperties: false,
  properties: spProps,
});
const spUpdate = wrap('service_provider', { minProperties: 1, additionalProperties: false, properties: spProps });

const html = (v: string) =>
  v.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/'/g, '&#39;');

/** Keystone's sso_callback_template: a form that posts the token to the dashboard's origin. */
function ssoForm(origin: string, token: string): string {
  return `<!DOCTYPE html>
<html xmlns="http://www.w3.org/1999/xhtml">
  <head>
    <title>Keystone WebSSO redirect</title>
  </head>
  <body>
     <form id="sso" name="sso" action="${html(origin)}" method="post">
       Please wait...
       <br/>
       <input type="hidden" name="token" id="token" value="${html(token)}"/>
       <noscript>
         <input type="submit" name="submit_no_javascript" id="submit_no_javascript"
            value="If your JavaScript is disabled, please click to continue"/>
       </noscript>
     </form>
     <script type="text/javascript">
       window.onload = function() {
         document.forms['sso'].submit();
       }
     </script>
  </body>
</html>
`;
}

type Params = Record<string, string>;
const params = (req: FastifyRequest) => req.params as Params;
const bodyOf = <T>(req: FastifyRequest, key: string) => (req.body as Record<string, T>)[key]!;

export function federationHandlers(s: IdentityService) {
  const f = () => s.federation;

  // ---- identity providers ----
  const idps = `/v3/${FED}/identity_providers`;
  async function createIdentityProvider(req: FastifyRequest, reply: FastifyReply) {
    req.authorize('identity:create_identity_provider');
    const idp = await f().createIdp(params(req).idp_id!, bodyOf(req, 'identity_provider'));
    reply.code(201);
    return { identity_provider: renderIdp(req, idp) };
  }
  async function listIdentityProviders(req: FastifyRequest) {
    req.authorize('identity:list_identity_providers');
    const enabled = queryBool(q(req).enabled);
    const list = await f().listIdps({ id: q(req).id, enabled });
    return listBody(
      req,
      'identity_providers',
      list.map((i) => renderIdp(req, i)),
    );
  }
  const getIdentityProvider = getOne(
    'identity:get_identity_provider',
    'identity_provider',
    'idp_id',
    (id) => f().getIdp(id),
    renderIdp,
  );

  const updateIdentityProvider = updateOne(
    'identity:update_identity_provider',
    'identity_provider',
    'idp_id',
    (id, patch: Parameters<IdentityService['federation']['updateIdp']>[1]) => f().updateIdp(id, patch),
    renderIdp,
  );

  const deleteIdentityProvider = deleteOne('identity:delete_identity_provider', 'idp_id', (id) => f().deleteIdp(id));

  // ---- protocols ----
  const protocols = `${idps}/:idp_id/protocols`;
  async function createProtocol(req: FastifyRequest, reply: FastifyReply) {
    req.authorize('identity:create_protocol');
    const { idp_id, protocol_id } = params(req);
    const p = await f().createProtocol(idp_id!, protocol_id!, bodyOf(req, 'protocol'));
    reply.code(201);
    return { protocol: renderProtocol(req, p) };
  }
  async function listProtocols(req: FastifyRequest) {
    req.authorize('identity:list_protocols');
    const list = await f().listProtocols(params(req).idp_id!);
    return listBody(
      req,
      'protocols',
      list.map((p) => renderProtocol(req, p)),
    );
  }
  async function getProtocol(req: FastifyRequest) {
    req.authorize('identity:get_protocol');
    const { idp_id, protocol_id } = params(req);
    return { protocol: renderProtocol(req, await f().getProtocol(idp_id!, protocol_id!)) };
  }
  async function updateProtocol(req: FastifyRequest) {
    req.authorize('identity:update_protocol');
    const { idp_id, protocol_id } = params(req);
    return { protocol: renderProtocol(req, await f().updateProtocol(idp_id!, protocol_id!, bodyOf(req, 'protocol'))) };
  }
  async function deleteProtocol(req: FastifyRequest, reply: FastifyReply) {
    req.authorize('identity:delete_protocol');
    const { idp_id, protocol_id } = params(req);
    await f().deleteProtocol(idp_id!, protocol_id!);
    reply.code(204).send();
  }

  // ---- federated authentication: an unscoped federated token ----
  const federatedAuth = async (req: FastifyRequest, reply: FastifyReply) => {
    const { idp_id, protocol_id } = params(req);
    const model = await s.tokens.authenticate(
      { identity: { methods: ['mapped'], mapped: { identity_provider: idp_id, protocol: protocol_id } } },
      { ip: req.ip, headers: req.headers },
    );
    reply.code(201).header('X-Subject-Token', model.id);
    return s.tokens.render(model);
  };

  // ---- WebSSO: the token posted back to a trusted dashboard (Horizon) by an auto-submitting form ----
  const websso = async (req: FastifyRequest, reply: FastifyReply, idpId: string | undefined) => {
    const origin = f().checkOrigin(q(req).origin);
    const env = { ip: req.ip, headers: req.headers };
    const protocolId = params(req).protocol_id!;
    const idp = idpId ?? (await f().idpForWebsso(protocolId, env));
    const model = await s.tokens.authenticate(
      { identity: { methods: ['mapped'], mapped: { identity_provider: idp, protocol: protocolId } } },
      env,
    );
    reply.code(200).type('text/html; charset=UTF-8');
    return ssoForm(origin, model.id);
  };
  const webssoForIdentityProvider = (req: FastifyRequest, reply: FastifyReply) =>
    websso(req, reply, params(req).idp_id);
  const webssoForProtocol = (req: FastifyRequest, reply: FastifyReply) => websso(req, reply, undefined);

  // ---- mappings ----
  const mappings = `/v3/${FED}/mappings`;
  const mappingBody = (req: FastifyRequest) => {
    const m = (req.body as Record<string, unknown> | null)?.mapping;
    if (!m || typeof m !== 'object' || Array.isArray(m))
      throw new ApiError(400, "Invalid input for field 'mapping': 'mapping' is a required property", 'ValidationError');
    return m;
  };
  async function createMapping(req: FastifyRequest, reply: FastifyReply) {
    req.authorize('identity:create_mapping');
    const m = await f().createMapping(params(req).mapping_id!, mappingBody(req));
    reply.code(201);
    return { mapping: renderMapping(req, m) };
  }
  async function listMappings(req: FastifyRequest) {
    req.authorize('identity:list_mappings');
    return listBody(
      req,
      'mappings',
      (await f().listMappings()).map((m) => renderMapping(req, m)),
    );
  }
  const getMapping = getOne('identity:get_mapping', 'mapping', 'mapping_id', (id) => f().getMapping(id), renderMapping);

  async function updateMapping(req: FastifyRequest) {
    req.authorize('identity:update_mapping');
    return { mapping: renderMapping(req, await f().updateMapping(params(req).mapping_id!, mappingBody(req))) };
  }
  const deleteMapping = deleteOne('identity:delete_mapping', 'mapping_id', (id) => f().deleteMapping(id));

  // ---- service providers ----
  const sps = `/v3/${FED}/service_providers`;
  async function createServiceProvider(req: FastifyRequest, reply: FastifyReply) {
    req.authorize('identity:create_service_provider');
    const sp = await f().createSp(params(req).sp_id!, bodyOf(req, 'service_provider'));
    reply.code(201);
    return { service_provider: renderSp(req, sp) };
  }
  async function listServiceProviders(req: FastifyRequest) {
    req.authorize('identity:list_service_providers');
    const list = await f().listSps({ id: q(req).id, enabled: queryBool(q(req).enabled) });
    return listBody(
      req,
      'service_providers',
      list.map((sp) => renderSp(req, sp)),
    );
  }
  const getServiceProvider = getOne(
    'identity:get_service_provider',
    'service_provider',
    'sp_id',
    (id) => f().getSp(id),
    renderSp,
  );

  const updateServiceProvider = updateOne(
    'identity:update_service_provider',
    'service_provider',
    'sp_id',
    (id, patch: Parameters<IdentityService['federation']['updateSp']>[1]) => f().updateSp(id, patch),
    renderSp,
  );

  const deleteServiceProvider = deleteOne('identity:delete_service_provider', 'sp_id', (id) => f().deleteSp(id));

  return {
    webssoForIdentityProvider,
    webssoForProtocol,
    createIdentityProvider,
    listIdentityProviders,
    getIdentityProvider,
    updateIdentityProvider,
    deleteIdentityProvider,
    createProtocol,
    listProtocols,
    getProtocol,
    updateProtocol,
    deleteProtocol,
    federatedAuth,
    createMapping,
    listMappings,
    getMapping,
    updateMapping,
    deleteMapping,
    createServiceProvider,
    listServiceProviders,
    getServiceProvider,
    updateServiceProvider,
    deleteServiceProvider,
  };
}

/** The request body schemas of federation's routes, by handler (api/routes.ts mounts them). */
export const federationSchemas = {
  createIdentityProvider: idpCreate,
  updateIdentityProvider: idpUpdate,
  createProtocol: protocolCreate,
  updateProtocol: protocolUpdate,
  createServiceProvider: spCreate,
  updateServiceProvider: spUpdate,
};
