// The image service (Glance v2, as Zed answers it): images and their data, members, tags,
// schemas, discovery, and the stores that keep the bytes.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { ServiceFactory, ServiceContext } from '../core/service.ts';
import { jsonBodyParser, type ServiceModule } from '../core/http.ts';
import { ApiError } from '../core/errors.ts';
import { PolicyEngine } from '../core/policy/index.ts';
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
import { registerImageRoutes } from './api/images.ts';
import { registerDataRoutes, ImageHasher, virtualSize } from './api/data.ts';
import { registerMemberRoutes } from './api/members.ts';
import { registerMetadefRoutes, seedMetadefs } from './api/metadefs.ts';

export const JSON_PATCH = 'application/openstack-images-v2.1-json-patch';

/** Glance's [glance_download_properties] extra_properties: the prefixes glance-download copies. */
export const GLANCE_DOWNLOAD_PROPERTIES = ['hw_', 'trait:', 'os_distro', 'os_secure_boot', 'os_type'];

/** A glance-download source: the image, where its service is, and the caller's token to read it. */
export interface RemoteImage {
  imageId: string;
  region: string;
  interface: string;
  token: string;
}

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
    public db: Kysely<any>,
    public ctx: ServiceContext,
  ) {
    const cfg = ctx.config as any;
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

  /**
   * The import flows: glance-direct (from staging), web-download (from a URL), copy-image (to
   * more stores). Progress shows in os_glance_importing_to_stores / os_glance_failed_import, as
   * Glance reports it; the first store failing reverts the image to `from`.
   */
  /**
   * glance-download: the image's metadata and data from the image service of another region (or
   * this one), found in the caller's catalog and read with the caller's token, as Glance does.
   * disk/container formats and the properties of GLANCE_DOWNLOAD_PROPERTIES are copied first;
   * `revert` puts them back when the import fails.
   */
  async glanceDownload(img: Image, remote: RemoteImage): Promise<{ data: Readable; revert: () => Promise<void> }> {
    const identity = (await this.ctx.session.endpoint('identity', 'public')).replace(/\/+$/, '');
    const catalogRes = await fetch(`${/\/v3$/.test(identity) ? identity : `${identity}/v3`}/auth/catalog`, {
      headers: { 'X-Auth-Token': remote.token },
    });
    if (catalogRes.status !== 200) throw new ApiError(400, `The catalog could not be read (${catalogRes.status}).`);
    const catalog = ((await catalogRes.json()) as any).catalog as Array<{
      type: string;
      endpoints: Array<{ interface: string; region?: string; region_id?: string; url: string }>;
    }>;
    const endpoint = catalog
      .filter((c) => c.type === 'image')
      .flatMap((c) => c.endpoints)
      .find(
        (e) =>
          (e.region_id ?? e.region ?? '').toLowerCase() === remote.region.toLowerCase() &&
          e.interface === remote.interface,
      )?.url;
    if (!endpoint)
      throw new ApiError(
        400,
        `Glance endpoint not found for region ${remote.region} with interface ${remote.interface}`,
      );
    const base = endpoint.replace(/\/+$/, '');
    const metaRes = await fetch(`${base}/v2/images/${remote.imageId}`, { headers: { 'X-Auth-Token': remote.token } });
    if (metaRes.status !== 200)
      throw new ApiError(400, `The remote image ${remote.imageId} could not be read (${metaRes.status}).`);
    const meta = (await metaRes.json()) as Record<string, any>;
    if (meta.status !== 'active')
      throw new ApiError(400, `Source image status should be active instead of ${meta.status}`);
    const size = Number(meta.size);
    if (!Number.isFinite(size))
      throw new ApiError(400, `Size attribute of remote image ${remote.imageId} could not be determined.`);
    const before = (await this.repo.get(img.id))!;
    const copied = Object.fromEntries(
      Object.entries(meta).filter(
        ([k, v]) => typeof v === 'string' && GLANCE_DOWNLOAD_PROPERTIES.some((p) => k.startsWith(p)),
      ),
    );
    await this.repo.save(
      {
        ...before,
        disk_format: meta.disk_format,
        container_format: meta.container_format,
        properties: { ...before.properties, ...copied },
      },
      { disk_format: 1, container_format: 1, properties: 1 },
    );
    const revert = async () => {
      const cur = await this.repo.get(img.id);
      if (!cur) return;
      const properties = { ...cur.properties };
      for (const k of Object.keys(copied)) {
        if (k in before.properties) properties[k] = before.properties[k]!;
        else delete properties[k];
      }
      await this.repo.save(
        { ...cur, disk_format: before.disk_format, container_format: before.container_format, properties },
        { disk_format: 1, container_format: 1, properties: 1 },
      );
    };
    try {
      const res = await fetch(`${base}/v2/images/${remote.imageId}/file`, {
        headers: { 'X-Auth-Token': remote.token },
      });
      if (!res.ok || !res.body) throw new ApiError(400, `The remote image data could not be read (${res.status}).`);
      let got = 0;
      const counted = Readable.fromWeb(res.body as any).pipe(
        new Transform({
          transform(chunk: Buffer, _e, cb) {
            got += chunk.length;
            cb(null, chunk);
          },
          flush(cb) {
            cb(
              got === size ? null : new ApiError(400, `Downloaded data size ${got} is different from expected ${size}`),
            );
          },
        }),
      );
      return { data: counted, revert };
    } catch (e) {
      await revert();
      throw e;
    }
  }

  async runImport(
    img: Image,
    method: string,
    stores: string[],
    uri: string | undefined,
    from: string,
    remote?: RemoteImage,
  ) {
    const staged = path.join(this.stagingDir, img.id);
    const done = (s: string, failed: boolean) =>
      this.setProperties(img.id, (p) => {
        p.os_glance_importing_to_stores = (p.os_glance_importing_to_stores ?? '')
          .split(',')
          .filter((x) => x && x !== s)
          .join(',');
        if (failed)
          p.os_glance_failed_import = [...(p.os_glance_failed_import ?? '').split(',').filter(Boolean), s].join(',');
      });
    let firstError: unknown;
    for (const [n, s] of stores.entries()) {
      const cur = (await this.repo.get(img.id))!;
      try {
        if (method === 'glance-download' && n === 0) {
          const { data, revert } = await this.glanceDownload(img, remote!);
          await this.saveData(img, data, s, ['importing'], from).catch(async (e) => {
            await revert();
            throw e;
          });
        } else if (method !== 'copy-image' && n === 0) {
          const source: Readable = method === 'web-download' ? await download(uri!) : fs.createReadStream(staged);
          await this.saveData(img, source, s, ['importing'], from);
        } else if (!cur.locations.some((l) => l.store === s)) {
          const src = cur.locations[0]!;
          const stored = await this.store(s).add(img.id, await this.store(src.store).get(src.url));
          const again = (await this.repo.get(img.id))!;
          await this.repo.save(
            { ...again, locations: [...again.locations, { store: s, url: stored.url }] },
            { locations: 1 },
          );
        }
        await done(s, false);
      } catch (e) {
        firstError ??= e;
        if (method !== 'copy-image' && n === 0) await this.repo.transition(img.id, ['importing'], from);
        await done(s, true);
        if (method !== 'copy-image' && n === 0) break;
      }
    }
    if (method === 'glance-direct' && !firstError) await fsp.rm(staged, { force: true });
    if (firstError) throw firstError;
  }

  async close() {
    await this.db.destroy();
  }
}

export async function download(uri: string): Promise<Readable> {
  const res = await fetch(uri);
  if (!res.ok || !res.body) throw new ApiError(400, `web-download of ${uri} answered ${res.status}`);
  return Readable.fromWeb(res.body as any);
}

export const imageService: ServiceFactory = {
  name: 'image',
  user: 'glance',
  async create(ctx: ServiceContext) {
    const svc = new ImageService(await ctx.openDatabase(), ctx);
    return svc;
  },
};
