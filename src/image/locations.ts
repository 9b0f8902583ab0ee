// Image locations changed by JSON patch (`/locations`), with Glance's rules: only when
// show_multiple_locations is on; add/replace on queued or active images, remove on active
// ones and never the last; a new URL must be an http(s) URL whose size the http store can
// tell; validation_data fills checksum / os_hash_* of a queued image (which then becomes
// active) and must match them otherwise. Removed locations' bytes are deleted after the save.
import { createHash } from 'node:crypto';
import type { RequestContext } from '../core/context.ts';
import { ApiError } from '../core/errors.ts';
import type { ImageService } from './service.ts';
import { HTTP_SCHEMES } from './drivers/http.ts';
import type { Change, Image, Location } from './images.ts';
import { enforceImage } from './api/policy.ts';
import { storeOf } from './stores.ts';
import { pyRepr } from '../core/python.ts';

type LocationValue = { url: string; metadata: Record<string, unknown>; validation_data?: Record<string, string> };

const HASH_ALGO = 'sha512';

/** Glance's _get_locations_op_pos: a digit string or '-' (the end, or the last one). */
function opPosition(raw: string | undefined, count: number, allowEnd: boolean): number | undefined {
  if (raw === undefined) return undefined;
  let pos = allowEnd ? count : count - 1;
  if (/^\d+$/.test(raw)) pos = Number(raw);
  else if (raw !== '-') return undefined;
  if (!allowEnd && !(pos >= 0 && pos < count)) return undefined;
  return pos;
}

/** Glance's _validate_validation_data: the new checksum/hash values a location brings. */
function validationData(img: Image, values: LocationValue[]): Record<string, string> {
  const merged: Record<string, string> = {};
  for (const v of values) {
    for (const [k, x] of Object.entries(v.validation_data ?? {})) {
      if (k in merged && merged[k] !== x) throw new ApiError(409, `Conflicting values for ${k}`);
      merged[k] = x;
    }
  }
  const fresh: Record<string, string> = {};
  for (const [k, x] of Object.entries(merged)) {
    const current = (img as unknown as Record<string, string | null>)[k];
    if (x === current) continue;
    if (current) throw new ApiError(409, `${k} is already set with a different value`);
    fresh[k] = x;
  }
  if (!Object.keys(fresh).length) return {};
  if (img.status !== 'queued')
    throw new ApiError(
      409,
      `New value(s) for ${Object.keys(fresh).join(', ')} may only be provided when image status is 'queued'`,
    );
  if ('checksum' in fresh) {
    if (!/^([0-9a-fA-F]{2})*$/.test(fresh.checksum!))
      throw new ApiError(409, `checksum (${fresh.checksum}) is not a valid hexadecimal value`);
    if (fresh.checksum!.length !== 32)
      throw new ApiError(409, `checksum (${fresh.checksum}) is not the correct size for md5 (should be 16 bytes)`);
  }
  if (fresh.os_hash_algo !== HASH_ALGO)
    throw new ApiError(409, `os_hash_algo must be ${HASH_ALGO}, not ${fresh.os_hash_algo}`);
  const value = fresh.os_hash_value ?? '';
  if (!/^([0-9a-fA-F]{2})*$/.test(value))
    throw new ApiError(409, `os_hash_value (${value}) is not a valid hexadecimal value`);
  const want = createHash(HASH_ALGO).digest().length;
  if (value.length / 2 !== want)
    throw new ApiError(
      409,
      `os_hash_value (${value}) is not the correct size for ${HASH_ALGO} (should be ${want} bytes)`,
    );
  return fresh;
}

export class LocationPatcher {
  /** Bytes of locations removed by the patch, deleted once the image is saved. */
  removed: Location[] = [];

  constructor(
    private svc: ImageService,
    private context: RequestContext,
    private original: Image,
  ) {}

