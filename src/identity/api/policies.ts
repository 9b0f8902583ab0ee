// /v3/policies (policy blobs) and OS-ENDPOINT-POLICY (/v3/policies/{id}/OS-ENDPOINT-POLICY/...,
// /v3/endpoints/{id}/OS-ENDPOINT-POLICY/policy).
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { IdentityService } from '../service.ts';
import { PolicyBlobManager, type PolicyBlob, type PolicyTarget } from '../policy_blob.ts';
import { renderEndpoint } from './catalog.ts';
import { deleteOne, getOne, listBody, q, selfLink, updateOne, wrap, type Attrs } from './common.ts';
import { applyInexactFilters } from '../list_filters.ts';

const renderPolicy = (req: FastifyRequest, p: PolicyBlob) => ({
  ...p.extra,
  id: p.id,
  type: p.type,
  blob: p.blob,
  links: selfLink(req, `policies/${p.id}`),
});

const policyProps = { blob: { type: 'string' }, type: { type: 'string', maxLength: 255 } };

export function policyHandlers(s: IdentityService) {
  const m = (): PolicyBlobManager => s.policyBlobs;

  async function createPolicy(req: FastifyRequest, reply: FastifyReply) {
    req.authorize('identity:create_policy');
    const p = await m().create((req.body as { policy: Attrs<object> }).policy);
    reply.code(201);
    return { policy: renderPolicy(req, p) };
  }
  async function listPolicies(req: FastifyRequest) {
    req.authorize('identity:list_policies');
    const items = applyInexactFilters(
      'policies',
      req.query as Record<string, unknown>,
      (await m().list(q(req).type)).map((p) => renderPolicy(req, p)),
    );
    const limit = s.config.identity.listLimit;
    return limit && items.length > limit
      ? listBody(req, 'policies', items.slice(0, limit), true)
      : listBody(req, 'policies', items);
  }
  const getPolicy = getOne('identity:get_policy', 'policy', 'policy_id', (id) => m().get(id), renderPolicy);
  const updatePolicy = updateOne(
    'identity:update_policy',
    'policy',
    'policy_id',
    (id, patch: Attrs<object>) => m().update(id, patch),
    renderPolicy,
  );
  const deletePolicy = deleteOne('identity:delete_policy', 'policy_id', (id) => m().delete(id));

  // ---- OS-ENDPOINT-POLICY ----
  async function listEndpointsForPolicy(req: FastifyRequest) {
    req.authorize('identity:list_endpoints_for_policy');
    const { policy_id } = req.params as { policy_id: string };
    await m().get(policy_id);
    return listBody(
      req,
      'endpoints',
      (await m().endpointsForPolicy(policy_id)).map((e) => renderEndpoint(req, e)),
    );
  }

  /** PUT (associate), GET/HEAD (check) and DELETE for one kind of association target. */
  const association = (kind: string, target: (p: Record<string, string>) => Promise<PolicyTarget>) => {
    const handle = (action: 'create' | 'check' | 'delete') => async (req: FastifyRequest, reply: FastifyReply) => {
      const params = req.params as Record<string, string>;
      req.authorize(`identity:${action}_policy_association_for_${kind}`);
      await m().get(params.policy_id!);
      const t = await target(params);
      if (action === 'create') await m().associate(params.policy_id!, t);
      else if (action === 'check') await m().checkAssociation(params.policy_id!, t);
      else await m().dissociate(params.policy_id!, t);
      return reply.code(204).send();
    };
    return { create: handle('create'), check: handle('check'), remove: handle('delete') };
  };
  const forEndpoint = association('endpoint', async (p) => {
    await s.catalog.getEndpoint(p.endpoint_id!);
    return { endpointId: p.endpoint_id };
  });
  const forService = association('service', async (p) => {
    await s.catalog.getService(p.service_id!);
    return { serviceId: p.service_id };
  });
  const forRegionAndService = association('region_and_service', async (p) => {
    await s.catalog.getService(p.service_id!);
    await s.catalog.getRegion(p.region_id!);
    return { serviceId: p.service_id, regionId: p.region_id };
  });

  async function getPolicyForEndpoint(req: FastifyRequest) {
    req.authorize('identity:get_policy_for_endpoint');
    const { endpoint_id } = req.params as { endpoint_id: string };
    await s.catalog.getEndpoint(endpoint_id);
    return { policy: renderPolicy(req, await m().policyForEndpoint(endpoint_id)) };
  }
  return {
    createPolicy,
    listPolicies,
    getPolicy,
    updatePolicy,
    deletePolicy,
    listEndpointsForPolicy,
    createPolicyAssociationForEndpoint: forEndpoint.create,
    checkPolicyAssociationForEndpoint: forEndpoint.check,
    deletePolicyAssociationForEndpoint: forEndpoint.remove,
    createPolicyAssociationForService: forService.create,
    checkPolicyAssociationForService: forService.check,
    deletePolicyAssociationForService: forService.remove,
    createPolicyAssociationForRegionAndService: forRegionAndService.create,
    checkPolicyAssociationForRegionAndService: forRegionAndService.check,
    deletePolicyAssociationForRegionAndService: forRegionAndService.remove,
    getPolicyForEndpoint,
  };
}

/** The request body schemas of policies's routes, by handler (api/routes.ts mounts them). */
export const policySchemas = {
  createPolicy: wrap('policy', { required: ['blob', 'type'], properties: policyProps }),
  updatePolicy: wrap('policy', { minProperties: 1, properties: policyProps }),
};
