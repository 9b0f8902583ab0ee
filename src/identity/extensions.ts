// Identity's optional API families (credentials, application credentials, trusts, limits,
// policies, endpoint groups, domain configuration). Each module adds its manager and routes.
import type { FastifyInstance } from 'fastify';
import type { IdentityService } from './service.ts';

export interface IdentityExtension {
  name: string;
  /** Runs after migrations; may set s.ext[name] and hook into s.tokens (appCreds, trusts). */
  init?(s: IdentityService): Promise<void> | void;
  routes(app: FastifyInstance, s: IdentityService): void;
}

export const extensions: IdentityExtension[] = [];
// Each extension module registers itself with one line below.
