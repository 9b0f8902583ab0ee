// Placeholder: the trusts API family is being built.
import type { IdentityExtension } from '../extensions.ts';

export const trustsExtension: IdentityExtension = { name: 'trusts', routes() {} };
