// Block storage's whole route table and its volume-action map, in one place (as cinder's
// api/v3/router.py). Every path is under /v3/{project_id} and, without the project, under /v3
// (3.67); each handler is a module-level function of the api/ module named beside it.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { BlockStorageService } from '../service.ts';
import { badRequest } from './common.ts';
import * as cg from './consistencygroups.ts';
import {
  completeAttachment,
  createAttachment,
  deleteAttachment,
  listAttachments,
  listAttachmentsDetail,
  showAttachment,
  updateAttachment,
} from './attachments.ts';
import {
  defaultQuotas,
  deleteMessage,
  deleteQuotas,
  getPools,
  listExtensions,
  listHosts,
  showHost,
  listMessages,
  listServices,
  listZones,
  showCapabilities,
  showLimits,
  showMessage,
  showQuotaClass,
  showQuotas,
  updateQuotaClass,
  updateQuotas,
  updateService,
} from './misc.ts';
import { cleanupWorkers } from './workers.ts';
import {
  createSnapshot,
  createSnapshotMetadata,
  deleteSnapshot,
  deleteSnapshotMetadataItem,
  listSnapshotMetadata,
  listSnapshots,
  listSnapshotsDetail,
  replaceSnapshotMetadata,
  showSnapshot,
  showSnapshotMetadataItem,
  snapshotAction,
  updateSnapshot,
  updateSnapshotMetadataItem,
} from './snapshots.ts';
import {
  createSpecs,
  createType,
  deleteSpec,
  deleteType,
  listDefaultTypes,
  listSpecs,
  listTypeAccess,
  listTypes,
  setDefaultType,
  showDefaultType,
  showSpec,
  showType,
  typeAction,
  unsetDefaultType,
  updateSpec,
  updateType,
} from './types.ts';
import * as actions from './volume_actions.ts';
import {
  listManageableSnapshots,
  listManageableSnapshotsDetail,
  listManageableVolumes,
  listManageableVolumesDetail,
  manageSnapshot,
  manageVolume,
  unmanageVolume,
} from './manage.ts';
import {
  createGroup,
  createGroupSnapshot,
  deleteGroupSnapshot,
  groupAction,
  groupSnapshotAction,
  groupsAction,
  listGroupSnapshots,
  listGroupSnapshotsDetail,
  listGroups,
  listGroupsDetail,
  showGroup,
  showGroupSnapshot,
  updateGroup,
} from './groups.ts';
import {
  createGroupSpecs,
  createGroupType,
  deleteGroupSpec,
  deleteGroupType,
  listGroupSpecs,
  listGroupTypes,
  showGroupSpec,
  showGroupType,
  updateGroupSpec,
  updateGroupType,
} from './group_types.ts';
import {
  backupAction,
  createBackup,
  deleteBackup,
  exportBackup,
  importBackup,
  listBackups,
  listBackupsDetail,
  restoreBackup,
  showBackup,
  updateBackup,
} from './backups.ts';
import {
  acceptTransfer,
  createTransfer,
  deleteTransfer,
  listTransfers,
  listTransfersDetail,
  showTransfer,
} from './transfers.ts';
import {
  associateQos,
  createEncryption,
  createQos,
  deleteEncryption,
  deleteQos,
  deleteQosKeys,
  disassociateAllQos,
  disassociateQos,
  listQos,
  qosAssociations,
  setQosKeys,
  showEncryption,
  showEncryptionKey,
  showQos,
  updateEncryption,
} from './qos.ts';
import {
  createMetadata,
  createVolume,
  deleteMetadataItem,
  deleteVolume,
  listMetadata,
  listVolumes,
  listVolumesDetail,
  replaceMetadata,
  showMetadataItem,
  showVolume,
  updateMetadataItem,
  updateVolume,
  volumesSummary,
} from './volumes.ts';

