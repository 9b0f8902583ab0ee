// Image quotas through Keystone's unified limits (Glance's use_keystone_limits and oslo.limit's
// flat enforcement): image_size_total and image_stage_total (MiB), image_count_total and
// image_count_uploading. A project's limit is its own Keystone limit for the image service in
// this region, else the registered default, else 0. Usage is counted from the images; an
// operation is refused with 413 when usage + delta would go over the limit.
import { ApiError } from '../core/errors.ts';
import type { ServiceSession } from '../core/clients/session.ts';
import { IdentityClient } from '../core/clients/identity.ts';
import type { RestAnswer } from '../core/clients/rest.ts';
import type { Image } from './images.ts';

export const QUOTAS = ['image_size_total', 'image_stage_total', 'image_count_total', 'image_count_uploading'] as const;
export type QuotaName = (typeof QUOTAS)[number];

const MiB = 1024 * 1024;
const UPLOADING = ['saving', 'uploading', 'importing'];

export class ImageQuotas {
  private serviceId?: string;

  private readonly identity: IdentityClient;

  constructor(
    session: ServiceSession,
    private region: string,
    /** The images a project owns and the bytes it has staged. */
    private owned: (projectId: string) => Promise<Image[]>,
    private staged: (img: Image) => boolean,
  ) {
    this.identity = new IdentityClient(session);
  }

  /** A 200 answer's body; anything else is the 503 Glance answers when Keystone cannot be read. */
  private static body<T>(r: RestAnswer<T>): T {
    if (r.status !== 200) throw new ApiError(503, `Unable to read the unified limits from Keystone (${r.status}).`);
    return r.body;
  }

  /** oslo.limit's flat model: the project's limit, else the registered default, else 0. */
  async limits(projectId: string): Promise<Record<QuotaName, number>> {
    const pub = { iface: 'public' };
    if (!this.serviceId) {
      const { services } = ImageQuotas.body(await this.identity.servicesOfType('image', pub));
      if (!services.length) throw new ApiError(503, 'The image service is not in the Keystone catalog.');
      this.serviceId = services[0]!.id;
    }
    const where = { service_id: this.serviceId, region_id: this.region };
    const registered = ImageQuotas.body(await this.identity.registeredLimits(where, pub)).registered_limits;
    const own = ImageQuotas.body(await this.identity.projectLimits({ ...where, project_id: projectId }, pub)).limits;
    const out = {} as Record<QuotaName, number>;
    for (const name of QUOTAS) {
      out[name] =
        own.find((l) => l.resource_name === name && l.project_id === projectId)?.resource_limit ??
        registered.find((r) => r.resource_name === name)?.default_limit ??
        0;
    }
    return out;
  }

  /** What a project uses, in Glance's units (sizes in MiB, rounded down). */
  async usage(projectId: string): Promise<Record<QuotaName, number>> {
    const images = await this.owned(projectId);
    let stored = 0,
      staging = 0,
      uploading = 0;
    for (const i of images) {
      // Every copy counts: an image in two stores uses its size twice.
      if (i.size) stored += i.size * i.locations.filter((l) => l.store !== 'http').length;
      if (i.size && this.staged(i)) staging += i.size;
      if (UPLOADING.includes(i.status) || (i.properties.os_glance_importing_to_stores ?? '') !== '') uploading++;
    }
    return {
      image_size_total: Math.floor(stored / MiB),
      image_stage_total: Math.floor(staging / MiB),
      image_count_total: images.length,
      image_count_uploading: uploading,
    };
  }

  /** Refuses (413) when any usage + delta is over its limit; oslo.limit's message. */
  async enforce(projectId: string | null | undefined, deltas: Partial<Record<QuotaName, number>>) {
    if (!projectId) return;
    const [limits, usage] = await Promise.all([this.limits(projectId), this.usage(projectId)]);
    const over: string[] = [];
    for (const [name, delta] of Object.entries(deltas) as Array<[QuotaName, number]>) {
      if (usage[name] + delta > limits[name])
        over.push(
          `Resource ${name} is over limit of ${limits[name]} due to current usage ${usage[name]} and delta ${delta}`,
        );
    }
    if (over.length) throw new ApiError(413, `Project ${projectId} is over a limit for [${over.join(', ')}]`);
  }

  /** GET /v2/info/usage. */
  async report(projectId: string): Promise<Record<string, { limit: number; usage: number }>> {
    const [limits, usage] = await Promise.all([this.limits(projectId), this.usage(projectId)]);
    return Object.fromEntries(QUOTAS.map((n) => [n, { limit: limits[n], usage: usage[n] }]));
  }
}
