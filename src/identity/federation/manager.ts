// OS-FEDERATION's backend (keystone/federation/core.py + backends/sql.py): identity providers with
// their remote ids and domain, mappings, protocols, service providers; and the `mapped` method
// (keystone/auth/plugins/mapped.py): an assertion → the mapping of its IdP's protocol → a shadow user
// (federated_user), its mapped groups and auto-provisioned projects.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Selectable } from 'kysely';
import { ApiError, badRequest } from '../../core/errors.ts';
import { bool, int } from '../../core/db.ts';
import { isUniqueViolation } from '../../core/db.ts';
import type { IdentityService } from '../service.ts';
import { notFound, storeConflict } from '../backend.ts';
import type { User } from '../users.ts';
import type { Project } from '../resource.ts';
import type { IdentityProviderTable, ServiceProviderTable } from './db.ts';
import { processRules, validateMapping, type DomainRef, type MappingRule } from './mapping.ts';
import { federationOptions, type FederationOptions } from './config.ts';
import {
  ecpEnvelope,
  ensureSigningMaterial,
  idpMetadata,
  samlResponse,
  signedAssertion,
  type SigningMaterial,
  type VerifiedAssertion,
  verifyAssertion,
} from './saml.ts';

/** What of a validated token an assertion states (the token provider's TokenModel has it). */
export interface SamlToken {
  user: { id: string; name: string };
  userDomain: { name: string };
  project?: { name: string };
  projectDomain?: { name: string };
  roles: Array<{ name: string }>;
  expiresAt: Date;
  federated?: { groupIds: string[] };
}

/** The session cookie the ECP consumer sets (Shibboleth's is _shibsession_<hash>). */
export const SAML_SESSION_COOKIE = '_shibsession_stratus';

export interface IdentityProvider {
  id: string;
  enabled: boolean;
  description: string | null;
  domain_id: string;
  authorization_ttl: number | null;
  remote_ids: string[];
}
export interface Mapping {
  id: string;
  rules: MappingRule[];
  schema_version: string;
}
export interface Protocol {
  id: string;
  idp_id: string;
  mapping_id: string;
  remote_id_attribute: string | null;
}
export interface ServiceProvider {
  id: string;
  enabled: boolean;
  description: string | null;
  auth_url: string;
  sp_url: string;
  relay_state_prefix: string;
}

/** The outcome of a federated authentication: who, and what goes in the token's OS-FEDERATION. */
export interface MappedIdentity {
  user: User;
  groupIds: string[];
  idpId: string;
  protocolId: string;
}

/** The request as the `mapped` method sees it: the peer address and the headers the proxy set. */
export interface AuthEnv {
  ip?: string;
  headers?: Record<string, string | string[] | undefined>;
}

const unauthorized = (msg = 'The request you have made requires authentication.') =>
  new ApiError(401, msg, 'Unauthorized');

type TokenServiceProvider = { id: string; auth_url: string; sp_url: string };

export class FederationManager {
  readonly options: FederationOptions;
  constructor(private s: IdentityService) {
    this.options = federationOptions(s.config);
    if (s.users) s.users.defaultAuthorizationTtl = this.options.defaultAuthorizationTtl;
  }
  private get db() {
    return this.s.db;
  }

  // ---- identity providers ----

  private async toIdp(r: Selectable<IdentityProviderTable>): Promise<IdentityProvider> {
    const remote = await this.db.selectFrom('idp_remote_id').select('remote_id').where('idp_id', '=', r.id).execute();
    return {
      id: r.id,
      enabled: bool(r.enabled),
      description: r.description,
      domain_id: r.domain_id,
      authorization_ttl: r.authorization_ttl,
      remote_ids: remote.map((x) => x.remote_id).sort(),
    };
  }

