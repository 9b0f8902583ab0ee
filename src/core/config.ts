// One typed configuration for every service: defaults < config file (YAML) < environment < flags.
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { networkDefaults, type NetworkConfig } from '../network/config.ts';
import type { ServicePolicyConfig } from './policy/config.ts';

export type { ServicePolicyConfig };

export type { NetworkConfig };

export interface SecurityComplianceConfig {
  /** Failed password attempts before a user is locked out (0 = never). Keystone: lockout_failure_attempts. */
  lockoutFailureAttempts: number;
  /** Seconds a locked-out user stays locked. Keystone: lockout_duration. */
  lockoutDuration: number;
  /** Days before a password expires (0 = never). Keystone: password_expires_days. */
  passwordExpiresDays: number;
  /** How many previous passwords may not be reused (0 = off). Keystone: unique_last_password_count. */
  uniqueLastPasswordCount: number;
  /** Days a password must be kept before it may be changed again. Keystone: minimum_password_age. */
  minimumPasswordAge: number;
  /** Regular expression a new password must match ('' = any). */
  passwordRegex: string;
  passwordRegexDescription: string;
  changePasswordUponFirstUse: boolean;
}

export interface IdentityConfig {
  /** Token lifetime in seconds. */
  tokenExpiration: number;
  /** How long past expiry a token may still be validated with allow_expired. */
  allowExpiredWindow: number;
  fernetMaxActiveKeys: number;
  /** bcrypt cost for new password hashes (Keystone's default is 12). */
  passwordHashRounds: number;
  securityCompliance: SecurityComplianceConfig;
  /** Maximum trust redelegation depth. */
  maxRedelegationCount: number;
  /** List size cap (Keystone's list_limit); 0 = unlimited. */
  listLimit: number;
  /** Keystone's [oslo_policy] enforce_scope / enforce_new_defaults. */
  policy?: ServicePolicyConfig;
}

export interface ImageConfig {
  /** Refuse tokens whose scope is not one of a rule's scope types (Glance's [oslo_policy] enforce_scope; the same as policy.enforceScope). */
  enforceScope: boolean;
  /** Glance's [oslo_policy] enforce_scope / enforce_new_defaults. */
  policy?: ServicePolicyConfig;
  /** Show `locations` and `direct_url` and allow changing locations (Glance's show_multiple_locations). */
  showMultipleLocations: boolean;
  /** Show `direct_url`, the first location's URL (Glance's show_image_direct_url). */
  showDirectUrl: boolean;
  /** Keep local copies of image data and serve /v2/cache (Glance's image_cache_dir set). */
  cache: boolean;
  /** Bytes the cache may hold before the least recently used copies go (Glance's image_cache_max_size). */
  cacheMaxSize: number;
  /** Enforce image quotas from Keystone's unified limits (Glance's use_keystone_limits). */
  useKeystoneLimits: boolean;
  /** Glance's property_protection_file (relative to the data directory unless absolute; '' = none). */
  propertyProtectionFile: string;
  /** Glance's property_protection_rule_format: 'roles' or 'policies'. */
  propertyProtectionRuleFormat: 'roles' | 'policies';
  /** Largest image in bytes (Glance's image_size_cap). */
  sizeCap: number;
}

export interface StratusConfig {
  dataDir: string;
  /** Address to listen on. */
  host: string;
  /** Port of the single-port mode (every service under DevStack's path prefixes). */
  port: number;
  /** Host name written into the catalog's URLs. */
  publicHost: string;
  /** Serve each service on its standard port (5000, 8774, ...) instead of one port. */
  separatePorts: boolean;
  /** 'sqlite' (a file per service in the data directory) or a postgres:// URL. */
  database: string;
  /** The message bus: 'memory' (in-process) or an amqp:// URL (RabbitMQ). `bus:` in the file, --bus, STRATUS_BUS say the same. */
  transport: string;
  /** What this process runs: 'api' (every REST API and the services' other workers), 'conductor', 'scheduler', 'compute' (an agent). */
  roles: Role[];
  logLevel: string;
  region: string;
  adminPassword?: string;
  /** Where a policy.yaml override per service is looked for: <policyDir>/<service>.yaml. */
  policyDir: string;
  /**
   * Secure RBAC for the whole cloud: every service enforces scope types and only the new
   * default rules (oslo.policy's enforce_scope and enforce_new_defaults), unless its own
   * `<service>.policy` says `false` (Zed's gate: identity.policy's two off, the rest on).
   * `stratus start --secure-rbac` says the same.
   */
  secureRbac: boolean;
  identity: IdentityConfig;
  network: NetworkConfig;
  image: ImageConfig;
}

export const ROLES = [
  'api',
  'conductor',
  'scheduler',
  'compute',
  'network-agent',
  'heat-engine',
  'telemetry-agent',
  'volume',
  'backup',
] as const;
export type Role = (typeof ROLES)[number];

/** 'api,compute' → ['api', 'compute']; an unknown role is an error. */
export function parseRoles(v: string | string[]): Role[] {
  const list = (Array.isArray(v) ? v : String(v).split(',')).map((r) => String(r).trim()).filter(Boolean);
  if (list.length === 1 && list[0] === 'all') return [...ROLES];
  for (const r of list)
    if (!(ROLES as readonly string[]).includes(r))
      throw new Error(`unknown role '${r}' (roles: ${ROLES.join(', ')}, or all)`);
  if (!list.length) throw new Error(`no role given (roles: ${ROLES.join(', ')}, or all)`);
  return [...new Set(list)] as Role[];
}

