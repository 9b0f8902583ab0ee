// The conductor (nova-conductor): runs the build of a server as a flow with revert —
// schedule and claim (the scheduler), ports (the network service), spawn (the chosen host's
// compute agent). A failed spawn that another host may fix is rescheduled, up to max_attempts;
// otherwise, and when no host fits, the server goes to ERROR with a fault, and every
// allocation and port the build took is given back.
import type { MessageBus } from '../../core/bus.ts';
import type { Kysely } from 'kysely';
import type { ComputeDb } from '../db/schema.ts';
import type { Logger } from '../../core/log.ts';
import { LinearFlow } from '../../core/flow.ts';
import type { ComputeOptions } from '../service.ts';
import { InstanceStore, VmState, type Instance, type Vif, wantsConfigDrive } from '../instances.ts';
import type { ComputeClients } from '../clients.ts';
import type { ImageMeta } from '../drivers/virt.ts';
import { computeRpc, schedulerRpc, serveConductor, type AgentResult, type ComputeRpc } from '../rpcapi.ts';
import type { RpcCalls } from '../../core/rpc.ts';
import type { UnshelveRequest } from './shelve.ts';
import type { RequestSpec } from './scheduler.ts';
import { notifyInstance } from '../notifications.ts';
import { networkSubnetMetas, type SubnetMeta } from '../subnet_meta.ts';

/** A network's subnet details, read once for the servers of one build request. */
type SubnetsOf = (networkId: string) => Promise<Map<string, SubnetMeta>>;

export interface BuildRequest {
  uuids: string[];
  request_id: string;
  image: ImageMeta | null;
  availability_zone?: string | null;
  force_host?: string | null;
  /** force_host came from zone:host: no filter runs (Nova's force_hosts). */
  ignore_filters?: boolean;
  /** Security group ids for the ports Nova creates (undefined: the network's default). */
  security_group_ids?: string[];
  /** The server group (hint `group`) and the same_host / different_host hints (server uuids). */
  group?: string;
  same_host?: string[];
  different_host?: string[];
  /** Whether the servers have mapped volumes (false: the agent reads no block device mappings). */
  volumes?: boolean;
}

const BUILD_SLOTS = 10;

/** A build failure: `reschedule` when another host may succeed. */
export class BuildFailure extends Error {
  constructor(
    message: string,
    public reschedule: boolean,
    public host?: string,
  ) {
    super(message);
  }
}

interface BuildState {
  inst: Instance;
  selection?: { host: string; node: string; provider: string };
  vifs: Vif[];
}

/**
 * Where the servers a request's hints name run (the build's, and a move's with the server's
 * group): the group's policy with its other members' hosts, same_host and different_host.
 */
export async function schedulingHints(
  db: Kysely<ComputeDb>,
  log: Logger,
  uuid: string,
  req: Pick<BuildRequest, 'group' | 'same_host' | 'different_host'>,
): Promise<Partial<RequestSpec>> {
  const out: Partial<RequestSpec> = {};
  const hostsOf = async (uuids: string[]) => {
    if (!uuids.length) return [] as string[];
    const rows = await db
      .selectFrom('instances')
      .select('host')
      .where('uuid', 'in', uuids)
      .where('deleted', '=', 0)
      .where('uuid', '!=', uuid)
      .execute();
    return rows.map((r) => r.host as string | null).filter((h): h is string => !!h);
  };
  if (req.group) {
    try {
      const g = await db
        .selectFrom('server_groups')
        .select(['policy', 'rules'])
        .where('uuid', '=', req.group)
        .executeTakeFirst();
      const members = await db
        .selectFrom('server_group_members')
        .select('instance_uuid')
        .where('group_uuid', '=', req.group)
        .execute();
      if (g) {
        const rules = typeof g.rules === 'string' && g.rules ? JSON.parse(g.rules) : {};
        out.group = {
          policy: g.policy,
          hosts: await hostsOf(members.map((m) => m.instance_uuid)),
          max_server_per_host: Number(rules.max_server_per_host ?? 1),
        };
      }
    } catch (err) {
      log.warn({ err }, 'server group lookup failed');
    }
  }
  if (req.same_host) out.same_hosts = await hostsOf(req.same_host);
  if (req.different_host) out.different_hosts = await hostsOf(req.different_host);
  return out;
}

export class Conductor {
  private stopServing?: () => void;
  constructor(
    readonly store: InstanceStore,
    readonly clients: ComputeClients,
    readonly bus: MessageBus,
    readonly o: ComputeOptions,
    readonly log: Logger,
  ) {}

  /**
   * Builds that were waiting for a host or ports when the conductor stopped cannot go on: they
   * go to ERROR and give back what they took (the all-in-one shape has one conductor).
   */
  async recover(started = new Date().toISOString()) {
    for (const i of await this.store.list({ deleted: false })) {
      if (i.vm_state !== VmState.BUILDING || i.host || i.updated_at >= started) continue;
      await this.store.setFault(i.uuid, 500, 'Build interrupted: the conductor restarted before a host was chosen.');
      await this.store.update(i.uuid, { vm_state: VmState.ERROR, task_state: null });
      await this.clients.deleteAllocations(i.uuid).catch(() => undefined);
      await this.clients.releasePorts(i).catch(() => undefined);
    }
  }

