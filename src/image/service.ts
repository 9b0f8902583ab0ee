// The image service (Glance v2, as Zed answers it): images and their data, members, tags,
// schemas, discovery, and the stores that keep the bytes.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { ImageDb } from './db/schema.ts';
import type { ServiceFactory, ServiceContext } from '../core/service.ts';
import { jsonBodyParser, type ServiceModule } from '../core/http.ts';
import { ApiError } from '../core/errors.ts';
import { PolicyEngine } from '../core/policy.ts';
import { migrate } from '../core/db.ts';
import { migrations } from './db/migrations.ts';
import { IMAGE_POLICIES } from './policies.ts';
import { fromRow, ImageRepo, imageView, isAdmin, type Image } from './images.ts';
import type { ImageStore } from './drivers/store.ts';
import { FileStore } from './drivers/file.ts';
import { ObjectStoreStore } from './drivers/object_store.ts';
import { HttpStore } from './drivers/http.ts';
import { ImageCache } from './cache.ts';
import { registerCacheRoutes } from './api/cache.ts';
import { registerTaskRoutes } from './api/tasks.ts';
import { ImageQuotas } from './quota.ts';
import { PropertyProtections, propertyGuard, type PropertyGuard } from './protections.ts';
import { registerDiscoveryRoutes } from './api/discovery.ts';
import { JSON_PATCH, registerImageRoutes } from './api/images.ts';
import { registerDataRoutes, ImageHasher, virtualSize } from './api/data.ts';
import { registerMemberRoutes } from './api/members.ts';
import { registerMetadefRoutes, seedMetadefs } from './api/metadefs.ts';