type Handler = (svc: BlockStorageService, req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

/** POST /volumes/{id}/action: the body's single key names the action. */
const VOLUME_ACTIONS: Record<string, actions.VolumeAction> = {
  'os-extend': actions.extend,
  'os-set_bootable': actions.setBootable,
  'os-update_readonly_flag': actions.updateReadonly,
  'os-reset_status': actions.resetStatus,
  'os-force_delete': actions.forceDelete,
  'os-retype': actions.retype,
  'os-migrate_volume': actions.migrateVolume,
  'os-migrate_volume_completion': actions.migrateVolumeCompletion,
  'os-set_image_metadata': actions.setImageMetadata,
  'os-unset_image_metadata': actions.unsetImageMetadata,
  'os-show_image_metadata': actions.showImageMetadata,
  'os-volume_upload_image': actions.uploadImage,
  revert: actions.revert,
  'os-reserve': actions.reserve,
  'os-unreserve': actions.unreserve,
  'os-begin_detaching': actions.beginDetaching,
  'os-roll_detaching': actions.rollDetaching,
  'os-initialize_connection': actions.initializeConnection,
  'os-terminate_connection': actions.terminateConnection,
  'os-attach': actions.attach,
  'os-detach': actions.detach,
  'os-force_detach': actions.forceDetach,
  'os-unmanage': unmanageVolume,
};
/** Actions that answer 200 with a body; the others answer 202 without one. */
const ACTIONS_WITH_BODY = new Set([
  'os-set_image_metadata',
  'os-unset_image_metadata',
  'os-set_bootable',
  'os-show_image_metadata',
  'os-volume_upload_image',
  'os-initialize_connection',
  'os-migrate_volume_completion',
]);

const volumeAction: Handler = async (svc, req, reply) => {
  const body = req.body;
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('Malformed request body');
  const key = Object.keys(body)[0] ?? '';
  const fn = VOLUME_ACTIONS[key];
  if (!fn) throw badRequest(`There is no such action: ${key}`);
  if (key === 'revert' && !req.volumeVersion?.gte('3.40')) throw badRequest(`There is no such action: ${key}`);
  const v = await svc.parts.api.visibleVolume(req.context, (req.params as { id: string }).id);
  const out = await fn(svc, req, v, (body as Record<string, unknown>)[key]);
  if (key === 'os-volume_upload_image') reply.code(202);
  if (ACTIONS_WITH_BODY.has(key)) return out ?? null;
  reply.code(202);
  return null;
};

export function registerRoutes(app: FastifyInstance, svc: BlockStorageService) {
  const route = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, h: Handler) => {
    const handler = async (req: FastifyRequest, reply: FastifyReply) => {
      const out = await h(svc, req, reply);
      if (out === null || out === undefined) return reply.send();
      return out;
    };
    app.route({ method, url: `/:project_id${path}`, handler });
    app.route({ method, url: path, handler });
  };
  // volumes
  route('GET', '/volumes', listVolumes);
  route('GET', '/volumes/detail', listVolumesDetail);
  route('GET', '/volumes/summary', volumesSummary);
  route('POST', '/volumes', createVolume);
  route('GET', '/volumes/:id', showVolume);
  route('PUT', '/volumes/:id', updateVolume);
  route('DELETE', '/volumes/:id', deleteVolume);
  route('POST', '/volumes/:id/action', volumeAction);
  route('GET', '/volumes/:id/metadata', listMetadata);
  route('POST', '/volumes/:id/metadata', createMetadata);
  route('PUT', '/volumes/:id/metadata', replaceMetadata);
  route('GET', '/volumes/:id/metadata/:key', showMetadataItem);
  route('PUT', '/volumes/:id/metadata/:key', updateMetadataItem);
  route('DELETE', '/volumes/:id/metadata/:key', deleteMetadataItem);
  // snapshots
  route('GET', '/snapshots', listSnapshots);
  route('GET', '/snapshots/detail', listSnapshotsDetail);
  route('POST', '/snapshots', createSnapshot);
  route('GET', '/snapshots/:id', showSnapshot);
  route('PUT', '/snapshots/:id', updateSnapshot);
  route('DELETE', '/snapshots/:id', deleteSnapshot);
  route('POST', '/snapshots/:id/action', snapshotAction);
  route('GET', '/snapshots/:id/metadata', listSnapshotMetadata);
  route('POST', '/snapshots/:id/metadata', createSnapshotMetadata);
  route('PUT', '/snapshots/:id/metadata', replaceSnapshotMetadata);
  route('GET', '/snapshots/:id/metadata/:key', showSnapshotMetadataItem);
  route('PUT', '/snapshots/:id/metadata/:key', updateSnapshotMetadataItem);
  route('DELETE', '/snapshots/:id/metadata/:key', deleteSnapshotMetadataItem);
  // attachments (3.27)
  route('GET', '/attachments', listAttachments);
  route('GET', '/attachments/detail', listAttachmentsDetail);
  route('POST', '/attachments', createAttachment);
  route('GET', '/attachments/:id', showAttachment);
  route('PUT', '/attachments/:id', updateAttachment);
  route('DELETE', '/attachments/:id', deleteAttachment);
  route('POST', '/attachments/:id/action', completeAttachment);
  // types
  route('GET', '/types', listTypes);
  route('POST', '/types', createType);
  route('GET', '/types/:id', showType);
  route('PUT', '/types/:id', updateType);
  route('DELETE', '/types/:id', deleteType);
  route('POST', '/types/:id/action', typeAction);
  route('GET', '/types/:id/os-volume-type-access', listTypeAccess);
  route('GET', '/types/:id/extra_specs', listSpecs);
  route('POST', '/types/:id/extra_specs', createSpecs);
  route('GET', '/types/:id/extra_specs/:key', showSpec);
  route('PUT', '/types/:id/extra_specs/:key', updateSpec);
  route('DELETE', '/types/:id/extra_specs/:key', deleteSpec);
  route('GET', '/types/:id/encryption', showEncryption);
  route('POST', '/types/:id/encryption', createEncryption);
  route('GET', '/types/:id/encryption/:key', showEncryptionKey);
  route('PUT', '/types/:id/encryption/:key', updateEncryption);
  route('DELETE', '/types/:id/encryption/:key', deleteEncryption);
  route('GET', '/qos-specs', listQos);
  route('POST', '/qos-specs', createQos);
  route('GET', '/qos-specs/:id', showQos);
  route('PUT', '/qos-specs/:id', setQosKeys);
  route('DELETE', '/qos-specs/:id', deleteQos);
  route('PUT', '/qos-specs/:id/delete_keys', deleteQosKeys);
  route('GET', '/qos-specs/:id/associations', qosAssociations);
  route('GET', '/qos-specs/:id/associate', associateQos);
  route('GET', '/qos-specs/:id/disassociate', disassociateQos);
  route('GET', '/qos-specs/:id/disassociate_all', disassociateAllQos);
  for (const base of ['/os-volume-transfer', '/volume-transfers']) {
    route('GET', base, listTransfers);
    route('GET', `${base}/detail`, listTransfersDetail);
    route('POST', base, createTransfer);
    route('GET', `${base}/:id`, showTransfer);
    route('DELETE', `${base}/:id`, deleteTransfer);
    route('POST', `${base}/:id/accept`, acceptTransfer);
  }
  route('GET', '/group_types', listGroupTypes);
  route('POST', '/group_types', createGroupType);
  route('GET', '/group_types/:id', showGroupType);
  route('PUT', '/group_types/:id', updateGroupType);
  route('DELETE', '/group_types/:id', deleteGroupType);
  route('GET', '/group_types/:id/group_specs', listGroupSpecs);
  route('POST', '/group_types/:id/group_specs', createGroupSpecs);
  route('GET', '/group_types/:id/group_specs/:key', showGroupSpec);
  route('PUT', '/group_types/:id/group_specs/:key', updateGroupSpec);
  route('DELETE', '/group_types/:id/group_specs/:key', deleteGroupSpec);
  route('POST', '/os-volume-manage', manageVolume);
  route('POST', '/os-snapshot-manage', manageSnapshot);
  route('GET', '/manageable_volumes', listManageableVolumes);
  route('GET', '/manageable_volumes/detail', listManageableVolumesDetail);
  route('GET', '/manageable_snapshots', listManageableSnapshots);
  route('GET', '/manageable_snapshots/detail', listManageableSnapshotsDetail);
  route('GET', '/groups', listGroups);
  route('GET', '/groups/detail', listGroupsDetail);
  route('POST', '/groups', createGroup);
  // consistency groups (the older API on generic groups)
  route('GET', '/consistencygroups', cg.listConsistencyGroups);
  route('GET', '/consistencygroups/detail', cg.listConsistencyGroupsDetail);
  route('POST', '/consistencygroups', cg.createConsistencyGroup);
  route('POST', '/consistencygroups/create_from_src', cg.createConsistencyGroupFromSrc);
  route('GET', '/consistencygroups/:id', cg.showConsistencyGroup);
  route('PUT', '/consistencygroups/:id', cg.updateConsistencyGroup);
  route('POST', '/consistencygroups/:id/delete', cg.deleteConsistencyGroup);
  route('GET', '/cgsnapshots', cg.listCgsnapshotsSummary);
  route('GET', '/cgsnapshots/detail', cg.listCgsnapshotsDetail);
  route('POST', '/cgsnapshots', cg.createCgsnapshot);
  route('GET', '/cgsnapshots/:id', cg.showCgsnapshot);
  route('DELETE', '/cgsnapshots/:id', cg.deleteCgsnapshot);
  route('POST', '/groups/action', groupsAction);
  route('GET', '/groups/:id', showGroup);
  route('PUT', '/groups/:id', updateGroup);
  route('POST', '/groups/:id/action', groupAction);
  route('GET', '/group_snapshots', listGroupSnapshots);
  route('GET', '/group_snapshots/detail', listGroupSnapshotsDetail);
  route('POST', '/group_snapshots', createGroupSnapshot);
  route('GET', '/group_snapshots/:id', showGroupSnapshot);
  route('DELETE', '/group_snapshots/:id', deleteGroupSnapshot);
  route('POST', '/group_snapshots/:id/action', groupSnapshotAction);
  route('GET', '/backups', listBackups);
  route('GET', '/backups/detail', listBackupsDetail);
  route('POST', '/backups', createBackup);
  route('POST', '/backups/import_record', importBackup);
  route('GET', '/backups/:id', showBackup);
  route('PUT', '/backups/:id', updateBackup);
  route('DELETE', '/backups/:id', (svc, req, reply) => deleteBackup(svc, req, reply));
  route('POST', '/backups/:id/restore', restoreBackup);
  route('POST', '/backups/:id/action', backupAction);
  route('GET', '/backups/:id/export_record', exportBackup);
  route('GET', '/default-types', listDefaultTypes);
  route('GET', '/default-types/:project', showDefaultType);
  route('PUT', '/default-types/:project', setDefaultType);
  route('DELETE', '/default-types/:project', unsetDefaultType);
  // around volumes
  route('GET', '/os-quota-sets/:project', showQuotas);
  route('GET', '/os-quota-sets/:project/defaults', defaultQuotas);
  route('PUT', '/os-quota-sets/:project', updateQuotas);
  route('DELETE', '/os-quota-sets/:project', deleteQuotas);
  route('GET', '/os-quota-class-sets/:name', showQuotaClass);
  route('PUT', '/os-quota-class-sets/:name', updateQuotaClass);
  route('GET', '/limits', showLimits);
  route('GET', '/os-availability-zone', listZones);
  route('GET', '/os-services', listServices);
  route('PUT', '/os-services/:action', updateService);
  route('GET', '/scheduler-stats/get_pools', getPools);
  route('GET', '/capabilities/:host', showCapabilities);
  route('GET', '/messages', listMessages);
  route('GET', '/messages/:id', showMessage);
  route('DELETE', '/messages/:id', deleteMessage);
  route('GET', '/extensions', listExtensions);
  route('GET', '/os-hosts', listHosts);
  route('GET', '/os-hosts/:host', showHost);
  route('POST', '/workers/cleanup', cleanupWorkers);
}
