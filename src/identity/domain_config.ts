// Domain-specific configuration (Keystone's DomainConfigManager): per-domain overrides of the
// identity driver and LDAP options, stored one option a row in domain_config. Only the
// options upstream whitelists are accepted; ldap.password is "sensitive": stored and
// updatable, but never returned by the API. Stratus itself runs only the SQL identity
// driver, so these settings are kept and served, not acted upon.
import { ApiError } from '../core/errors.ts';
import { json } from '../core/db.ts';
import type { StratusConfig } from '../core/config.ts';
import type { IdentityBackend } from './backend.ts';

export type DomainConfig = Record<string, Record<string, unknown>>;

/** Options a domain may set, with Keystone Zed's defaults (what GET .../config/default answers). */
const WHITELISTED: Record<string, Record<string, unknown>> = {
  identity: { driver: 'sql', list_limit: null },
  ldap: {
    url: 'ldap://localhost',
    user: null,
    suffix: 'cn=example,cn=com',
    query_scope: 'one',
    page_size: 0,
    alias_dereferencing: 'default',
    debug_level: null,
    chase_referrals: null,
    user_tree_dn: null,
    user_filter: null,
    user_objectclass: 'inetOrgPerson',
    user_id_attribute: 'cn',
    user_name_attribute: 'sn',
    user_mail_attribute: 'mail',
    user_description_attribute: 'description',
    user_pass_attribute: 'userPassword',
    user_enabled_attribute: 'enabled',
    user_enabled_invert: false,
    user_enabled_mask: 0,
    user_enabled_default: 'True',
    user_attribute_ignore: ['default_project_id'],
    user_default_project_id_attribute: null,
    user_enabled_emulation: false,
    user_enabled_emulation_dn: null,
    user_enabled_emulation_use_group_config: false,
    user_additional_attribute_mapping: [],
    group_tree_dn: null,
    group_filter: null,
    group_objectclass: 'groupOfNames',
    group_id_attribute: 'cn',
    group_name_attribute: 'ou',
    group_members_are_ids: false,
    group_member_attribute: 'member',
    group_desc_attribute: 'description',
    group_attribute_ignore: [],
    group_additional_attribute_mapping: [],
    tls_cacertfile: null,
    tls_cacertdir: null,
    use_tls: false,
    tls_req_cert: 'demand',
    use_pool: true,
    pool_size: 10,
    pool_retry_max: 3,
    pool_retry_delay: 0.1,
    pool_connection_timeout: -1,
    pool_connection_lifetime: 600,
    use_auth_pool: true,
    auth_pool_size: 100,
    auth_pool_connection_lifetime: 60,
  },
};
const SENSITIVE: Record<string, string[]> = { identity: [], ldap: ['password'] };
const SECURITY_COMPLIANCE_READABLE = ['password_regex', 'password_regex_description'];

const invalid = (reason: string) =>
  new ApiError(403, `Invalid domain specific configuration: ${reason}.`, 'InvalidDomainConfig');
const notFound = (domainId: string, what: string) =>
  new ApiError(404, `Could not find ${what} in domain configuration for domain ${domainId}.`, 'DomainConfigNotFound');
const what = (group?: string, option?: string) =>
  option ? `option ${option} in group ${group}` : group ? `group ${group}` : 'any options';

const isWhitelisted = (group: string, option: string) => Object.hasOwn(WHITELISTED[group] ?? {}, option);
const isSensitive = (group: string, option: string) => (SENSITIVE[group] ?? []).includes(option);
const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

interface Row {
  group: string;
  option: string;
  value: unknown;
}

export class DomainConfigManager {
  constructor(
    private b: IdentityBackend,
    private config: StratusConfig,
  ) {}

  private assertGroupAndOption(group?: string, option?: string) {
    if (!group) return;
    if (!Object.hasOwn(WHITELISTED, group) && !Object.hasOwn(SENSITIVE, group)) {
      throw invalid(`Group ${group} is not supported for domain specific configurations`);
    }
    if (option && !isWhitelisted(group, option) && !isSensitive(group, option)) {
      throw invalid(`Option ${option} in group ${group} is not supported for domain specific configurations`);
    }
  }

  private assertConfig(config: unknown): asserts config is DomainConfig {
    if (!isObject(config) || !Object.keys(config).length) throw invalid('No options specified');
    for (const [group, options] of Object.entries(config)) {
      if (!isObject(options) || !Object.keys(options).length) {
        throw invalid(`The value of group ${group} specified in the config should be a dictionary of options`);
      }
      for (const option of Object.keys(options)) this.assertGroupAndOption(group, option);
    }
  }

  /** Rows of a domain, optionally only one group/option; `sensitive` picks which kind. */
  private async rows(domainId: string, group?: string, option?: string, sensitive?: boolean): Promise<Row[]> {
    let q = this.b.db.selectFrom('domain_config').selectAll().where('domain_id', '=', domainId);
    if (group) q = q.where('group', '=', group);
    if (group && option) q = q.where('option', '=', option);
    const rows = (await q.orderBy('group').orderBy('option').execute()).map((r) => ({
      group: r.group,
      option: r.option,
      value: json(r.value, null),
    }));
    return sensitive === undefined ? rows : rows.filter((r) => isSensitive(r.group, r.option) === sensitive);
  }