export function defaultConfig(dataDir = defaultDataDir()): StratusConfig {
  return {
    dataDir,
    host: '127.0.0.1',
    port: 8000,
    publicHost: '127.0.0.1',
    separatePorts: false,
    database: 'sqlite',
    transport: 'memory',
    roles: [...ROLES],
    logLevel: 'info',
    region: 'RegionOne',
    policyDir: path.join(dataDir, 'policy'),
    secureRbac: false,
    image: {
      enforceScope: false,
      showMultipleLocations: false,
      showDirectUrl: false,
      cache: false,
      cacheMaxSize: 10 * 1024 ** 3,
      useKeystoneLimits: false,
      propertyProtectionFile: '',
      propertyProtectionRuleFormat: 'roles',
      sizeCap: 1024 ** 4,
    },
    network: networkDefaults(),
    identity: {
      tokenExpiration: 3600,
      allowExpiredWindow: 172800,
      fernetMaxActiveKeys: 3,
      passwordHashRounds: 12,
      maxRedelegationCount: 3,
      listLimit: 0,
      securityCompliance: {
        lockoutFailureAttempts: 0,
        lockoutDuration: 1800,
        passwordExpiresDays: 0,
        uniqueLastPasswordCount: 0,
        minimumPasswordAge: 0,
        passwordRegex: '',
        passwordRegexDescription: '',
        changePasswordUponFirstUse: false,
      },
    },
  };
}

export function defaultDataDir(): string {
  return process.env.STRATUS_DATA_DIR || path.resolve('.stratus');
}

type Plain = Record<string, unknown>;
function merge<T>(base: T, over: Plain | undefined): T {
  if (!over) return base;
  const out: Plain = { ...(base as Plain) };
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) continue;
    const cur = out[k];
    out[k] =
      cur && typeof cur === 'object' && !Array.isArray(cur) && v && typeof v === 'object' ? merge(cur, v as Plain) : v;
  }
  return out as T;
}

/** Environment variables: STRATUS_<KEY> for top-level keys (STRATUS_PORT, STRATUS_DATABASE, ...). */
function fromEnv(env: NodeJS.ProcessEnv): Plain {
  const o: Plain = {};
  const str = (k: string, name: string) => {
    if (env[name] !== undefined) o[k] = env[name];
  };
  str('dataDir', 'STRATUS_DATA_DIR');
  str('host', 'STRATUS_HOST');
  str('publicHost', 'STRATUS_PUBLIC_HOST');
  str('database', 'STRATUS_DATABASE');
  str('transport', 'STRATUS_TRANSPORT');
  str('transport', 'STRATUS_BUS');
  if (env.STRATUS_ROLE) o.roles = env.STRATUS_ROLE;
  str('logLevel', 'STRATUS_LOG_LEVEL');
  str('region', 'STRATUS_REGION');
  str('adminPassword', 'STRATUS_ADMIN_PASSWORD');
  if (env.STRATUS_PORT) o.port = Number(env.STRATUS_PORT);
  if (env.STRATUS_SEPARATE_PORTS)
    o.separatePorts = env.STRATUS_SEPARATE_PORTS === '1' || env.STRATUS_SEPARATE_PORTS === 'true';
  if (env.STRATUS_PASSWORD_HASH_ROUNDS) o.identity = { passwordHashRounds: Number(env.STRATUS_PASSWORD_HASH_ROUNDS) };
  return o;
}

export interface ConfigFlags {
  dataDir?: string;
  configFile?: string;
  host?: string;
  port?: number;
  publicHost?: string;
  separatePorts?: boolean;
  database?: string;
  transport?: string;
  logLevel?: string;
  adminPassword?: string;
  roles?: string;
  compute?: { host?: string };
  secureRbac?: boolean;
}

export function loadConfig(flags: ConfigFlags = {}, env: NodeJS.ProcessEnv = process.env): StratusConfig {
  const envConf = fromEnv(env);
  const dataDir = path.resolve(flags.dataDir ?? (envConf.dataDir as string | undefined) ?? defaultDataDir());
  let cfg = defaultConfig(dataDir);
  const file = flags.configFile ?? env.STRATUS_CONFIG ?? path.join(dataDir, 'stratus.yaml');
  if (fs.existsSync(file)) {
    const doc = (YAML.parse(fs.readFileSync(file, 'utf8')) ?? {}) as Plain;
    if (doc.bus !== undefined && doc.transport === undefined) doc.transport = doc.bus;
    delete doc.bus;
    cfg = merge(cfg, doc);
  }
  cfg = merge(cfg, envConf);
  const { configFile: _ignored, ...rest } = flags;
  cfg = merge(cfg, rest as Plain);
  cfg.dataDir = dataDir;
  cfg.roles = parseRoles(cfg.roles as unknown as string | string[]);
  if (!cfg.policyDir || cfg.policyDir === defaultConfig(defaultDataDir()).policyDir)
    cfg.policyDir = path.join(dataDir, 'policy');
  return cfg;
}
