// What DevStack gives tempest for compute (lib/tempest, Zed), done here over the REST APIs as
// the admin: an active image and its alt uploaded through the image API (a tiny empty qcow2;
// the fake virt driver boots nothing), the flavors m1.nano (42) and m1.micro (84), and what
// tempest.conf's [compute] and [compute-feature-enabled] say of the cloud. Existing images and
// flavors (a cloud given with --url) are reused. A refused step is a warning: tests needing it fail.
import type { CatalogEntry } from './tempest-config.ts';
import { tinyQcow2 } from '../../src/core/qcow2.ts';

export { tinyQcow2 };

/** DevStack's flavors for tempest (lib/tempest: m1.nano 42 and m1.micro 84, hw_rng:allowed=True). */
export const DEVSTACK_TEMPEST_FLAVORS = [
  { id: '42', name: 'm1.nano', ram: 128, vcpus: 1 },
  { id: '84', name: 'm1.micro', ram: 192, vcpus: 1 },
] as const;

/** The images uploaded for image_ref and image_ref_alt (public, qcow2, bare). */
export const TEMPEST_IMAGES = {
  name: 'stratus-tiny-qcow2',
  altName: 'stratus-tiny-qcow2-alt',
  virtualSize: 64 * 1024 * 1024,
} as const;

/** DevStack's [compute] build_timeout (BUILD_TIMEOUT, 196 s). */
export const BUILD_TIMEOUT = 196;

/**
 * [compute-feature-enabled] as Stratus's compute (and its fake virt driver) behaves today: a
 * feature is on only when its API exists and works, so tempest skips what is not built yet.
 */
export const COMPUTE_FEATURES: Record<string, boolean> = {
  // Moves between the fake hosts (the conformance cloud runs 2): resize with confirm/revert,
  // cold and live migration (block or not, there and back), evacuation.
  resize: true,
  cold_migration: true,
  live_migration: true,
  block_migration_for_live_migration: true,
  live_migrate_back_and_forth: true,
  // Unshelve to another host than the one shelved on is built; the scenario test needs SSH.
  shelve_migrate: false,
  // Rescue from an image with hw_rescue_device/hw_rescue_bus (image-backed servers; the fake
  // driver has no devices to keep, so it is the same rescue).
  stable_rescue: true,
  // os-interface attach/detach through the agent (its tempest tests also need SSH validation).
  interface_attach: true,
  // OS-DCF:diskConfig kept at create, update and rebuild (its resize tests skip with resize).
  disk_config: true,
  // Swap (the admin's os-volume_attachments update) and live migration of volume-backed servers: agent/volumes.ts.
  swap_volume: true,
  volume_multiattach: false,
  volume_backed_live_migration: true,
  attach_encrypted_volume: false,
  // Built (api/server_shelve.ts): snapshots (createImage, createBackup), shelve/unshelve, rescue, changePassword.
  shelve: true,
  snapshot: true,
  rescue: true,
  change_password: true,
  // Built: pause/unpause and suspend/resume through the compute agent; adminPass on create;
  // the text console (the fake driver's boot log).
  console_output: true,
  pause: true,
  suspend: true,
  enable_instance_password: true,
  // The API takes config_drive; no guest reads it (there is no validation either).
  config_drive: true,
  // No consoles, no metadata service, no file injection (personality, gone since 2.57).
  vnc_console: false,
  spice_console: false,
  rdp_console: false,
  serial_console: false,
  metadata_service: false,
  personality: false,
  nova_cert: false,
  xenapi_apis: false,
  // Quotas are Nova's own (quota classes, os-quota-sets), not Keystone unified limits.
  unified_limits: false,
  // Nova's sanitize_hostname since Wallaby (instances.ts): `a.b.c` is hostname `a-b-c`. Its one
  // test (ServersTestFqdnHostnames) reads the hostname in the guest, so it runs with real guests.
  hostname_fqdn_sanitization: true,
};

/**
 * The scheduler's filters tempest may send hints for: zones, enabled and live compute services,
 * server group (anti-)affinity, same_host/different_host.
 */
export const SCHEDULER_FILTERS = [
  'AvailabilityZoneFilter',
  'ComputeFilter',
  'ServerGroupAntiAffinityFilter',
  'ServerGroupAffinityFilter',
  'SameHostFilter',
  'DifferentHostFilter',
];

