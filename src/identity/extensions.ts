// Identity's optional API families (credentials, application credentials, trusts, limits,
// policies, endpoint groups, domain configuration). Each module adds its manager and routes.
import type { FastifyInstance } from 'fastify';
import type { IdentityService } from './service.ts';

export interface IdentityExtension {
  name: string;
  init?(s: IdentityService): Promise<void> | void;
  routes(app: FastifyInstance, s: IdentityService): void;
}

export const extensions: IdentityExtension[] = [];
