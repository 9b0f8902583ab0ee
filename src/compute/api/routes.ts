// Compute's whole route table and its server-action map, in one place (as nova's
// api/openstack/compute/routes.py). Every path is under /v2.1; each handler is a module-level
// function of the api/ module named beside it and goes schema → policy → logic → view.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ComputeService } from '../service.ts';
import { badRequest, type ServerAction } from './common.ts';
import { goneRoutes } from './neutron_proxy.ts';
import {
  createServer,
  deleteServerRequest,
  getServer,
  listInstanceActions,
  listServers,
  lockServer,
  powerAction,
  resetState,
  showInstanceAction,
  showServer,
  unlockServer,
  updateServer,
} from './servers.ts';
import {
  addServerTag,
  checkServerTag,
  createServerMetadata,
  deleteServerMetadataItem,
  deleteServerTag,
  deleteServerTags,
  listServerIps,
  listServerMetadata,
  listServerTags,
  replaceServerMetadata,
  replaceServerTags,
  showServerIps,
  showServerMetadata,
  updateServerMetadataItem,
  type P as ServerSub,
} from './server_details.ts';
import {
  addSecurityGroup,
  clearServerPassword,
  createExternalEvents,
  rebuild,
  removeSecurityGroup,
  showServerPassword,
} from './server_actions.ts';
import { getConsoleOutput, showDiagnostics } from './server_console.ts';
import { createRemoteConsole, legacyConsole, showConsoleAuthToken, showServerTopology } from './remote_consoles.ts';
import { guestActions } from './server_shelve.ts';
import { moveActions } from './server_moves.ts';
import {
  createFlavor,
  createFlavorExtraSpecs,
  deleteFlavor,
  deleteFlavorExtraSpec,
  flavorAction,
  listFlavorAccess,
  listFlavorExtraSpecs,
  listFlavors,
  listFlavorsDetail,
  showFlavor,
  showFlavorExtraSpec,
  updateFlavor,
  updateFlavorExtraSpec,
} from './flavors.ts';
import { createKeypair, deleteKeypair, listKeypairs, showKeypair } from './keypairs.ts';
import {
  deleteQuotaSet,
  showQuotaClassSet,
  showQuotaSet,
  showQuotaSetDefaults,
  showQuotaSetDetail,
  updateQuotaClassSet,
  updateQuotaSet,
} from './quotas.ts';
import { showLimits } from './limits.ts';
import { createServerGroup, deleteServerGroup, listServerGroups, showServerGroup } from './server_groups.ts';
import {
  aggregateAction,
  createAggregate,
  deleteAggregate,
  listAggregates,
  showAggregate,
  updateAggregate,
} from './aggregates.ts';
import { listAvailabilityZones, listAvailabilityZonesDetail } from './availability_zones.ts';
import {
  deleteService,
  hostPowerAction,
  listComputeServices,
  listHosts,
  showHost,
  updateHost,
  updateService,
} from './services.ts';
import {
  listHypervisorServers,
  listHypervisors,
  listHypervisorsDetail,
  searchHypervisors,
  showHypervisor,
  showHypervisorStatistics,
  showHypervisorUptime,
} from './hypervisors.ts';
import { listInstanceUsageAudit, listTenantUsage, showInstanceUsageAudit, showTenantUsage } from './usage.ts';
import {
  createImageMetadata,
  deleteImage,
  deleteImageMetadataItem,
  listImageMetadata,
  listImages,
  listImagesDetail,
  replaceImageMetadata,
  showImage,
  showImageMetadata,
  updateImageMetadataItem,
  type ImageParams,
} from './images.ts';
import { listExtensions, showExtension } from './extensions.ts';
import {
  createSecurityGroup,
  createSecurityGroupRule,
  deleteSecurityGroup,
  deleteSecurityGroupRule,
  listSecurityGroups,
  listServerSecurityGroups,
  showSecurityGroup,
  updateSecurityGroup,
  type SecurityGroupParams,
} from './security_groups.ts';
import {
  addFloatingIp,
  createFloatingIp,
  deleteFloatingIp,
  listFloatingIpPools,
  listFloatingIps,
  removeFloatingIp,
  showFloatingIp,
  type FloatingIpParams,
} from './floating_ips.ts';
import {
  addFixedIp,
  listNetworks,
  listTenantNetworks,
  removeFixedIp,
  showNetwork,
  showTenantNetwork,
  type NetworkParams,
} from './networks.ts';
import { attachInterface, detachInterface, type InterfaceParams, listInterfaces, showInterface } from './interfaces.ts';
import {
  attachVolume,
  detachVolume,
  listVolumeAttachments,
  showVolumeAttachment,
  updateVolumeAttachment,
} from './volume_attachments.ts';
import {
  createSnapshot,
  createVolume,
  deleteSnapshot,
  deleteVolume,
  listSnapshots,
  listVolumes,
  showSnapshot,
  showVolume,
} from './volumes.ts';
import {
  abortMigration,
  forceCompleteMigration,
  listMigrations,
  listServerMigrations,
  type MigrationParams,
  showServerMigration,
} from './migrations.ts';

