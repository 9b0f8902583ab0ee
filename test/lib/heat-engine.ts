// The set-up the engine-level Heat tests share: the orchestration service of a test cloud, its
// Heat API base for the admin's project, and the admin as the engine's caller.
import type { Caller } from '../../src/orchestration/engine/engine.ts';
import type { OrchestrationService } from '../../src/orchestration/service.ts';
import type { TestCloud } from './cloud.ts';

export async function adminEngineCaller(
  c: TestCloud,
): Promise<{ svc: OrchestrationService; base: string; project: string; caller: Caller }> {
  const tok = await c.req('GET', '/v3/auth/tokens', undefined, { headers: { 'X-Subject-Token': c.adminToken } });
  const project: string = tok.body.token.project.id;
  const svc = c.cloud.services.find((s) => s.catalogEntry.name === 'orchestration') as unknown as OrchestrationService;
  const caller: Caller = {
    projectId: project,
    userId: tok.body.token.user.id,
    username: tok.body.token.user.name,
    token: c.adminToken,
    roles: ['admin', 'member', 'reader'],
  };
  return { svc, base: `${c.url}/heat-api/v1/${project}`, project, caller };
}
