// Placeholder: the credentials API family is being built.
import type { IdentityExtension } from '../extensions.ts';

export const credentialsExtension: IdentityExtension = { name: 'credentials', routes() {} };