type Id = { Params: { id: string } };
type ActionId = { Params: { id: string; rid: string } };

export function registerRoutes(app: FastifyInstance, svc: ComputeService) {
  // ---- servers (servers.ts) ----
  app.post('/servers', (req, reply) => createServer(svc, req, reply));
  app.get('/servers', (req) => listServers(svc, req, false));
  app.get('/servers/detail', (req) => listServers(svc, req, true));
  app.get<Id>('/servers/:id', (req) => showServer(svc, req));
  app.put<Id>('/servers/:id', (req) => updateServer(svc, req));
  app.delete<Id>('/servers/:id', (req, reply) => deleteServerRequest(svc, req, reply));
  const actions = serverActions(svc);
  app.post<Id>('/servers/:id/action', (req, reply) => serverAction(svc, actions, req, reply, req.params.id));
  app.get<Id>('/servers/:id/os-instance-actions', (req) => listInstanceActions(svc, req));
  app.get<ActionId>('/servers/:id/os-instance-actions/:rid', (req) => showInstanceAction(svc, req));

  // ---- metadata, tags (2.26), addresses (server_details.ts), password (server_actions.ts) ----
  app.get<ServerSub>('/servers/:id/metadata', (req) => listServerMetadata(svc, req));
  app.post<ServerSub>('/servers/:id/metadata', (req) => createServerMetadata(svc, req));
  app.put<ServerSub>('/servers/:id/metadata', (req) => replaceServerMetadata(svc, req));
  app.get<ServerSub>('/servers/:id/metadata/:key', (req) => showServerMetadata(svc, req));
  app.put<ServerSub>('/servers/:id/metadata/:key', (req) => updateServerMetadataItem(svc, req));
  app.delete<ServerSub>('/servers/:id/metadata/:key', (req, reply) => deleteServerMetadataItem(svc, req, reply));
  app.get<ServerSub>('/servers/:id/tags', (req) => listServerTags(svc, req));
  app.put<ServerSub>('/servers/:id/tags', (req) => replaceServerTags(svc, req));
  app.delete<ServerSub>('/servers/:id/tags', (req, reply) => deleteServerTags(svc, req, reply));
  app.get<ServerSub>('/servers/:id/tags/:tag', (req, reply) => checkServerTag(svc, req, reply));
  app.put<ServerSub>('/servers/:id/tags/:tag', (req, reply) => addServerTag(svc, req, reply));
  app.delete<ServerSub>('/servers/:id/tags/:tag', (req, reply) => deleteServerTag(svc, req, reply));
  app.get<ServerSub>('/servers/:id/ips', (req) => listServerIps(svc, req));
  app.get<ServerSub>('/servers/:id/ips/:network', (req) => showServerIps(svc, req));

  app.get<Id>('/servers/:id/os-server-password', (req) => showServerPassword(svc, req));
  app.delete<Id>('/servers/:id/os-server-password', (req, reply) => clearServerPassword(svc, req, reply));
  app.get<Id>('/servers/:id/diagnostics', (req) => showDiagnostics(svc, req)); // server_console.ts
  // events from the network and block storage, cast to the servers' agents (server_actions.ts)
  app.post('/os-server-external-events', (req, reply) => createExternalEvents(svc, req, reply));

  // ---- consoles and topology (remote_consoles.ts) ----
  app.post<Id>('/servers/:id/remote-consoles', (req) => createRemoteConsole(svc, req));
  app.get<{ Params: { token: string } }>('/os-console-auth-tokens/:token', (req) => showConsoleAuthToken(svc, req));
  app.get<Id>('/servers/:id/topology', (req) => showServerTopology(svc, req));

  // ---- interfaces (interfaces.ts) ----
  app.get<InterfaceParams>('/servers/:id/os-interface', (req) => listInterfaces(svc, req));
  app.post<InterfaceParams>('/servers/:id/os-interface', (req) => attachInterface(svc, req));
  app.get<InterfaceParams>('/servers/:id/os-interface/:port', (req) => showInterface(svc, req));
  app.delete<InterfaceParams>('/servers/:id/os-interface/:port', (req, reply) => detachInterface(svc, req, reply));

  // ---- volume attachments (volume_attachments.ts) ----
  type VolumeAttachmentParams = { Params: { id: string; volume: string } };
  app.get<VolumeAttachmentParams>('/servers/:id/os-volume_attachments', (req) => listVolumeAttachments(svc, req));
  app.post<VolumeAttachmentParams>('/servers/:id/os-volume_attachments', (req) => attachVolume(svc, req));
  app.get<VolumeAttachmentParams>('/servers/:id/os-volume_attachments/:volume', (req) =>
    showVolumeAttachment(svc, req),
  );
  app.put<VolumeAttachmentParams>('/servers/:id/os-volume_attachments/:volume', (req, reply) =>
    updateVolumeAttachment(svc, req, reply),
  );
  app.delete<VolumeAttachmentParams>('/servers/:id/os-volume_attachments/:volume', (req, reply) =>
    detachVolume(svc, req, reply),
  );

  // ---- the volume and snapshot proxies, up to 2.35 (volumes.ts) ----
  app.get('/os-volumes', (req) => listVolumes(svc, req, false));
  app.get('/os-volumes/detail', (req) => listVolumes(svc, req, true));
  app.post('/os-volumes', (req, reply) => createVolume(svc, req, reply));
  app.get<Id>('/os-volumes/:id', (req) => showVolume(svc, req));
  app.delete<Id>('/os-volumes/:id', (req, reply) => deleteVolume(svc, req, reply));
  app.get('/os-snapshots', (req) => listSnapshots(svc, req, false));
  app.get('/os-snapshots/detail', (req) => listSnapshots(svc, req, true));
  app.post('/os-snapshots', (req) => createSnapshot(svc, req));
  app.get<Id>('/os-snapshots/:id', (req) => showSnapshot(svc, req));
  app.delete<Id>('/os-snapshots/:id', (req, reply) => deleteSnapshot(svc, req, reply));

  // ---- migrations (migrations.ts) ----
  app.get('/os-migrations', (req) => listMigrations(svc, req));
  app.get<MigrationParams>('/servers/:id/migrations', (req) => listServerMigrations(svc, req));
  app.get<MigrationParams>('/servers/:id/migrations/:mid', (req) => showServerMigration(svc, req));
  app.post<MigrationParams>('/servers/:id/migrations/:mid/action', (req, reply) =>
    forceCompleteMigration(svc, req, reply),
  );
  app.delete<MigrationParams>('/servers/:id/migrations/:mid', (req, reply) => abortMigration(svc, req, reply));

  // ---- the rest of the API, by family ----
  // ---- security groups, a proxy up to 2.35 (security_groups.ts) ----
  app.get('/os-security-groups', (req) => listSecurityGroups(svc, req));
  app.get<SecurityGroupParams>('/os-security-groups/:id', (req) => showSecurityGroup(svc, req));
  app.post('/os-security-groups', (req) => createSecurityGroup(svc, req));
  app.put<SecurityGroupParams>('/os-security-groups/:id', (req) => updateSecurityGroup(svc, req));
  app.delete<SecurityGroupParams>('/os-security-groups/:id', (req, reply) => deleteSecurityGroup(svc, req, reply));
  app.post('/os-security-group-rules', (req) => createSecurityGroupRule(svc, req));
  app.delete<SecurityGroupParams>('/os-security-group-rules/:id', (req, reply) =>
    deleteSecurityGroupRule(svc, req, reply),
  );
  app.get<SecurityGroupParams>('/servers/:id/os-security-groups', (req) => listServerSecurityGroups(svc, req));
  // gone with nova-network: webob's 410
  goneRoutes(app, [
    ['GET', '/os-security-group-default-rules'],
    ['POST', '/os-security-group-default-rules'],
    ['GET', '/os-security-group-default-rules/:id'],
    ['DELETE', '/os-security-group-default-rules/:id'],
  ]);

  // ---- flavors, extra specs, access (flavors.ts) ----
  app.get('/flavors', (req) => listFlavors(svc, req));
  app.get('/flavors/detail', (req) => listFlavorsDetail(svc, req));
  app.get<{ Params: { id: string } }>('/flavors/:id', (req) => showFlavor(svc, req));
  app.post('/flavors', (req, reply) => createFlavor(svc, req, reply));
  app.put<{ Params: { id: string } }>('/flavors/:id', (req) => updateFlavor(svc, req));
  app.delete<{ Params: { id: string } }>('/flavors/:id', (req, reply) => deleteFlavor(svc, req, reply));
  app.get<{ Params: { id: string } }>('/flavors/:id/os-extra_specs', (req) => listFlavorExtraSpecs(svc, req));
  app.post<{ Params: { id: string } }>('/flavors/:id/os-extra_specs', (req) => createFlavorExtraSpecs(svc, req));
  app.put<{ Params: { id: string; key: string } }>('/flavors/:id/os-extra_specs/:key', (req) =>
    updateFlavorExtraSpec(svc, req),
  );
  app.get<{ Params: { id: string; key: string } }>('/flavors/:id/os-extra_specs/:key', (req) =>
    showFlavorExtraSpec(svc, req),
  );
  app.delete<{ Params: { id: string; key: string } }>('/flavors/:id/os-extra_specs/:key', (req, reply) =>
    deleteFlavorExtraSpec(svc, req, reply),
  );
  app.get<{ Params: { id: string } }>('/flavors/:id/os-flavor-access', (req) => listFlavorAccess(svc, req));
  app.post<{ Params: { id: string } }>('/flavors/:id/action', (req) => flavorAction(svc, req));

  // ---- key pairs (keypairs.ts) ----
  app.post('/os-keypairs', (req, reply) => createKeypair(svc, req, reply));
  app.get('/os-keypairs', (req) => listKeypairs(svc, req));
  app.get<{ Params: { name: string } }>('/os-keypairs/:name', (req) => showKeypair(svc, req));
  app.delete<{ Params: { name: string } }>('/os-keypairs/:name', (req, reply) => deleteKeypair(svc, req, reply));

  // ---- quota sets and quota class sets (quotas.ts) ----
  app.get<{ Params: { id: string } }>('/os-quota-sets/:id', (req) => showQuotaSet(svc, req));
  app.get<{ Params: { id: string } }>('/os-quota-sets/:id/detail', (req) => showQuotaSetDetail(svc, req));
  app.get<{ Params: { id: string } }>('/os-quota-sets/:id/defaults', (req) => showQuotaSetDefaults(svc, req));
  app.put<{ Params: { id: string } }>('/os-quota-sets/:id', (req) => updateQuotaSet(svc, req));
  app.delete<{ Params: { id: string } }>('/os-quota-sets/:id', (req, reply) => deleteQuotaSet(svc, req, reply));
  app.get<{ Params: { id: string } }>('/os-quota-class-sets/:id', (req) => showQuotaClassSet(svc, req));
  app.put<{ Params: { id: string } }>('/os-quota-class-sets/:id', (req) => updateQuotaClassSet(svc, req));

  // ---- limits (limits.ts) ----
  app.get('/limits', (req) => showLimits(svc, req));

  // ---- server groups (server_groups.ts) ----
  app.get('/os-server-groups', (req) => listServerGroups(svc, req));
  app.get<{ Params: { id: string } }>('/os-server-groups/:id', (req) => showServerGroup(svc, req));
  app.delete<{ Params: { id: string } }>('/os-server-groups/:id', (req, reply) => deleteServerGroup(svc, req, reply));
  app.post('/os-server-groups', (req) => createServerGroup(svc, req));

  // ---- host aggregates (aggregates.ts) ----
  app.get('/os-aggregates', (req) => listAggregates(svc, req));
  app.post('/os-aggregates', (req) => createAggregate(svc, req));
  app.get<{ Params: { id: string } }>('/os-aggregates/:id', (req) => showAggregate(svc, req));
  app.put<{ Params: { id: string } }>('/os-aggregates/:id', (req) => updateAggregate(svc, req));
  app.delete<{ Params: { id: string } }>('/os-aggregates/:id', (req, reply) => deleteAggregate(svc, req, reply));
  app.post<{ Params: { id: string } }>('/os-aggregates/:id/action', (req) => aggregateAction(svc, req));

  // ---- availability zones (availability_zones.ts) ----
  app.get('/os-availability-zone', (req) => listAvailabilityZones(svc, req));
  app.get('/os-availability-zone/detail', (req) => listAvailabilityZonesDetail(svc, req));

  // ---- compute services (services.ts) ----
  app.get('/os-services', (req) => listComputeServices(svc, req));
  app.put<{ Params: { id: string } }>('/os-services/:id', (req) => updateService(svc, req));
  app.delete<{ Params: { id: string } }>('/os-services/:id', (req, reply) => deleteService(svc, req, reply));

  // ---- os-hosts, up to 2.42 (services.ts) ----
  app.get('/os-hosts', (req) => listHosts(svc, req));
  app.get<{ Params: { host: string } }>('/os-hosts/:host', (req) => showHost(svc, req));
  app.put<{ Params: { host: string } }>('/os-hosts/:host', (req) => updateHost(svc, req));
  for (const action of ['startup', 'shutdown', 'reboot'] as const)
    app.get<{ Params: { host: string } }>(`/os-hosts/:host/${action}`, (req) => hostPowerAction(svc, req, action));

  // ---- hypervisors (hypervisors.ts) ----
  app.get('/os-hypervisors', (req) => listHypervisors(svc, req));
  app.get('/os-hypervisors/detail', (req) => listHypervisorsDetail(svc, req));
  app.get('/os-hypervisors/statistics', (req) => showHypervisorStatistics(svc, req));
  app.get<{ Params: { id: string } }>('/os-hypervisors/:id', (req) => showHypervisor(svc, req));
  app.get<{ Params: { id: string } }>('/os-hypervisors/:id/uptime', (req) => showHypervisorUptime(svc, req));
  app.get<{ Params: { pattern: string } }>('/os-hypervisors/:pattern/search', (req) => searchHypervisors(svc, req));
  app.get<{ Params: { pattern: string } }>('/os-hypervisors/:pattern/servers', (req) =>
    listHypervisorServers(svc, req),
  );

  // ---- usage (usage.ts) ----
  app.get('/os-simple-tenant-usage', (req) => listTenantUsage(svc, req));
  app.get<{ Params: { id: string } }>('/os-simple-tenant-usage/:id', (req) => showTenantUsage(svc, req));

  // ---- instance usage audit log (usage.ts) ----
  app.get('/os-instance_usage_audit_log', (req) => listInstanceUsageAudit(svc, req));
  app.get<{ Params: { before: string } }>('/os-instance_usage_audit_log/:before', (req) =>
    showInstanceUsageAudit(svc, req),
  );

  // ---- the image proxy, up to 2.35 (metadata to 2.38) (images.ts) ----
  app.get('/images', (req) => listImages(svc, req));
  app.get('/images/detail', (req) => listImagesDetail(svc, req));
  app.get<ImageParams>('/images/:id', (req) => showImage(svc, req));
  app.delete<ImageParams>('/images/:id', (req, reply) => deleteImage(svc, req, reply));
  app.get<ImageParams>('/images/:id/metadata', (req) => listImageMetadata(svc, req));
  app.get<ImageParams>('/images/:id/metadata/:key', (req) => showImageMetadata(svc, req));
  app.post<ImageParams>('/images/:id/metadata', (req) => createImageMetadata(svc, req));
  app.put<ImageParams>('/images/:id/metadata', (req) => replaceImageMetadata(svc, req));
  app.put<ImageParams>('/images/:id/metadata/:key', (req) => updateImageMetadataItem(svc, req));
  app.delete<ImageParams>('/images/:id/metadata/:key', (req, reply) => deleteImageMetadataItem(svc, req, reply));

  // ---- v2.1's extension list (extensions.ts) ----
  app.get('/extensions', (req) => listExtensions(svc, req));
  app.get<{ Params: { alias: string } }>('/extensions/:alias', (req) => showExtension(svc, req));

  // ---- floating IPs, a proxy up to 2.35 (floating_ips.ts) ----
  app.get('/os-floating-ips', (req) => listFloatingIps(svc, req));
  app.get<FloatingIpParams>('/os-floating-ips/:id', (req) => showFloatingIp(svc, req));
  app.post('/os-floating-ips', (req) => createFloatingIp(svc, req));
  app.delete<FloatingIpParams>('/os-floating-ips/:id', (req, reply) => deleteFloatingIp(svc, req, reply));
  app.get('/os-floating-ip-pools', (req) => listFloatingIpPools(svc, req));
  // gone with nova-network: webob's 410
  goneRoutes(app, [
    ['GET', '/os-floating-ips-bulk'],
    ['POST', '/os-floating-ips-bulk'],
    ['GET', '/os-floating-ips-bulk/:id'],
    ['PUT', '/os-floating-ips-bulk/:id'],
    ['GET', '/os-floating-ip-dns'],
    ['PUT', '/os-floating-ip-dns/:id'],
    ['DELETE', '/os-floating-ip-dns/:id'],
    ['GET', '/os-floating-ip-dns/:domain/entries/:id'],
    ['PUT', '/os-floating-ip-dns/:domain/entries/:id'],
    ['DELETE', '/os-floating-ip-dns/:domain/entries/:id'],
  ]);

  // ---- networks, a proxy up to 2.35 (networks.ts) ----
  app.get('/os-networks', (req) => listNetworks(svc, req));
  app.get<NetworkParams>('/os-networks/:id', (req) => showNetwork(svc, req));
  app.get('/os-tenant-networks', (req) => listTenantNetworks(svc, req));
  app.get<NetworkParams>('/os-tenant-networks/:id', (req) => showTenantNetwork(svc, req));
  // gone with nova-network: webob's 410
  goneRoutes(app, [
    ['POST', '/os-networks'],
    ['POST', '/os-networks/add'],
    ['DELETE', '/os-networks/:id'],
    ['POST', '/os-networks/:id/action'],
    ['POST', '/os-tenant-networks'],
    ['DELETE', '/os-tenant-networks/:id'],
    ['GET', '/os-fixed-ips/:id'],
    ['POST', '/os-fixed-ips/:id/action'],
    ['GET', '/os-fping'],
    ['GET', '/os-fping/:id'],
    ['GET', '/servers/:id/os-virtual-interfaces'],
  ]);
}

