// Identity's tables. Domains are projects with is_domain = 1 (as in Keystone), so that
// projects acting as domains and the hierarchy share one table.
import type { Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';
import { serialType } from '../../core/db.ts';
import { federationMigrations } from '../federation/db.ts';

const id = 'varchar(64)';

export const migrations: Record<string, Migration> = {
  '0001_initial': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('project')
        .addColumn('id', id, (c) => c.primaryKey())
        .addColumn('name', 'varchar(255)', (c) => c.notNull())
        .addColumn('domain_id', id, (c) => c.notNull())
        .addColumn('parent_id', id)
        .addColumn('is_domain', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
        .addColumn('description', 'text')
        .addColumn('extra', 'text')
        .addColumn('options', 'text')
        .addColumn('created_at', 'varchar(40)')
        .addUniqueConstraint('project_domain_name', ['domain_id', 'name'])
        .execute();
      await db.schema.createIndex('project_parent').on('project').column('parent_id').execute();
      await db.schema
        .createTable('project_tag')
        .addColumn('project_id', id, (c) => c.notNull().references('project.id').onDelete('cascade'))
        .addColumn('name', 'varchar(255)', (c) => c.notNull())
        .addPrimaryKeyConstraint('project_tag_pk', ['project_id', 'name'])
        .execute();
      await db.schema
        .createTable('user')
        .addColumn('id', id, (c) => c.primaryKey())
        .addColumn('name', 'varchar(255)', (c) => c.notNull())
        .addColumn('domain_id', id, (c) => c.notNull())
        .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
        .addColumn('default_project_id', id)
        .addColumn('extra', 'text')
        .addColumn('options', 'text')
        .addColumn('created_at', 'varchar(40)')
        .addColumn('last_active_at', 'varchar(40)')
        .addColumn('failed_auth_count', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('failed_auth_at', 'varchar(40)')
        .addUniqueConstraint('user_domain_name', ['domain_id', 'name'])
        .execute();
      // Every password a user had, newest last: the current one and the history for
      // unique_last_password_count.
      await db.schema
        .createTable('password')
        .addColumn('id', serialType(db), (c) => c.primaryKey())
        .addColumn('user_id', id, (c) => c.notNull().references('user.id').onDelete('cascade'))
        .addColumn('hash', 'varchar(255)', (c) => c.notNull())
        .addColumn('created_at', 'varchar(40)', (c) => c.notNull())
        .addColumn('expires_at', 'varchar(40)')
        .addColumn('self_service', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema.createIndex('password_user').on('password').column('user_id').execute();
      await db.schema
        .createTable('group')
        .addColumn('id', id, (c) => c.primaryKey())
        .addColumn('name', 'varchar(255)', (c) => c.notNull())
        .addColumn('domain_id', id, (c) => c.notNull())
        .addColumn('description', 'text')
        .addColumn('extra', 'text')
        .addUniqueConstraint('group_domain_name', ['domain_id', 'name'])
        .execute();
      await db.schema
        .createTable('user_group_membership')
        .addColumn('user_id', id, (c) => c.notNull().references('user.id').onDelete('cascade'))
        .addColumn('group_id', id, (c) => c.notNull().references('group.id').onDelete('cascade'))
        .addPrimaryKeyConstraint('membership_pk', ['user_id', 'group_id'])
        .execute();
      await db.schema
        .createTable('role')
        .addColumn('id', id, (c) => c.primaryKey())
        .addColumn('name', 'varchar(255)', (c) => c.notNull())
        // '<<null>>' for global roles so that the unique constraint works in both engines.
        .addColumn('domain_id', id, (c) => c.notNull())
        .addColumn('description', 'text')
        .addColumn('options', 'text')
        .addColumn('extra', 'text')
        .addUniqueConstraint('role_name_domain', ['name', 'domain_id'])
        .execute();
      await db.schema
        .createTable('implied_role')
        .addColumn('prior_role_id', id, (c) => c.notNull().references('role.id').onDelete('cascade'))
        .addColumn('implied_role_id', id, (c) => c.notNull().references('role.id').onDelete('cascade'))
        .addPrimaryKeyConstraint('implied_role_pk', ['prior_role_id', 'implied_role_id'])
        .execute();
      // type: UserProject, GroupProject, UserDomain, GroupDomain, UserSystem, GroupSystem.
      await db.schema
        .createTable('assignment')
        .addColumn('type', 'varchar(16)', (c) => c.notNull())
        .addColumn('actor_id', id, (c) => c.notNull())
        .addColumn('target_id', id, (c) => c.notNull())
        .addColumn('role_id', id, (c) => c.notNull())
        .addColumn('inherited', 'integer', (c) => c.notNull().defaultTo(0))
        .addPrimaryKeyConstraint('assignment_pk', ['type', 'actor_id', 'target_id', 'role_id', 'inherited'])
        .execute();
      await db.schema.createIndex('assignment_actor').on('assignment').column('actor_id').execute();
      await db.schema.createIndex('assignment_target').on('assignment').column('target_id').execute();
      await db.schema
        .createTable('region')
        .addColumn('id', 'varchar(255)', (c) => c.primaryKey())
        .addColumn('description', 'text')
        .addColumn('parent_region_id', 'varchar(255)')
        .addColumn('extra', 'text')
        .execute();
      await db.schema
        .createTable('service')
        .addColumn('id', id, (c) => c.primaryKey())
        .addColumn('type', 'varchar(255)', (c) => c.notNull())
        .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
        .addColumn('extra', 'text')
        .execute();
      await db.schema
        .createTable('endpoint')
        .addColumn('id', id, (c) => c.primaryKey())
        .addColumn('service_id', id, (c) => c.notNull().references('service.id'))
        .addColumn('interface', 'varchar(8)', (c) => c.notNull())
        .addColumn('region_id', 'varchar(255)')
        .addColumn('url', 'text', (c) => c.notNull())
        .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
        .addColumn('extra', 'text')
        .execute();
      await db.schema
        .createTable('revocation_event')
        .addColumn('id', serialType(db), (c) => c.primaryKey())
        .addColumn('domain_id', id)
        .addColumn('project_id', id)
        .addColumn('user_id', id)
        .addColumn('role_id', id)
        .addColumn('trust_id', id)
        .addColumn('consumer_id', id)
        .addColumn('access_token_id', id)
        .addColumn('audit_id', 'varchar(32)')
        .addColumn('audit_chain_id', 'varchar(32)')
        .addColumn('issued_before', 'varchar(40)', (c) => c.notNull())
        .addColumn('expires_at', 'varchar(40)')
        .addColumn('revoked_at', 'varchar(40)', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('credential')
        .addColumn('id', id, (c) => c.primaryKey())
        .addColumn('user_id', id, (c) => c.notNull())
        .addColumn('project_id', id)
        .addColumn('type', 'varchar(255)', (c) => c.notNull())
        .addColumn('encrypted_blob', 'text', (c) => c.notNull())
        .addColumn('key_hash', 'varchar(64)')
        .addColumn('extra', 'text')
        .execute();
      await db.schema
        .createTable('application_credential')
        .addColumn('id', id, (c) => c.primaryKey())
        .addColumn('name', 'varchar(255)', (c) => c.notNull())
        .addColumn('secret_hash', 'varchar(255)', (c) => c.notNull())
        .addColumn('description', 'text')
        .addColumn('user_id', id, (c) => c.notNull())
        .addColumn('project_id', id)
        .addColumn('system', 'varchar(16)')
        .addColumn('expires_at', 'varchar(40)')
        .addColumn('unrestricted', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('roles', 'text', (c) => c.notNull())
        .addColumn('access_rules', 'text')
        .addUniqueConstraint('app_cred_user_name', ['user_id', 'name'])
        .execute();
      await db.schema
        .createTable('access_rule')
        .addColumn('id', id, (c) => c.primaryKey())
        .addColumn('user_id', id, (c) => c.notNull())
        .addColumn('service', 'varchar(64)', (c) => c.notNull())
        .addColumn('path', 'varchar(128)', (c) => c.notNull())
        .addColumn('method', 'varchar(16)', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('trust')
        .addColumn('id', id, (c) => c.primaryKey())
        .addColumn('trustor_user_id', id, (c) => c.notNull())
        .addColumn('trustee_user_id', id, (c) => c.notNull())
        .addColumn('project_id', id)
        .addColumn('impersonation', 'integer', (c) => c.notNull())
        .addColumn('expires_at', 'varchar(40)')
        .addColumn('remaining_uses', 'integer')
        .addColumn('redelegated_trust_id', id)
        .addColumn('redelegation_count', 'integer')
        .addColumn('roles', 'text', (c) => c.notNull())
        .addColumn('deleted_at', 'varchar(40)')
        .addColumn('extra', 'text')
        .execute();
      await db.schema
        .createTable('registered_limit')
        .addColumn('id', id, (c) => c.primaryKey())
        .addColumn('service_id', id, (c) => c.notNull())
        .addColumn('region_id', 'varchar(255)')
        .addColumn('resource_name', 'varchar(255)', (c) => c.notNull())
        .addColumn('default_limit', 'integer', (c) => c.notNull())
        .addColumn('description', 'text')
        .execute();
      await db.schema
        .createTable('limit')
        .addColumn('id', id, (c) => c.primaryKey())
        .addColumn('project_id', id)
        .addColumn('domain_id', id)
        .addColumn('service_id', id, (c) => c.notNull())
        .addColumn('region_id', 'varchar(255)')
        .addColumn('resource_name', 'varchar(255)', (c) => c.notNull())
        .addColumn('resource_limit', 'integer', (c) => c.notNull())
        .addColumn('description', 'text')
        .execute();
      await db.schema
        .createTable('policy')
        .addColumn('id', id, (c) => c.primaryKey())
        .addColumn('type', 'varchar(255)', (c) => c.notNull())
        .addColumn('blob', 'text', (c) => c.notNull())
        .addColumn('extra', 'text')
        .execute();
      await db.schema
        .createTable('endpoint_group')
        .addColumn('id', id, (c) => c.primaryKey())
        .addColumn('name', 'varchar(255)', (c) => c.notNull())
        .addColumn('description', 'text')
        .addColumn('filters', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('project_endpoint_group')
        .addColumn('endpoint_group_id', id, (c) => c.notNull())
        .addColumn('project_id', id, (c) => c.notNull())
        .addPrimaryKeyConstraint('project_endpoint_group_pk', ['endpoint_group_id', 'project_id'])
        .execute();
      await db.schema
        .createTable('project_endpoint')
        .addColumn('endpoint_id', id, (c) => c.notNull())
        .addColumn('project_id', id, (c) => c.notNull())
        .addPrimaryKeyConstraint('project_endpoint_pk', ['endpoint_id', 'project_id'])
        .execute();
      await db.schema
        .createTable('domain_config')
        .addColumn('domain_id', id, (c) => c.notNull())
        .addColumn('group', 'varchar(255)', (c) => c.notNull())
        .addColumn('option', 'varchar(255)', (c) => c.notNull())
        .addColumn('value', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('domain_config_pk', ['domain_id', 'group', 'option'])
        .execute();
    },
  },
  // OS-ENDPOINT-POLICY: a policy blob associated with an endpoint, a service, or a service in a region.
  '0002_policy_association': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('policy_association')
        .addColumn('id', id, (c) => c.primaryKey())
        .addColumn('policy_id', id, (c) => c.notNull())
        .addColumn('endpoint_id', id)
        .addColumn('service_id', id)
        .addColumn('region_id', 'varchar(255)')
        .execute();
    },
  },
  // OS-OAUTH1 consumers (the delegation flow itself is not implemented).
  '0003_oauth1_consumer': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('consumer')
        .addColumn('id', id, (c) => c.primaryKey())
        .addColumn('description', 'text')
        .addColumn('secret', 'varchar(255)', (c) => c.notNull())
        .addColumn('extra', 'text')
        .execute();
    },
  },
  // Access rules keep their creation order; OS-OAUTH1 request and access tokens.
  '0004_oauth1_tokens_access_rule_order': {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('access_rule').addColumn('position', 'integer').execute();
      await db.schema
        .createTable('oauth_request_token')
        .addColumn('id', id, (c) => c.primaryKey())
        .addColumn('request_secret', 'varchar(64)', (c) => c.notNull())
        .addColumn('verifier', 'varchar(64)')
        .addColumn('authorizing_user_id', id)
        .addColumn('requested_project_id', id, (c) => c.notNull())
        .addColumn('role_ids', 'text')
        .addColumn('consumer_id', id, (c) => c.notNull().references('consumer.id').onDelete('cascade'))
        .addColumn('expires_at', 'varchar(40)')
        .execute();
      await db.schema
        .createTable('oauth_access_token')
        .addColumn('id', id, (c) => c.primaryKey())
        .addColumn('access_secret', 'varchar(64)', (c) => c.notNull())
        .addColumn('authorizing_user_id', id, (c) => c.notNull())
        .addColumn('project_id', id, (c) => c.notNull())
        .addColumn('role_ids', 'text', (c) => c.notNull())
        .addColumn('consumer_id', id, (c) => c.notNull().references('consumer.id').onDelete('cascade'))
        .addColumn('expires_at', 'varchar(40)')
        .execute();
      await db.schema
        .createIndex('oauth_access_token_user')
        .on('oauth_access_token')
        .column('authorizing_user_id')
        .execute();
    },
  },
  ...federationMigrations,
};
