// Placeholder: the application_credentials API family is being built.
import type { IdentityExtension } from '../extensions.ts';

export const applicationCredentialsExtension: IdentityExtension = { name: 'application_credentials', routes() {} };
