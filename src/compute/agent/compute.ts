// The compute agent of one host (nova-compute): registers its service and its node, keeps its
// resource provider's inventory in placement, sends heartbeats, and runs what the conductor
// and the API ask of it over the bus (topic `compute`, server = host) through its virt driver.
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { ComputeDb } from '../db/schema.ts';
import type { MessageBus } from '../../core/bus.ts';
import type { Logger } from '../../core/log.ts';
import { now } from '../../core/db.ts';
import { PeriodicTasks } from '../../core/periodic.ts';
import type { ComputeOptions } from '../service.ts';
import { InstanceStore, PowerState, VmState, type Instance } from '../instances.ts';
import { BlockDeviceStore } from '../block_devices.ts';
import type { ComputeClients } from '../clients.ts';
import type { ImageMeta, LiveMigrationJob, VirtDriver } from '../drivers/virt.ts';
import { VirtError } from '../drivers/virt.ts';
import { notifyInstance } from '../notifications.ts';
import { serveCompute, type AgentResult, type ConsoleAnswer, type DiagnosticsAnswer } from '../rpcapi.ts';
import { schedulingHints } from '../worker/conductor.ts';
import { guestHandlers } from './shelve.ts';
import { consoleHandlers } from './consoles.ts';
import { netproxyHandlers, startNetproxyPeriodics } from './netproxy.ts';
import { forgetMoves, moveHandlers, startMovePeriodics } from './moves.ts';
import { InstanceEvents, eventHandlers, virtApi } from './events.ts';
import {
  disconnectVolumes,
  reimageBootVolume,
  releaseServerVolumes,
  spawnWithVolumes,
  volumeHandlers,
} from './volumes.ts';

/** Nova's reserved_host_memory_mb default. */
const RESERVED_HOST_MEMORY_MB = 512;

export class ComputeAgent {
  readonly host: string;
  nodeUuid?: string;
  readonly periodic: PeriodicTasks;
  private stopServing?: () => void;
  private registered = false;
  private lastInventory = '';
  readonly publisher: string;
  /** Live migrations running from this host, by instance uuid (for force-complete and abort). */
  readonly liveMigrations = new Map<string, LiveMigrationJob>();
  /** The events spawns and moves wait for (network-vif-plugged, ...). */
  readonly instanceEvents = new InstanceEvents();
  /** The agent's view of the block device mappings. */
  readonly blockDevices: BlockDeviceStore;

  // Public so that the agent's handler modules (agent/<family>.ts) can use them.
  constructor(
    readonly db: Kysely<ComputeDb>,
    readonly store: InstanceStore,
    readonly clients: ComputeClients,
    readonly bus: MessageBus,
    public driver: VirtDriver,
    readonly o: ComputeOptions,
    readonly log: Logger,
  ) {
    this.host = o.host;
    this.periodic = new PeriodicTasks(log);
    this.publisher = `nova-compute:${this.host}`;
    this.blockDevices = new BlockDeviceStore(db);
  }