/** What tempest.conf needs to know of the cloud's compute. */
export interface ComputeFacts {
  imageRef?: string;
  imageRefAlt?: string;
  flavorRef?: string;
  flavorRefAlt?: string;
  /** The API's microversion range (its version document). */
  minMicroversion?: string;
  maxMicroversion?: string;
  /** Hypervisors the cloud lists (tempest's min_compute_nodes). */
  computeNodes?: number;
}

/** A service's endpoint (public first, in the region if given), without a trailing slash. */
export function serviceEndpoint(catalog: CatalogEntry[], type: string, region?: string): string | undefined {
  const eps = catalog.find((s) => s.type === type)?.endpoints ?? [];
  const inRegion = eps.filter((e) => !region || (e.region_id ?? e.region ?? region) === region);
  const list = inRegion.length ? inRegion : eps;
  const ep = list.find((e) => e.interface === 'public') ?? list[0];
  return ep?.url.replace(/\/+$/, '');
}

export interface PrepareComputeOptions {
  /** The compute endpoint from the catalog (…/compute/v2.1). */
  computeEndpoint: string;
  /** The image endpoint from the catalog (…/image); /v2 is added. Without it no image is made. */
  imageEndpoint?: string;
  /** An admin token (project scope). */
  token: string;
  log: (s: string) => void;
  timeoutMs?: number;
}

class Refused extends Error {}

/** The parts of the compute version document (GET /v2.1/) read here. */
interface VersionDocument {
  version?: { version?: string; min_version?: string };
}

/** An image of the image API v2, as far as it is read here. */
interface GlanceImage {
  id: string;
  status?: string;
}

/** A flavor of the compute API, as far as it is read here. */
interface NovaFlavor {
  id: string | number;
  name?: string;
}

/** The answers of the calls made here, by what they list or return. */
interface ImageList {
  images?: GlanceImage[];
}
interface FlavorList {
  flavors?: NovaFlavor[];
}
interface HypervisorList {
  hypervisors?: unknown;
}

