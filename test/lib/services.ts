// A test cloud's service objects, typed, for the tests that reach past the API (a store, a
// driver, the bus, a periodic task).
import type { ComputeService } from '../../src/compute/service.ts';
import type { NetworkService } from '../../src/network/service.ts';
import type { ObjectStoreService } from '../../src/object-store/service.ts';
import type { TestCloud } from './cloud.ts';

function service(c: TestCloud, name: string): unknown {
  const s = c.cloud.services.find((x) => x.catalogEntry.name === name);
  if (!s) throw new Error(`the test cloud runs no ${name} service`);
  return s;
}

export const computeService = (c: TestCloud) => service(c, 'compute') as ComputeService;
export const networkService = (c: TestCloud) => service(c, 'network') as NetworkService;
export const objectStoreService = (c: TestCloud) => service(c, 'object-store') as ObjectStoreService;
