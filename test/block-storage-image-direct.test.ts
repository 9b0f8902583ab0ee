// A volume from an image read straight from the image store's file (Cinder's
// allowed_direct_url_schemes = file, Glance's show_image_direct_url) instead of through the image
// API: the same bytes, and no download through the API. Without the setting, the API is used.
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { BlockStorageService } from '../src/block-storage/service.ts';
import { type AdminCloud, until, uploadImage, useAdminCloud } from './lib/cloud.ts';

function volumeFromImage(direct: boolean) {
  return async (t: AdminCloud) => {
    const bytes = new Uint8Array(3 * 1024 * 1024);
    for (let i = 0; i < bytes.length; i += 4096) bytes.fill((i / 4096) % 251, i, i + 512);
    const image = await uploadImage(t.c, 'direct-src', bytes);
    const svc = t.c.cloud.services.find(
      (s) => s.catalogEntry.name === 'block-storage',
    ) as unknown as BlockStorageService;
    let downloads = 0;
    const download = svc.parts.images.download.bind(svc.parts.images);
    svc.parts.images.download = (id: string, to: string) => {
      downloads++;
      return download(id, to);
    };
    const r = await t.cinder('POST', '/volumes', { volume: { size: 1, imageRef: image } });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const id = r.body.volume.id;
    const v = await until(`volume ${id} available`, async () => {
      const x = (await t.cinder('GET', `/volumes/${id}`)).body.volume;
      if (x?.status === 'error') throw new Error('the volume went to error');
      return x?.status === 'available' ? x : null;
    });
    assert.equal(v.bootable, 'true');
    const file = path.join(t.c.dataDir, 'volumes', `volume-${id}`);
    const fd = fs.openSync(file, 'r');
    const head = Buffer.alloc(bytes.length);
    fs.readSync(fd, head, 0, head.length, 0);
    fs.closeSync(fd);
    assert.ok(head.equals(Buffer.from(bytes)), 'the volume starts with the image bytes');
    assert.equal(fs.statSync(file).size, 1024 ** 3, 'the volume is its own size');
    assert.equal(downloads, direct ? 0 : 1, direct ? 'read from the store' : 'downloaded through the image API');
  };
}

describe('block storage: a volume from an image read from the image store (allowed_direct_url_schemes)', () => {
  const t = useAdminCloud('stratus-cinder-direct-', {
    configure: (cfg) => {
      cfg.image = { ...cfg.image, showDirectUrl: true };
      cfg.blockStorage = { ...cfg.blockStorage, allowedDirectUrlSchemes: ['file'] };
    },
  });
  it('converts the store file straight into the volume, without the image API', () => volumeFromImage(true)(t));
});

describe('block storage: a volume from an image without allowed_direct_url_schemes', () => {
  const t = useAdminCloud('stratus-cinder-nodirect-', {
    configure: (cfg) => {
      cfg.image = { ...cfg.image, showDirectUrl: true };
    },
  });
  it('downloads the data through the image API', () => volumeFromImage(false)(t));
});