  /** A new location must be an http(s) URL with bytes behind it (Glance's _check_location_uri). */
  private async check(v: LocationValue, img: Image): Promise<Location> {
    const known = this.original.locations.find((l) => l.url === v.url);
    if (known) return { ...known, metadata: v.metadata };
    let scheme: string;
    try {
      scheme = new URL(v.url).protocol;
    } catch {
      throw new ApiError(400, 'Invalid location');
    }
    if (!HTTP_SCHEMES.includes(scheme)) throw new ApiError(400, 'Invalid location');
    const size = await this.svc.httpStore.size(v.url);
    if (size <= 0) throw new ApiError(400, 'Invalid location');
    if (img.size === null) img.size = size;
    return { store: 'http', url: v.url, metadata: v.metadata };
  }

  private activate(img: Image, values: Record<string, string>) {
    if (img.status !== 'queued') return;
    Object.assign(img, values);
    img.status = 'active';
  }

  apply = async (img: Image, c: Change): Promise<void> => {
    const svc = this.svc;
    if (c.op === 'replace') {
      const value = c.value as LocationValue[];
      if (!value.length) throw new ApiError(403, 'Cannot set locations to empty list.');
      await enforceImage(svc, this.context, this.original, 'set_image_location');
      if (!svc.showLocations)
        throw new ApiError(403, "It's not allowed to update locations if locations are invisible.");
      if (!['active', 'queued'].includes(img.status))
        throw new ApiError(409, `It's not allowed to replace locations if image status is ${img.status}.`);
      const values = validationData(img, value);
      const urls = value.map((l) => l.url).sort(),
        current = img.locations.map((l) => l.url).sort();
      if (img.locations.length && JSON.stringify(urls) !== JSON.stringify(current)) {
        throw new ApiError(
          400,
          `Original locations is not empty: ${pyRepr(img.locations.map((l) => ({ url: l.url, metadata: l.metadata ?? {} })))}`,
        );
      }
      const next: Location[] = [];
      for (const v of value) {
        if (value.filter((x) => x.url === v.url).length > 1)
          throw new ApiError(400, `The location ${v.url} already exists`);
        next.push(await this.check(v, img));
      }
      img.locations = next;
      this.activate(img, values);
      return;
    }
    if (c.op === 'add') {
      await enforceImage(svc, this.context, this.original, 'set_image_location');
      if (!svc.showLocations) throw new ApiError(403, "It's not allowed to add locations if locations are invisible.");
      if (!['active', 'queued'].includes(img.status))
        throw new ApiError(409, `It's not allowed to add locations if image status is ${img.status}.`);
      const v = c.value as LocationValue;
      const values = validationData(img, [v]);
      const pos = opPosition(c.path[1], img.locations.length, true);
      if (pos === undefined) throw new ApiError(400, 'Invalid position for adding a location.');
      if (img.locations.some((l) => l.url === v.url)) throw new ApiError(400, `The location ${v.url} already exists`);
      const loc = await this.check(v, img);
      img.locations.splice(pos, 0, loc);
      this.activate(img, values);
      return;
    }
    await enforceImage(svc, this.context, this.original, 'delete_image_location');
    if (!svc.showLocations) throw new ApiError(403, "It's not allowed to remove locations if locations are invisible.");
    if (img.status !== 'active')
      throw new ApiError(409, `It's not allowed to remove locations if image status is ${img.status}.`);
    if (img.locations.length === 1) throw new ApiError(403, 'Cannot remove last location in the image.');
    const pos = opPosition(c.path[1], img.locations.length, false);
    if (pos === undefined) throw new ApiError(400, 'Invalid position for removing a location.');
    this.removed.push(...img.locations.splice(pos, 1));
  };

  /** After the save: delete the bytes of removed locations no remaining location still uses. */
  async cleanup(saved: Image) {
    for (const l of this.removed) {
      if (saved.locations.some((x) => x.url === l.url)) continue;
      await storeOf(this.svc, l.store)
        .delete(l.url)
        .catch((e) => this.svc.ctx.log.warn({ err: e, image: saved.id }, 'could not delete removed location data'));
    }
  }
}
