// Placeholder: the object-store service (Swift v1) is being built.
import type { ServiceFactory } from '../core/service.ts';

export const objectStoreService: ServiceFactory | undefined = undefined;
