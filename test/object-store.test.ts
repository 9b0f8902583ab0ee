// The object-store (Swift v1) against the real HTTP API: accounts, containers, objects,
// listings, metadata, ranges, conditions, copy, ACLs, quotas, large objects, temp URLs,
// bulk delete, expiry, and the fs driver's atomic writes and root confinement.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { CatalogEntry, WithName } from './lib/api-types.ts';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash, createHmac } from 'node:crypto';
import { Readable } from 'node:stream';
import { execFileSync } from 'node:child_process';
import { databaseEngines, startCloud, streamedBody, type TestCloud } from './lib/cloud.ts';
import { objectStoreService } from './lib/services.ts';
import { FsBackend } from '../src/object-store/drivers/fs.ts';
import { parseRanges } from '../src/object-store/api/common.ts';

/** The parts of Swift's /info the tests read. */
interface SwiftInfo {
  swift: { max_file_size: number; allow_account_management?: boolean };
  tempurl: { allowed_digests: string[] };
  symlink?: { symloop_max: number; static_links: boolean };
}

for (const engine of databaseEngines('object-store'))
  describe(`object-store on ${engine.name}`, () => {
    let c: TestCloud;
    let base: string; // .../object-store/v1/AUTH_<admin project>
    let account: string;
    let otherToken: string;
    let otherBase: string;
    const sw = async (
      method: string,
      p: string,
      opts: {
        token?: string | null;
        headers?: Record<string, string>;
        body?: string | Buffer | Readable;
        manual?: boolean;
      } = {},
    ) => {
      const headers: Record<string, string> = { ...(opts.headers ?? {}) };
      const token = opts.token === undefined ? c.adminToken : opts.token;
      if (token) headers['X-Auth-Token'] = token;
      const res = await fetch(p.startsWith('http') ? p : `${base}${p}`, {
        method,
        headers,
        ...(opts.body instanceof Readable
          ? streamedBody(opts.body)
          : { body: typeof opts.body === 'string' ? opts.body : opts.body && new Uint8Array(opts.body) }),
        ...(opts.manual ? { redirect: 'manual' as const } : {}),
      });
      const buf = Buffer.from(await res.arrayBuffer());
      return { status: res.status, headers: res.headers, text: buf.toString('utf8'), buf };
    };

    before(async () => {
      c = await startCloud({ database: engine.database });
      const ap = await c.req('GET', '/v3/projects?name=admin');
      account = `AUTH_${ap.body.projects[0].id}`;
      base = `${c.url}/object-store/v1/${account}`;
      const p = await c.req('POST', '/v3/projects', { project: { name: 'swift-other', domain_id: 'default' } });
      const u = await c.req('POST', '/v3/users', {
        user: { name: 'swift-user', password: 'pw-swift', domain_id: 'default' },
      });
      const member = (await c.req('GET', '/v3/roles?name=member')).body.roles[0].id;
      await c.req('PUT', `/v3/projects/${p.body.project.id}/users/${u.body.user.id}/roles/${member}`);
      otherToken = await c.token({ id: u.body.user.id, password: 'pw-swift' }, { project: { id: p.body.project.id } });
      otherBase = `${c.url}/object-store/v1/AUTH_${p.body.project.id}`;
    });
    after(async () => {
      await c.stop();
    });

    it('serves /info and the catalog entry', async () => {
      const r = await fetch(`${c.url}/object-store/info`);
      const info = (await r.json()) as SwiftInfo;
      assert.equal(info.swift.max_file_size, 5368709122);
      assert.ok(info.tempurl.allowed_digests.includes('sha512'));
      const cat = await c.req('GET', '/v3/auth/catalog');
      const swift = cat.body.catalog.find((s: CatalogEntry) => s.type === 'object-store');
      assert.ok(swift.endpoints[0].url.endsWith(`/object-store/v1/${account}`));
    });

    it('authenticates and authorizes per keystoneauth', async () => {
      assert.equal((await sw('HEAD', '', { token: null })).status, 401);
      const e = await sw('GET', '/nope', { token: null });
      assert.equal(e.status, 401);
      assert.match(e.headers.get('content-type')!, /text\/html/);
      assert.equal((await sw('GET', '', { token: otherToken })).status, 403);
      assert.equal((await sw('GET', `${otherBase}`, { token: otherToken })).status, 204);
    });

    it('creates containers, objects, listings and exact counts', async () => {
      assert.equal((await sw('PUT', '/box')).status, 201);
      assert.equal((await sw('PUT', '/box')).status, 202);
      for (const n of ['a/1', 'a/2', 'b', 'c/x/y']) {
        const r = await sw('PUT', `/box/${n}`, { body: `data-${n}`, headers: { 'X-Object-Meta-Color': 'red' } });
        assert.equal(r.status, 201);
        assert.equal(r.headers.get('etag'), createHash('md5').update(`data-${n}`).digest('hex'));
      }
      const h = await sw('HEAD', '/box');
      assert.equal(h.headers.get('x-container-object-count'), '4');
      assert.equal(
        h.headers.get('x-container-bytes-used'),
        String(['a/1', 'a/2', 'b', 'c/x/y'].reduce((n, x) => n + 5 + x.length, 0)),
      );
      assert.match(h.headers.get('x-trans-id')!, /^tx[0-9a-f]{21}-[0-9a-f]{10}$/);
      const a = await sw('HEAD', '');
      assert.equal(a.headers.get('x-account-object-count'), '4');
      assert.equal(a.headers.get('x-account-container-count'), '1');
      assert.equal((await sw('GET', '/box')).text, 'a/1\na/2\nb\nc/x/y\n');
      const j = JSON.parse((await sw('GET', '/box?format=json&delimiter=/')).text);
      assert.deepEqual(
        j.map((x: { subdir?: string; name?: string }) => x.subdir ?? x.name),
        ['a/', 'b', 'c/'],
      );
      assert.deepEqual(
        JSON.parse((await sw('GET', '/box?format=json&prefix=a/&reverse=true')).text).map((x: WithName) => x.name),
        ['a/2', 'a/1'],
      );
      assert.deepEqual(
        JSON.parse((await sw('GET', '/box?format=json&marker=a/1&end_marker=c&limit=5')).text).map(
          (x: WithName) => x.name,
        ),
        ['a/2', 'b'],
      );
      assert.deepEqual(
        JSON.parse((await sw('GET', '/box?format=json&limit=1')).text).map((x: WithName) => x.name),
        ['a/1'],
      );
      const xml = await sw('GET', '/box?format=xml&prefix=b');
      assert.match(xml.text, /<container name="box"><object><hash>/);
      assert.equal((await sw('GET', '/box?prefix=zzz')).status, 204);
      assert.equal((await sw('DELETE', '/box')).status, 409);
      const o = await sw('GET', '/box/b');
      assert.equal(o.text, 'data-b');
      assert.equal(o.headers.get('x-object-meta-color'), 'red');
    });

    it('checks ETag, Content-Length, If-None-Match and metadata limits on PUT', async () => {
      assert.equal((await sw('PUT', '/box/bad', { body: 'x', headers: { ETag: '0'.repeat(32) } })).status, 422);
      assert.equal((await sw('GET', '/box/bad')).status, 404);
      assert.equal((await sw('PUT', '/box/b', { body: 'x', headers: { 'If-None-Match': '*' } })).status, 412);
      assert.equal(
        (await sw('PUT', '/box/m', { body: 'x', headers: { ['X-Object-Meta-' + 'k'.repeat(129)]: 'v' } })).status,
        400,
      );
      const chunked = await sw('PUT', '/box/chunked', { body: Readable.from([Buffer.from('ab'), Buffer.from('cd')]) });
      assert.equal(chunked.status, 201);
      assert.equal((await sw('GET', '/box/chunked')).text, 'abcd');
      const r = await sw('PUT', '/box/page.html', { body: Buffer.from('<p>') });
      assert.equal(r.status, 201);
      assert.equal((await sw('HEAD', '/box/page.html')).headers.get('content-type'), 'text/html');
    });

    it('answers ranges and conditional requests', async () => {
      await sw('PUT', '/box/digits', { body: '0123456789' });
      const one = await sw('GET', '/box/digits', { headers: { Range: 'bytes=2-4' } });
      assert.equal(one.status, 206);
      assert.equal(one.text, '234');
      assert.equal(one.headers.get('content-range'), 'bytes 2-4/10');
      assert.equal((await sw('GET', '/box/digits', { headers: { Range: 'bytes=-3' } })).text, '789');
      const multi = await sw('GET', '/box/digits', { headers: { Range: 'bytes=0-1,8-' } });
      assert.equal(multi.status, 206);
      assert.match(multi.headers.get('content-type')!, /^multipart\/byteranges;boundary=/);
      assert.match(multi.text, /Content-Range: bytes 0-1\/10\r\n\r\n01\r\n/);
      assert.equal((await sw('GET', '/box/digits', { headers: { Range: 'bytes=20-' } })).status, 416);
      const etag = (await sw('HEAD', '/box/digits')).headers.get('etag')!;
      assert.equal((await sw('GET', '/box/digits', { headers: { 'If-None-Match': etag } })).status, 304);
      assert.equal((await sw('GET', '/box/digits', { headers: { 'If-Match': 'nope' } })).status, 412);
      assert.equal(
        (
          await sw('GET', '/box/digits', {
            headers: { 'If-Modified-Since': new Date(Date.now() + 60000).toUTCString() },
          })
        ).status,
        304,
      );
      assert.equal(
        (await sw('GET', '/box/digits', { headers: { 'If-Unmodified-Since': 'Mon, 01 Jan 2001 00:00:00 GMT' } }))
          .status,
        412,
      );
    });

    it('copies server-side and updates metadata', async () => {
      assert.equal(
        (await sw('PUT', '/box/copy1', { headers: { 'X-Copy-From': '/box/b', 'X-Object-Meta-Extra': '1' } })).status,
        201,
      );
      const h = await sw('HEAD', '/box/copy1');
      assert.equal(h.headers.get('x-object-meta-color'), 'red');
      assert.equal(h.headers.get('x-object-meta-extra'), '1');
      const cp = await sw('COPY', '/box/b', { headers: { Destination: 'box/copy2', 'X-Fresh-Metadata': 'true' } });
      assert.equal(cp.status, 201);
      assert.equal(cp.headers.get('x-copied-from'), 'box/b');
      assert.equal((await sw('HEAD', '/box/copy2')).headers.get('x-object-meta-color'), null);
      assert.equal((await sw('POST', '/box/copy2', { headers: { 'X-Object-Meta-New': 'v' } })).status, 202);
      assert.equal((await sw('HEAD', '/box/copy2')).headers.get('x-object-meta-new'), 'v');
      assert.equal((await sw('POST', '/box', { headers: { 'X-Container-Meta-K': 'v' } })).status, 204);
      assert.equal((await sw('POST', '/box', { headers: { 'X-Remove-Container-Meta-K': 'x' } })).status, 204);
      assert.equal((await sw('HEAD', '/box')).headers.get('x-container-meta-k'), null);
    });

    it('grants container ACLs, public reads and quotas', async () => {
      await sw('PUT', '/pub', { headers: { 'X-Container-Read': '.r:*' } });
      await sw('PUT', '/pub/o', { body: 'public' });
      assert.equal((await sw('GET', '/pub/o', { token: null })).text, 'public');
      assert.equal((await sw('GET', '/pub', { token: null })).status, 401);
      await sw('POST', '/pub', { headers: { 'X-Container-Read': '.r:*,.rlistings' } });
      assert.equal((await sw('GET', '/pub', { token: null })).text, 'o\n');
      assert.equal((await sw('PUT', '/pub/w', { token: otherToken, body: 'x' })).status, 403);
      await sw('POST', '/pub', { headers: { 'X-Container-Write': '*:swift-user' } });
      assert.equal((await sw('PUT', '/pub/w', { token: otherToken, body: 'x' })).status, 201);
      await sw('PUT', '/quota', { headers: { 'X-Container-Meta-Quota-Bytes': '5' } });
      assert.equal((await sw('PUT', '/quota/a', { body: '12345' })).status, 201);
      assert.equal((await sw('PUT', '/quota/b', { body: '1' })).status, 413);
      assert.equal(
        (await sw('POST', `${otherBase}`, { token: otherToken, headers: { 'X-Account-Meta-Quota-Bytes': '1' } }))
          .status,
        403,
      );
    });

    it('stores static and dynamic large objects', async () => {
      await sw('PUT', '/seg');
      await sw('PUT', '/seg/p/1', { body: 'hello ' });
      await sw('PUT', '/seg/p/2', { body: 'world' });
      await sw('PUT', '/box/dlo', { body: '', headers: { 'X-Object-Manifest': 'seg/p/' } });
      const d = await sw('GET', '/box/dlo');
      assert.equal(d.text, 'hello world');
      assert.equal((await sw('GET', '/box/dlo', { headers: { Range: 'bytes=4-7' } })).text, 'o wo');
      const md5 = (s: string) => createHash('md5').update(s).digest('hex');
      const manifest = [
        { path: '/seg/p/1', etag: md5('hello '), size_bytes: 6 },
        { path: '/seg/p/2', etag: md5('world'), size_bytes: 5 },
      ];
      assert.equal(
        (await sw('PUT', '/box/slo?multipart-manifest=put', { body: JSON.stringify(manifest) })).status,
        201,
      );
      const s = await sw('GET', '/box/slo');
      assert.equal(s.text, 'hello world');
      assert.equal(s.headers.get('x-static-large-object'), 'True');
      const bad = await sw('PUT', '/box/slo2?multipart-manifest=put', {
        body: JSON.stringify([{ path: '/seg/p/1', etag: 'x', size_bytes: 6 }]),
      });
      assert.equal(bad.status, 400);
      const raw = JSON.parse((await sw('GET', '/box/slo?multipart-manifest=get&format=raw')).text);
      assert.equal(raw[0].path, '/seg/p/1');
      const del = await sw('DELETE', '/box/slo?multipart-manifest=delete', { headers: { Accept: 'application/json' } });
      assert.equal(JSON.parse(del.text)['Number Deleted'], 3);
    });

    it('keeps versions with X-Versions-Location', async () => {
      await sw('PUT', '/vers');
      await sw('PUT', '/vbox', { headers: { 'X-Versions-Location': 'vers' } });
      await sw('PUT', '/vbox/o', { body: 'v1' });
      await sw('PUT', '/vbox/o', { body: 'v2' });
      assert.equal((await sw('HEAD', '/vers')).headers.get('x-container-object-count'), '1');
      await sw('DELETE', '/vbox/o');
      assert.equal((await sw('GET', '/vbox/o')).text, 'v1');
    });

    it('signs temporary URLs (sha1, sha256, sha512, prefix)', async () => {
      await sw('POST', '', { headers: { 'X-Account-Meta-Temp-URL-Key': 'k' } });
      const expires = Math.floor(Date.now() / 1000) + 60;
      const p = `/v1/${account}/box/b`;
      for (const algo of ['sha1', 'sha256', 'sha512']) {
        const sig = createHmac(algo, 'k').update(`GET\n${expires}\n${p}`).digest('hex');
        const r = await sw('GET', `/box/b?temp_url_sig=${sig}&temp_url_expires=${expires}`, { token: null });
        assert.equal(r.status, 200, algo);
        assert.equal(r.text, 'data-b');
      }
      const sig = createHmac('sha256', 'k').update(`GET\n${expires}\nprefix:/v1/${account}/box/a/`).digest('hex');
      assert.equal(
        (
          await sw('GET', `/box/a/1?temp_url_sig=${sig}&temp_url_expires=${expires}&temp_url_prefix=a/`, {
            token: null,
          })
        ).status,
        200,
      );
      assert.equal(
        (await sw('GET', `/box/b?temp_url_sig=${sig}&temp_url_expires=${expires}`, { token: null })).status,
        401,
      );
      assert.equal(
        (await sw('PUT', `/box/b?temp_url_sig=${sig}&temp_url_expires=${expires}`, { token: null, body: 'x' })).status,
        401,
      );
    });

    it('expires objects and bulk-deletes', async () => {
      // X-Delete-At is whole seconds (floored, as upstream): X-Delete-After 1 may expire at once on a busy machine.
      await sw('PUT', '/box/ephemeral', { body: 'x', headers: { 'X-Delete-After': '3' } });
      assert.equal((await sw('GET', '/box/ephemeral')).status, 200);
      await new Promise((r) => setTimeout(r, 3100));
      assert.equal((await sw('GET', '/box/ephemeral')).status, 404);
      await sw('PUT', '/bulk');
      await sw('PUT', '/bulk/x', { body: '1' });
      const r = await sw('POST', '?bulk-delete', {
        body: '/bulk/x\n/bulk\n/bulk/missing\n',
        headers: { Accept: 'application/json', 'Content-Type': 'text/plain' },
      });
      const body = JSON.parse(r.text);
      assert.equal(body['Number Deleted'], 2);
      assert.equal(body['Number Not Found'], 1);
    });

    it('accepts long names, form POST and extract-archive', async () => {
      const long = 'c'.repeat(256);
      assert.equal((await sw('PUT', `/${long}`)).status, 201);
      assert.equal((await sw('PUT', `/${long}x`)).status, 400);
      assert.equal((await sw('PUT', `/${long}/${'o'.repeat(300)}`, { body: 'x' })).status, 201);
      await sw('POST', '', { headers: { 'X-Account-Meta-Temp-URL-Key': 'k' } });
      const expires = Math.floor(Date.now() / 1000) + 60;
      const p = `/v1/${account}/box/up-`;
      const sig = createHmac('sha1', 'k').update(`${p}\n\n1000\n2\n${expires}`).digest('hex');
      const form =
        [
          ['redirect', ''],
          ['max_file_size', '1000'],
          ['max_file_count', '2'],
          ['expires', String(expires)],
          ['signature', sig],
        ]
          .map(([k, v]) => `--bnd\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`)
          .join('') +
        '--bnd\r\nContent-Disposition: form-data; name="file1"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\nform data\r\n--bnd--\r\n';
      const r = await sw('POST', '/box/up-', {
        token: null,
        body: Buffer.from(form),
        headers: { 'Content-Type': 'multipart/form-data; boundary=bnd' },
      });
      assert.equal(r.status, 201);
      assert.equal((await sw('GET', '/box/up-a.txt')).text, 'form data');
      const bad = await sw('POST', '/box/up-', {
        token: null,
        body: Buffer.from(form.replace(sig, '0'.repeat(40))),
        headers: { 'Content-Type': 'multipart/form-data; boundary=bnd' },
      });
      assert.equal(bad.status, 401);
      assert.match(bad.text, /FormPost: Invalid Signature/);
    });

    it('honours account ACLs, settable only by the account owner', async () => {
      const otherProject = otherBase.slice(otherBase.lastIndexOf('AUTH_') + 5);
      const setAcl = (acl: unknown, token?: string) =>
        sw('POST', '', {
          token,
          headers: { 'X-Account-Access-Control': typeof acl === 'string' ? acl : JSON.stringify(acl) },
        });
      await sw('PUT', '/acct-acl');
      await sw('PUT', '/acct-acl/o', { body: 'shared' });
      const bad = await setAcl({ 'read-only': ['x'], bogus: [] });
      assert.equal(bad.status, 400);
      assert.match(bad.headers.get('content-type')!, /text\/plain/);
      assert.match(bad.text, /^X-Account-Access-Control invalid: Key "bogus" not recognized/);
      assert.equal((await setAcl('not json')).status, 400);
      assert.equal((await setAcl({ admin: 'x' })).status, 400);
      // Nothing granted yet.
      assert.equal((await sw('GET', '/acct-acl/o', { token: otherToken })).status, 403);
      assert.equal((await setAcl({ 'read-only': [`${otherProject}:*`] })).status, 204);
      assert.equal(
        (await sw('HEAD', '')).headers.get('x-account-access-control'),
        `{"read-only":["${otherProject}:*"]}`,
      );
      const ro = await sw('GET', '', { token: otherToken });
      assert.equal(ro.status, 200);
      assert.ok(ro.text.split('\n').includes('acct-acl'));
      assert.equal(ro.headers.get('x-account-access-control'), null, 'only owners see the account ACL');
      assert.equal((await sw('GET', '/acct-acl/o', { token: otherToken })).text, 'shared');
      assert.equal((await sw('PUT', '/acct-acl/o2', { token: otherToken, body: 'x' })).status, 403);
      assert.equal((await setAcl({ admin: [`${otherProject}:*`] }, otherToken)).status, 403);
      assert.equal((await setAcl({ 'read-write': [`${otherProject}:*`] })).status, 204);
      assert.equal((await sw('PUT', '/acct-acl/o2', { token: otherToken, body: 'x' })).status, 201);
      const bd = await sw('POST', '?bulk-delete', {
        token: otherToken,
        body: '/acct-acl/o2\n',
        headers: { Accept: 'application/json', 'Content-Type': 'text/plain' },
      });
      assert.equal(JSON.parse(bd.text)['Number Deleted'], 1, bd.text);
      assert.equal(
        (await sw('PUT', '/acct-acl-rw', { token: otherToken, headers: { 'X-Container-Read': '.r:*' } })).status,
        201,
      );
      assert.equal(
        (await sw('HEAD', '/acct-acl-rw')).headers.get('x-container-read'),
        null,
        'read-write grantees cannot set container ACLs',
      );
      assert.equal((await sw('POST', '', { token: otherToken, headers: { 'X-Account-Meta-X': '1' } })).status, 403);
      assert.equal((await sw('DELETE', '/acct-acl-rw', { token: otherToken })).status, 204);
      assert.equal((await setAcl({ admin: [`${otherProject}:*`] })).status, 204);
      assert.equal(
        (await sw('POST', '', { token: otherToken, headers: { 'X-Account-Meta-By-Admin': 'yes' } })).status,
        204,
      );
      assert.equal(
        (await sw('HEAD', '', { token: otherToken })).headers.get('x-account-access-control'),
        `{"admin":["${otherProject}:*"]}`,
      );
      assert.equal((await sw('DELETE', '', { token: otherToken })).status, 403);
      assert.equal((await setAcl('')).status, 204);
      assert.equal((await sw('HEAD', '')).headers.get('x-account-access-control'), null);
      assert.equal((await sw('GET', '/acct-acl/o', { token: otherToken })).status, 403);
    });

    it('lets a reseller admin create and delete accounts', async () => {
      const p = await c.req('POST', '/v3/projects', { project: { name: 'swift-reseller', domain_id: 'default' } });
      const u = await c.req('POST', '/v3/users', {
        user: { name: 'swift-reseller', password: 'pw-reseller', domain_id: 'default' },
      });
      const role = (await c.req('GET', '/v3/roles?name=ResellerAdmin')).body.roles[0].id;
      await c.req('PUT', `/v3/projects/${p.body.project.id}/users/${u.body.user.id}/roles/${role}`);
      const reseller = await c.token(
        { id: u.body.user.id, password: 'pw-reseller' },
        { project: { id: p.body.project.id } },
      );
      const acct = `${c.url}/object-store/v1/AUTH_reaped`;
      assert.equal((await sw('PUT', acct, { token: otherToken })).status, 403);
      assert.equal(
        (await sw('PUT', acct, { token: reseller, headers: { 'X-Account-Meta-Owner': 'ops' } })).status,
        201,
      );
      assert.equal((await sw('PUT', acct, { token: reseller })).status, 202);
      assert.equal((await sw('HEAD', acct, { token: reseller })).headers.get('x-account-meta-owner'), 'ops');
      assert.equal((await sw('PUT', `${acct}/c`, { token: reseller })).status, 201);
      assert.equal((await sw('PUT', `${acct}/c/o`, { token: reseller, body: 'bytes' })).status, 201);
      assert.equal((await sw('DELETE', acct)).status, 403, 'the owner cannot delete an account (keystoneauth)');
      assert.equal((await sw('DELETE', `${acct}?whoops`, { token: reseller })).status, 400);
      assert.equal((await sw('DELETE', acct, { token: reseller })).status, 204);
      assert.equal((await sw('HEAD', acct, { token: reseller })).status, 410);
      assert.equal((await sw('GET', `${acct}/c/o`, { token: reseller })).status, 404);
      assert.equal((await sw('PUT', `${acct}/c2`, { token: reseller })).status, 404);
      assert.equal((await sw('POST', acct, { token: reseller })).status, 404);
      assert.equal((await sw('DELETE', acct, { token: reseller })).status, 404);
      const again = await sw('PUT', acct, { token: reseller });
      assert.equal(again.status, 403);
      assert.match(again.text, /Recently deleted/);
      const svc = objectStoreService(c);
      await svc.reapAccounts();
      const rows = await svc.store.objectsOf('AUTH_reaped', 10);
      assert.equal(rows.length, 0);
      assert.deepEqual(await svc.store.containerNames('AUTH_reaped', 10), []);
      const info = (await (await fetch(`${c.url}/object-store/info`)).json()) as SwiftInfo;
      assert.equal(info.swift.allow_account_management, true);
    });

    it('serves symlinks: dynamic, static, chained, cross-account, POST 307 and listings', async () => {
      await sw('PUT', '/sl');
      await sw('PUT', '/sl-t');
      const t = await sw('PUT', '/sl-t/target', {
        body: 'target bytes',
        headers: { 'Content-Type': 'text/x-target', 'X-Object-Meta-Kind': 'target' },
      });
      const etag = t.headers.get('etag')!;
      const mk = await sw('PUT', '/sl/link', { headers: { 'X-Symlink-Target': 'sl-t/target', 'Content-Length': '0' } });
      assert.equal(mk.status, 201);
      assert.equal(mk.headers.get('etag'), 'd41d8cd98f00b204e9800998ecf8427e');
      const g = await sw('GET', '/sl/link');
      assert.equal(g.status, 200);
      assert.equal(g.text, 'target bytes');
      assert.equal(g.headers.get('content-location'), `/v1/${account}/sl-t/target`);
      assert.equal(g.headers.get('x-object-meta-kind'), 'target');
      assert.equal((await sw('GET', '/sl/link', { headers: { Range: 'bytes=0-5' } })).text, 'target');
      const self = await sw('HEAD', '/sl/link?symlink=get');
      assert.equal(self.headers.get('x-symlink-target'), 'sl-t/target');
      assert.equal(self.headers.get('content-type'), 'application/symlink');
      assert.equal(self.headers.get('content-length'), '0');
      // Errors, as the middleware answers them.
      const body = await sw('PUT', '/sl/bad', { body: 'x', headers: { 'X-Symlink-Target': 'sl-t/target' } });
      assert.equal(body.status, 400);
      assert.equal(body.text, 'Symlink requests require a zero byte body');
      assert.match(body.headers.get('content-type')!, /text\/plain/);
      assert.equal((await sw('PUT', '/sl/bad', { body: '', headers: { 'X-Symlink-Target': 'no-slash' } })).status, 412);
      assert.equal(
        (await sw('PUT', '/sl/bad', { body: '', headers: { 'X-Symlink-Target': '/sl-t/target' } })).status,
        412,
      );
      assert.equal(
        (await sw('PUT', '/sl/self', { body: '', headers: { 'X-Symlink-Target': 'sl/self' } })).text,
        'Symlink cannot target itself',
      );
      assert.equal((await sw('POST', '/sl/link', { headers: { 'X-Symlink-Target': 'sl-t/other' } })).status, 400);
      // POST applies to the link and answers 307 to the target.
      const post = await sw('POST', '/sl/link', { headers: { 'X-Object-Meta-On-Link': 'yes' }, manual: true });
      assert.equal(post.status, 307);
      assert.equal(post.headers.get('location'), `/v1/${account}/sl-t/target`);
      assert.equal((await sw('HEAD', '/sl/link?symlink=get')).headers.get('x-object-meta-on-link'), 'yes');
      assert.equal((await sw('HEAD', '/sl/link?symlink=get')).headers.get('x-symlink-target'), 'sl-t/target');
      // Dangling, chained (symloop_max 2) and loops.
      await sw('PUT', '/sl/dangling', { body: '', headers: { 'X-Symlink-Target': 'sl-t/missing' } });
      const d = await sw('GET', '/sl/dangling');
      assert.equal(d.status, 404);
      assert.equal(d.headers.get('content-location'), `/v1/${account}/sl-t/missing`);
      await sw('PUT', '/sl/hop2', { body: '', headers: { 'X-Symlink-Target': 'sl/link' } });
      assert.equal((await sw('GET', '/sl/hop2')).text, 'target bytes');
      await sw('PUT', '/sl/hop3', { body: '', headers: { 'X-Symlink-Target': 'sl/hop2' } });
      const loop = await sw('GET', '/sl/hop3');
      assert.equal(loop.status, 409);
      assert.equal(loop.text, 'Too many levels of symbolic links, maximum allowed is 2');
      // Static links: checked at PUT and on every read.
      const st = await sw('PUT', '/sl/static', {
        body: Buffer.alloc(0),
        headers: { 'X-Symlink-Target': 'sl-t/target', 'X-Symlink-Target-Etag': etag },
      });
      assert.equal(st.status, 201);
      const sh = await sw('HEAD', '/sl/static?symlink=get');
      assert.equal(sh.headers.get('x-symlink-target-etag'), etag);
      assert.equal(sh.headers.get('x-symlink-target-bytes'), '12');
      assert.equal(sh.headers.get('content-type'), 'text/x-target');
      const wrong = await sw('PUT', '/sl/static2', {
        body: '',
        headers: { 'X-Symlink-Target': 'sl-t/target', 'X-Symlink-Target-Etag': 'f'.repeat(32) },
      });
      assert.equal(wrong.status, 409);
      assert.match(wrong.text, /does not match X-Symlink-Target-Etag header/);
      assert.equal(
        (
          await sw('PUT', '/sl/static3', {
            body: '',
            headers: { 'X-Symlink-Target': 'sl-t/missing', 'X-Symlink-Target-Etag': etag },
          })
        ).text,
        'X-Symlink-Target does not exist',
      );
      const listing = JSON.parse((await sw('GET', '/sl?format=json')).text);
      const byName = Object.fromEntries(listing.map((o: WithName) => [o.name, o]));
      assert.equal(byName.link.symlink_path, `/v1/${account}/sl-t/target`);
      assert.equal(byName.link.hash, 'd41d8cd98f00b204e9800998ecf8427e');
      assert.equal(byName.static.symlink_etag, etag);
      assert.equal(byName.static.symlink_bytes, 12);
      assert.equal(byName.static.content_type, 'text/x-target');
      await sw('PUT', '/sl-t/target', { body: 'changed' });
      assert.equal((await sw('GET', '/sl/link')).text, 'changed');
      assert.equal((await sw('GET', '/sl/static')).status, 409);
      // Copies follow the link unless ?symlink=get; DELETE removes only the link.
      assert.equal((await sw('COPY', '/sl/link', { headers: { Destination: 'sl/copied' } })).status, 201);
      assert.equal((await sw('GET', '/sl/copied?symlink=get')).text, 'changed');
      assert.equal(
        (await sw('COPY', '/sl/link?symlink=get', { headers: { Destination: 'sl/link-copy' } })).status,
        201,
      );
      assert.equal((await sw('HEAD', '/sl/link-copy?symlink=get')).headers.get('x-symlink-target'), 'sl-t/target');
      assert.equal((await sw('DELETE', '/sl/link')).status, 204);
      assert.equal((await sw('GET', '/sl-t/target')).text, 'changed');
      // Cross-account: the target is read with the caller's rights.
      await sw('PUT', `${otherBase}/theirs`, { token: otherToken });
      await sw('PUT', `${otherBase}/theirs/o`, { token: otherToken, body: 'other account' });
      const otherAccount = otherBase.slice(otherBase.lastIndexOf('/') + 1);
      await sw('PUT', '/sl/xacct', {
        body: '',
        headers: { 'X-Symlink-Target': 'theirs/o', 'X-Symlink-Target-Account': otherAccount },
      });
      assert.equal((await sw('GET', '/sl/xacct')).status, 403);
      await sw('POST', `${otherBase}/theirs`, { token: otherToken, headers: { 'X-Container-Read': '.r:*' } });
      const x = await sw('GET', '/sl/xacct');
      assert.equal(x.text, 'other account');
      assert.equal(x.headers.get('content-location'), `/v1/${otherAccount}/theirs/o`);
      // Temp URLs: a container key follows links inside its container only; no links made through them.
      await sw('POST', '/sl', { headers: { 'X-Container-Meta-Temp-URL-Key': 'ck' } });
      await sw('PUT', '/sl/local', { body: 'local' });
      await sw('PUT', '/sl/to-local', { body: Buffer.alloc(0), headers: { 'X-Symlink-Target': 'sl/local' } });
      await sw('PUT', '/sl/link', { body: Buffer.alloc(0), headers: { 'X-Symlink-Target': 'sl-t/target' } });
      const expires = Math.floor(Date.now() / 1000) + 60;
      const signed = (method: string, name: string) =>
        `/${name}?temp_url_sig=${createHmac('sha1', 'ck').update(`${method}\n${expires}\n/v1/${account}/${name}`).digest('hex')}&temp_url_expires=${expires}`;
      assert.equal((await sw('GET', signed('GET', 'sl/to-local'), { token: null })).text, 'local');
      assert.equal((await sw('GET', signed('GET', 'sl/link'), { token: null })).status, 401);
      const viaTemp = await sw('PUT', signed('PUT', 'sl/made'), {
        token: null,
        body: Buffer.alloc(0),
        headers: { 'X-Symlink-Target': 'sl/local' },
      });
      assert.equal(viaTemp.status, 400);
      assert.equal(viaTemp.text, "The header 'X-Symlink-Target' is not allowed in this tempurl");
      const info = (await (await fetch(`${c.url}/object-store/info`)).json()) as SwiftInfo;
      assert.deepEqual(info.symlink, { symloop_max: 2, static_links: true });
    });

    it('extracts tar, tar.gz and tar.bz2 archives', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swift-tar-'));
      fs.mkdirSync(path.join(dir, 'src', 'arch', 'sub'), { recursive: true });
      fs.writeFileSync(path.join(dir, 'src', 'arch', 'one.txt'), 'one');
      fs.writeFileSync(path.join(dir, 'src', 'arch', 'sub', 'two.txt'), 'two');
      fs.writeFileSync(path.join(dir, 'src', 'top.txt'), 'top');
      for (const [kind, flag] of [
        ['tar', ''],
        ['tar.gz', 'z'],
        ['tar.bz2', 'j'],
      ] as const) {
        execFileSync('tar', [
          `-c${flag}f`,
          path.join(dir, `a.${kind}`),
          '-C',
          path.join(dir, 'src'),
          'arch',
          'top.txt',
        ]);
        const r = await sw('PUT', `/ex-${kind.replace('.', '-')}?extract-archive=${kind}`, {
          body: fs.readFileSync(path.join(dir, `a.${kind}`)),
          headers: { Accept: 'application/json', 'X-Object-Meta-Batch': kind },
        });
        const out = JSON.parse(r.text);
        assert.equal(out['Response Status'], '201 Created', r.text);
        assert.equal(out['Number Files Created'], 3); // top.txt lands in the container named by the path
        const c = `/ex-${kind.replace('.', '-')}`;
        assert.equal((await sw('GET', `${c}/arch/sub/two.txt`)).text, 'two');
        assert.equal((await sw('HEAD', `${c}/arch/one.txt`)).headers.get('x-object-meta-batch'), kind);
      }
      const broken = await sw('PUT', '?extract-archive=tar.bz2', {
        body: Buffer.from('BZh9 not really bzip2'),
        headers: { Accept: 'application/json' },
      });
      const b = JSON.parse(broken.text);
      assert.equal(b['Response Status'], '400 Bad Request');
      assert.match(b['Response Body'], /^Invalid Tar File: /);
      const gz = await sw('PUT', '?extract-archive=tar.gz', {
        body: Buffer.from('not gzip'),
        headers: { Accept: 'application/json' },
      });
      assert.match(JSON.parse(gz.text)['Response Body'], /^Invalid Tar File: /);
      assert.equal((await sw('PUT', '?extract-archive=zip', { body: 'x' })).status, 400);
      fs.rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    });

    it('reaps blobs that no object row references', async () => {
      const svc = objectStoreService(c);
      const orphan = await svc.backend.put(Readable.from([Buffer.from('lost')]));
      assert.ok(await svc.backend.exists(orphan.blob));
      await svc.reapOrphans(0);
      assert.equal(await svc.backend.exists(orphan.blob), false);
      assert.equal((await sw('GET', '/box/b')).text, 'data-b');
    });

    it('fs driver writes atomically and keeps names off the filesystem', async () => {
      const root = fs.mkdtempSync(path.join(os.tmpdir(), 'swift-fs-'));
      const b = new FsBackend(root);
      const res = await b.put(Readable.from([Buffer.from('abc')]));
      assert.equal(res.etag, createHash('md5').update('abc').digest('hex'));
      assert.equal(fs.readdirSync(path.join(root, 'tmp')).length, 0);
      async function* failing() {
        yield Buffer.from('half');
        throw new Error('client went away');
      }
      await assert.rejects(b.put(failing()));
      assert.equal(fs.readdirSync(path.join(root, 'tmp')).length, 0);
      assert.throws(() => b.get('../../etc/passwd'));
      await assert.rejects(b.put(Readable.from([Buffer.alloc(10)]), { maxBytes: 5 }));
      // Group commit: concurrent writes share their fsync batches and their directory.
      const before = { ...b.groupCommitStats };
      const many = await Promise.all(
        Array.from({ length: 16 }, (_, i) => b.put(Readable.from([Buffer.from(`obj-${i}`)]))),
      );
      const st = b.groupCommitStats;
      assert.equal(st.files - before.files, 16);
      assert.ok(st.batches - before.batches < 16, `16 writes took ${st.batches - before.batches} batches`);
      assert.ok(st.dirs - before.dirs <= st.batches - before.batches + 1);
      for (const [i, r] of many.entries())
        assert.equal(
          fs.readFileSync(path.join(root, 'objects', r.blob.slice(0, 2), r.blob.slice(2, 4), r.blob), 'utf8'),
          `obj-${i}`,
        );
      assert.equal(fs.readdirSync(path.join(root, 'tmp')).length, 0);
      await b.close();
      fs.rmSync(root, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
      assert.deepEqual(parseRanges('bytes=0-1,5-', 8), [
        { start: 0, end: 1 },
        { start: 5, end: 7 },
      ]);
      assert.equal(parseRanges('bytes=9-', 8), 'unsatisfiable');
      assert.equal(parseRanges('chars=1-2', 8), null);
    });
  });