/** A JSON body as a record when it is one (an object that is not an array), else an empty one. */
function asRecord(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

/** The objects of a list field of an answer that have a string `id` (other entries are dropped). */
function withIds<T extends { id: string | number }>(v: unknown): T[] {
  if (!Array.isArray(v)) return [];
  return v.filter((x): x is T => {
    const id = asRecord(x).id;
    return typeof id === 'string' || typeof id === 'number';
  });
}

/** The optional string field of an answer (undefined when absent or not a string). */
function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** Creates DevStack's images and flavors for tempest (unless they exist) and returns what tempest.conf needs. */
export async function prepareCompute(o: PrepareComputeOptions): Promise<ComputeFacts> {
  const warn = (s: string) => o.log(`warning: ${s}`);
  const call = async (
    method: string,
    url: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Record<string, unknown>> => {
    const json = body !== undefined && !Buffer.isBuffer(body);
    const res = await fetch(url, {
      method,
      headers: {
        'X-Auth-Token': o.token,
        accept: 'application/json',
        ...(json ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : json ? JSON.stringify(body) : new Uint8Array(body as Buffer),
      signal: AbortSignal.timeout(o.timeoutMs ?? 60_000),
    });
    const text = await res.text();
    if (res.status >= 300)
      throw new Refused(`${method} ${url} answered ${res.status}: ${text.replace(/\s+/g, ' ').slice(0, 300)}`);
    return text ? asRecord(JSON.parse(text)) : {};
  };
  const step = async <T>(what: string, fn: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await fn();
    } catch (e) {
      warn(`${what}: ${(e as Error).message}`);
      return undefined;
    }
  };
  const facts: ComputeFacts = {};
  const nova = o.computeEndpoint.replace(/\/+$/, '');

  const version = await step('the compute version document', async (): Promise<VersionDocument> => {
    const v = asRecord((await call('GET', `${nova}/`)).version);
    return { version: { version: str(v.version), min_version: str(v.min_version) } };
  });
  if (version?.version?.version) {
    facts.minMicroversion = version.version.min_version || undefined;
    facts.maxMicroversion = version.version.version || undefined;
  }

  if (o.imageEndpoint) {
    const glance = `${o.imageEndpoint.replace(/\/+$/, '')}/v2`;
    const data = tinyQcow2(TEMPEST_IMAGES.virtualSize);
    const ensureImage = async (name: string): Promise<string> => {
      const list: ImageList = {
        images: withIds<GlanceImage>((await call('GET', `${glance}/images?name=${encodeURIComponent(name)}`)).images),
      };
      const active = (list.images ?? []).find((i) => i.status === 'active');
      if (active) return String(active.id);
      const id = str(
        (
          await call('POST', `${glance}/images`, {
            name,
            disk_format: 'qcow2',
            container_format: 'bare',
            visibility: 'public',
          })
        ).id,
      );
      if (!id) throw new Refused(`POST ${glance}/images answered no image id`);
      await call('PUT', `${glance}/images/${id}/file`, data, { 'content-type': 'application/octet-stream' });
      const status = str((await call('GET', `${glance}/images/${id}`)).status);
      if (status !== 'active') throw new Refused(`image ${id} is ${status} after its upload`);
      o.log(`created image ${name} (${id})`);
      return id;
    };
    facts.imageRef = await step(`image ${TEMPEST_IMAGES.name}`, () => ensureImage(TEMPEST_IMAGES.name));
    facts.imageRefAlt = await step(`image ${TEMPEST_IMAGES.altName}`, () => ensureImage(TEMPEST_IMAGES.altName));
  } else {
    warn('the catalog has no image service: no image_ref (server tests fail)');
  }

  // The flavor's disk holds the image (DevStack: image_size_in_gib, at least 1).
  const disk = Math.max(1, Math.ceil(TEMPEST_IMAGES.virtualSize / 1024 ** 3));
  const ensureFlavor = async (f: (typeof DEVSTACK_TEMPEST_FLAVORS)[number]): Promise<string> => {
    const r = await fetch(`${nova}/flavors/${f.id}`, {
      headers: { 'X-Auth-Token': o.token, accept: 'application/json' },
      signal: AbortSignal.timeout(o.timeoutMs ?? 60_000),
    });
    await r.arrayBuffer();
    if (r.status === 200) return f.id;
    const list: FlavorList = {
      flavors: withIds<NovaFlavor>((await call('GET', `${nova}/flavors/detail?is_public=None`)).flavors),
    };
    const same = (list.flavors ?? []).find((x) => x.name === f.name);
    if (same) return String(same.id);
    await call('POST', `${nova}/flavors`, { flavor: { id: f.id, name: f.name, ram: f.ram, disk, vcpus: f.vcpus } });
    await call('POST', `${nova}/flavors/${f.id}/os-extra_specs`, { extra_specs: { 'hw_rng:allowed': 'True' } });
    o.log(`created flavor ${f.name} (${f.id})`);
    return f.id;
  };
  facts.flavorRef = await step(`flavor ${DEVSTACK_TEMPEST_FLAVORS[0].name}`, () =>
    ensureFlavor(DEVSTACK_TEMPEST_FLAVORS[0]),
  );
  facts.flavorRefAlt = await step(`flavor ${DEVSTACK_TEMPEST_FLAVORS[1].name}`, () =>
    ensureFlavor(DEVSTACK_TEMPEST_FLAVORS[1]),
  );

  const hypervisors: HypervisorList | undefined = await step('listing the hypervisors', () =>
    call('GET', `${nova}/os-hypervisors`),
  );
  if (Array.isArray(hypervisors?.hypervisors)) facts.computeNodes = hypervisors.hypervisors.length;
  return facts;
}

/** [compute] and [compute-feature-enabled] as DevStack's lib/tempest writes them for this cloud. */
export function computeSections(
  set: (section: string, key: string, value: string) => void,
  facts: ComputeFacts,
  fixedNetworkName?: string,
): void {
  const b = (v: boolean) => (v ? 'True' : 'False');
  if (facts.imageRef) set('compute', 'image_ref', facts.imageRef);
  if (facts.imageRefAlt ?? facts.imageRef) set('compute', 'image_ref_alt', (facts.imageRefAlt ?? facts.imageRef)!);
  if (facts.flavorRef) set('compute', 'flavor_ref', facts.flavorRef);
  if (facts.flavorRefAlt ?? facts.flavorRef) set('compute', 'flavor_ref_alt', (facts.flavorRefAlt ?? facts.flavorRef)!);
  set('compute', 'build_timeout', String(BUILD_TIMEOUT));
  set('compute', 'min_microversion', facts.minMicroversion ?? '2.1');
  set('compute', 'max_microversion', facts.maxMicroversion ?? '2.93');
  if (facts.computeNodes) set('compute', 'min_compute_nodes', String(facts.computeNodes));
  if (fixedNetworkName) set('compute', 'fixed_network_name', fixedNetworkName);
  for (const [k, v] of Object.entries(COMPUTE_FEATURES)) set('compute-feature-enabled', k, b(v));
  set('compute-feature-enabled', 'scheduler_enabled_filters', SCHEDULER_FILTERS.join(','));
}
