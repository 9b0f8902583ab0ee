// The object-store service (Swift v1, as Zed answers it): accounts, containers and objects
// with keystoneauth, listings, metadata, ranges and conditions, copy, expiry, ACLs, quotas,
// large objects, versioning, temp URLs, bulk operations, static web and CORS. Metadata and
// listings are in the database; bytes go through a narrow driver (drivers/fs.ts by default).
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import type { SwiftDb } from './db/schema.ts';
import { ApiError } from '../core/errors.ts';
import { pythonTitle } from '../core/header_case.ts';
import type { ServiceModule } from '../core/http.ts';
import { SERVICE_CATALOG } from '../core/catalog_services.ts';
import { setBodyParsers } from '../core/body_parsers.ts';
import { PolicyEngine } from '../core/policy/index.ts';
import { migrate } from '../core/db.ts';
import { PeriodicTasks } from '../core/periodic.ts';
import type { ServiceContext, ServiceFactory } from '../core/service.ts';
import { migrations } from './db/migrations.ts';
import { OBJECT_STORE_POLICIES } from './policies.ts';
import { SwiftStore } from './store.ts';
import type { ObjectBackend } from './drivers/backend.ts';
import { FsBackend } from './drivers/fs.ts';
import { ObjectWriter } from './objects.ts';
import { LargeObjects } from './large.ts';
import { TempUrl, TEMPURL_DIGESTS, TEMPURL_METHODS } from './tempurl.ts';
import { StaticWeb } from './web.ts';
import { FormPost } from './formpost.ts';
import { Bulk, MAX_CONTAINERS_PER_EXTRACTION, MAX_DELETES_PER_REQUEST, MAX_FAILED_EXTRACTIONS } from './bulk.ts';
import { registerRoutes } from './api/routes.ts';
import { swiftRequest } from './api/request.ts';
import { ContainerSync, SYNC_REALMS } from './sync.ts';
import { PLAIN_ERROR, SYMLOOP_MAX, Symlinks } from './symlink.ts';
import { CONSTRAINTS, transId } from './api/common.ts';

/** Swift's error bodies: a tiny HTML page. */
const ERROR_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  410: 'Gone',
  411: 'Length Required',
  412: 'Precondition Failed',
  413: 'Request Entity Too Large',
  416: 'Requested Range Not Satisfiable',
  422: 'Unprocessable Entity',
  499: 'Client Disconnect',
  500: 'Internal Error',
  503: 'Service Unavailable',
};

export class ObjectStoreService implements ServiceModule {
  readonly catalogEntry = SERVICE_CATALOG['object-store'];
  errorContentType = 'text/html; charset=UTF-8';
  /** swob title-cases every response header name (X-Container-Meta-K1, Etag, X-Trans-Id). */
  headerName = pythonTitle;
  policy: PolicyEngine;
  store: SwiftStore;
  backend: ObjectBackend;
  objects: ObjectWriter;
  large: LargeObjects;
  tempurl: TempUrl;
  web: StaticWeb;
  formpost: FormPost;
  bulk: Bulk;
  periodic: PeriodicTasks;
  sync: ContainerSync;
  symlinks: Symlinks;
  /** Accounts marked deleted (a reseller admin's DELETE), until the reaper has emptied and reclaimed them. */
  deletedAccounts = new Set<string>();
  /** How long a deleted account's name stays taken (upstream's reclaim_age). */
  reclaimAgeSec = 7 * 24 * 3600;

  constructor(
    public db: Kysely<SwiftDb>,
    private ctx: ServiceContext,
  ) {
    this.policy = PolicyEngine.forService('object-store', OBJECT_STORE_POLICIES, ctx.config, ctx.log, {
      section: 'objectStore',
    });
    this.store = new SwiftStore(db);
    this.backend = new FsBackend(path.join(ctx.config.dataDir, 'object-store'));
    this.objects = new ObjectWriter(this);
    this.large = new LargeObjects(this);
    this.tempurl = new TempUrl(this);
    this.web = new StaticWeb(this);
    this.formpost = new FormPost(this);
    this.bulk = new Bulk(this);
    this.periodic = new PeriodicTasks(ctx.log);
    this.sync = new ContainerSync(this);
    this.symlinks = new Symlinks(this);
  }

  async init() {
    await migrate(this.db, migrations);
    for (const a of await this.store.deletedAccounts()) this.deletedAccounts.add(a.account);
    this.periodic.add('account-reaper', 10, () => this.reapAccounts());
    this.periodic.add('object-expirer', 5, () => this.objects.reap());
    this.periodic.add('container-sync', 3, () => this.sync.run());
    // A crash between the file's rename and the row's commit leaves bytes no row points to.
    this.periodic.add('orphan-blobs', 3600, () => this.reapOrphans());
  }

  /** The account reaper: empties deleted accounts, then forgets them after the reclaim age. */
  async reapAccounts(): Promise<void> {
    if (!this.deletedAccounts.size) return;
    for (const a of await this.store.deletedAccounts()) {
      for (;;) {
        const batch = await this.store.objectsOf(a.account, 500);
        for (const o of batch) {
          const blob = await this.store.deleteObject(o.account, o.container, o.name, o.blob);
          if (blob) await this.backend.delete(blob);
        }
        if (batch.length < 500) break;
      }
      for (const c of await this.store.containerNames(a.account, 10000)) await this.store.deleteContainer(a.account, c);
      if (Date.now() / 1000 - Number(a.deleted_at) > this.reclaimAgeSec) {
        await this.store.removeAccount(a.account);
        this.deletedAccounts.delete(a.account);
      }
    }
  }