  private static toConfig(rows: Row[], option?: string): Record<string, unknown> {
    if (option) return rows.length ? { [rows[0]!.option]: rows[0]!.value } : {};
    const out: DomainConfig = {};
    for (const r of rows) (out[r.group] ??= {})[r.option] = r.value;
    return out;
  }

  private async write(domainId: string, config: DomainConfig, replaceAll: boolean) {
    await this.b.db.transaction().execute(async (tx) => {
      if (replaceAll) await tx.deleteFrom('domain_config').where('domain_id', '=', domainId).execute();
      for (const [group, options] of Object.entries(config)) {
        for (const [option, value] of Object.entries(options)) {
          if (!replaceAll)
            await tx
              .deleteFrom('domain_config')
              .where('domain_id', '=', domainId)
              .where('group', '=', group)
              .where('option', '=', option)
              .execute();
          await tx
            .insertInto('domain_config')
            .values({ domain_id: domainId, group, option, value: JSON.stringify(value ?? null) })
            .execute();
        }
      }
    });
  }

  /** Whether the domain has any configuration at all (sensitive options included). */
  async exists(domainId: string): Promise<boolean> {
    return !!(await this.b.db
      .selectFrom('domain_config')
      .select('option')
      .where('domain_id', '=', domainId)
      .executeTakeFirst());
  }

  /** PUT: replaces the whole configuration; answers the non-sensitive options. */
  async create(domainId: string, config: unknown): Promise<DomainConfig> {
    this.assertConfig(config);
    await this.write(domainId, config, true);
    return DomainConfigManager.toConfig(await this.rows(domainId, undefined, undefined, false)) as DomainConfig;
  }

  async get(domainId: string, group?: string, option?: string): Promise<Record<string, unknown>> {
    this.assertGroupAndOption(group, option);
    const rows = await this.rows(domainId, group, option, false);
    if (!rows.length) throw notFound(domainId, what(group, option));
    return DomainConfigManager.toConfig(rows, option);
  }

  /** PATCH: merges into the configuration. With a group (and option) only that part may be sent, and it must exist. */
  async update(domainId: string, config: unknown, group?: string, option?: string): Promise<Record<string, unknown>> {
    const update = group && option ? { [group]: config } : config;
    this.assertConfig(update);
    this.assertGroupAndOption(group, option);
    if (group) {
      const groups = Object.keys(update);
      if (groups.length !== 1 || (option && Object.keys(update[groups[0]!]!).length !== 1)) {
        throw invalid(
          option
            ? `Trying to update option ${option} in group ${group}, so that, and only that, option must be specified  in the config`
            : `Trying to update group ${group}, so that, and only that, group must be specified in the config`,
        );
      }
      if (!Object.hasOwn(update, group))
        throw invalid(`request to update group ${group}, but config provided contains group ${groups[0]} instead`);
      if (option && !Object.hasOwn(update[group]!, option)) {
        throw invalid(
          `Trying to update option ${option} in group ${group}, but config provided contains option ${Object.keys(update[group]!)[0]} instead`,
        );
      }
      if (!(await this.rows(domainId, group, option)).length) throw notFound(domainId, what(group, option));
    }
    await this.write(domainId, update, false);
    return this.get(domainId);
  }

  async delete(domainId: string, group?: string, option?: string): Promise<void> {
    this.assertGroupAndOption(group, option);
    if (group && !(await this.rows(domainId, group, option)).length) {
      // Upstream names the group when it is missing altogether, the option otherwise.
      const groupRows = option ? await this.rows(domainId, group) : [];
      throw notFound(domainId, what(group, groupRows.length ? option : undefined));
    }
    let q = this.b.db.deleteFrom('domain_config').where('domain_id', '=', domainId);
    if (group) q = q.where('group', '=', group);
    if (group && option) q = q.where('option', '=', option);
    await q.execute();
  }

  /** The defaults of the whitelisted options (sensitive ones are never shown). */
  getDefault(group?: string, option?: string): Record<string, unknown> {
    this.assertGroupAndOption(group, option);
    const defaults: DomainConfig = {
      identity: { ...WHITELISTED.identity, list_limit: this.config.identity.listLimit || null },
      ldap: WHITELISTED.ldap!,
    };
    if (group && option) {
      if (!isWhitelisted(group, option))
        throw invalid(`Reading the default for option ${option} in group ${group} is not supported`);
      return { [option]: defaults[group]![option] };
    }
    if (group) return { [group]: { ...defaults[group] } };
    return structuredClone(defaults);
  }

  /** The readable security_compliance options, for the default domain only (upstream's rule). */
  getSecurityCompliance(domainId: string, option?: string): Record<string, unknown> {
    if (domainId !== 'default') {
      throw invalid(
        'Reading security compliance information for any domain other than the default domain is not allowed or supported',
      );
    }
    if (option && !SECURITY_COMPLIANCE_READABLE.includes(option)) {
      throw invalid(
        'Reading security compliance values other than password_regex and password_regex_description is not allowed',
      );
    }
    const sc = this.config.identity.securityCompliance;
    const values: Record<string, unknown> = {
      password_regex: sc.passwordRegex || null,
      password_regex_description: sc.passwordRegexDescription || null,
    };
    return option ? { [option]: values[option] } : { security_compliance: values };
  }
}
