// Placeholder: the policies API family is being built.
import type { IdentityExtension } from '../extensions.ts';

export const policiesExtension: IdentityExtension = { name: 'policies', routes() {} };
