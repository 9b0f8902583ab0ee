// The compute agent's guest actions beyond power (nova-compute's snapshot_instance,
// backup_instance, shelve_instance, shelve_offload_instance, unshelve_instance,
// rescue/unrescue_instance, set_admin_password, trigger_crash_dump, soft_delete/restore_instance)
// and the periodic tasks that go with them (offloading shelved servers, reclaiming soft-deleted
// ones). The API sets the task state and records the action; here each step moves the task
// state on only from the one expected (a server deleted meanwhile stops the work), records the
// action's event, and sends the versioned notifications.
import fs from 'node:fs';
import { now } from '../../core/db.ts';
import { PowerState, VmState, newRequestId, type Instance } from '../instances.ts';
import type { ImageMeta } from '../drivers/virt.ts';
import { VirtError } from '../drivers/virt.ts';
import { notifyInstance } from '../notifications.ts';
import { offloadVolumes, spawnWithVolumes } from './volumes.ts';
import type { ComputeAgent } from './compute.ts';
import type { RpcHandlers } from '../../core/rpc.ts';
import type { AgentResult, ComputeGuestRpc, GuestCallResult } from '../rpcapi.ts';

/** A step's task state moved on from `from`; false when the server was deleted (or taken) meanwhile. */
class Interrupted extends Error {}

/** The system metadata keys a shelve leaves, removed at unshelve (remove_shelved_keys_from_system_metadata). */
const SHELVED_KEYS = ['shelved_at', 'shelved_image_id', 'shelved_host'];

/** An answer with a status for the API (changePassword is an RPC call, as in Nova). */

