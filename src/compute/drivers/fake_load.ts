// The fake driver's load profile: how busy each simulated guest is, so the CPU counters the
// driver reports move as a real guest's would and telemetry (Ceilometer's `cpu` meter, its rate
// in Gnocchi, Aodh alarms on it, Heat autoscaling) can be exercised without real guests.
//
// A guest's load is the server metadata `stratus:load` (a percentage of its vCPUs, 0-100;
// `openstack server set --property stratus:load=80`), else the profile's default (0: an idle
// guest, whose CPU time stays constant). CPU time accumulates at the load in force since the
// previous reading, so a change of the metadata changes the rate from then on.

/** The metadata key that sets a fake guest's CPU load in percent. */
export const LOAD_METADATA_KEY = 'stratus:load';

/** The CPU time (ns) a fake guest reports before any load: what the driver always reported. */
export const BASE_CPU_TIME_NS = 17_300_000_000;

export interface LoadedGuest {
  uuid: string;
  metadata?: Record<string, string> | null;
  flavor: { vcpus: number };
}

export class FakeLoadProfile {
  private cpu = new Map<string, { at: number; ns: number }>();

  constructor(
    private defaultPercent = 0,
    private now: () => number = Date.now,
  ) {}

  /** The guest's load in percent (0-100): its metadata, else the default; junk counts as the default. */
  percent(guest: LoadedGuest): number {
    const raw = guest.metadata?.[LOAD_METADATA_KEY];
    const n = raw === undefined || raw === null || String(raw).trim() === '' ? Number.NaN : Number(raw);
    const p = Number.isFinite(n) ? n : this.defaultPercent;
    return Math.min(100, Math.max(0, p));
  }

  /**
   * The guest's cumulative CPU time per vCPU (ns) now: what it was at the last reading plus the
   * elapsed time at the current load when `running` (a stopped or paused guest burns none).
   */
  cpuTimeNs(guest: LoadedGuest, running: boolean): number {
    const now = this.now();
    const prev = this.cpu.get(guest.uuid) ?? { at: now, ns: BASE_CPU_TIME_NS };
    const elapsedNs = Math.max(0, now - prev.at) * 1e6;
    const ns = running ? prev.ns + Math.round((elapsedNs * this.percent(guest)) / 100) : prev.ns;
    this.cpu.set(guest.uuid, { at: now, ns });
    return ns;
  }

  /** Starts the guest's counters from the beginning (it was destroyed or rebuilt). */
  forget(uuid: string): void {
    this.cpu.delete(uuid);
  }
}
