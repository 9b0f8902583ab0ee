// OS-FEDERATION's tables (Keystone's identity_provider, idp_remote_ids, mapping, federation_protocol,
// service_provider and federated_user), typed into IdentityDb by declaration merging, and their migration.
import type { Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

export interface IdentityProviderTable {
  id: string;
  enabled: number;
  description: string | null;
  domain_id: string;
  authorization_ttl: number | null;
}
export interface IdpRemoteIdTable {
  idp_id: string;
  remote_id: string;
}
export interface MappingTable {
  id: string;
  rules: string;
  schema_version: string;
}
export interface FederationProtocolTable {
  id: string;
  idp_id: string;
  mapping_id: string;
  remote_id_attribute: string | null;
}
export interface ServiceProviderTable {
  id: string;
  enabled: number;
  description: string | null;
  auth_url: string;
  sp_url: string;
  relay_state_prefix: string;
}
export interface FederatedUserTable {
  user_id: string;
  idp_id: string;
  protocol_id: string;
  unique_id: string;
  display_name: string | null;
}

/** Keystone's expiring_user_group_membership: a group a federated login mapped, as of last_verified. */
export interface ExpiringMembershipTable {
  user_id: string;
  group_id: string;
  idp_id: string;
  /** Epoch milliseconds of the last login that mapped the group. */
  last_verified: number;
}

/**
 * A session of a verified ECP assertion on the service-provider side (what Shibboleth's session
 * cookie names): kept in the database so that a restart loses no acknowledged session.
 */
export interface SamlSessionTable {
  id: string;
  /** JSON: the assertion's attributes as the mapped method reads them (lower-cased names → values). */
  attributes: string;
  /** Epoch milliseconds. */
  expires: number;
}

declare module '../db/schema.ts' {
  interface IdentityDb {
    saml_session: SamlSessionTable;
    expiring_user_group_membership: ExpiringMembershipTable;
    identity_provider: IdentityProviderTable;
    idp_remote_id: IdpRemoteIdTable;
    federation_mapping: MappingTable;
    federation_protocol: FederationProtocolTable;
    service_provider: ServiceProviderTable;
    federated_user: FederatedUserTable;
  }
}

const id = 'varchar(64)';

export const federationMigrations: Record<string, Migration> = {
  '0004_federation': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('identity_provider')
        .addColumn('id', id, (c) => c.primaryKey())
        .addColumn('enabled', 'integer', (c) => c.notNull())
        .addColumn('description', 'text')
        .addColumn('domain_id', id, (c) => c.notNull().unique())
        .addColumn('authorization_ttl', 'integer')
        .execute();
      await db.schema
        .createTable('idp_remote_id')
        .addColumn('idp_id', id, (c) => c.notNull().references('identity_provider.id').onDelete('cascade'))
        .addColumn('remote_id', 'varchar(255)', (c) => c.primaryKey())
        .execute();
      await db.schema
        .createTable('federation_mapping')
        .addColumn('id', id, (c) => c.primaryKey())
        .addColumn('rules', 'text', (c) => c.notNull())
        .addColumn('schema_version', 'varchar(5)', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('federation_protocol')
        .addColumn('id', id, (c) => c.notNull())
        .addColumn('idp_id', id, (c) => c.notNull().references('identity_provider.id').onDelete('cascade'))
        .addColumn('mapping_id', id, (c) => c.notNull())
        .addColumn('remote_id_attribute', 'varchar(64)')
        .addPrimaryKeyConstraint('federation_protocol_pk', ['idp_id', 'id'])
        .execute();
      await db.schema
        .createTable('service_provider')
        .addColumn('id', id, (c) => c.primaryKey())
        .addColumn('enabled', 'integer', (c) => c.notNull())
        .addColumn('description', 'text')
        .addColumn('auth_url', 'varchar(256)', (c) => c.notNull())
        .addColumn('sp_url', 'varchar(256)', (c) => c.notNull())
        .addColumn('relay_state_prefix', 'varchar(256)', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('federated_user')
        .addColumn('user_id', id, (c) => c.notNull())
        .addColumn('idp_id', id, (c) => c.notNull())
        .addColumn('protocol_id', id, (c) => c.notNull())
        .addColumn('unique_id', 'varchar(255)', (c) => c.notNull())
        .addColumn('display_name', 'varchar(255)')
        .addPrimaryKeyConstraint('federated_user_pk', ['idp_id', 'protocol_id', 'unique_id'])
        .execute();
      await db.schema.createIndex('federated_user_user').on('federated_user').column('user_id').execute();
    },
  },
  '0005_expiring_group_membership': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('expiring_user_group_membership')
        .addColumn('user_id', id, (c) => c.notNull().references('user.id').onDelete('cascade'))
        .addColumn('group_id', id, (c) => c.notNull().references('group.id').onDelete('cascade'))
        .addColumn('idp_id', id, (c) => c.notNull().references('identity_provider.id').onDelete('cascade'))
        .addColumn('last_verified', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('expiring_user_group_membership_pk', ['user_id', 'group_id'])
        .execute();
    },
  },
  '0006_saml_session': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('saml_session')
        .addColumn('id', id, (c) => c.primaryKey())
        .addColumn('attributes', 'text', (c) => c.notNull())
        .addColumn('expires', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('saml_session_expires').on('saml_session').column('expires').execute();
    },
  },
};
