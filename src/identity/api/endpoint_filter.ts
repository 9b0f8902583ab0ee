// Placeholder: the endpoint_filter API family is being built.
import type { IdentityExtension } from '../extensions.ts';

export const endpointFilterExtension: IdentityExtension = { name: 'endpoint_filter', routes() {} };
