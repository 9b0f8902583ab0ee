// Orchestration's options (`orchestration:` in stratus.yaml), typed, with Heat's defaults.
import os from 'node:os';
import { randomUUID } from 'node:crypto';
import type { StratusConfig } from '../core/config.ts';
import { numberOptions } from '../core/options.ts';

export interface OrchestrationOptions {
  /** Run a heat-engine inside this process (the all-in-one shape). */
  engine: boolean;
  /** This engine's id (Heat's engine_id: the stack locks name it). */
  engineId: string;
  host: string;
  /** Directories whose *.ts / *.js / *.mjs files export resource plugins (Heat's plugin_dirs). */
  pluginDirs: string[];
  /** Resources allowed in one stack including nested ones (max_resources_per_stack). */
  maxResourcesPerStack: number;
  /** Nested stack depth allowed (max_nested_stack_depth). */
  maxNestedStackDepth: number;
  /** Stacks one project may have (max_stacks_per_tenant). */
  maxStacksPerTenant: number;
  /** Seconds between the engine's heartbeats (periodic_interval). */
  reportInterval: number;
  /** Milliseconds to wait for a lock holder's engine to answer before stealing its lock. */
  engineLivenessTimeoutMs: number;
  /**
   * Heat's convergence_engine: creates and updates of top-level stacks are traversals shared by
   * every engine over the bus (engine/convergence.ts); false: one engine walks the stack under its lock.
   */
  convergenceEngine: boolean;
  /**
   * With the convergence engine, a stack delete is a traversal of clean-up nodes shared by the
   * engines (Heat's delete_stack in convergence mode; clean-up nodes ready together go in one
   * message and share their database work). Default true; false: the engine that takes the delete
   * supersedes the running traversal and deletes the resources itself, dependents first, under the
   * stack lock.
   */
  convergenceDelete: boolean;
  /** Parallel resource actions per stack traversal. */
  maxParallelResources: number;
  /** How the engine acts later without the user (deferred_auth_method): a trust, or the user's stored password. */
  deferredAuthMethod: 'trusts' | 'password';
  /** The domain of the per-stack users a guest signals with (stack_user_domain_name). */
  stackUserDomainName: string;
  /** The admin of that domain (stack_domain_admin). */
  stackDomainAdmin: string;
  /** Its password (stack_domain_admin_password; default: the cloud's service password in secrets.yaml). */
  stackDomainAdminPassword?: string;
  /** The cloud's data directory (its secrets.yaml holds the service password). */
  dataDir: string;
  /**
   * Heat's auth_encryption_key: encrypts the stored credentials, trust ids and hidden parameters.
   * Absent: one generated once into the data directory (orchestration_auth_encryption_key, 0600).
   */
  authEncryptionKey?: string;
}

export type OrchestrationConfig = Partial<OrchestrationOptions>;

declare module '../core/config.ts' {
  interface StratusConfig {
    orchestration?: OrchestrationConfig;
  }
}

export function orchestrationOptions(
  cfg: Partial<Pick<StratusConfig, 'orchestration' | 'roles' | 'dataDir'>>,
): OrchestrationOptions {
  const c: OrchestrationConfig = cfg.orchestration ?? {};
  // The role `heat-engine` (in every all-in-one process) runs an engine; `--role api` alone does not.
  const roles: readonly string[] = cfg.roles ?? ['heat-engine'];
  return {
    engine: (c.engine ?? true) && roles.includes('heat-engine'),
    engineId: c.engineId ?? randomUUID(),
    host: c.host ?? os.hostname(),
    pluginDirs: c.pluginDirs ?? [],
    ...numberOptions(c, {
      maxResourcesPerStack: 1000,
      maxNestedStackDepth: 5,
      maxStacksPerTenant: 512,
      reportInterval: 60,
      engineLivenessTimeoutMs: 2000,
      maxParallelResources: 16,
    }),
    convergenceEngine: c.convergenceEngine === undefined ? true : String(c.convergenceEngine) !== 'false',
    convergenceDelete: String(c.convergenceDelete ?? true) !== 'false',
    deferredAuthMethod: c.deferredAuthMethod === 'password' ? 'password' : 'trusts',
    stackUserDomainName: c.stackUserDomainName ?? 'heat',
    stackDomainAdmin: c.stackDomainAdmin ?? 'heat_domain_admin',
    stackDomainAdminPassword: c.stackDomainAdminPassword,
    dataDir: cfg.dataDir ?? '.',
    authEncryptionKey: c.authEncryptionKey,
  };
}
