// The image service (Glance v2, as Zed answers it): images and their data, members, tags,
// schemas, discovery, and the stores that keep the bytes.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import type { ImageDb } from './db/schema.ts';
import type { ServiceFactory, ServiceContext } from '../core/service.ts';
import type { ServiceModule } from '../core/http.ts';
import { SERVICE_CATALOG } from '../core/catalog_services.ts';
import { setBodyParsers } from '../core/body_parsers.ts';
import { ApiError } from '../core/errors.ts';
import { PolicyEngine } from '../core/policy/index.ts';
import { migrate } from '../core/db.ts';
import { migrations } from './db/migrations.ts';
import { IMAGE_POLICIES } from './policies.ts';
import { fromRow, ImageRepo } from './images.ts';
import type { ImageStore } from './drivers/store.ts';
import { FileStore } from './drivers/file.ts';
import { ObjectStoreStore } from './drivers/object_store.ts';
import { HttpStore } from './drivers/http.ts';
import { ImageCache } from './cache.ts';
import { ImageQuotas } from './quota.ts';
import { PropertyProtections } from './protections.ts';
import { JSON_PATCH } from './api/images.ts';
import { registerRoutes } from './api/routes.ts';
import { TaskStore } from './tasks.ts';
import { MetadefStore } from './metadefs.ts';
import { storeOf } from './stores.ts';

export class ImageService implements ServiceModule {
  readonly catalogEntry = SERVICE_CATALOG.image;
  policy: PolicyEngine;
  repo: ImageRepo;
  tasks: TaskStore;
  metadefs: MetadefStore;
  stores = new Map<string, ImageStore>();
  defaultStore = 'file';
  /** Glance's image_size_cap (1 TiB by default). */
  sizeCap: number;
  stagingDir: string;
  /** Glance's show_multiple_locations. */
  showLocations: boolean;
  /** Glance's show_image_direct_url. */
  showDirectUrl: boolean;
  /** The read-only store of locations added by URL (not listed in /v2/info/stores). */
  httpStore = new HttpStore();
  /** Local copies of image data (Glance's image cache), when configured. */
  cache?: ImageCache;
  /** Property protections (property_protection_file), when configured. */
  protections?: PropertyProtections;
  /** Quotas from Keystone's unified limits (use_keystone_limits), when configured. */
  quotas?: ImageQuotas;

  constructor(
    public db: Kysely<ImageDb>,
    public ctx: ServiceContext,
  ) {
    const cfg = ctx.config;
    // Glance's enforce_scope: rules are project-scoped, so system- and domain-scoped tokens are refused.
    // (image.enforceScope is the older name of image.policy.enforceScope.)
    this.policy = PolicyEngine.forService('image', IMAGE_POLICIES, cfg, ctx.log);
    this.repo = new ImageRepo(db);
    this.tasks = new TaskStore(db);
    this.metadefs = new MetadefStore(db);
    const root = path.join(cfg.dataDir, 'image');
    this.stores.set('file', new FileStore(path.join(root, 'images')));
    this.stores.set('object-store', new ObjectStoreStore(ctx.session));
    this.stagingDir = path.join(root, 'staging');
    this.sizeCap = Number(process.env.STRATUS_IMAGE_SIZE_CAP ?? cfg.image?.sizeCap ?? 1024 ** 4);
    this.showLocations = !!cfg.image?.showMultipleLocations;
    this.showDirectUrl = !!cfg.image?.showDirectUrl;
    if (cfg.image?.propertyProtectionFile) {
      this.protections = new PropertyProtections(
        path.resolve(cfg.dataDir, cfg.image.propertyProtectionFile),
        cfg.image.propertyProtectionRuleFormat ?? 'roles',
      );
    }
    if (cfg.image?.useKeystoneLimits) {
      this.quotas = new ImageQuotas(
        ctx.session.systemScoped(),
        cfg.region,
        async (pid) => (await this.db.selectFrom('images').selectAll().where('owner', '=', pid).execute()).map(fromRow),
        (img) => ['uploading', 'importing'].includes(img.status) && fs.existsSync(path.join(this.stagingDir, img.id)),
      );
    }
    if (cfg.image?.cache) {
      this.cache = new ImageCache(
        db,
        path.join(root, 'cache'),
        Number(cfg.image.cacheMaxSize ?? 10 * 1024 ** 3),
        ctx.log,
        async (id) => {
          const img = await this.repo.get(id);
          const loc = img?.locations[0];
          if (!img || !loc || img.status !== 'active') return undefined;
          return { img, data: () => storeOf(this, loc.store).get(loc.url) };
        },
      );
    }
  }

  async init() {
    await migrate(this.db, migrations);
    // An upload or import in flight when the process stopped did not finish: its temporary
    // bytes were removed by the store; the image goes back to where it was before.
    await this.db.updateTable('images').set({ status: 'queued' }).where('status', '=', 'saving').execute();
    for (const r of await this.db.selectFrom('images').select('id').where('status', '=', 'importing').execute()) {
      await this.db
        .updateTable('images')
        .set({ status: fs.existsSync(path.join(this.stagingDir, r.id)) ? 'uploading' : 'queued' })
        .where('id', '=', r.id)
        .execute();
    }
    await this.metadefs.seed();
    if (this.cache) {
      await fsp.mkdir(this.cache.dir, { recursive: true });
      await this.cache.init();
    }
  }

  renderError(e: ApiError) {
    // webob's JSON error body, as Glance answers: {"message", "code": "404 Not Found", "title"}.
    return { message: `${e.message}<br /><br />\n\n\n`, code: `${e.status} ${e.title}`, title: e.title };
  }

  async register(app: FastifyInstance) {
    // Image data streams through; JSON (and JSON patch) bodies are small and parsed whole.
    setBodyParsers(app, {
      json: ['application/json', JSON_PATCH, 'application/openstack-images-v2.0-json-patch'],
      malformed: () => new ApiError(400, 'Malformed JSON in request body.'),
      stream: true,
    });
    registerRoutes(app, this);
  }

  async close() {
    await this.db.destroy();
  }
}

export const imageService: ServiceFactory = {
  name: 'image',
  user: 'glance',
  async create(ctx: ServiceContext) {
    const svc = new ImageService(await ctx.openDatabase(), ctx);
    return svc;
  },
};