export class ImageService implements ServiceModule {
  name = 'image';
  type = 'image';
  prefix = '/image';
  standardPort = 9292;
  catalogPath = '';
  catalogName = 'glance';
  policy: PolicyEngine;
  repo: ImageRepo;
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
    this.policy = PolicyEngine.forService('image', IMAGE_POLICIES, cfg.policyDir, ctx.log, {
      enforceScope: !!cfg.image?.enforceScope,
    });
    this.repo = new ImageRepo(db);
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
          return { img, data: () => this.store(loc.store).get(loc.url) };
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
    await seedMetadefs(this);
    if (this.cache) {
      await fsp.mkdir(this.cache.dir, { recursive: true });
      await this.cache.init();
    }
  }

  renderError(e: ApiError) {
    // webob's JSON error body, as Glance answers: {"message", "code": "404 Not Found", "title"}.
    return { message: `${e.message}<br /><br />\n\n\n`, code: `${e.status} ${e.title}`, title: e.title };
  }

  store(id: string): ImageStore {
    const s = id === 'http' ? this.httpStore : this.stores.get(id);
    if (!s) throw new ApiError(400, `Unknown scheme '${id}' found in URI`);
    return s;
  }

  /** Glance's is_image_visible. */
  async visible(img: Image, req: FastifyRequest): Promise<boolean> {
    const ctx = req.ctx;
    if (isAdmin(ctx) || img.owner === null) return true;
    if (img.visibility === 'public' || img.visibility === 'community') return true;
    if (!ctx?.projectId) return false;
    if (img.owner === ctx.projectId) return true;
    if (img.visibility === 'shared') return !!(await this.repo.member(img.id, ctx.projectId));
    return false;
  }

  /** The policy target of an image (Glance's ImageTarget). */
  async target(img: Image, req: FastifyRequest): Promise<Record<string, unknown>> {
    const pid = req.ctx?.projectId;
    const member = pid && img.visibility === 'shared' && (await this.repo.member(img.id, pid)) ? pid : undefined;
    return {
      project_id: img.owner,
      owner: img.owner,
      visibility: img.visibility,
      member_id: member,
      id: img.id,
      image_id: img.id,
    };
  }

  /** What the caller may do with extra properties, when protections are configured. */
  guard(req: FastifyRequest): PropertyGuard | undefined {
    const ctx = req.ctx;
    return propertyGuard(this.protections, [...(ctx?.roles ?? []), ...(ctx?.serviceRoles ?? [])], (rule) =>
      req.allowed(rule, {}),
    );
  }

  /** The image as this caller sees it: locations and direct_url when shown and get_image_location allows. */
  async view(img: Image, req: FastifyRequest): Promise<Record<string, unknown>> {
    const guard = this.guard(req);
    if (guard)
      img = {
        ...img,
        properties: Object.fromEntries(Object.entries(img.properties).filter(([k]) => guard.readable(k))),
      };
    if (!this.showLocations && !this.showDirectUrl) return imageView(img);
    const can = req.allowed('get_image_location', await this.target(img, req));
    return imageView(can ? img : { ...img, locations: [] }, {
      locations: this.showLocations,
      directUrl: this.showDirectUrl,
    });
  }

  /** Loads an image the caller may see (404 otherwise) and enforces `rule` on it. */
  async find(req: FastifyRequest, id: string, rule?: string): Promise<Image> {
    const img = await this.repo.get(id);
    if (!img || !(await this.visible(img, req))) throw new ApiError(404, `No image found with ID ${id}`);
    if (rule) await this.enforce(req, img, rule);
    return img;
  }

  /**
   * Enforces an image rule as Glance's ImageAPIPolicy does: a refusal is a 404 when the caller
   * may not even get the image (so its existence is not revealed), a 403 otherwise.
   */
  async enforce(req: FastifyRequest, img: Image, rule: string, extra: Record<string, unknown> = {}) {
    const target = await this.target(img, req);
    const full = { ...target, ...extra };
    if (req.allowed(rule, full)) {
      req.authorized = true;
      return;
    }
    if (rule === 'get_image' || !req.allowed('get_image', target)) {
      req.authorized = true;
      throw new ApiError(404, `No image found with ID ${img.id}`);
    }
    req.authorize(rule, full);
  }

  /** A member rule (Glance's MemberAPIPolicy): the image must be gettable first, then the rule itself. */
  async enforceMember(req: FastifyRequest, img: Image, rule: string, extra: Record<string, unknown> = {}) {
    await this.enforce(req, img, 'get_image');
    req.authorize(rule, { ...(await this.target(img, req)), ...extra });
  }

  async register(app: FastifyInstance) {
    // Image data streams through; JSON (and JSON patch) bodies are small and parsed whole.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser(
      ['application/json', JSON_PATCH, 'application/openstack-images-v2.0-json-patch'],
      { parseAs: 'string' },
      jsonBodyParser(() => new ApiError(400, 'Malformed JSON in request body.')),
    );
    app.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
    registerDiscoveryRoutes(app, this);
    registerImageRoutes(app, this);
    registerDataRoutes(app, this);
    registerMemberRoutes(app, this);
    registerMetadefRoutes(app, this);
    registerCacheRoutes(app, this);
    registerTaskRoutes(app, this);
  }

  /**
   * Streams `data` into a store, hashing it; on success the image becomes active with its
   * checksums and location; on failure it goes back to `revertTo` and the store keeps nothing.
   */
  async saveData(img: Image, data: Readable, storeId: string, from: string[], revertTo: string) {
    const store = this.store(storeId);
    const hasher = new ImageHasher(this.sizeCap);
    let stored;
    try {
      stored = await store.add(img.id, hasher.pass(data));
    } catch (e) {
      await this.repo.transition(img.id, from, revertTo);
      if (e instanceof ApiError) throw e;
      throw new ApiError(400, 'Image data upload was interrupted; the image was put back to queued.');
    }
    const digests = hasher.digests;
    const loc = { store: store.id, url: stored.url };
    const current = await this.repo.get(img.id);
    const ok =
      current &&
      (await this.repo.transition(img.id, from, 'active', {
        size: hasher.size,
        checksum: digests.md5,
        os_hash_algo: 'sha512',
        os_hash_value: digests.sha512,
        virtual_size: virtualSize(current.disk_format, hasher.head, hasher.size),
        locations: JSON.stringify([...current.locations.filter((l) => l.store !== store.id), loc]),
      }));
    if (!ok) {
      await store.delete(stored.url).catch(() => {});
      throw new ApiError(
        410,
        `Image ${img.id} could not be found after upload. The image may have been deleted during the upload.`,
      );
    }
  }

  /** Removes an image's bytes from every store and the staging area. */
  async deleteData(img: Image) {
    for (const l of img.locations)
      await (l.store === 'http' ? this.httpStore : this.stores.get(l.store))
        ?.delete(l.url)
        .catch((e) => this.ctx.log.warn({ err: e, image: img.id }, 'could not delete image data'));
    await fsp.rm(path.join(this.stagingDir, img.id), { force: true });
    await this.cache?.delete(img.id);
  }

  /** Changes extra properties of an image in place (the os_glance_* import bookkeeping). */
  async setProperties(id: string, change: (p: Record<string, string>) => void) {
    const cur = await this.repo.get(id);
    if (!cur) return;
    change(cur.properties);
    await this.repo.save(cur, { properties: 1 });
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
