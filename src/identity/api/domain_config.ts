// Placeholder: the domain_config API family is being built.
import type { IdentityExtension } from '../extensions.ts';

export const domainConfigExtension: IdentityExtension = { name: 'domain_config', routes() {} };