  async start() {
    await this.registerService();
    await this.initInstances();
    this.stopServing = serveCompute(this.bus, this.host, {
      build_and_run_instance: (a) => this.buildAndRun(a.uuid, a.request_id, a.image ?? null, a.volumes !== false),
      terminate_instance: (a) => this.terminate(a.uuid, a.request_id),
      get_console_output: (a) => this.consoleOutput(a.uuid),
      get_diagnostics: (a) => this.diagnostics(a.uuid),
      rebuild_instance: (a) => this.rebuild(a.uuid, a.request_id, a.image ?? null, !!a.reimage_boot_volume),
      stop_instance: (a) =>
        this.simple(a, 'stop', 'power_off', (i) => this.driver.powerOff(i), {
          vm_state: VmState.STOPPED,
          power_state: PowerState.SHUTDOWN,
        }),
      start_instance: (a) =>
        this.simple(a, 'start', 'power_on', (i) => this.driver.powerOn(i), {
          vm_state: VmState.ACTIVE,
          power_state: PowerState.RUNNING,
        }),
      reboot_instance: (a) =>
        this.simple(a, 'reboot', 'reboot', (i) => this.driver.reboot(i, a.reboot_type ?? 'SOFT'), {
          vm_state: VmState.ACTIVE,
          power_state: PowerState.RUNNING,
        }),
      pause_instance: (a) =>
        this.simple(a, 'pause', 'pause', (i) => this.driver.pause(i), {
          vm_state: VmState.PAUSED,
          power_state: PowerState.PAUSED,
        }),
      unpause_instance: (a) =>
        this.simple(a, 'unpause', 'unpause', (i) => this.driver.unpause(i), {
          vm_state: VmState.ACTIVE,
          power_state: PowerState.RUNNING,
        }),
      suspend_instance: (a) =>
        this.simple(a, 'suspend', 'suspend', (i) => this.driver.suspend(i), {
          vm_state: VmState.SUSPENDED,
          power_state: PowerState.SUSPENDED,
        }),
      resume_instance: (a) =>
        this.simple(a, 'resume', 'resume', (i) => this.driver.resume(i), {
          vm_state: VmState.ACTIVE,
          power_state: PowerState.RUNNING,
        }),
      ...guestHandlers(this),
      ...consoleHandlers(this),
      ...netproxyHandlers(this),
      ...volumeHandlers(this),
      ...moveHandlers(this),
      ...eventHandlers(this),
    });
    this.driver.setVirtApi?.(virtApi(this));
    startMovePeriodics(this);
    // Placement may not answer yet (the API starts listening after every service is created):
    // the provider is registered by the first periodic run that reaches it.
    const tick = async () => {
      await this.heartbeat();
      await this.updateResources();
    };
    this.periodic.add('report', this.o.reportInterval, tick);
    this.periodic.add('register', 0.25, async () => {
      if (!this.registered) await this.updateResources().catch(() => undefined);
    });
    startNetproxyPeriodics(this);
  }

  async stop() {
    this.periodic.stop();
    this.stopServing?.();
  }

  /**
   * Nova's _init_instance: what this host ran before a restart. Guests come back to the driver;
   * a build that was running here cannot finish (ERROR); an action that was running is over
   * (its task state is cleared, the power state is the driver's).
   */
  private async initInstances() {
    const mine = await this.store.list({ host: this.host, deleted: false });
    this.driver.recover?.(mine.filter((i) => i.vm_state !== VmState.BUILDING));
    const later: Array<() => Promise<unknown>> = [];
    for (const i of mine) {
      if (i.vm_state === VmState.BUILDING) {
        await this.store.setFault(i.uuid, 500, 'Instance was building when its compute service restarted.');
        await this.store.update(i.uuid, { vm_state: VmState.ERROR, task_state: null });
        later.push(
          () => this.clients.deleteAllocations(i.uuid),
          () => this.clients.releasePorts(i),
        );
      } else if (i.task_state === 'deleting') {
        later.push(() => this.terminate(i.uuid, 'req-init-instance'));
      } else if (i.task_state) {
        await this.store.update(i.uuid, { task_state: null, power_state: this.driver.powerState(i) });
      }
    }
    // Placement and the network answer only once the cloud listens.
    if (later.length)
      setTimeout(async () => {
        for (const f of later) await f().catch((err) => this.log.error({ err }, 'instance recovery failed'));
      }, 2000).unref();
  }

