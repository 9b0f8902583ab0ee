// The conformance harness's compute part: DevStack's images and flavors for tempest, [compute] in tempest.conf.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { JsonObject } from './lib/api-types.ts';
import { adminCredentials, catalogEndpoint, parseIni } from './lib/tempest-fixtures.ts';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

import {
  COMPUTE_FEATURES,
  prepareCompute,
  serviceEndpoint,
  TEMPEST_IMAGES,
  tinyQcow2,
} from '../conformance/lib/compute.ts';
import { buildTempestConfig, renderIni, type CatalogEntry } from '../conformance/lib/tempest-config.ts';

const tmpDirs: string[] = [];
after(() => {
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
});

const creds = adminCredentials('pw');
const ep = catalogEndpoint;
const catalog: CatalogEntry[] = [
  { type: 'identity', endpoints: [ep('http://127.0.0.1:8000/identity')] },
  {
    type: 'compute',
    endpoints: [ep('http://127.0.0.1:8000/compute/v2.1/', 'internal'), ep('http://127.0.0.1:8000/compute/v2.1')],
  },
  { type: 'network', endpoints: [ep('http://127.0.0.1:8000/networking')] },
];

describe('the tempest image', () => {
  test('an empty qcow2 v2 with the virtual size in its header', () => {
    const img = tinyQcow2(TEMPEST_IMAGES.virtualSize);
    assert.equal(img.readUInt32BE(0), 0x514649fb);
    assert.equal(img.readUInt32BE(4), 2);
    assert.equal(img.readBigUInt64BE(24), BigInt(64 * 1024 * 1024));
    assert.equal(img.length, 0x30008);
  });

  test('qemu-img finds no error in it', { skip: !fs.existsSync('/usr/bin/qemu-img') && 'no qemu-img' }, () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-qcow2-'));
    tmpDirs.push(d);
    const f = path.join(d, 'tiny.qcow2');
    fs.writeFileSync(f, tinyQcow2(3 * 1024 ** 3));
    const r = spawnSync('/usr/bin/qemu-img', ['check', '-f', 'qcow2', f], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const info = JSON.parse(spawnSync('/usr/bin/qemu-img', ['info', '--output=json', f], { encoding: 'utf8' }).stdout);
    assert.equal(info['virtual-size'], 3 * 1024 ** 3);
  });
});

describe('tempest.conf for compute', () => {
  const conf = (cat = catalog) =>
    parseIni(
      renderIni(
        buildTempestConfig({
          workspace: '/ws',
          credentials: creds,
          catalog: cat,
          network: { extensions: [] },
          compute: {
            imageRef: 'img-1',
            imageRefAlt: 'img-2',
            flavorRef: '42',
            flavorRefAlt: '84',
            minMicroversion: '2.1',
            maxMicroversion: '2.93',
            computeNodes: 1,
          },
        }),
      ),
    );

  test('[compute]: images, flavors, microversions, the shared network', () => {
    const c = conf().compute!;
    assert.equal(c.image_ref, 'img-1');
    assert.equal(c.image_ref_alt, 'img-2');
    assert.equal(c.flavor_ref, '42');
    assert.equal(c.flavor_ref_alt, '84');
    assert.equal(c.min_microversion, '2.1');
    assert.equal(c.max_microversion, '2.93');
    assert.equal(c.min_compute_nodes, '1');
    assert.equal(c.build_timeout, '196');
    assert.equal(c.fixed_network_name, 'shared');
    assert.equal(conf().service_available!.nova, 'True');
    assert.equal(conf().validation!.run_validation, 'False');
  });

  test('[compute-feature-enabled]: what works on, consoles and the metadata service off', () => {
    const f = conf()['compute-feature-enabled']!;
    for (const [k, v] of Object.entries(COMPUTE_FEATURES)) assert.equal(f[k], v ? 'True' : 'False', k);
    for (const k of ['vnc_console', 'spice_console', 'serial_console', 'metadata_service', 'attach_encrypted_volume'])
      assert.equal(f[k], 'False', k);
    assert.match(
      f.scheduler_enabled_filters!,
      /^AvailabilityZoneFilter,ComputeFilter,ServerGroupAntiAffinityFilter,ServerGroupAffinityFilter/,
    );
  });

  test('no compute in the catalog: no [compute] sections, nova unavailable', () => {
    const c = conf(catalog.filter((s) => s.type !== 'compute'));
    assert.equal(c.compute, undefined);
    assert.equal(c['compute-feature-enabled'], undefined);
    assert.equal(c.service_available!.nova, 'False');
  });

  test('real guests: one libvirt host skips the moves; --libvirt-hosts 2 runs them on 2 compute nodes', () => {
    const realGuests = (libvirtHosts?: number) =>
      parseIni(
        renderIni(
          buildTempestConfig({
            workspace: '/ws',
            credentials: creds,
            catalog,
            network: { extensions: [] },
            compute: { imageRef: 'img-1', computeNodes: libvirtHosts ?? 1 },
            realGuests: true,
            ...(libvirtHosts ? { libvirtHosts } : {}),
          }),
        ),
      );
    const one = realGuests();
    assert.equal(one.compute!.min_compute_nodes, '1');
    assert.equal(one.validation!.run_validation, 'True');
    for (const k of ['cold_migration', 'live_migration', 'block_migration_for_live_migration'])
      assert.equal(one['compute-feature-enabled']![k], 'False', k);
    const two = realGuests(2);
    assert.equal(two.compute!.min_compute_nodes, '2');
    for (const k of ['cold_migration', 'live_migration', 'block_migration_for_live_migration', 'resize'])
      assert.equal(two['compute-feature-enabled']![k], 'True', k);
  });

  test('serviceEndpoint: public first, no trailing slash', () => {
    assert.equal(serviceEndpoint(catalog, 'compute'), 'http://127.0.0.1:8000/compute/v2.1');
    assert.equal(serviceEndpoint(catalog, 'image'), undefined);
  });
});

