// The services this code base runs besides identity, in start order. A service is a folder
// named by its service type, with a factory exported from its service.ts.
import type { ServiceFactory } from './core/service.ts';
import { objectStoreService } from './object-store/service.ts';
import { imageService } from './image/service.ts';
import { networkService } from './network/service.ts';
import { placementService } from './placement/service.ts';
import { computeService } from './compute/service.ts';
import { metricService } from './telemetry/metric/service.ts';
import { alarmingService } from './telemetry/alarming/service.ts';
import { blockStorageService } from './block-storage/service.ts';
import { cloudformationService, orchestrationService } from './orchestration/service.ts';

export const SERVICES: ServiceFactory[] = [
  objectStoreService,
  imageService,
  networkService,
  placementService,
  blockStorageService,
  computeService,
  metricService,
  alarmingService,
  orchestrationService,
  cloudformationService,
].filter((s): s is ServiceFactory => !!s);

/** The roles besides `api` whose workers a service has: a process with one of them creates the service (without its REST API). */
export const WORKER_ROLES: Record<
  string,
  Array<'conductor' | 'scheduler' | 'compute' | 'heat-engine' | 'telemetry-agent' | 'volume' | 'backup'>
> = {
  compute: ['conductor', 'scheduler', 'compute'],
  orchestration: ['heat-engine'],
  // Ceilometer's notification and polling agents run in the metric service (src/telemetry/collector).
  metric: ['telemetry-agent'],
  'block-storage': ['scheduler', 'volume', 'backup'],
};
