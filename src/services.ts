// The services this code base runs besides identity, in start order. A service is a folder
// named by its service type, with a factory exported from its service.ts. The table names each
// service and how to load its factory: a service's code is imported only when a process starts
// it (dynamic import, bundled by esbuild as lazily evaluated modules), so a process that runs
// some of them neither evaluates nor keeps the others' modules.
import type { ServiceFactory } from './core/service.ts';

/** A service of the table: known by name before its code is loaded. */
export interface ServiceEntry {
  /** Folder name and database name, as its factory's (checked when it is loaded). */
  name: string;
  /** Its sections of stratus.yaml when not only `name`, as its factory's (checked when it is loaded). */
  configSections?: string[];
  /** Imports the service's code and returns its factory. */
  load(): Promise<ServiceFactory | undefined>;
}

export const SERVICES: ServiceEntry[] = [
  { name: 'object-store', load: async () => (await import('./object-store/service.ts')).objectStoreService },
  { name: 'image', load: async () => (await import('./image/service.ts')).imageService },
  { name: 'network', load: async () => (await import('./network/service.ts')).networkService },
  { name: 'placement', load: async () => (await import('./placement/service.ts')).placementService },
  {
    name: 'block-storage',
    configSections: ['blockStorage', 'block-storage'],
    load: async () => (await import('./block-storage/service.ts')).blockStorageService,
  },
  { name: 'compute', load: async () => (await import('./compute/service.ts')).computeService },
  {
    name: 'metric',
    configSections: ['metric', 'collector'],
    load: async () => (await import('./telemetry/metric/service.ts')).metricService,
  },
  { name: 'alarming', load: async () => (await import('./telemetry/alarming/service.ts')).alarmingService },
  { name: 'orchestration', load: async () => (await import('./orchestration/service.ts')).orchestrationService },
  {
    name: 'cloudformation',
    configSections: [],
    load: async () => (await import('./orchestration/service.ts')).cloudformationService,
  },
];

/** Loads a service's factory and checks that it is the one the table names. */
export async function loadService(e: ServiceEntry): Promise<ServiceFactory> {
  const f = await e.load();
  if (!f) throw new Error(`src/services.ts: the service '${e.name}' exports no factory`);
  const sections = (x: { name: string; configSections?: string[] }) => JSON.stringify(x.configSections ?? [x.name]);
  if (f.name !== e.name || sections(f) !== sections(e))
    throw new Error(
      `src/services.ts: the entry '${e.name}' does not match its factory '${f.name}' (name, configSections)`,
    );
  return f;
}

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