export function guestHandlers(agent: ComputeAgent): RpcHandlers<ComputeGuestRpc> {
  const { store, clients, bus, publisher, log, o } = agent;
  const driver = () => agent.driver;
  const notify = (event: string, inst: Instance, extra?: Record<string, unknown>) =>
    notifyInstance(bus, publisher, event, inst, extra);
  const load = async (uuid: string) => {
    const inst = await store.get(uuid);
    if (!inst) throw new Interrupted(`Instance ${uuid} could not be found.`);
    return inst;
  };
  /** Moves the task state on, only from `from` (Nova's save(expected_task_state=...)). */
  const step = async (uuid: string, from: Array<string | null>, patch: Partial<Instance>) => {
    if (!(await store.update(uuid, patch, { expectTaskState: from })))
      throw new Interrupted(`Instance ${uuid} changed task state (deleted?) during the action.`);
  };
  const message = (e: unknown) => (e as Error)?.message ?? String(e);

  /**
   * The guest's disk into an image: the driver's bytes uploaded through the image service,
   * the task state through pending_upload → uploading (the shelving_ ones for a shelve).
   */
  const snapshotInto = async (
    inst: Instance,
    imageId: string,
    states: { from: string; pending: string; uploading: string },
  ) => {
    const d = driver();
    if (!d.snapshot) throw new VirtError('Snapshots are not supported by this virt driver.', false);
    await step(inst.uuid, [states.from], { task_state: states.pending });
    const image = await d.snapshot(inst);
    try {
      await step(inst.uuid, [states.pending], { task_state: states.uploading });
      await clients.uploadImage(imageId, image.data, image.diskFormat, image.containerFormat);
    } finally {
      if (!(image.data instanceof Uint8Array)) fs.rmSync(image.data.file, { force: true });
    }
  };

  /** Nova's _rotate_backups: the backups of this type beyond `rotation`, oldest first, deleted. */
  const rotateBackups = async (inst: Instance, backupType: string, rotation: number) => {
    const images = await clients.listImages({
      image_type: 'backup',
      backup_type: backupType,
      instance_uuid: inst.uuid,
    });
    for (const img of images.slice(rotation)) {
      await clients
        .deleteImage(img.id)
        .catch((err) => log.info({ err, image: img.id }, 'could not delete an excess backup; continuing'));
    }
  };

  /** createImage and createBackup (snapshot_instance / backup_instance). */
  const snapshot = async (a: {
    uuid: string;
    request_id: string;
    image_id: string;
    backup_type?: string;
    rotation?: number;
  }) => {
    const backup = a.backup_type !== undefined;
    const from = backup ? 'image_backup' : 'image_snapshot_pending';
    let inst: Instance;
    try {
      inst = await load(a.uuid);
      if (!backup) await step(a.uuid, [from], { task_state: 'image_snapshot' });
      inst = { ...inst, power_state: driver().powerState(inst) };
      notify('snapshot.start', inst, { snapshot_image_id: a.image_id });
    } catch (e) {
      await clients.deleteImage(a.image_id).catch(() => undefined);
      return;
    }
    try {
      await store.event(
        a.uuid,
        a.request_id,
        backup ? 'compute_backup_instance' : 'compute_snapshot_instance',
        agent.host,
        async () => {
          await snapshotInto(inst, a.image_id, {
            from: backup ? from : 'image_snapshot',
            pending: 'image_pending_upload',
            uploading: 'image_uploading',
          });
          await step(a.uuid, ['image_uploading'], { task_state: null, power_state: driver().powerState(inst) });
        },
      );
      const done = await store.get(a.uuid);
      if (done) notify('snapshot.end', done, { snapshot_image_id: a.image_id });
      if (backup) await rotateBackups(inst, a.backup_type!, Number(a.rotation ?? 0));
    } catch (e) {
      // Nova's delete_image_on_error and reverts_task_state: no half image, no stuck task.
      log.warn({ err: e, instance: a.uuid, image: a.image_id }, 'snapshot failed');
      await clients.deleteImage(a.image_id).catch(() => undefined);
      if (!(e instanceof Interrupted)) {
        await store.setFault(a.uuid, 500, message(e));
        await store.update(a.uuid, { task_state: null });
      }
    }
  };

  /** shelve_offload: the guest destroyed, its claim given back, its ports unbound, no host. */
  const offload = async (uuid: string, requestId: string, from: Array<string | null>) => {
    const inst = await load(uuid);
    notify('shelve_offload.start', inst);
    const d = driver();
    await store.event(uuid, requestId, 'compute_shelve_offload_instance', agent.host, async () => {
      if (d.powerState(inst) !== PowerState.NOSTATE && d.powerState(inst) !== PowerState.SHUTDOWN)
        await d.powerOff(inst).catch(() => undefined);
      const power = d.powerState(inst) === PowerState.NOSTATE ? PowerState.NOSTATE : PowerState.SHUTDOWN;
      await offloadVolumes(agent, inst);
      await d.destroy(inst);
      await clients.bindPorts(inst.network_info, '');
      await clients.deleteAllocations(uuid);
      await step(uuid, from, {
        vm_state: VmState.SHELVED_OFFLOADED,
        task_state: null,
        power_state: power,
        host: null,
        node: null,
      });
    });
    const done = await store.get(uuid);
    if (done) notify('shelve_offload.end', done);
    agent.updateResources().catch(() => undefined);
  };

  const shelve = async (a: { uuid: string; request_id: string; image_id: string | null }) => {
    let inst: Instance;
    try {
      inst = await load(a.uuid);
    } catch {
      if (a.image_id) await clients.deleteImage(a.image_id).catch(() => undefined);
      return;
    }
    const offloadNow = o.shelvedOffloadTime === 0;
    notify('shelve.start', inst);
    const d = driver();
    try {
      await store.event(a.uuid, a.request_id, 'compute_shelve_instance', agent.host, async () => {
        const power = d.powerState(inst);
        if (power !== PowerState.SHUTDOWN && power !== PowerState.NOSTATE) await d.powerOff(inst);
        let from = 'shelving';
        if (a.image_id) {
          await snapshotInto(inst, a.image_id, {
            from: 'shelving',
            pending: 'shelving_image_pending_upload',
            uploading: 'shelving_image_uploading',
          });
          from = 'shelving_image_uploading';
        }
        const sys = {
          ...(await load(a.uuid)).system_metadata,
          shelved_at: new Date().toISOString().replace(/Z$/, ''),
          shelved_image_id: a.image_id,
          shelved_host: agent.host,
        };
        if (!a.image_id) delete (sys as Record<string, unknown>).shelved_image_id;
        await step(a.uuid, [from, 'shelving'], {
          vm_state: VmState.SHELVED,
          task_state: offloadNow ? 'shelving_offloading' : null,
          power_state: d.powerState(inst),
          system_metadata: sys,
        });
      });
    } catch (e) {
      log.warn({ err: e, instance: a.uuid }, 'shelve failed');
      if (a.image_id) await clients.deleteImage(a.image_id).catch(() => undefined);
      if (!(e instanceof Interrupted)) {
        await store.setFault(a.uuid, 500, message(e));
        await store.update(a.uuid, { task_state: null, power_state: d.powerState(inst) });
        notify('shelve.error', inst, { fault: { message: message(e) } });
      }
      return;
    }
    const done = await store.get(a.uuid);
    if (done) notify('shelve.end', done);
    if (offloadNow) await offload(a.uuid, a.request_id, ['shelving_offloading']).catch((e) => offloadFailed(a.uuid, e));
  };

  const offloadFailed = async (uuid: string, e: unknown) => {
    log.warn({ err: e, instance: uuid }, 'shelve offload failed');
    if (e instanceof Interrupted) return;
    await store.setFault(uuid, 500, message(e));
    await store.update(uuid, { task_state: null });
  };

  /** The conductor placed an offloaded server here (claim made, ports bound): spawn it from its shelved image. */
  const unshelve = async (a: { uuid: string; request_id: string; image: ImageMeta | null }): Promise<AgentResult> => {
    let inst: Instance;
    try {
      inst = await load(a.uuid);
    } catch (e) {
      return { ok: false, message: message(e), reschedule: false };
    }
    notify('unshelve.start', inst);
    try {
      await store.event(a.uuid, a.request_id, 'compute_unshelve_instance', agent.host, async () => {
        await step(a.uuid, ['unshelving', 'spawning'], { task_state: 'spawning' });
        const here = { ...inst, host: agent.host, node: agent.host, image_ref: a.image?.id ?? inst.image_ref };
        await spawnWithVolumes(agent, here, a.image, { volumes: 'connect' });
      });
    } catch (e) {
      await driver()
        .destroy(inst)
        .catch(() => undefined);
      notify('unshelve.error', inst, { fault: { message: message(e) } });
      return { ok: false, message: message(e), reschedule: e instanceof VirtError ? e.reschedule : false };
    }
    await finishUnshelve(inst, 'unshelve.end');
    agent.updateResources().catch(() => undefined);
    return { ok: true };
  };

  /** ACTIVE again: the shelved image deleted, the shelve's system metadata gone. */
  const finishUnshelve = async (inst: Instance, event: string) => {
    const fresh = (await store.get(inst.uuid)) ?? inst;
    const imageId = fresh.system_metadata.shelved_image_id as string | undefined;
    const sys = { ...fresh.system_metadata };
    for (const k of SHELVED_KEYS) delete sys[k];
    await store.update(inst.uuid, {
      vm_state: VmState.ACTIVE,
      task_state: null,
      power_state: driver().powerState(inst),
      launched_at: now(),
      system_metadata: sys,
    });
    if (imageId)
      await clients
        .deleteImage(imageId)
        .catch((err) => log.warn({ err, image: imageId }, 'could not delete the shelved image'));
    const done = await store.get(inst.uuid);
    if (done) notify(event, done);
  };

  /** Unshelve of a server still on its host (SHELVED): powered on where it is (Nova's start_instance). */
  const unshelveOnHost = async (a: { uuid: string; request_id: string }) => {
    let inst: Instance;
    try {
      inst = await load(a.uuid);
    } catch {
      return;
    }
    notify('unshelve.start', inst);
    try {
      await store.event(a.uuid, a.request_id, 'compute_start_instance', agent.host, () => driver().powerOn(inst));
    } catch (e) {
      await store.setFault(a.uuid, 500, message(e));
      await store.update(a.uuid, { task_state: null, power_state: driver().powerState(inst) });
      notify('unshelve.error', inst, { fault: { message: message(e) } });
      return;
    }
    await finishUnshelve(inst, 'unshelve.end');
  };

  /**
   * The shape of rescue, unrescue, soft delete and restore: the server loaded (gone: nothing to
   * do), `<name>.start`, the driver's work recorded as the action's event, `<name>.end` with the
   * server as it is now. A failure (but a server deleted meanwhile) leaves a fault and the
   * `failed` patch (with `<name>.error` when `errorNotice`).
   */
  const guestAction = async (
    a: { uuid: string; request_id: string },
    name: string,
    event: string,
    work: (inst: Instance) => Promise<void>,
    failed: { fault: (e: unknown) => string; patch: (inst: Instance) => Partial<Instance>; errorNotice?: boolean },
    extra?: Record<string, unknown>,
  ) => {
    let inst: Instance;
    try {
      inst = await load(a.uuid);
    } catch {
      return;
    }
    notify(`${name}.start`, inst, extra);
    try {
      await store.event(a.uuid, a.request_id, event, agent.host, () => work(inst));
    } catch (e) {
      if (e instanceof Interrupted) return;
      await store.setFault(a.uuid, 500, failed.fault(e));
      await store.update(a.uuid, { task_state: null, ...failed.patch(inst) });
      if (failed.errorNotice) notify(`${name}.error`, inst, { fault: { message: message(e) } });
      return;
    }
    const done = await store.get(a.uuid);
    if (done) notify(`${name}.end`, done, extra);
  };
  const powerOf = (inst: Instance) => ({ power_state: driver().powerState(inst) });

  const rescue = (a: { uuid: string; request_id: string; password: string; image: ImageMeta | null }) =>
    guestAction(
      a,
      'rescue',
      'compute_rescue_instance',
      async (inst) => {
        const d = driver();
        if (!d.rescue) throw new VirtError('Rescue is not supported by this virt driver.', false);
        await d.rescue(inst, a.image, a.password);
        await step(a.uuid, ['rescuing'], {
          vm_state: VmState.RESCUED,
          task_state: null,
          power_state: d.powerState(inst),
          launched_at: now(),
        });
      },
      {
        // Nova's InstanceNotRescuable: the server is left in ERROR.
        fault: (e) => `Instance ${a.uuid} cannot be rescued: Driver Error: ${message(e)}`,
        patch: (inst) => ({ vm_state: VmState.ERROR, ...powerOf(inst) }),
        errorNotice: true,
      },
      { rescue_image_ref: a.image?.id ?? null },
    );

  const unrescue = (a: { uuid: string; request_id: string }) =>
    guestAction(
      a,
      'unrescue',
      'compute_unrescue_instance',
      async (inst) => {
        const d = driver();
        if (!d.unrescue) throw new VirtError('Unrescue is not supported by this virt driver.', false);
        await d.unrescue(inst);
        await step(a.uuid, ['unrescuing'], {
          vm_state: VmState.ACTIVE,
          task_state: null,
          power_state: d.powerState(inst),
        });
      },
      { fault: message, patch: powerOf },
    );

  /** changePassword, an RPC call: the API answers 409 when the guest is not running, 501 when the driver cannot. */
  const setAdminPassword = async (a: {
    uuid: string;
    request_id: string;
    password: string;
  }): Promise<GuestCallResult> => {
    let inst: Instance;
    try {
      inst = await load(a.uuid);
    } catch (e) {
      return { ok: false, code: 404, message: message(e) };
    }
    const d = driver();
    try {
      await store.event(a.uuid, a.request_id, 'compute_set_admin_password', agent.host, async () => {
        if (!d.setAdminPassword) throw new NotImplemented('Unable to set password on instance');
        if (d.powerState(inst) !== PowerState.RUNNING)
          throw new VirtError(
            `Failed to set admin password on ${a.uuid} because instance ${a.uuid} is not running`,
            false,
          );
        await d.setAdminPassword(inst, a.password);
      });
    } catch (e) {
      await store.update(a.uuid, { task_state: null }, { expectTaskState: ['updating_password'] });
      if (e instanceof NotImplemented) return { ok: false, code: 501, message: e.message };
      return { ok: false, code: 409, message: message(e) };
    }
    await store.update(a.uuid, { task_state: null }, { expectTaskState: ['updating_password'] });
    return { ok: true };
  };

  const triggerCrashDump = async (a: { uuid: string; request_id: string }) => {
    let inst: Instance;
    try {
      inst = await load(a.uuid);
    } catch {
      return;
    }
    notify('trigger_crash_dump.start', inst);
    try {
      await store.event(a.uuid, a.request_id, 'compute_trigger_crash_dump', agent.host, async () => {
        const d = driver();
        if (!d.triggerCrashDump)
          throw new VirtError('Triggering a crash dump is not supported by this virt driver.', false);
        await d.triggerCrashDump(inst);
      });
    } catch (e) {
      log.warn({ err: e, instance: a.uuid }, 'trigger crash dump failed');
      return;
    }
    notify('trigger_crash_dump.end', inst);
  };

  /** Soft delete (reclaim_instance_interval > 0): powered off, resources kept, restorable until reclaimed. */
  const softDelete = (a: { uuid: string; request_id: string }) =>
    guestAction(
      a,
      'soft_delete',
      'compute_soft_delete_instance',
      async (inst) => {
        const d = driver();
        const power = d.powerState(inst);
        if (power !== PowerState.SHUTDOWN && power !== PowerState.NOSTATE) await d.powerOff(inst);
        await step(a.uuid, ['soft-deleting'], {
          vm_state: VmState.SOFT_DELETED,
          task_state: null,
          power_state: d.powerState(inst),
        });
      },
      { fault: message, patch: () => ({ vm_state: VmState.ERROR }) },
    );

  const restore = (a: { uuid: string; request_id: string }) =>
    guestAction(
      a,
      'restore',
      'compute_restore_instance',
      async (inst) => {
        const d = driver();
        if (d.powerState(inst) !== PowerState.RUNNING) await d.powerOn(inst);
        await step(a.uuid, ['restoring'], {
          vm_state: VmState.ACTIVE,
          task_state: null,
          power_state: d.powerState(inst),
          deleted_at: null,
        });
      },
      { fault: message, patch: powerOf },
    );

  // Nova's _poll_shelved_instances: a shelved server older than shelved_offload_time is offloaded.
  if (o.shelvedOffloadTime > 0) {
    agent.periodic.add('poll_shelved_instances', Math.max(0.05, o.shelvedPollInterval), async () => {
      const cutoff = Date.now() - o.shelvedOffloadTime * 1000;
      for (const i of await store.list({ host: agent.host, deleted: false })) {
        if (i.vm_state !== VmState.SHELVED || i.task_state) continue;
        const at = Date.parse(`${String(i.system_metadata.shelved_at ?? '')}Z`);
        if (!Number.isFinite(at) || at > cutoff) continue;
        if (
          !(await store.update(
            i.uuid,
            { task_state: 'shelving_offloading' },
            { expectTaskState: [null], expectVmState: [VmState.SHELVED] },
          ))
        )
          continue;
        await offload(i.uuid, newRequestId(), ['shelving_offloading']).catch((e) => offloadFailed(i.uuid, e));
      }
    });
  }
  // Nova's _reclaim_queued_deletes: a soft-deleted server older than reclaim_instance_interval is deleted.
  if (o.reclaimInstanceInterval > 0) {
    agent.periodic.add('reclaim_queued_deletes', Math.max(0.05, Math.min(o.reclaimInstanceInterval, 60)), async () => {
      const cutoff = Date.now() - o.reclaimInstanceInterval * 1000;
      for (const i of await store.list({ host: agent.host, deleted: false })) {
        if (i.vm_state !== VmState.SOFT_DELETED || i.task_state || !i.deleted_at || Date.parse(i.deleted_at) > cutoff)
          continue;
        if (
          !(await store.update(
            i.uuid,
            { task_state: 'deleting' },
            { expectTaskState: [null], expectVmState: [VmState.SOFT_DELETED] },
          ))
        )
          continue;
        await agent.terminate(i.uuid, newRequestId());
      }
    });
  }

  /** A cast: the work runs on, the caller has no answer to wait for. */
  const background =
    <A extends { uuid: string }>(name: string, fn: (a: A) => Promise<unknown>) =>
    (a: A): null => {
      void fn(a).catch((err) => log.error({ err, instance: a?.uuid }, `${name} failed unexpectedly`));
      return null;
    };
  return {
    snapshot_instance: background('snapshot', snapshot),
    backup_instance: background('backup', snapshot),
    shelve_instance: background('shelve', shelve),
    shelve_offload_instance: background('shelve offload', (a) =>
      // 'shelving': a volume-backed server's shelve comes here straight from the API, as in Nova.
      offload(a.uuid, a.request_id, ['shelving', 'shelving_offloading']).catch((e) => offloadFailed(a.uuid, e)),
    ),
    unshelve_instance: unshelve,
    start_shelved_instance: background('unshelve', unshelveOnHost),
    rescue_instance: background('rescue', rescue),
    unrescue_instance: background('unrescue', unrescue),
    set_admin_password: setAdminPassword,
    trigger_crash_dump: background('trigger crash dump', triggerCrashDump),
    soft_delete_instance: background('soft delete', softDelete),
    restore_instance: background('restore', restore),
  };
}

class NotImplemented extends Error {}