  /** The nova-compute service row of this host (created once, kept across restarts). */
  private async registerService() {
    const t = now();
    const svc = await this.db
      .selectFrom('services')
      .selectAll()
      .where('host', '=', this.host)
      .where('binary', '=', 'nova-compute')
      .where('deleted', '=', 0)
      .executeTakeFirst();
    let serviceId: number;
    if (svc) {
      serviceId = Number(svc.id);
      await this.db.updateTable('services').set({ last_seen_up: t, updated_at: t }).where('id', '=', svc.id).execute();
    } else {
      await this.db
        .insertInto('services')
        .values({
          uuid: randomUUID(),
          host: this.host,
          binary: 'nova-compute',
          topic: 'compute',
          disabled: 0,
          forced_down: 0,
          report_count: 0,
          last_seen_up: t,
          created_at: t,
          updated_at: t,
          deleted: 0,
        })
        .execute();
      serviceId = Number(
        (
          await this.db
            .selectFrom('services')
            .select('id')
            .where('host', '=', this.host)
            .where('binary', '=', 'nova-compute')
            .where('deleted', '=', 0)
            .executeTakeFirstOrThrow()
        ).id,
      );
    }
    const cap = this.driver.capacity();
    const node = await this.db
      .selectFrom('compute_nodes')
      .selectAll()
      .where('host', '=', this.host)
      .where('deleted', '=', 0)
      .executeTakeFirst();
    const values = {
      service_id: serviceId,
      hypervisor_hostname: cap.hypervisor_hostname,
      hypervisor_type: cap.hypervisor_type,
      hypervisor_version: cap.hypervisor_version,
      host_ip: '127.0.0.1',
      vcpus: cap.vcpus,
      memory_mb: cap.memory_mb,
      local_gb: cap.local_gb,
      cpu_info: JSON.stringify(cap.cpu_info),
      cpu_allocation_ratio: this.o.cpuAllocationRatio,
      ram_allocation_ratio: this.o.ramAllocationRatio,
      disk_allocation_ratio: this.o.diskAllocationRatio,
      updated_at: t,
    };
    if (node) {
      this.nodeUuid = node.uuid;
      await this.db.updateTable('compute_nodes').set(values).where('id', '=', node.id).execute();
    } else {
      this.nodeUuid = randomUUID();
      await this.db
        .insertInto('compute_nodes')
        .values({ ...values, uuid: this.nodeUuid, host: this.host, created_at: t, deleted: 0 })
        .execute();
    }
  }

  private async heartbeat() {
    const t = now();
    const svc = await this.db
      .selectFrom('services')
      .select(['id', 'report_count'])
      .where('host', '=', this.host)
      .where('binary', '=', 'nova-compute')
      .where('deleted', '=', 0)
      .executeTakeFirst();
    if (!svc) {
      await this.registerService();
      return;
    }
    await this.db
      .updateTable('services')
      .set({ last_seen_up: t, updated_at: t, report_count: Number(svc.report_count) + 1 })
      .where('id', '=', svc.id)
      .execute();
  }