  /** The unshelve flow (worker/shelve.ts addUnshelve sets it; the composition root calls that). */
  unshelve?: (a: UnshelveRequest) => void;

  start() {
    this.stopServing = serveConductor(this.bus, this.o.host, {
      build_instances: (a) => {
        void this.buildInstances(a);
        return null;
      },
      unshelve_instance: (a) => {
        if (!this.unshelve) throw new Error('This conductor cannot unshelve');
        this.unshelve(a);
        return null;
      },
    });
  }
  stop() {
    this.stopServing?.();
  }

  /** The servers of one request build side by side (members of one group take turns to be scheduled: scheduleAndClaimTask). */
  async buildInstances(req: BuildRequest) {
    // The info cache keeps the subnets' details only for a server with a config drive (the drive
    // is written from the cache; the metadata service reads them when a guest asks for
    // network_data.json). The servers of one request are on the same networks: their subnets
    // are read once, beside the first port create (a subnet the read did not see is read by id).
    const read = new Map<string, Promise<Map<string, SubnetMeta>>>();
    const subnetsOf = (networkId: string) => {
      let p = read.get(networkId);
      if (!p) read.set(networkId, (p = networkSubnetMetas(this.clients.network, networkId)));
      return p;
    };
    await Promise.all(req.uuids.map((u) => this.limited(u, req, subnetsOf)));
  }

