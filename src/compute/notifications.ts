// Versioned notifications (nova.notifications.objects): instance.<action>.start|end|error on
// the bus, publisher `nova-compute:<host>` or `nova-api:<host>`, payload a nova_object envelope.
import type { MessageBus } from '../core/bus.ts';
import type { Instance } from './instances.ts';

const STATUS: Record<string, string> = {
  active: 'ACTIVE',
  building: 'BUILD',
  stopped: 'SHUTOFF',
  paused: 'PAUSED',
  suspended: 'SUSPENDED',
  error: 'ERROR',
  deleted: 'DELETED',
};
const POWER: Record<number, string> = {
  0: 'pending',
  1: 'running',
  3: 'paused',
  4: 'shutdown',
  6: 'crashed',
  7: 'suspended',
};

export function instancePayload(inst: Instance, name = 'InstanceActionPayload', extra: Record<string, unknown> = {}) {
  return {
    'nova_object.name': name,
    'nova_object.namespace': 'nova',
    'nova_object.version': '1.8',
    'nova_object.data': {
      uuid: inst.uuid,
      display_name: inst.display_name,
      display_description: inst.display_description,
      tenant_id: inst.project_id,
      user_id: inst.user_id,
      host: inst.host,
      node: inst.node,
      availability_zone: inst.availability_zone,
      state: inst.vm_state,
      task_state: inst.task_state,
      power_state: POWER[inst.power_state] ?? 'pending',
      status: STATUS[inst.vm_state] ?? inst.vm_state,
      image_uuid: inst.image_ref,
      key_name: inst.key_name,
      metadata: inst.metadata,
      tags: inst.tags,
      locked: inst.locked,
      flavor: {
        'nova_object.name': 'FlavorPayload',
        'nova_object.namespace': 'nova',
        'nova_object.version': '1.4',
        'nova_object.data': {
          flavorid: inst.flavor.id,
          name: inst.flavor.name,
          vcpus: inst.flavor.vcpus,
          memory_mb: inst.flavor.ram,
          root_gb: inst.flavor.disk,
          ephemeral_gb: inst.flavor.ephemeral,
          swap: inst.flavor.swap,
          extra_specs: inst.flavor.extra_specs,
        },
      },
      ip_addresses: inst.network_info.flatMap((v) =>
        v.fixed_ips.map((f) => ({
          'nova_object.name': 'IpPayload',
          'nova_object.namespace': 'nova',
          'nova_object.version': '1.0',
          'nova_object.data': {
            address: f.ip_address,
            version: f.version,
            port_uuid: v.port_id,
            mac: v.mac_address,
            network_name: v.network_label,
            label: v.network_label,
            device_name: null,
            meta: {},
          },
        })),
      ),
      created_at: inst.created_at,
      launched_at: inst.launched_at,
      terminated_at: inst.terminated_at,
      deleted_at: inst.deleted_at,
      updated_at: inst.updated_at,
      fault: null,
      request_id: null,
      action_initiator_user: inst.user_id,
      action_initiator_project: inst.project_id,
      ...extra,
    },
  };
}

export function notifyInstance(
  bus: MessageBus,
  publisher: string,
  event: string,
  inst: Instance,
  extra?: Record<string, unknown>,
) {
  const priority = event.endsWith('.error') ? 'ERROR' : 'INFO';
  bus.notify(publisher, `instance.${event}`, instancePayload(inst, 'InstanceActionPayload', extra), priority);
}