  /** The resource audit: usage into compute_nodes, inventory into placement (when it changed). */
  async updateResources() {
    const cap = this.driver.capacity();
    // One SQL sum (reading every instance of the host per build cost O(servers) per build).
    const used = await this.store.hostUsage(this.host);
    await this.db
      .updateTable('compute_nodes')
      .set({
        vcpus_used: used.vcpus,
        memory_mb_used: used.memory_mb + RESERVED_HOST_MEMORY_MB,
        local_gb_used: used.disk_gb,
        running_vms: used.count,
        updated_at: now(),
      })
      .where('uuid', '=', this.nodeUuid!)
      .execute();
    const inventories = {
      VCPU: {
        total: cap.vcpus,
        reserved: 0,
        min_unit: 1,
        max_unit: cap.vcpus,
        step_size: 1,
        allocation_ratio: this.o.cpuAllocationRatio,
      },
      MEMORY_MB: {
        total: cap.memory_mb,
        reserved: RESERVED_HOST_MEMORY_MB,
        min_unit: 1,
        max_unit: cap.memory_mb,
        step_size: 1,
        allocation_ratio: this.o.ramAllocationRatio,
      },
      DISK_GB: {
        total: cap.local_gb,
        reserved: 0,
        min_unit: 1,
        max_unit: cap.local_gb,
        step_size: 1,
        allocation_ratio: this.o.diskAllocationRatio,
      },
    };
    const key = JSON.stringify(inventories);
    if (this.registered && key === this.lastInventory) return;
    const p = this.clients.placement;
    let rp = await p.getProvider(this.nodeUuid!);
    if (rp.status === 404) {
      const created = await p.createProvider({ uuid: this.nodeUuid!, name: cap.hypervisor_hostname });
      if (created.status === 409) {
        // A provider of this name with another uuid (the compute database was reset): adopt it.
        const existing = (await p.providersNamed(cap.hypervisor_hostname))[0];
        if (!existing)
          throw new Error(`placement refused provider ${cap.hypervisor_hostname}: ${JSON.stringify(created.body)}`);
        await this.db
          .updateTable('compute_nodes')
          .set({ uuid: existing.uuid })
          .where('uuid', '=', this.nodeUuid!)
          .execute();
        this.nodeUuid = existing.uuid;
      } else if (created.status !== 200)
        throw new Error(`placement answered ${created.status} creating provider ${cap.hypervisor_hostname}`);
      rp = await p.getProvider(this.nodeUuid!);
    }
    if (rp.status !== 200) throw new Error(`placement answered ${rp.status} for provider ${this.nodeUuid}`);
    const put = await p.putInventories(this.nodeUuid!, rp.body.generation, inventories);
    if (put.status !== 200)
      throw new Error(`placement answered ${put.status} to the inventory of ${this.host}: ${JSON.stringify(put.body)}`);
    const traits = await p.getTraits(this.nodeUuid!);
    if (traits.status === 200 && !traits.body.traits.includes('COMPUTE_NODE'))
      await p.putTraits(this.nodeUuid!, traits.body.resource_provider_generation, [
        ...traits.body.traits,
        'COMPUTE_NODE',
      ]);
    this.lastInventory = key;
    if (!this.registered) {
      this.registered = true;
      this.log.info({ host: this.host, provider: this.nodeUuid }, 'compute node registered in placement');
    }
  }

  private refreshing?: Promise<void>;
  private refreshAgain = false;
  /**
   * The resource audit after a build or a delete, coalesced: one runs at a time and at most one
   * more follows it (a batch of builds does not run one audit per server).
   */
  refreshResources() {
    if (this.refreshing) {
      this.refreshAgain = true;
      return;
    }
    this.refreshing = (async () => {
      do {
        this.refreshAgain = false;
        await this.updateResources().catch(() => undefined);
      } while (this.refreshAgain);
    })().finally(() => {
      this.refreshing = undefined;
    });
  }

  /** Whether the first inventory reached placement (tests and the conductor wait on it). */
  get ready() {
    return this.registered;
  }

  private async buildAndRun(
    uuid: string,
    requestId: string,
    image: ImageMeta | null,
    volumes: boolean,
  ): Promise<AgentResult> {
    const inst = await this.store.get(uuid);
    if (!inst) return { ok: false, message: `Instance ${uuid} could not be found.`, reschedule: false };
    try {
      await this.store.event(uuid, requestId, 'compute__do_build_and_run_instance', this.host, async () => {
        await this.checkGroupPolicy(inst);
        // The conductor set task_state spawning with the ports (writing it again could undo a delete's 'deleting').
        notifyInstance(this.bus, this.publisher, 'create.start', { ...inst, task_state: 'spawning' });
        const aborted = (e: Error) => {
          throw new VirtError(`Build of instance ${inst.uuid} aborted: ${e.message}`, false);
        };
        // The mapped volumes, made by the volume service for this server or brought (boot from volume);
        // a server the build request says has none spawns without reading its mappings.
        await spawnWithVolumes(this, inst, image, { volumes: volumes ? 'connect' : 'none', volumeError: aborted });
      });
    } catch (e) {
      const reschedule = e instanceof VirtError ? e.reschedule : false;
      notifyInstance(this.bus, this.publisher, 'create.error', inst, { fault: { message: (e as Error).message } });
      // The guest may be half there: the driver cleans up before another host is tried.
      await this.driver.destroy(inst).catch(() => undefined);
      return { ok: false, message: (e as Error).message, reschedule };
    }
    const t = now();
    await this.store.update(uuid, {
      vm_state: VmState.ACTIVE,
      task_state: null,
      power_state: PowerState.RUNNING,
      launched_at: t,
    });
    const done = await this.store.get(uuid);
    if (done) notifyInstance(this.bus, this.publisher, 'create.end', done);
    this.refreshResources();
    return { ok: true };
  }

