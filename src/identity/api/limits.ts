// Placeholder: the limits API family is being built.
import type { IdentityExtension } from '../extensions.ts';

export const limitsExtension: IdentityExtension = { name: 'limits', routes() {} };
