// The block storage service (Cinder v3 as Zed answers it, microversions 3.0 to 3.70): the
// composition root. It builds the service's parts once (stores, quotas, messages, the scheduler,
// the volume agent with its driver, the heartbeats), mounts the API (api/versions.ts,
// api/routes.ts) and starts the roles config asks for. The API hands long work to the scheduler
// (scheduler/) and to the volume agent of a backend (agent/) over typed RPC (rpcapi.ts).
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { migrate } from '../core/db.ts';
import type { ApiError } from '../core/errors.ts';
import type { ServiceModule } from '../core/http.ts';
import { SERVICE_CATALOG } from '../core/catalog_services.ts';
import { PolicyEngine } from '../core/policy/index.ts';
import type { ServiceContext, ServiceFactory } from '../core/service.ts';
import { VolumeAgent } from './agent/volume.ts';
import { MigrationApi } from './migration_api.ts';
import { faultBody } from './api/common.ts';
import { registerApi } from './api/versions.ts';
import { type BlockStorageOptions, blockStorageOptions } from './config.ts';
import type { BlockStorageDb } from './db/schema.ts';
import { MIGRATIONS } from './db/migrations/index.ts';
import { volumeDriver } from './drivers/index.ts';
import { ServiceHeartbeat } from './heartbeat.ts';
import { VolumeImages } from './images.ts';
import { MessageStore } from './messages.ts';
import { BLOCK_STORAGE_POLICIES } from './policies.ts';
import { QuotaEngine } from './quotas.ts';
import { Scheduler } from './scheduler/scheduler.ts';
import { TypeStore } from './types.ts';
import { VolumeStore } from './volumes.ts';
import { VolumeApi } from './volume_api.ts';
import { TransferStore } from './transfers.ts';
import { QosStore } from './qos.ts';
import { BackupStore } from './backups.ts';
import { ObjectStoreClient } from './backup_store.ts';
import { BackupAgent } from './agent/backup.ts';
import { GroupApi, GroupStore } from './groups.ts';
import { NovaEvents } from './nova.ts';

export { blockStorageOptions, type BlockStorageOptions } from './config.ts';

/** The parts of block storage, typed: what the API, the scheduler and the agent of this process share. */
export interface BlockStorageParts {
  volumes: VolumeStore;
  types: TypeStore;
  quotas: QuotaEngine;
  messages: MessageStore;
  images: VolumeImages;
  /** The API side's rules on volumes, snapshots and attachments. */
  api: VolumeApi;
  /** The API side of volume migration (os-migrate_volume, its completion, retype with migration). */
  migrations: MigrationApi;
  /** The API side's rules on generic volume groups and group snapshots. */
  groups: GroupApi;
  transfers: TransferStore;
  backups: BackupStore;
  /** The backup agent (cinder-backup) of this process, beside its volume agent. */
  backupAgent?: BackupAgent;
  qos: QosStore;
  scheduler: Scheduler;
  /** The volume agent of this process's first backend (when `blockStorage.agent`). */
  agent?: VolumeAgent;
  /** The volume agents of every backend of this host (`blockStorage.backends`), the first is `agent`. */
  agents: VolumeAgent[];
  heartbeats: ServiceHeartbeat[];
}

export class BlockStorageService implements ServiceModule {
  readonly catalogEntry = SERVICE_CATALOG['block-storage'];
  policy: PolicyEngine;
  options: BlockStorageOptions;
  readonly parts: BlockStorageParts;

  constructor(
    public db: Kysely<BlockStorageDb>,
    public ctx: ServiceContext,
  ) {
    this.options = blockStorageOptions(ctx.config);
    this.policy = PolicyEngine.forService('block-storage', BLOCK_STORAGE_POLICIES, ctx.config, ctx.log, {
      section: 'blockStorage',
      contextIsAdmin: true,
    });
    const o = this.options;
    const log = ctx.log;
    const volumes = new VolumeStore(db);
    const messages = new MessageStore(db, o.messageTtl);
    const images = new VolumeImages(ctx.session);
    const types = new TypeStore(db, o.defaultVolumeType);
    const quotas = new QuotaEngine(db);
    const qos = new QosStore(db);
    const backups = new BackupStore(db);
    const groupStore = new GroupStore(db);
    // The backup agent reads and writes the volumes' files too (the same host's first backend;
    // a file-backed volume's location is its path, whichever backend holds it).
    const volumeLog = log.child({ role: 'cinder-volume' });
    const drivers =
      o.agent || o.backup
        ? o.backends.map((b) => volumeDriver(b, (m) => volumeLog.info(`${b.backendName}: ${m}`)))
        : [];
    const driver = drivers[0];
    const agents = o.agent
      ? drivers.map(
          (d, i) =>
            new VolumeAgent(
              volumes,
              groupStore,
              messages,
              images,
              d,
              ctx.bus,
              o.backends[i]!,
              volumeLog,
              new NovaEvents(ctx.session, volumeLog),
            ),
        )
      : [];
    const scheduler = new Scheduler(
      db,
      volumes,
      groupStore,
      messages,
      ctx.bus,
      o.serviceDownTime,
      log.child({ role: 'cinder-scheduler' }),
    );
    this.parts = {
      backups,
      backupAgent:
        driver && o.backup
          ? new BackupAgent(
              backups,
              volumes,
              messages,
              new ObjectStoreClient(ctx.session),
              driver,
              ctx.bus,
              o,
              log.child({ role: 'cinder-backup' }),
            )
          : undefined,
      volumes,
      transfers: new TransferStore(db, volumes, quotas),
      qos,
      types,
      quotas,
      api: new VolumeApi(volumes, types, quotas, qos, images, ctx.bus, o),
      groups: new GroupApi(groupStore, volumes, types, quotas, ctx.bus, o),
      messages,
      images,
      scheduler,
      migrations: new MigrationApi(volumes, types, scheduler, ctx.bus),
      agent: agents[0],
      agents,
      heartbeats: [],
    };
  }

  async init() {
    await migrate(this.db, MIGRATIONS);
    const o = this.options;
    const p = this.parts;
    if (o.scheduler) {
      p.scheduler.start();
      p.heartbeats.push(
        new ServiceHeartbeat(this.db, o.host, 'cinder-scheduler', o.availabilityZone, o.reportInterval, this.ctx.log),
      );
    }
    for (const h of p.heartbeats) await h.start();
    for (const a of p.agents) await a.start();
    await p.backupAgent?.start();
  }

  renderError(e: ApiError) {
    return faultBody(e);
  }

  async register(app: FastifyInstance) {
    await registerApi(app, this);
  }

  async close() {
    for (const h of this.parts.heartbeats) h.stop();
    this.parts.backupAgent?.stop();
    for (const a of this.parts.agents) await a.stop();
    this.parts.scheduler.stop();
    await this.db.destroy();
  }
}

export const blockStorageService: ServiceFactory = {
  name: 'block-storage',
  user: 'cinder',
  // Its options are `blockStorage:` in stratus.yaml (config.ts); `block-storage:` stays accepted.
  configSections: ['blockStorage', 'block-storage'],
  async create(ctx: ServiceContext) {
    return new BlockStorageService((await ctx.openDatabase()) as Kysely<BlockStorageDb>, ctx);
  },
};