/**
 * POST /servers/{id}/action: the body's one key names the action, as nova's wsgi dispatch
 * (`@wsgi.action('...')`) does. Every action of compute, and the module that handles it.
 */
function serverActions(svc: ComputeService): Record<string, ServerAction> {
  const bound =
    (
      f: (svc: ComputeService, req: FastifyRequest, reply: FastifyReply, id: string) => Promise<unknown>,
    ): ServerAction =>
    (req, reply, id) =>
      f(svc, req, reply, id);
  const guest = guestActions(svc);
  const moves = moveActions(svc);
  const console =
    (name: Parameters<typeof legacyConsole>[3]): ServerAction =>
    (req, _reply, id) =>
      legacyConsole(svc, req, id, name);
  return {
    // power and state (servers.ts)
    'os-start': bound(powerAction),
    'os-stop': bound(powerAction),
    reboot: bound(powerAction),
    pause: bound(powerAction),
    unpause: bound(powerAction),
    suspend: bound(powerAction),
    resume: bound(powerAction),
    lock: bound(lockServer),
    unlock: bound(unlockServer),
    'os-resetState': bound(resetState),
    // rebuild and security groups (server_actions.ts)
    rebuild: bound(rebuild),
    addSecurityGroup: bound(addSecurityGroup),
    removeSecurityGroup: bound(removeSecurityGroup),
    // images, shelve, rescue, password, crash dump, deferred delete (server_shelve.ts)
    createImage: guest.createImage,
    createBackup: guest.createBackup,
    shelve: guest.shelve,
    shelveOffload: guest.shelveOffload,
    unshelve: guest.unshelve,
    rescue: guest.rescue,
    unrescue: guest.unrescue,
    changePassword: guest.changePassword,
    trigger_crash_dump: guest.trigger_crash_dump,
    restore: guest.restore,
    forceDelete: guest.forceDelete,
    // moves (server_moves.ts)
    resize: moves.resize,
    confirmResize: moves.confirmResize,
    revertResize: moves.revertResize,
    migrate: moves.migrate,
    'os-migrateLive': moves['os-migrateLive'],
    evacuate: moves.evacuate,
    // multinic and floating IPs, up to 2.43 (networks.ts, floating_ips.ts)
    addFixedIp: bound(addFixedIp),
    removeFixedIp: bound(removeFixedIp),
    addFloatingIp: bound(addFloatingIp),
    removeFloatingIp: bound(removeFloatingIp),
    // consoles (server_console.ts, remote_consoles.ts)
    'os-getConsoleOutput': (req, _reply, id) => getConsoleOutput(svc, req, id),
    'os-getVNCConsole': console('os-getVNCConsole'),
    'os-getSPICEConsole': console('os-getSPICEConsole'),
    'os-getRDPConsole': console('os-getRDPConsole'),
    'os-getSerialConsole': console('os-getSerialConsole'),
  };
}

async function serverAction(
  svc: ComputeService,
  actions: Record<string, ServerAction>,
  req: FastifyRequest,
  reply: FastifyReply,
  id: string,
) {
  const body = req.body as Record<string, unknown> | undefined;
  if (!body || typeof body !== 'object' || Array.isArray(body) || Object.keys(body).length !== 1) {
    req.authorized = true;
    throw badRequest('Malformed request body');
  }
  const name = Object.keys(body)[0]!;
  const action = Object.hasOwn(actions, name) ? actions[name] : undefined;
  if (action) return action(req, reply, id);
  req.authorized = true;
  await getServer(svc, req, id);
  throw badRequest(`There is no such action: ${name}`);
}
