// What a service gets from the process that runs it, and how it is created. Every service
// but identity is built by a factory listed in src/services.ts.
import type { Kysely } from 'kysely';
import type { StratusConfig } from './config.ts';
import type { MessageBus } from './bus.ts';
import type { Logger } from './log.ts';
import type { ServiceModule } from './http.ts';
import type { ServiceSession } from './clients/session.ts';

export interface ServiceContext {
  config: StratusConfig;
  bus: MessageBus;
  log: Logger;
  /** The service's own database (a SQLite file or a PostgreSQL schema named after the service). */
  openDatabase<DB>(): Promise<Kysely<DB>>; // DB: the service's table interfaces (db/schema.ts), taken from where it goes
  /** Authenticated as this service's user (project `service`), for REST calls to other services. */
  session: ServiceSession;
  /** The services this process created before this one, in SERVICES order (heat-api-cfn finds orchestration here). */
  services: readonly ServiceModule[];
}

export interface ServiceFactory {
  /** Folder name and database name, e.g. 'image'. */
  name: string;
  /** Its sections of stratus.yaml when not only `name` (e.g. `metric` and `collector`). */
  configSections?: string[];
  /** The service user bootstrap creates for it (glance, swift, ...). */
  user: string;
  /**
   * Other service users bootstrap creates for its agents (the metric service's collector runs as
   * ceilometer, with Swift's ResellerAdmin as DevStack grants); they reach them by `session.as(name)`.
   */
  agentUsers?: Array<{ name: string; roles?: string[] }>;
  /** The service, not started yet: the process calls its `init()` (and `close()`, also when init failed). */
  create(ctx: ServiceContext): Promise<ServiceModule>;
}