  async findIdp(id: string) {
    const r = await this.db.selectFrom('identity_provider').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? this.toIdp(r) : undefined;
  }
  async getIdp(id: string): Promise<IdentityProvider> {
    const idp = await this.findIdp(id);
    if (!idp) throw notFound('Identity Provider', id, 'IdentityProviderNotFound');
    return idp;
  }
  async listIdps(f: { id?: string; enabled?: boolean } = {}): Promise<IdentityProvider[]> {
    let q = this.db.selectFrom('identity_provider').selectAll();
    if (f.id !== undefined) q = q.where('id', '=', f.id);
    if (f.enabled !== undefined) q = q.where('enabled', '=', int(f.enabled));
    return Promise.all((await q.orderBy('id').execute()).map((r) => this.toIdp(r)));
  }

  private async assertRemoteIdsFree(remoteIds: string[], idpId: string) {
    if (!remoteIds.length) return;
    const taken = await this.db
      .selectFrom('idp_remote_id')
      .selectAll()
      .where('remote_id', 'in', remoteIds)
      .where('idp_id', '!=', idpId)
      .executeTakeFirst();
    if (taken) throw storeConflict('identity_provider', `Duplicate remote ID: ${taken.remote_id}`);
  }

  async createIdp(
    id: string,
    body: {
      enabled?: boolean;
      description?: string | null;
      remote_ids?: string[] | null;
      domain_id?: string | null;
      authorization_ttl?: number | null;
    },
  ): Promise<IdentityProvider> {
    if (await this.findIdp(id)) throw storeConflict('identity_provider', `Duplicate entry found with ID ${id}`);
    const remoteIds = [...new Set(body.remote_ids ?? [])];
    await this.assertRemoteIdsFree(remoteIds, id);
    let domainId = body.domain_id ?? undefined;
    if (domainId) {
      const d = await this.s.resource.find(domainId);
      if (!d || !d.is_domain) throw notFound('domain', domainId);
      const owner = await this.db
        .selectFrom('identity_provider')
        .select('id')
        .where('domain_id', '=', domainId)
        .executeTakeFirst();
      if (owner)
        throw storeConflict('identity_provider', `Domain ${domainId} is already used by identity provider ${owner.id}`);
    } else {
      // Keystone auto-creates a domain named after the provider for its federated users.
      const d = await this.s.resource.createDomain({
        name: id,
        description: 'Auto generated federated domain',
        enabled: true,
      });
      domainId = d.id;
    }
    try {
      await this.db.transaction().execute(async (tx) => {
        await tx
          .insertInto('identity_provider')
          .values({
            id,
            enabled: int(body.enabled ?? false),
            description: body.description ?? null,
            domain_id: domainId!,
            authorization_ttl: body.authorization_ttl ?? null,
          })
          .execute();
        for (const remote_id of remoteIds)
          await tx.insertInto('idp_remote_id').values({ idp_id: id, remote_id }).execute();
      });
    } catch (e) {
      if (isUniqueViolation(e)) throw storeConflict('identity_provider', `Duplicate entry found with ID ${id}`);
      throw e;
    }
    this.s.backend.notify('OS-FEDERATION:identity_provider', 'created', id);
    return this.getIdp(id);
  }

  async updateIdp(
    id: string,
    patch: {
      enabled?: boolean;
      description?: string | null;
      remote_ids?: string[] | null;
      authorization_ttl?: number | null;
    },
  ): Promise<IdentityProvider> {
    await this.getIdp(id);
    const remoteIds = patch.remote_ids === undefined ? undefined : [...new Set(patch.remote_ids ?? [])];
    if (remoteIds) await this.assertRemoteIdsFree(remoteIds, id);
    await this.db.transaction().execute(async (tx) => {
      const set: Partial<IdentityProviderTable> = {};
      if (patch.enabled !== undefined) set.enabled = int(patch.enabled);
      if (patch.description !== undefined) set.description = patch.description;
      if (patch.authorization_ttl !== undefined) set.authorization_ttl = patch.authorization_ttl;
      if (Object.keys(set).length) await tx.updateTable('identity_provider').set(set).where('id', '=', id).execute();
      if (remoteIds) {
        await tx.deleteFrom('idp_remote_id').where('idp_id', '=', id).execute();
        for (const remote_id of remoteIds)
          await tx.insertInto('idp_remote_id').values({ idp_id: id, remote_id }).execute();
      }
    });
    // A disabled provider's tokens stop validating.
    this.s.backend.changed();
    this.s.backend.notify('OS-FEDERATION:identity_provider', 'updated', id);
    return this.getIdp(id);
  }