  /**
   * Nova's late group check (_validate_instance_group_policy): two builds scheduled at once
   * (by two conductors) may both have picked this host; the one that breaks its group's
   * (anti-)affinity is rescheduled.
   */
  private async checkGroupPolicy(inst: Instance) {
    const group = ((inst.system_metadata.server_groups as string[] | undefined) ?? [])[0];
    if (!group) return;
    // Where the other members run, as the scheduler saw it (its filters are what this re-checks).
    const g = (await schedulingHints(this.store.db, this.log, inst.uuid, { group })).group;
    if (g?.policy === 'anti-affinity' && g.hosts.filter((h) => h === this.host).length >= g.max_server_per_host) {
      throw new VirtError(
        `Build of instance ${inst.uuid} was re-scheduled: Anti-affinity instance group policy was violated.`,
        true,
      );
    }
    if (g?.policy === 'affinity' && g.hosts.length && !g.hosts.includes(this.host)) {
      throw new VirtError(
        `Build of instance ${inst.uuid} was re-scheduled: Affinity instance group policy was violated.`,
        true,
      );
    }
  }

  /** The guest's console log from the driver (api/server_console.ts maps the failures to 404/409/501). */
  private async consoleOutput(uuid: string): Promise<ConsoleAnswer> {
    const inst = await this.store.get(uuid);
    if (!inst) return { ok: false, code: 404, message: `Instance ${uuid} could not be found.` };
    if (!this.driver.consoleLog) return { ok: false, code: 501, message: 'Feature not supported.' };
    try {
      return { ok: true, output: this.driver.consoleLog(inst) };
    } catch (e) {
      return { ok: false, code: 404, message: `Guest does not have a console available. (${(e as Error).message})` };
    }
  }

  private async diagnostics(uuid: string): Promise<DiagnosticsAnswer> {
    const inst = await this.store.get(uuid);
    if (!inst) return { ok: false, code: 404, message: `Instance ${uuid} could not be found.` };
    if (!this.driver.diagnostics) return { ok: false, code: 501, message: 'Feature not supported.' };
    try {
      return { ok: true, diagnostics: this.driver.diagnostics(inst) };
    } catch (e) {
      return { ok: false, code: 409, message: `Instance ${uuid} is not ready: ${(e as Error).message}` };
    }
  }

  async terminate(uuid: string, requestId: string): Promise<AgentResult> {
    const inst = await this.store.get(uuid);
    if (!inst) return { ok: true };
    notifyInstance(this.bus, this.publisher, 'delete.start', inst);
    try {
      await this.store.event(uuid, requestId, 'compute_terminate_instance', this.host, async () => {
        await releaseServerVolumes(this, inst);
        await this.driver.destroy(inst);
        await this.clients.releasePorts(inst);
        await this.clients.deleteAllocations(uuid);
        await forgetMoves(this, inst);
      });
    } catch (e) {
      await this.store.setFault(uuid, 500, (e as Error).message);
      await this.store.update(uuid, { vm_state: VmState.ERROR, task_state: null });
      return { ok: false, message: (e as Error).message, reschedule: false };
    }
    await this.store.markDeleted(uuid);
    notifyInstance(this.bus, this.publisher, 'delete.end', {
      ...inst,
      vm_state: VmState.DELETED,
      task_state: null,
      deleted_at: now(),
      terminated_at: now(),
    });
    this.refreshResources();
    return { ok: true };
  }

