// The set-up the engine-level Heat tests share: the orchestration service of a test cloud, its
// Heat API base for the admin's project, and the admin as the engine's caller.
import type { Caller } from '../../src/orchestration/engine/engine.ts';
import type { OrchestrationService } from '../../src/orchestration/service.ts';
import { type TestCloud, until } from './cloud.ts';

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

/** A stack's `<action>_<status>` as its engine stored it ('GONE' once its row is). */
export async function stackStatus(svc: OrchestrationService, id: string): Promise<string> {
  const row = await svc.store.getStack(id);
  return row ? `${row.action}_${row.status}` : 'GONE';
}

/**
 * Waits until the stack is `want`. Another COMPLETE or FAILED state throws with its reason, but a
 * wait for a ROLLBACK state lets the FAILED state it rolls back from pass.
 */
export function reachStackStatus(svc: OrchestrationService, id: string, want: string, ms: number) {
  return until(
    `${id} ${want}`,
    async () => {
      const s = await stackStatus(svc, id);
      if (s === want) return true;
      if ((s.endsWith('_COMPLETE') || s.endsWith('_FAILED')) && !(want.startsWith('ROLLBACK') && s.endsWith('_FAILED')))
        throw new Error(`${s}: ${(await svc.store.getStack(id))?.status_reason}`);
      return null;
    },
    ms,
  );
}