  /** Deletes the provider, its protocols and remote ids, and its shadow users (as Keystone does). */
  async deleteIdp(id: string) {
    await this.getIdp(id);
    const shadows = await this.db.selectFrom('federated_user').select('user_id').where('idp_id', '=', id).execute();
    await this.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('federation_protocol').where('idp_id', '=', id).execute();
      await tx.deleteFrom('idp_remote_id').where('idp_id', '=', id).execute();
      await tx.deleteFrom('federated_user').where('idp_id', '=', id).execute();
      await tx.deleteFrom('identity_provider').where('id', '=', id).execute();
    });
    for (const { user_id } of shadows) {
      const stillShadowed = await this.db
        .selectFrom('federated_user')
        .select('user_id')
        .where('user_id', '=', user_id)
        .executeTakeFirst();
      if (!stillShadowed && (await this.s.users.find(user_id))) await this.s.users.delete(user_id);
    }
    this.s.backend.changed();
    this.s.backend.notify('OS-FEDERATION:identity_provider', 'deleted', id);
  }

  // ---- mappings ----

  async findMapping(id: string): Promise<Mapping | undefined> {
    const r = await this.db.selectFrom('federation_mapping').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? { id: r.id, rules: JSON.parse(r.rules) as MappingRule[], schema_version: r.schema_version } : undefined;
  }
  async getMapping(id: string): Promise<Mapping> {
    const m = await this.findMapping(id);
    if (!m) throw notFound('Mapping', id, 'MappingNotFound');
    return m;
  }
  async listMappings(): Promise<Mapping[]> {
    const rows = await this.db.selectFrom('federation_mapping').selectAll().orderBy('id').execute();
    return rows.map((r) => ({
      id: r.id,
      rules: JSON.parse(r.rules) as MappingRule[],
      schema_version: r.schema_version,
    }));
  }
  async createMapping(id: string, body: unknown): Promise<Mapping> {
    const m = validateMapping(body);
    try {
      await this.db
        .insertInto('federation_mapping')
        .values({ id, rules: JSON.stringify(m.rules), schema_version: m.schema_version ?? '1.0' })
        .execute();
    } catch (e) {
      if (isUniqueViolation(e)) throw storeConflict('mapping', `Duplicate entry found with ID ${id}`);
      throw e;
    }
    this.s.backend.notify('OS-FEDERATION:mapping', 'created', id);
    return this.getMapping(id);
  }
  async updateMapping(id: string, body: unknown): Promise<Mapping> {
    const cur = await this.getMapping(id);
    const m = validateMapping(body);
    await this.db
      .updateTable('federation_mapping')
      .set({ rules: JSON.stringify(m.rules), schema_version: m.schema_version ?? cur.schema_version })
      .where('id', '=', id)
      .execute();
    this.s.backend.notify('OS-FEDERATION:mapping', 'updated', id);
    return this.getMapping(id);
  }
  async deleteMapping(id: string) {
    await this.getMapping(id);
    await this.db.deleteFrom('federation_mapping').where('id', '=', id).execute();
    this.s.backend.notify('OS-FEDERATION:mapping', 'deleted', id);
  }

  // ---- protocols ----

  async findProtocol(idpId: string, id: string): Promise<Protocol | undefined> {
    return this.db
      .selectFrom('federation_protocol')
      .selectAll()
      .where('idp_id', '=', idpId)
      .where('id', '=', id)
      .executeTakeFirst();
  }
  async getProtocol(idpId: string, id: string): Promise<Protocol> {
    await this.getIdp(idpId);
    const p = await this.findProtocol(idpId, id);
    if (!p) throw notFound('federated protocol', id, 'FederatedProtocolNotFound');
    return p;
  }
  async listProtocols(idpId: string): Promise<Protocol[]> {
    await this.getIdp(idpId);
    return this.db.selectFrom('federation_protocol').selectAll().where('idp_id', '=', idpId).orderBy('id').execute();
  }
  private async assertMapping(mappingId: string) {
    if (!(await this.findMapping(mappingId))) throw badRequest(`Invalid mapping id: ${mappingId}`, 'ValidationError');
  }
  async createProtocol(
    idpId: string,
    id: string,
    body: { mapping_id: string; remote_id_attribute?: string | null },
  ): Promise<Protocol> {
    await this.getIdp(idpId);
    await this.assertMapping(body.mapping_id);
    try {
      await this.db
        .insertInto('federation_protocol')
        .values({
          id,
          idp_id: idpId,
          mapping_id: body.mapping_id,
          remote_id_attribute: body.remote_id_attribute ?? null,
        })
        .execute();
    } catch (e) {
      if (isUniqueViolation(e)) throw storeConflict('federation_protocol', `Duplicate entry found with ID ${id}`);
      throw e;
    }
    this.s.backend.notify('OS-FEDERATION:protocol', 'created', id);
    return this.getProtocol(idpId, id);
  }
  async updateProtocol(
    idpId: string,
    id: string,
    patch: { mapping_id?: string; remote_id_attribute?: string | null },
  ): Promise<Protocol> {
    await this.getProtocol(idpId, id);
    if (patch.mapping_id !== undefined) await this.assertMapping(patch.mapping_id);
    const set: { mapping_id?: string; remote_id_attribute?: string | null } = {};
    if (patch.mapping_id !== undefined) set.mapping_id = patch.mapping_id;
    if (patch.remote_id_attribute !== undefined) set.remote_id_attribute = patch.remote_id_attribute;
    if (Object.keys(set).length)
      await this.db
        .updateTable('federation_protocol')
        .set(set)
        .where('idp_id', '=', idpId)
        .where('id', '=', id)
        .execute();
    this.s.backend.notify('OS-FEDERATION:protocol', 'updated', id);
    return this.getProtocol(idpId, id);
  }
  async deleteProtocol(idpId: string, id: string) {
    await this.getProtocol(idpId, id);
    await this.db.deleteFrom('federation_protocol').where('idp_id', '=', idpId).where('id', '=', id).execute();
    this.s.backend.changed();
    this.s.backend.notify('OS-FEDERATION:protocol', 'deleted', id);
  }

  // ---- service providers ----

  private toSp(r: Selectable<ServiceProviderTable>): ServiceProvider {
    return { ...r, enabled: bool(r.enabled) };
  }
  async getSp(id: string): Promise<ServiceProvider> {
    const r = await this.db.selectFrom('service_provider').selectAll().where('id', '=', id).executeTakeFirst();
    if (!r) throw notFound('Service Provider', id, 'ServiceProviderNotFound');
    return this.toSp(r);
  }
  async listSps(f: { id?: string; enabled?: boolean } = {}): Promise<ServiceProvider[]> {
    let q = this.db.selectFrom('service_provider').selectAll();
    if (f.id !== undefined) q = q.where('id', '=', f.id);
    if (f.enabled !== undefined) q = q.where('enabled', '=', int(f.enabled));
    return (await q.orderBy('id').execute()).map((r) => this.toSp(r));
  }
  async createSp(
    id: string,
    body: {
      auth_url: string;
      sp_url: string;
      description?: string | null;
      enabled?: boolean;
      relay_state_prefix?: string;
    },
  ): Promise<ServiceProvider> {
    try {
      await this.db
        .insertInto('service_provider')
        .values({
          id,
          auth_url: body.auth_url,
          sp_url: body.sp_url,
          description: body.description ?? null,
          enabled: int(body.enabled ?? false),
          relay_state_prefix: body.relay_state_prefix ?? this.options.relayStatePrefix,
        })
        .execute();
    } catch (e) {
      if (isUniqueViolation(e)) throw storeConflict('service_provider', `Duplicate entry found with ID ${id}`);
      throw e;
    }
    this.s.backend.changed(); // tokens list the enabled service providers
    this.s.backend.notify('OS-FEDERATION:service_provider', 'created', id);
    return this.getSp(id);
  }
  async updateSp(
    id: string,
    patch: {
      auth_url?: string;
      sp_url?: string;
      description?: string | null;
      enabled?: boolean;
      relay_state_prefix?: string;
    },
  ): Promise<ServiceProvider> {
    await this.getSp(id);
    const set: Partial<ServiceProviderTable> = {};
    for (const k of ['auth_url', 'sp_url', 'description', 'relay_state_prefix'] as const)
      if (patch[k] !== undefined) (set as Record<string, unknown>)[k] = patch[k];
    if (patch.enabled !== undefined) set.enabled = int(patch.enabled);
    if (Object.keys(set).length) await this.db.updateTable('service_provider').set(set).where('id', '=', id).execute();
    this.s.backend.changed();
    this.s.backend.notify('OS-FEDERATION:service_provider', 'updated', id);
    return this.getSp(id);
  }
  async deleteSp(id: string) {
    await this.getSp(id);
    await this.db.deleteFrom('service_provider').where('id', '=', id).execute();
    this.s.backend.changed();
    this.s.backend.notify('OS-FEDERATION:service_provider', 'deleted', id);
  }

  /**
   * The `service_providers` of a token: the enabled ones. Every token body lists them, so they are
   * read once per backend generation (every service-provider write bumps it), not once per token.
   */
  async tokenServiceProviders(): Promise<TokenServiceProvider[]> {
    const generation = this.s.backend.generation;
    if (this.tokenSps?.generation === generation) return this.tokenSps.list;
    const list = (await this.listSps({ enabled: true })).map((sp) => ({
      id: sp.id,
      auth_url: sp.auth_url,
      sp_url: sp.sp_url,
    }));
    this.tokenSps = { generation, list };
    return list;
  }
  private tokenSps?: { generation: number; list: TokenServiceProvider[] };

  // ---- the mapped method ----

  /**
   * The assertion a trusted proxy handed over: every request header, under its own (lower-case) name
   * and under its WSGI environment name (HTTP_<NAME>); `X-Remote-User` also as REMOTE_USER. Values
   * are split on ';' (Keystone's multi-valued attributes). 401 when the peer is not a trusted proxy.
   */
  async assertion(env: AuthEnv): Promise<Record<string, string[]>> {
    const session = await this.samlSession(env);
    if (session) return session;
    const ip = (env.ip ?? '').replace(/^::ffff:/, '');
    if (!this.options.trustedProxies.length || !this.options.trustedProxies.includes(ip))
      throw unauthorized('Federated authentication is only accepted through a trusted proxy.');
    const out: Record<string, string[]> = {};
    for (const [name, raw] of Object.entries(env.headers ?? {})) {
      if (raw === undefined) continue;
      const value = Array.isArray(raw) ? raw.join(';') : raw;
      const values = value.split(';');
      out[name.toLowerCase()] = values;
      out[`HTTP_${name.toUpperCase().replace(/-/g, '_')}`] = values;
      if (name.toLowerCase() === 'x-remote-user') out.REMOTE_USER = values;
    }
    return out;
  }

  private lookup(assertion: Record<string, string[]>, type: string): string[] | undefined {
    return assertion[type] ?? assertion[type.toLowerCase()];
  }

  private async domainOf(ref: DomainRef | undefined, fallback: string): Promise<Project> {
    const d = ref?.id
      ? await this.s.resource.find(ref.id)
      : ref?.name
        ? await this.s.resource.findDomainByName(ref.name)
        : await this.s.resource.find(fallback);
    if (!d || !d.is_domain) throw unauthorized(`Could not find domain: ${ref?.id ?? ref?.name ?? fallback}.`);
    return d;
  }

  /** keystone.auth.plugins.mapped: an assertion through idp/protocol → a user (shadowed if ephemeral) and groups. */
  async authenticate(idpId: string, protocolId: string, env: AuthEnv): Promise<MappedIdentity> {
    const raw = await this.assertion(env);
    const idp = await this.findIdp(idpId);
    if (!idp) throw unauthorized(`Could not find Identity Provider: ${idpId}.`);
    if (!idp.enabled) throw new ApiError(403, `Identity Provider ${idpId} is disabled.`, 'Forbidden');
    const protocol = await this.findProtocol(idpId, protocolId);
    if (!protocol) throw unauthorized(`Could not find federated protocol: ${protocolId}.`);
    const remoteIdAttr = protocol.remote_id_attribute || this.options.remoteIdAttribute;
    if (remoteIdAttr) {
      const remote = this.lookup(raw, remoteIdAttr);
      if (!remote) throw badRequest('Could not find Identity Provider identifier in environment', 'ValidationError');
      if (!remote.some((r) => idp.remote_ids.includes(r)))
        throw new ApiError(
          403,
          'Incoming identity provider identifier not included among the accepted identifiers.',
          'Forbidden',
        );
    }
    const mapping = await this.getMapping(protocol.mapping_id);
    // the rules name attributes as the environment does; look each up case-insensitively too
    const assertion = new Proxy(raw, {
      get: (t, k) => (typeof k === 'string' ? this.lookup(t, k) : undefined),
    });
    const mapped = processRules(mapping.rules, assertion);

    // groups: by id (must exist) and by name in a domain
    const groupIds = new Set<string>();
    for (const gid of mapped.groupIds) {
      if (!(await this.s.users.findGroup(gid)))
        throw unauthorized(`Group ${gid} returned by mapping ${mapping.id} was not found in the backend.`);
      groupIds.add(gid);
    }
    for (const g of mapped.groupNames) {
      const d = await this.domainOf(g.domain, idp.domain_id);
      const group = await this.s.users.findGroupByName(g.name, d.id);
      if (!group) throw unauthorized(`Group ${g.name} returned by mapping ${mapping.id} was not found in the backend.`);
      groupIds.add(group.id);
    }

    let user: User | undefined;
    const u = mapped.user;
    if (u.type === 'local') {
      if (u.id) user = await this.s.users.find(u.id);
      else if (u.name) user = await this.s.users.findByName(u.name, (await this.domainOf(u.domain, 'default')).id);
      if (!user) throw unauthorized('Could not map any federated user properties to identity values.');
    } else {
      const uniqueId = u.id ?? u.name;
      if (!uniqueId)
        throw unauthorized(
          'Could not map any federated user properties to identity values. Check debug logs or the mapping used for additional details.',
        );
      const displayName = u.name ?? u.id!;
      const link = await this.db
        .selectFrom('federated_user')
        .select('user_id')
        .where('idp_id', '=', idpId)
        .where('protocol_id', '=', protocolId)
        .where('unique_id', '=', uniqueId)
        .executeTakeFirst();
      user = link ? await this.s.users.find(link.user_id) : undefined;
      if (!user) {
        const domain = await this.domainOf(u.domain, idp.domain_id);
        // a stable id per (idp, protocol, unique id), as Keystone's shadow users have
        const id = createHash('sha256').update(`${idpId}\n${protocolId}\n${uniqueId}`).digest('hex').slice(0, 32);
        user =
          (await this.s.users.find(id)) ??
          (await this.s.users.create({
            id,
            name: displayName,
            domain_id: domain.id,
            enabled: true,
            extra: u.email ? { email: u.email } : {},
          }));
        await this.db.deleteFrom('federated_user').where('user_id', '=', id).where('idp_id', '=', idpId).execute();
        await this.db
          .insertInto('federated_user')
          .values({
            user_id: id,
            idp_id: idpId,
            protocol_id: protocolId,
            unique_id: uniqueId,
            display_name: displayName,
          })
          .execute();
      } else if (user.name !== displayName) {
        await this.s.users.update(user.id, { name: displayName });
        user = await this.s.users.get(user.id);
      }
      // Keystone's expiring group memberships: the groups this assertion mapped replace those the
      // provider mapped before, and count for the provider's authorization_ttl from now. (Dropped
      // without revoking the user's tokens, which would revoke the one being issued: roles are
      // computed at validation, so the old tokens lose the dropped groups' roles all the same.)
      await this.s.users.setExpiringMemberships(user.id, idpId, [...groupIds]);
    }

    // auto-provisioned projects, with the mapped roles granted to the user
    for (const p of mapped.projects) {
      const d = await this.domainOf(p.domain, idp.domain_id);
      const project =
        (await this.s.resource.findProjectByName(p.name, d.id)) ??
        (await this.s.resource.createProject({ name: p.name, domain_id: d.id }, d.id));
      for (const r of p.roles) {
        const role = await this.s.assignment.findRoleByName(r.name);
        if (!role) throw unauthorized(`Could not find role: ${r.name}.`);
        await this.s.assignment.grant({
          type: 'UserProject',
          actor_id: user.id,
          target_id: project.id,
          role_id: role.id,
          inherited: false,
        });
      }
    }
    this.s.backend.changed();
    return { user, groupIds: [...groupIds], idpId, protocolId };
  }

  /**
   * WebSSO without a named provider: the provider whose remote ids hold the asserted value of the
   * protocol's remote id attribute (Keystone's [federation] remote_id_attribute when the protocol has none).
   */
  async idpForWebsso(protocolId: string, env: AuthEnv): Promise<string> {
    const raw = await this.assertion(env);
    const attrs = new Set<string>();
    if (this.options.remoteIdAttribute) attrs.add(this.options.remoteIdAttribute);
    for (const p of await this.db
      .selectFrom('federation_protocol')
      .select('remote_id_attribute')
      .where('id', '=', protocolId)
      .execute())
      if (p.remote_id_attribute) attrs.add(p.remote_id_attribute);
    if (!attrs.size)
      throw badRequest(
        'Could not determine Identity Provider ID. The remote_id_attribute is not set.',
        'ValidationError',
      );
    for (const attr of attrs) {
      for (const remote of this.lookup(raw, attr) ?? []) {
        const row = await this.db
          .selectFrom('idp_remote_id')
          .select('idp_id')
          .where('remote_id', '=', remote)
          .executeTakeFirst();
        if (row) return row.idp_id;
      }
    }
    throw unauthorized('Could not find an Identity Provider for the asserted remote id.');
  }

  /** 400 without an origin, 403 unless it is a trusted dashboard. */
  checkOrigin(origin: string | undefined): string {
    if (!origin) throw badRequest('Request must have an origin query parameter', 'ValidationError');
    if (!this.options.trustedDashboards.includes(origin))
      throw new ApiError(403, `${origin} is not a trusted dashboard host`, 'Forbidden');
    return origin;
  }

  /** A federated token stays valid while its provider and protocol exist and the provider is enabled. */
  async stillValid(idpId: string, protocolId: string): Promise<boolean> {
    const idp = await this.findIdp(idpId);
    return !!idp && idp.enabled && !!(await this.findProtocol(idpId, protocolId));
  }

  // ---- SAML2: Keystone as an identity provider (K2K), and the ECP consumer of a service provider ----

  private samlKeys?: SigningMaterial;

  private signingMaterial(): SigningMaterial {
    this.samlKeys ??= ensureSigningMaterial(path.join(this.s.config.dataDir, 'saml2'), {
      certfile: this.options.saml2.certfile,
      keyfile: this.options.saml2.keyfile,
    });
    return this.samlKeys;
  }

  idpEntityId(baseUrl: string): string {
    return this.options.saml2.idpEntityId || `${baseUrl}/v3/OS-FEDERATION/saml2/idp`;
  }

  /** GET /v3/OS-FEDERATION/saml2/metadata. */
  idpMetadata(baseUrl: string): string {
    const sso = this.options.saml2.idpSsoEndpoint || `${baseUrl}/v3/OS-FEDERATION/saml2/sso`;
    return idpMetadata(this.idpEntityId(baseUrl), sso, this.signingMaterial().certPem);
  }

  /**
   * Keystone's /v3/auth/OS-FEDERATION/saml2[/ecp]: a signed assertion of what a project-scoped token
   * says (user, domain, project, roles, groups) for an enabled service provider.
   */
  async samlAssertion(token: SamlToken, spId: string, baseUrl: string, ecp: boolean): Promise<string> {
    if (!token.project || !token.projectDomain)
      throw new ApiError(403, 'Use a project scoped token when attempting to create a SAML assertion', 'Forbidden');
    const sp = await this.getSp(spId);
    if (!sp.enabled) throw new ApiError(403, `Service Provider ${spId} is disabled.`, 'Forbidden');
    const groupIds = token.federated?.groupIds ?? (await this.s.users.groupIdsOf(token.user.id));
    const groups = groupIds.length ? await this.s.users.listGroups({ ids: groupIds }) : [];
    const issuer = this.idpEntityId(baseUrl);
    const assertion = signedAssertion(
      {
        issuer,
        audience: sp.auth_url,
        recipient: sp.sp_url,
        subject: token.user.name,
        attributes: {
          openstack_user: [token.user.name],
          openstack_user_domain: [token.userDomain.name],
          openstack_roles: token.roles.map((r) => r.name),
          openstack_project: [token.project.name],
          openstack_project_domain: [token.projectDomain.name],
          openstack_groups: groups.map((g) => g.name),
        },
        ttlSeconds: Math.max(1, Math.min(300, Math.floor((token.expiresAt.getTime() - Date.now()) / 1000))),
      },
      this.signingMaterial(),
    );
    const response = samlResponse(assertion, issuer, sp.sp_url);
    return ecp ? ecpEnvelope(response, `${sp.relay_state_prefix}${randomUUID()}`) : response;
  }

  /**
   * A service provider's ECP endpoint (Shibboleth's /Shibboleth.sso/SAML2/ECP): the assertion must be
   * signed by a trusted identity provider, meant for this cloud (its Audience under `baseUrl`) and
   * issued by one of an identity provider's remote ids. Returns a session id whose cookie makes the
   * federated auth URL read the assertion's attributes (and `Shib-Identity-Provider`, the issuer).
   */
  async consumeEcp(xml: string, baseUrl: string): Promise<string> {
    const trusted = this.options.saml2.trustedIdpCertificates.map((f) => fs.readFileSync(f, 'utf8'));
    if (!trusted.length)
      throw unauthorized('This cloud trusts no SAML2 identity provider (federation.saml2.trustedIdpCertificates).');
    let v: VerifiedAssertion;
    try {
      v = verifyAssertion(xml, trusted);
    } catch (e) {
      throw unauthorized(`The SAML assertion was refused: ${(e as Error).message}.`);
    }
    if (!v.audiences.some((a) => a === baseUrl || a.startsWith(`${baseUrl}/`)))
      throw unauthorized('The SAML assertion is meant for another service provider.');
    const known = await this.db
      .selectFrom('idp_remote_id')
      .select('idp_id')
      .where('remote_id', '=', v.issuer)
      .executeTakeFirst();
    if (!known) throw unauthorized(`No identity provider has the remote id ${v.issuer}.`);
    // Sessions of verified ECP assertions (the Shibboleth session cookie), a few minutes each, in
    // the database: a restart (or another API process) still knows an acknowledged session.
    const now = Date.now();
    await this.db.deleteFrom('saml_session').where('expires', '<=', now).execute();
    const id = randomBytes(24).toString('hex');
    const attributes: Record<string, string[]> = { 'shib-identity-provider': [v.issuer], REMOTE_USER: [v.subject] };
    for (const [k, vals] of Object.entries(v.attributes)) attributes[k.toLowerCase()] = vals;
    await this.db
      .insertInto('saml_session')
      .values({ id, attributes: JSON.stringify(attributes), expires: now + 5 * 60_000 })
      .execute();
    return id;
  }

  private async samlSession(env: AuthEnv): Promise<Record<string, string[]> | undefined> {
    const raw = env.headers?.cookie;
    const cookie = Array.isArray(raw) ? raw.join('; ') : raw;
    const m = cookie ? new RegExp(`(?:^|;\\s*)${SAML_SESSION_COOKIE}=([0-9a-f]+)`).exec(cookie) : null;
    if (!m) return undefined;
    const e = await this.db
      .selectFrom('saml_session')
      .select(['attributes', 'expires'])
      .where('id', '=', m[1]!)
      .executeTakeFirst();
    // bigint comes back as a string on PostgreSQL.
    if (!e || Number(e.expires) <= Date.now()) return undefined;
    return JSON.parse(e.attributes) as Record<string, string[]>;
  }
}