  /** Rebuild: the guest powered off cleanly, destroyed and spawned again from the new image; a stopped server stays stopped. */
  private async rebuild(
    uuid: string,
    requestId: string,
    image: ImageMeta | null,
    reimage = false,
  ): Promise<AgentResult> {
    const inst = await this.store.get(uuid);
    if (!inst) return { ok: false, message: `Instance ${uuid} could not be found.`, reschedule: false };
    const wasStopped = inst.vm_state === VmState.STOPPED;
    notifyInstance(this.bus, this.publisher, 'rebuild.start', inst);
    try {
      await this.store.event(uuid, requestId, 'compute_rebuild_instance', this.host, async () => {
        // Nova's _rebuild_default_impl: a clean power-off first (the guest's own shutdown, as
        // stop does, destroyed after shutdownTimeout), then the volumes detached and the guest
        // destroyed; a guest that is not there any more is no reason to fail the rebuild.
        if (!wasStopped) await this.driver.powerOff(inst).catch(() => undefined);
        await disconnectVolumes(this, inst);
        await this.driver.destroy(inst);
        if (reimage && image) {
          await this.store.update(uuid, { task_state: 'rebuild_block_device_mapping' });
          await reimageBootVolume(this, inst, image.id);
        }
        await this.store.update(uuid, { task_state: 'rebuild_spawning' });
        await spawnWithVolumes(this, inst, image, { volumes: 'connected' });
        if (wasStopped) await this.driver.powerOff(inst);
      });
    } catch (e) {
      await this.store.setFault(uuid, 500, (e as Error).message);
      await this.store.update(uuid, {
        vm_state: VmState.ERROR,
        task_state: null,
        power_state: this.driver.powerState(inst),
      });
      notifyInstance(this.bus, this.publisher, 'rebuild.error', inst);
      return { ok: false, message: (e as Error).message, reschedule: false };
    }
    await this.store.update(
      uuid,
      wasStopped
        ? { vm_state: VmState.STOPPED, power_state: PowerState.SHUTDOWN, task_state: null, launched_at: now() }
        : { vm_state: VmState.ACTIVE, power_state: PowerState.RUNNING, task_state: null, launched_at: now() },
    );
    const done = await this.store.get(uuid);
    if (done) notifyInstance(this.bus, this.publisher, 'rebuild.end', done);
    return { ok: true };
  }

  /** A power action: the driver call, then the states it leads to; the action's event recorded. */
  private async simple(
    a: { uuid: string; request_id: string },
    action: string,
    notification: string,
    fn: (i: Instance) => Promise<void>,
    after: Partial<Instance>,
  ): Promise<AgentResult> {
    const inst = await this.store.get(a.uuid);
    if (!inst) return { ok: false, message: `Instance ${a.uuid} could not be found.`, reschedule: false };
    notifyInstance(this.bus, this.publisher, `${notification}.start`, inst);
    try {
      await this.store.event(a.uuid, a.request_id, `compute_${action}_instance`, this.host, () => fn(inst));
    } catch (e) {
      // The guest is as it was: the task is over, the state stays.
      await this.store.update(a.uuid, { task_state: null, power_state: this.driver.powerState(inst) });
      notifyInstance(this.bus, this.publisher, `${notification}.error`, inst);
      return { ok: false, message: (e as Error).message, reschedule: false };
    }
    await this.store.update(a.uuid, { ...after, task_state: null });
    const done = await this.store.get(a.uuid);
    if (done) notifyInstance(this.bus, this.publisher, `${notification}.end`, done);
    return { ok: true };
  }
}
