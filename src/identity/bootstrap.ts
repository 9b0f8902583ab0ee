// `stratus bootstrap` (keystone-manage bootstrap): the Default domain, the admin project and
// user, roles admin ⇒ member ⇒ reader (plus service), admin on the project and the system,
// the service project with a user per service (system reader too), the region and the catalog. Idempotent.
import type { IdentityService } from './service.ts';
import { DEFAULT_DOMAIN } from './backend.ts';

export interface CatalogService {
  type: string;
  name: string;
  description: string;
  url: string;
}

export interface BootstrapOptions {
  adminPassword: string;
  region: string;
  services: CatalogService[];
  /** Password of the per-service users (nova, neutron, ...). */
  servicePassword: string;
  /** Reset the admin password when the admin user exists (keystone-manage bootstrap does). */
  resetAdminPassword?: boolean;
  /** Service users that are also system admins (nova, when placement enforces its system scope). */
  systemAdmins?: string[];
  /**
   * Service users without a catalog entry of their own (ceilometer, for the metric service's
   * collector), made like the others, with extra roles on the service project (ResellerAdmin).
   */
  extraUsers?: Array<{ name: string; roles?: string[] }>;
}

export async function bootstrap(s: IdentityService, o: BootstrapOptions) {
  const domain =
    (await s.resource.find(DEFAULT_DOMAIN)) ??
    (await s.resource.createDomain({ id: DEFAULT_DOMAIN, name: 'Default', description: 'The default domain' }));
  const project = async (name: string) =>
    (await s.resource.findProjectByName(name, domain.id)) ??
    s.resource.createProject({ name, domain_id: domain.id, description: `Bootstrap project for ${name}` }, domain.id);
  const adminProject = await project('admin');
  const serviceProject = await project('service');
  const role = async (name: string) =>
    (await s.assignment.findRoleByName(name)) ?? s.assignment.createRole({ name, extra: {} });
  const reader = await role('reader');
  const member = await role('member');
  const admin = await role('admin');
  const service = await role('service');
  // Swift's keystoneauth gives ResellerAdmin every account (DevStack creates it with Swift).
  await role('ResellerAdmin');
  await s.assignment.createImplied(admin.id, member.id);
  await s.assignment.createImplied(member.id, reader.id);

  let adminUser = await s.users.findByName('admin', domain.id);
  if (!adminUser)
    adminUser = await s.users.create({
      name: 'admin',
      domain_id: domain.id,
      password: o.adminPassword,
      options: {},
      extra: {},
    });
  else if (o.resetAdminPassword) await s.users.update(adminUser.id, { password: o.adminPassword, enabled: true });
  await s.assignment.grant({
    type: 'UserProject',
    actor_id: adminUser.id,
    target_id: adminProject.id,
    role_id: admin.id,
    inherited: false,
  });
  await s.assignment.grant({
    type: 'UserSystem',
    actor_id: adminUser.id,
    target_id: 'system',
    role_id: admin.id,
    inherited: false,
  });

  const serviceUsers = [
    ...o.services.filter((svc) => svc.type !== 'identity').map((svc) => ({ name: svc.name, roles: [] as string[] })),
    ...(o.extraUsers ?? []).map((u) => ({ name: u.name, roles: u.roles ?? [] })),
  ];
  for (const svc of serviceUsers) {
    let u = await s.users.findByName(svc.name, domain.id);
    if (!u)
      u = await s.users.create({
        name: svc.name,
        domain_id: domain.id,
        password: o.servicePassword,
        options: { ignore_password_expiry: true, ignore_lockout_failure_attempts: true },
        extra: {},
      });
    await s.assignment.grant({
      type: 'UserProject',
      actor_id: u.id,
      target_id: serviceProject.id,
      role_id: admin.id,
      inherited: false,
    });
    await s.assignment.grant({
      type: 'UserProject',
      actor_id: u.id,
      target_id: serviceProject.id,
      role_id: service.id,
      inherited: false,
    });
    // System reader, as DevStack grants services that read Keystone's unified limits (oslo.limit);
    // system admin for those that write to a system-scoped API (nova to placement with secure RBAC).
    await s.assignment.grant({
      type: 'UserSystem',
      actor_id: u.id,
      target_id: 'system',
      role_id: o.systemAdmins?.includes(svc.name) ? admin.id : reader.id,
      inherited: false,
    });
    for (const extra of svc.roles)
      await s.assignment.grant({
        type: 'UserProject',
        actor_id: u.id,
        target_id: serviceProject.id,
        role_id: (await role(extra)).id,
        inherited: false,
      });
  }

  // Heat's stack domain, as DevStack makes it when orchestration runs: the domain `heat`, its
  // admin `heat_domain_admin` (the service password, admin on the domain) and the role
  // `heat_stack_user` given to the per-stack users a guest signals with.
  if (o.services.some((svc) => svc.type === 'orchestration')) {
    await role('heat_stack_user');
    const heat =
      (await s.resource.findDomainByName('heat')) ??
      (await s.resource.createDomain({ name: 'heat', description: 'Owns users and projects created by heat' }));
    let heatAdmin = await s.users.findByName('heat_domain_admin', heat.id);
    if (!heatAdmin)
      heatAdmin = await s.users.create({
        name: 'heat_domain_admin',
        domain_id: heat.id,
        password: o.servicePassword,
        options: { ignore_password_expiry: true, ignore_lockout_failure_attempts: true },
        extra: {},
      });
    await s.assignment.grant({
      type: 'UserDomain',
      actor_id: heatAdmin.id,
      target_id: heat.id,
      role_id: admin.id,
      inherited: false,
    });
  }

  if (!(await s.catalog.listRegions()).some((r) => r.id === o.region))
    await s.catalog.createRegion({ id: o.region, description: '', extra: {} });
  for (const svc of o.services) {
    let entry = (await s.catalog.listServices({ type: svc.type })).find((x) => x.extra.name === svc.name);
    if (!entry)
      entry = await s.catalog.createService({
        type: svc.type,
        extra: { name: svc.name, description: svc.description },
      });
    const eps = await s.catalog.listEndpoints({ serviceId: entry.id });
    for (const iface of ['public', 'internal', 'admin']) {
      const ep = eps.find((e) => e.interface === iface && e.region_id === o.region);
      if (!ep)
        await s.catalog.createEndpoint({
          service_id: entry.id,
          interface: iface,
          region_id: o.region,
          url: svc.url,
          extra: {},
        });
      else if (ep.url !== svc.url) await s.catalog.updateEndpoint(ep.id, { url: svc.url });
    }
  }
  return { domain, adminProject, adminUser };
}
