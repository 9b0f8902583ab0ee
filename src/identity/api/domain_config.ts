// /v3/domains/{domain_id}/config[/{group}[/{option}]] and /v3/domains/config[/{group}[/{option}]]/default.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { IdentityService } from '../service.ts';
import { DomainConfigManager } from '../domain_config.ts';

type P = { domain_id: string; group?: string; option?: string };

/** The `config` object of a request body; anything missing becomes {} (upstream then answers 403). */
const bodyConfig = (req: FastifyRequest): unknown => (req.body as { config?: unknown } | undefined)?.config ?? {};

export function domainConfigHandlers(s: IdentityService) {
  const m = (): DomainConfigManager => s.domainConfig;

  // GET/HEAD: authorization first (so an unknown domain is not revealed to the unauthorized), then the domain.
  const show = async (req: FastifyRequest) => {
    const { domain_id, group, option } = req.params as P;
    if (group === 'security_compliance') {
      req.authorize('identity:get_security_compliance_domain_config');
      await s.resource.getDomain(domain_id);
      return { config: m().getSecurityCompliance(domain_id, option) };
    }
    req.authorize('identity:get_domain_config');
    await s.resource.getDomain(domain_id);
    return { config: await m().get(domain_id, group, option) };
  };
  const update = async (req: FastifyRequest) => {
    const { domain_id, group, option } = req.params as P;
    req.authorize('identity:update_domain_config');
    await s.resource.getDomain(domain_id);
    return { config: await m().update(domain_id, bodyConfig(req), group, option) };
  };
  const remove = async (req: FastifyRequest, reply: FastifyReply) => {
    const { domain_id, group, option } = req.params as P;
    req.authorize('identity:delete_domain_config');
    await s.resource.getDomain(domain_id);
    await m().delete(domain_id, group, option);
    reply.code(204).send();
  };

  async function createDomainConfig(req: FastifyRequest, reply: FastifyReply) {
    const { domain_id } = req.params as P;
    req.authorize('identity:create_domain_config');
    await s.resource.getDomain(domain_id);
    const replaced = await m().exists(domain_id);
    const config = await m().create(domain_id, bodyConfig(req));
    reply.code(replaced ? 200 : 201);
    return { config };
  }

  const showDefault = async (req: FastifyRequest) => {
    const { group, option } = req.params as Partial<P>;
    req.authorize('identity:get_domain_config_default');
    return { config: m().getDefault(group, option) };
  };
  return {
    getDomainConfig: show,
    updateDomainConfig: update,
    deleteDomainConfig: remove,
    createDomainConfig,
    getDomainConfigDefault: showDefault,
  };
}