/** A Nova and a Glance in one server: flavors by id, images by name; records what was sent. */
async function fakeCloud(opts: { refuseFlavors?: boolean } = {}) {
  const flavors = new Map<string, JsonObject>();
  const specs = new Map<string, JsonObject>();
  const images: JsonObject[] = [];
  const uploads = new Map<string, Buffer>();
  let n = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const url = new URL(req.url!, 'http://x');
      const p = url.pathname;
      const send = (status: number, doc?: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(doc === undefined ? '' : JSON.stringify(doc));
      };
      if (req.headers['x-auth-token'] !== 'tok') return send(401, { error: 'no token' });
      let m: RegExpExecArray | null;
      if (p === '/compute/v2.1/') return send(200, { version: { id: 'v2.1', min_version: '2.1', version: '2.93' } });
      if (p === '/compute/v2.1/os-hypervisors') return send(200, { hypervisors: [{ id: 1 }] });
      if (p === '/compute/v2.1/flavors/detail') return send(200, { flavors: [...flavors.values()] });
      if (p === '/compute/v2.1/flavors' && req.method === 'POST') {
        if (opts.refuseFlavors) return send(403, { forbidden: { code: 403, message: 'no' } });
        const f = JSON.parse(raw.toString()).flavor;
        flavors.set(f.id, f);
        return send(200, { flavor: f });
      }
      if ((m = /^\/compute\/v2\.1\/flavors\/(\w+)\/os-extra_specs$/.exec(p))) {
        specs.set(m[1]!, JSON.parse(raw.toString()).extra_specs);
        return send(200, {});
      }
      if ((m = /^\/compute\/v2\.1\/flavors\/(\w+)$/.exec(p)))
        return flavors.has(m[1]!)
          ? send(200, { flavor: flavors.get(m[1]!) })
          : send(404, { itemNotFound: { code: 404, message: 'no' } });
      if (p === '/image/v2/images' && req.method === 'GET')
        return send(200, { images: images.filter((i) => i.name === url.searchParams.get('name')) });
      if (p === '/image/v2/images' && req.method === 'POST') {
        const i = { id: `image-${++n}`, status: 'queued', ...JSON.parse(raw.toString()) };
        images.push(i);
        return send(201, i);
      }
      if ((m = /^\/image\/v2\/images\/([\w-]+)\/file$/.exec(p))) {
        uploads.set(m[1]!, raw);
        images.find((i) => i.id === m![1])!.status = 'active';
        return send(204);
      }
      if ((m = /^\/image\/v2\/images\/([\w-]+)$/.exec(p)))
        return send(
          200,
          images.find((i) => i.id === m![1]),
        );
      send(404, { error: p });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as import('node:net').AddressInfo).port}`;
  return { base, flavors, specs, images, uploads, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('what DevStack creates for compute before tempest', () => {
  test('two active images, m1.nano and m1.micro with hw_rng, the microversions and compute nodes; a second run reuses them', async () => {
    const f = await fakeCloud();
    const logs: string[] = [];
    try {
      const o = {
        computeEndpoint: `${f.base}/compute/v2.1`,
        imageEndpoint: `${f.base}/image`,
        token: 'tok',
        log: (s: string) => logs.push(s),
      };
      const facts = await prepareCompute(o);
      assert.ok(!logs.some((l) => l.startsWith('warning')), logs.join('\n'));
      assert.deepEqual(facts, {
        minMicroversion: '2.1',
        maxMicroversion: '2.93',
        imageRef: 'image-1',
        imageRefAlt: 'image-2',
        flavorRef: '42',
        flavorRefAlt: '84',
        computeNodes: 1,
      });
      assert.deepEqual(f.flavors.get('42'), { id: '42', name: 'm1.nano', ram: 128, disk: 1, vcpus: 1 });
      assert.deepEqual(f.flavors.get('84'), { id: '84', name: 'm1.micro', ram: 192, disk: 1, vcpus: 1 });
      assert.deepEqual(f.specs.get('42'), { 'hw_rng:allowed': 'True' });
      assert.equal(f.images[0].disk_format, 'qcow2');
      assert.equal(f.images[0].visibility, 'public');
      assert.equal(f.uploads.get('image-1')!.readUInt32BE(0), 0x514649fb);

      const again = await prepareCompute(o);
      assert.deepEqual(again, facts);
      assert.equal(f.images.length, 2);
    } finally {
      await f.close();
    }
  });

  test('a refused step is a warning; without an image service no image is made', async () => {
    const f = await fakeCloud({ refuseFlavors: true });
    const logs: string[] = [];
    try {
      const facts = await prepareCompute({
        computeEndpoint: `${f.base}/compute/v2.1`,
        token: 'tok',
        log: (s) => logs.push(s),
      });
      assert.equal(facts.flavorRef, undefined);
      assert.equal(facts.imageRef, undefined);
      assert.equal(facts.maxMicroversion, '2.93');
      assert.ok(
        logs.some((l) => /flavor m1\.nano: POST .* answered 403/.test(l)),
        logs.join('\n'),
      );
      assert.ok(logs.some((l) => /no image service/.test(l)));
    } finally {
      await f.close();
    }
  });
});
