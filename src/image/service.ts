// Placeholder: the image service (Glance v2) is being built.
import type { ServiceFactory } from '../core/service.ts';

export const imageService: ServiceFactory | undefined = undefined;