  /**
   * At most BUILD_SLOTS builds run at once (Nova's max_concurrent_builds, 10): a batch of 500
   * servers queues here instead of in 500 scheduler calls that time out waiting for each other.
   */
  private running = 0;
  private waiting: Array<() => void> = [];
  private async limited(uuid: string, req: BuildRequest, subnetsOf: SubnetsOf) {
    if (this.running >= BUILD_SLOTS) await new Promise<void>((r) => this.waiting.push(r));
    else this.running++;
    try {
      await this.build(uuid, req, subnetsOf).catch((err) =>
        this.log.error({ err, instance: uuid }, 'build failed unexpectedly'),
      );
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }

  private async build(uuid: string, req: BuildRequest, subnetsOf: SubnetsOf) {
    const excluded: string[] = [];
    let lastFailure: BuildFailure | undefined;
    for (let attempt = 1; ; attempt++) {
      const inst = await this.store.get(uuid);
      // Deleted while it waited: nothing to build.
      if (!inst || inst.task_state === 'deleting') return;
      try {
        await this.store.event(
          uuid,
          req.request_id,
          attempt === 1 ? 'conductor_schedule_and_build_instances' : `conductor_reschedule_${attempt}`,
          this.o.host,
          async () => {
            await this.flow(req, excluded, subnetsOf).run({ inst, vifs: [] });
          },
        );
        return;
      } catch (e) {
        let f = e instanceof BuildFailure ? e : new BuildFailure((e as Error).message, false);
        // No host left after reschedules: the reason is the last build failure (MaxRetriesExceeded).
        if (!f.reschedule && lastFailure && f.message.startsWith('No valid host')) f = lastFailure;
        if (f.reschedule && f.host) excluded.push(f.host);
        if (f.reschedule) lastFailure = f;
        if (f.reschedule && attempt < this.o.maxAttempts) {
          this.log.info({ instance: uuid, host: f.host, attempt }, 'rescheduling build');
          await this.store.update(uuid, { host: null, node: null, task_state: 'scheduling', network_info: [] });
          continue;
        }
        const message = f.reschedule
          ? `Exceeded maximum number of retries. Exhausted all hosts available for retrying build failures for instance ${uuid}.`
          : f.message;
        // A server deleted meanwhile stays deleted; otherwise it is ERROR with the reason.
        // The fault is written first: nobody may see ERROR without its reason.
        await this.store.setFault(uuid, 500, message, f.reschedule ? f.message : undefined);
        if (
          await this.store.update(
            uuid,
            { vm_state: VmState.ERROR, task_state: null, host: null, node: null },
            { expectTaskState: ['scheduling', 'networking', 'spawning', 'block_device_mapping', null] },
          )
        ) {
          const failed = await this.store.get(uuid);
          if (failed)
            notifyInstance(this.bus, `nova-conductor:${this.o.host}`, 'create.error', failed, { fault: { message } });
        }
        return;
      }
    }
  }

  /**
   * The schedule-and-claim step of a flow (the build's, and unshelve's): asks the scheduler for
   * a host (its claim in placement made), then records the host on the instance while its task
   * state is still one of `expect` (a server deleted meanwhile is not placed); the revert gives
   * the claim back. `req` carries the zone, forced host and hints.
   */
  scheduleAndClaimTask<S extends { inst: Instance; selection?: { host: string; node: string; provider: string } }>(
    req: Pick<
      BuildRequest,
      'availability_zone' | 'force_host' | 'ignore_filters' | 'group' | 'same_host' | 'different_host'
    >,
    excluded: string[],
    expect: Array<string | null>,
    next: string | null,
  ) {
    return {
      name: 'schedule_and_claim',
      // Members of one group are scheduled one at a time, across requests too: each sees where
      // the others went. (The agent's late check catches what another conductor placed meanwhile.)
      execute: (s: S) =>
        this.inTurn(req.group, async () => {
          const spec: RequestSpec = {
            instance_uuid: s.inst.uuid,
            project_id: s.inst.project_id,
            user_id: s.inst.user_id,
            flavor: s.inst.flavor,
            availability_zone: req.availability_zone ?? null,
            force_host: req.force_host ?? null,
            ignore_filters: !!(req.ignore_filters && req.force_host),
            exclude_hosts: excluded,
            ...(await schedulingHints(this.store.db, this.log, s.inst.uuid, req)),
          };
          const sel = await schedulerRpc(this.bus).call().select_destinations({ spec });
          if ('error' in sel) throw new BuildFailure(sel.error, false);
          s.selection = sel;
          // A server deleted meanwhile (task_state deleting, or gone) is not built: the revert gives back its claim.
          if (
            !(await this.store.update(
              s.inst.uuid,
              { host: sel.host, node: sel.node, task_state: next },
              { expectTaskState: expect },
            ))
          ) {
            throw new BuildFailure(`Instance ${s.inst.uuid} was deleted while it was being built`, false);
          }
          s.inst = { ...s.inst, host: sel.host, node: sel.node };
        }),
      revert: async (s: S) => {
        if (s.selection) await this.clients.deleteAllocations(s.inst.uuid);
      },
    };
  }

  /**
   * The spawn step of a flow (the build's, and unshelve's): the chosen host's agent spawns the
   * guest. A real hypervisor's spawn (image download, vif plugging, boot) may outlast the bus's
   * default wait; a host that does not answer (down, or killed mid-spawn) is one another may replace.
   */
  async spawnOn(host: string, spawn: (agent: RpcCalls<ComputeRpc>) => Promise<AgentResult>): Promise<void> {
    const timeoutMs =
      this.o.driver === 'fake'
        ? undefined
        : ((this.o.vifPluggingTimeout ?? 300) + this.o.libvirt.bootTimeout + 120) * 1000;
    let res: AgentResult;
    try {
      res = await spawn(computeRpc(this.bus).call(host, { timeoutMs }));
    } catch (e) {
      throw new BuildFailure(`Compute host ${host} did not answer: ${(e as Error).message}`, true, host);
    }
    if (!res.ok) throw new BuildFailure(res.message, res.reschedule, host);
  }

  /** Runs `fn` after every earlier `fn` of the same key has finished (no key: at once). */
  private turns = new Map<string, Promise<unknown>>();
  private inTurn<T>(key: string | undefined, fn: () => Promise<T>): Promise<T> {
    if (!key) return fn();
    const prev = this.turns.get(key) ?? Promise.resolve();
    const run = prev.catch(() => undefined).then(fn);
    const tail = run.catch(() => undefined);
    this.turns.set(key, tail);
    void tail.then(() => {
      if (this.turns.get(key) === tail) this.turns.delete(key);
    });
    return run;
  }

  private flow(req: BuildRequest, excluded: string[], subnetsOf: SubnetsOf) {
    const onRevertError = (task: string, err: unknown) => this.log.error({ err, task }, 'build revert failed');
    return new LinearFlow<BuildState>('build_instance', { onRevertError })
      .add(this.scheduleAndClaimTask(req, excluded, ['scheduling'], 'networking'))
      .add({
        name: 'allocate_network',
        execute: async (s) => {
          const requested = s.inst.requested_networks;
          try {
            s.vifs = await this.clients.allocatePorts(
              s.inst,
              s.selection!.host,
              requested,
              req.security_group_ids,
              wantsConfigDrive(s.inst) ? subnetsOf : null,
            );
          } catch (e) {
            throw new BuildFailure(`Build of instance ${s.inst.uuid} aborted: ${(e as Error).message}`, false);
          }
          // Deleted while its ports were made: the revert deletes them (the delete could not see them).
          if (
            !(await this.store.update(
              s.inst.uuid,
              { network_info: s.vifs, task_state: 'spawning' },
              { expectTaskState: ['networking'] },
            ))
          ) {
            throw new BuildFailure(`Instance ${s.inst.uuid} was deleted while it was being built`, false);
          }
          s.inst = { ...s.inst, network_info: s.vifs };
        },
        revert: async (s) => {
          if (s.vifs.length) await this.clients.deallocatePorts(s.vifs);
          await this.store.update(s.inst.uuid, { network_info: [] });
        },
      })
      .add({
        name: 'spawn',
        execute: (s) =>
          this.spawnOn(s.selection!.host, (agent) =>
            agent.build_and_run_instance({
              uuid: s.inst.uuid,
              request_id: req.request_id,
              image: req.image,
              volumes: req.volumes,
            }),
          ),
      });
  }
}
