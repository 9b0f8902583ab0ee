// Glance's interoperable import flows (glance/async_/flows): glance-direct from staging, web-download
// from a URL, copy-image to more stores, glance-download from the image service of another region.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { ApiError } from '../core/errors.ts';
import type { Image } from './images.ts';
import type { ImageService } from './service.ts';
import { saveData, setProperties, storeOf } from './stores.ts';

/** Glance's [glance_download_properties] extra_properties: the prefixes glance-download copies. */
export const GLANCE_DOWNLOAD_PROPERTIES = ['hw_', 'trait:', 'os_distro', 'os_secure_boot', 'os_type'];

/** A glance-download source: the image, where its service is, and the caller's token to read it. */
export interface RemoteImage {
  imageId: string;
  region: string;
  interface: string;
  token: string;
}

/**
 * glance-download: the image's metadata and data from the image service of another region (or
 * this one), found in the caller's catalog and read with the caller's token, as Glance does.
 * disk/container formats and the properties of GLANCE_DOWNLOAD_PROPERTIES are copied first;
 * `revert` puts them back when the import fails.
 */
export async function glanceDownload(
  svc: ImageService,
  img: Image,
  remote: RemoteImage,
): Promise<{ data: Readable; revert: () => Promise<void> }> {
  const identity = (await svc.ctx.session.endpoint('identity', 'public')).replace(/\/+$/, '');
  const catalogRes = await fetch(`${/\/v3$/.test(identity) ? identity : `${identity}/v3`}/auth/catalog`, {
    headers: { 'X-Auth-Token': remote.token },
  });
  if (catalogRes.status !== 200) throw new ApiError(400, `The catalog could not be read (${catalogRes.status}).`);
  const { catalog } = (await catalogRes.json()) as {
    catalog: Array<{
      type: string;
      endpoints: Array<{ interface: string; region?: string; region_id?: string; url: string }>;
    }>;
  };
  const endpoint = catalog
    .filter((c) => c.type === 'image')
    .flatMap((c) => c.endpoints)
    .find(
      (e) =>
        (e.region_id ?? e.region ?? '').toLowerCase() === remote.region.toLowerCase() &&
        e.interface === remote.interface,
    )?.url;
  if (!endpoint)
    throw new ApiError(400, `Glance endpoint not found for region ${remote.region} with interface ${remote.interface}`);
  const base = endpoint.replace(/\/+$/, '');
  const metaRes = await fetch(`${base}/v2/images/${remote.imageId}`, { headers: { 'X-Auth-Token': remote.token } });
  if (metaRes.status !== 200)
    throw new ApiError(400, `The remote image ${remote.imageId} could not be read (${metaRes.status}).`);
  const meta = (await metaRes.json()) as Record<string, unknown>;
  if (meta.status !== 'active')
    throw new ApiError(400, `Source image status should be active instead of ${meta.status}`);
  const size = Number(meta.size);
  if (!Number.isFinite(size))
    throw new ApiError(400, `Size attribute of remote image ${remote.imageId} could not be determined.`);
  const before = (await svc.repo.get(img.id))!;
  const copied: Record<string, string> = {};
  for (const [k, v] of Object.entries(meta))
    if (typeof v === 'string' && GLANCE_DOWNLOAD_PROPERTIES.some((p) => k.startsWith(p))) copied[k] = v;
  await svc.repo.save(
    {
      ...before,
      disk_format: meta.disk_format as Image['disk_format'],
      container_format: meta.container_format as Image['container_format'],
      properties: { ...before.properties, ...copied },
    },
    { disk_format: 1, container_format: 1, properties: 1 },
  );
  const revert = async () => {
    const cur = await svc.repo.get(img.id);
    if (!cur) return;
    const properties = { ...cur.properties };
    for (const k of Object.keys(copied)) {
      if (k in before.properties) properties[k] = before.properties[k]!;
      else delete properties[k];
    }
    await svc.repo.save(
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
    const counted = Readable.fromWeb(res.body as WebReadableStream).pipe(
      new Transform({
        transform(chunk: Buffer, _e, cb) {
          got += chunk.length;
          cb(null, chunk);
        },
        flush(cb) {
          cb(got === size ? null : new ApiError(400, `Downloaded data size ${got} is different from expected ${size}`));
        },
      }),
    );
    return { data: counted, revert };
  } catch (e) {
    await revert();
    throw e;
  }
}

/**
 * The import flows: glance-direct (from staging), web-download (from a URL), copy-image (to
 * more stores). Progress shows in os_glance_importing_to_stores / os_glance_failed_import, as
 * Glance reports it; the first store failing reverts the image to `from`.
 */
export async function runImport(
  svc: ImageService,
  img: Image,
  method: string,
  stores: string[],
  uri: string | undefined,
  from: string,
  remote?: RemoteImage,
) {
  const staged = path.join(svc.stagingDir, img.id);
  const done = (s: string, failed: boolean) =>
    setProperties(svc, img.id, (p) => {
      p.os_glance_importing_to_stores = (p.os_glance_importing_to_stores ?? '')
        .split(',')
        .filter((x) => x && x !== s)
        .join(',');
      if (failed)
        p.os_glance_failed_import = [...(p.os_glance_failed_import ?? '').split(',').filter(Boolean), s].join(',');
    });
  let firstError: unknown;
  for (const [n, s] of stores.entries()) {
    const cur = (await svc.repo.get(img.id))!;
    try {
      if (method === 'glance-download' && n === 0) {
        const { data, revert } = await glanceDownload(svc, img, remote!);
        await saveData(svc, img, data, s, ['importing'], from).catch(async (e) => {
          await revert();
          throw e;
        });
      } else if (method !== 'copy-image' && n === 0) {
        const source: Readable = method === 'web-download' ? await download(uri!) : fs.createReadStream(staged);
        await saveData(svc, img, source, s, ['importing'], from);
      } else if (!cur.locations.some((l) => l.store === s)) {
        const src = cur.locations[0]!;
        const stored = await storeOf(svc, s).add(img.id, await storeOf(svc, src.store).get(src.url));
        const again = (await svc.repo.get(img.id))!;
        await svc.repo.save(
          { ...again, locations: [...again.locations, { store: s, url: stored.url }] },
          { locations: 1 },
        );
      }
      await done(s, false);
    } catch (e) {
      firstError ??= e;
      if (method !== 'copy-image' && n === 0) await svc.repo.transition(img.id, ['importing'], from);
      await done(s, true);
      if (method !== 'copy-image' && n === 0) break;
    }
  }
  if (method === 'glance-direct' && !firstError) await fsp.rm(staged, { force: true });
  if (firstError) throw firstError;
}
export async function download(uri: string): Promise<Readable> {
  const res = await fetch(uri);
  if (!res.ok || !res.body) throw new ApiError(400, `web-download of ${uri} answered ${res.status}`);
  return Readable.fromWeb(res.body as WebReadableStream);
}