  /** Deletes blobs older than `graceMs` that no object row references. */
  async reapOrphans(graceMs = 3600_000): Promise<number> {
    let n = 0;
    for await (const b of this.backend.list()) {
      if (Date.now() - b.mtimeMs < graceMs) continue;
      if (!(await this.store.blobReferenced(b.blob))) {
        await this.backend.delete(b.blob);
        n++;
      }
    }
    return n;
  }

  renderError(e: ApiError) {
    const title = ERROR_TEXT[e.status] ?? e.title;
    if (e.type === 'text/plain') return e.message;
    if (e.status === 404) return '<html><h1>Not Found</h1><p>The resource could not be found.</p></html>';
    if (e.status === 401 && /^(FormPost|Temp URL)/.test(e.message))
      return `<html><h1>Unauthorized</h1><p>${e.message}</p></html>`;
    if (e.status === 401)
      return '<html><h1>Unauthorized</h1><p>This server could not verify that you are authorized to access the document you requested.</p></html>';
    if (e.status === 403 && e.message.startsWith('You are not authorized'))
      return '<html><h1>Forbidden</h1><p>Access was denied to this resource.</p></html>';
    if (e.status >= 500)
      return `<html><h1>${title}</h1><p>The server has either erred or is incapable of performing the requested operation.</p></html>`;
    return `<html><h1>${title}</h1><p>${e.message.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</p></html>`;
  }

  /** The crossdomain middleware's policy (cross_domain_policy). */
  crossdomainPolicy = '<allow-access-from domain="*" secure="false" />';

  /** GET /info: the middleware really enabled, with its limits. */
  capabilities() {
    return {
      swift: {
        version: '2.30.1',
        ...CONSTRAINTS,
        strict_cors_mode: true,
        allow_account_management: true,
        account_autocreate: true,
        policies: [{ name: 'Policy-0', aliases: 'Policy-0', default: true }],
      },
      keystoneauth: {},
      tempurl: {
        methods: TEMPURL_METHODS,
        incoming_remove_headers: ['x-timestamp'],
        incoming_allow_headers: [],
        outgoing_remove_headers: ['x-object-meta-*'],
        outgoing_allow_headers: ['x-object-meta-public-*'],
        allowed_digests: TEMPURL_DIGESTS,
      },
      slo: {
        max_manifest_segments: 1000,
        max_manifest_size: 8388608,
        yield_frequency: 10,
        min_segment_size: 1,
        allow_async_delete: false,
      },
      dlo: { max_segments: 10000 },
      versioned_writes: { allowed_flags: ['x-versions-location', 'x-history-location'] },
      bulk_delete: { max_deletes_per_request: MAX_DELETES_PER_REQUEST, max_failed_deletes: 1000 },
      bulk_upload: {
        max_containers_per_extraction: MAX_CONTAINERS_PER_EXTRACTION,
        max_failed_extractions: MAX_FAILED_EXTRACTIONS,
      },
      account_quotas: {},
      container_quotas: {},
      symlink: { symloop_max: SYMLOOP_MAX, static_links: true },
      staticweb: {},
      cors: {},
      formpost: {},
      crossdomain: { cross_domain_policy: this.crossdomainPolicy },
      container_sync: {
        realms: Object.fromEntries(
          Object.entries(SYNC_REALMS).map(([k, v]) => [
            k.toUpperCase(),
            { clusters: Object.fromEntries(Object.keys(v.clusters).map((c) => [c.toUpperCase(), {}])) },
          ]),
        ),
      },
    };
  }

  async register(app: FastifyInstance) {
    // Bodies are streams handed to the handlers: nothing is parsed or buffered here.
    setBodyParsers(app, { stream: true });
    app.addHttpMethod('COPY', { hasBody: true });
    app.addHook('onRequest', async (req, reply) => {
      const tx = transId();
      reply.header('x-trans-id', tx).header('x-openstack-request-id', tx);
    });
    app.addHook('onSend', async (req, reply, payload) => {
      if (reply.getHeader(PLAIN_ERROR)) {
        reply.removeHeader(PLAIN_ERROR);
        reply.type('text/plain; charset=UTF-8');
      }
      const p = req.params as { account?: string; container?: string } | undefined;
      if (req.headers.origin && p?.account && p.container && req.method !== 'OPTIONS') {
        try {
          const cors = await this.web.corsHeaders(
            swiftRequest(req),
            p.account,
            p.container,
            Object.keys(reply.getHeaders()),
          );
          for (const [k, v] of Object.entries(cors ?? {})) reply.header(k, v);
        } catch {
          /* no CORS headers */
        }
      }
      return payload;
    });
    registerRoutes(app, this);
  }

  async close() {
    this.periodic.stop();
    await this.backend.close?.();
    await this.db.destroy();
  }
}

export const objectStoreService: ServiceFactory | undefined = {
  name: 'object-store',
  user: 'swift',
  async create(ctx: ServiceContext) {
    const s = new ObjectStoreService(await ctx.openDatabase(), ctx);
    return s;
  },
};
