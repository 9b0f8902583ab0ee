// The conformance harness's pieces: tempest.conf from a catalog, subunit parsing, reports, the kept list.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { JsonObject } from './lib/api-types.ts';
import { adminCredentials, catalogEndpoint, parseIni } from './lib/tempest-fixtures.ts';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

import { AREAS, packagesFor, resolveSelection } from '../conformance/lib/areas.ts';
import {
  addToPassingList,
  exactTestRegex,
  includeListFor,
  judgeRegression,
  readPassingList,
} from '../conformance/lib/passing.ts';
import {
  buildReport,
  causeKey,
  perTestEntries,
  renderMarkdown,
  tracebackExcerpt,
  writeReport,
} from '../conformance/lib/report.ts';
import { DEVSTACK_NETWORK, networkEndpoint, prepareNetwork } from '../conformance/lib/network.ts';
import { readCloudsYaml, tokensUrl } from '../conformance/lib/stratus.ts';
import {
  collectResults,
  encodeSubunitPacket,
  failingRequest,
  fixtureCaller,
  lastException,
  normalizeRequestUrl,
  parseSubunit,
  requestLinesByCaller,
  splitTestId,
  SubunitParseError,
  summarizeResult,
  type SubunitPacket,
} from '../conformance/lib/subunit.ts';
import {
  buildTempestConfig,
  identityUriV3,
  parseOverride,
  renderIni,
  type CatalogEntry,
} from '../conformance/lib/tempest-config.ts';
import { stestrConf } from '../conformance/lib/tempest.ts';

const tmpDirs: string[] = [];
function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-conformance-'));
  tmpDirs.push(d);
  return d;
}
after(() => {
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
});

const REPO = path.resolve(import.meta.dirname, '..');
const DEBIAN_PYTHON = '/usr/bin/python3';
const hasPythonSubunit =
  fs.existsSync(DEBIAN_PYTHON) && spawnSync(DEBIAN_PYTHON, ['-c', 'import subunit, testtools']).status === 0;

const creds = adminCredentials('s3cret=%x');
const ep = catalogEndpoint;
const catalog: CatalogEntry[] = [
  {
    type: 'identity',
    name: 'keystone',
    endpoints: [ep('http://127.0.0.1:8000/identity', 'admin'), ep('http://127.0.0.1:8000/identity')],
  },
  { type: 'compute', name: 'nova', endpoints: [ep('http://127.0.0.1:8000/compute/v2.1')] },
  { type: 'block-storage', name: 'cinder', endpoints: [ep('http://127.0.0.1:8000/volume/v3')] },
  { type: 'metric', name: 'gnocchi', endpoints: [ep('http://127.0.0.1:8000/metric')] },
];

describe('tempest.conf from the cloud', () => {
  const ws = '/work/ws';
  const conf = () => parseIni(renderIni(buildTempestConfig({ workspace: ws, credentials: creds, catalog })));

  test('identity: uri_v3 from the catalog, v3 only, admin credentials', () => {
    const c = conf();
    assert.equal(c.identity!.uri_v3, 'http://127.0.0.1:8000/identity/v3');
    assert.equal(c.identity!.auth_version, 'v3');
    assert.equal(c.identity!.region, 'RegionOne');
    assert.equal(c.identity!.admin_domain_scope, 'False');
    assert.equal(c['identity-feature-enabled']!.api_v2, 'False');
    assert.equal(c['identity-feature-enabled']!.api_v3, 'True');
    assert.equal(c.auth!.use_dynamic_credentials, 'True');
    assert.equal(c.auth!.admin_username, 'admin');
    assert.equal(c.auth!.admin_password, 's3cret=%x');
    assert.equal(c.auth!.admin_project_name, 'admin');
    assert.equal(c.auth!.admin_domain_name, 'Default');
    assert.equal(c.enforce_scope!.keystone, 'False');
  });

  test('the identity features Keystone Zed has on', () => {
    const f = conf()['identity-feature-enabled']!;
    for (const k of ['trust', 'project_tags', 'application_credentials', 'access_rules']) assert.equal(f[k], 'True', k);
    for (const k of ['domain_specific_drivers', 'external_idp', 'immutable_user_source', 'security_compliance'])
      assert.equal(f[k], 'False', k);
  });

  test('security compliance: on with the numbers the cloud runs', () => {
    const c = parseIni(
      renderIni(
        buildTempestConfig({
          workspace: ws,
          credentials: creds,
          catalog,
          securityCompliance: { lockoutFailureAttempts: 2, lockoutDuration: 10, uniqueLastPasswordCount: 2 },
        }),
      ),
    );
    assert.equal(c['identity-feature-enabled']!.security_compliance, 'True');
    assert.equal(c.identity!.user_lockout_failure_attempts, '2');
    assert.equal(c.identity!.user_lockout_duration, '10');
    assert.equal(c.identity!.user_unique_last_password_count, '2');
  });

  test('service_available follows the catalog', () => {
    const s = conf().service_available!;
    assert.equal(s.nova, 'True');
    assert.equal(s.cinder, 'True');
    assert.equal(s.gnocchi, 'True');
    assert.equal(s.ceilometer, 'True');
    for (const k of ['neutron', 'glance', 'swift', 'heat', 'aodh', 'vitrage', 'mistral', 'horizon', 'load_balancer'])
      assert.equal(s[k], 'False', k);
    // Cinder is registered as block-storage here, not tempest's default volumev3.
    assert.equal(conf().volume!.catalog_type, 'block-storage');
  });

  test('an identity-only catalog makes every other service unavailable', () => {
    const c = parseIni(
      renderIni(buildTempestConfig({ workspace: ws, credentials: creds, catalog: catalog.slice(0, 1) })),
    );
    for (const [k, v] of Object.entries(c.service_available!)) assert.equal(v, 'False', k);
    assert.equal(c.volume, undefined);
  });

  test('logs and locks live in the workspace', () => {
    const c = conf();
    assert.equal(c.DEFAULT!.log_dir, '/work/ws/logs');
    assert.equal(c.DEFAULT!.log_file, 'tempest.log');
    assert.equal(c.oslo_concurrency!.lock_path, '/work/ws/tempest_lock');
  });

  test('--set overrides come last', () => {
    const overrides = parseOverride('compute.image_ref=abc=def', parseOverride('identity.region=Two'));
    const c = parseIni(renderIni(buildTempestConfig({ workspace: ws, credentials: creds, catalog, overrides })));
    assert.equal(c.identity!.region, 'Two');
    assert.equal(c.compute!.image_ref, 'abc=def');
    assert.throws(() => parseOverride('noequals'), /section\.key=value/);
  });

  test('a value with a line break is refused', () => {
    assert.throws(
      () => buildTempestConfig({ workspace: ws, credentials: { ...creds, password: 'a\nb' }, catalog }),
      /line break/,
    );
  });

  test('identityUriV3: public endpoint first, /v3 added once, fallback to auth_url', () => {
    assert.equal(identityUriV3(catalog, 'x'), 'http://127.0.0.1:8000/identity/v3');
    assert.equal(identityUriV3([{ type: 'identity', endpoints: [ep('http://h:5000/v3/')] }], 'x'), 'http://h:5000/v3');
    assert.equal(identityUriV3([], 'http://h:5000/v3'), 'http://h:5000/v3');
    assert.equal(identityUriV3([], 'http://h:5000'), 'http://h:5000/v3');
    const twoRegions = [
      {
        type: 'identity',
        endpoints: [ep('http://a/identity', 'public', 'One'), ep('http://b/identity', 'public', 'Two')],
      },
    ];
    assert.equal(identityUriV3(twoRegions, 'x', 'Two'), 'http://b/identity/v3');
  });

  test('the .stestr.conf points at the installed tempest', () => {
    const s = stestrConf('/usr/lib/python3/dist-packages/tempest');
    assert.match(s, /^test_path=\/usr\/lib\/python3\/dist-packages\/tempest\/test_discover$/m);
    assert.match(s, /^top_dir=\/usr\/lib\/python3\/dist-packages$/m);
  });
});

describe('tempest.conf for networking', () => {
  const ws = '/work/ws';
  const withNetwork: CatalogEntry[] = [
    ...catalog,
    { type: 'network', name: 'neutron', endpoints: [ep('http://127.0.0.1:8000/networking')] },
  ];
  const extensions = ['external-net', 'router', 'port-security', 'standard-attr-tag', 'quotas'];
  const conf = (network?: { extensions: string[]; publicNetworkId?: string }, cat = withNetwork) =>
    parseIni(renderIni(buildTempestConfig({ workspace: ws, credentials: creds, catalog: cat, network })));

  test('[network]: the public network, project CIDRs, nothing reachable', () => {
    const n = conf({ extensions, publicNetworkId: 'pub-id' }).network!;
    assert.equal(n.public_network_id, 'pub-id');
    assert.equal(n.floating_network_name, 'public');
    assert.equal(n.project_network_cidr, '10.100.0.0/16');
    assert.equal(n.project_network_mask_bits, '28');
    assert.equal(n.project_network_v6_cidr, '2001:db8::/48');
    assert.equal(n.project_network_v6_mask_bits, '64');
    assert.equal(n.project_networks_reachable, 'False');
    assert.equal(n.shared_physical_network, 'False');
    assert.equal(n.default_network, '10.0.0.0/22');
  });

  test('[network-feature-enabled]: exactly the extensions the cloud lists, features that follow them', () => {
    const f = conf({ extensions, publicNetworkId: 'pub-id' })['network-feature-enabled']!;
    assert.equal(f.api_extensions, 'external-net,router,port-security,standard-attr-tag,quotas');
    assert.equal(f.ipv6, 'True');
    assert.equal(f.ipv6_subnet_attributes, 'True');
    assert.equal(f.port_security, 'True');
    assert.equal(f.floating_ips, 'True');
    assert.equal(f.available_features, '');
    const bare = conf({ extensions: ['quotas'] })['network-feature-enabled']!;
    assert.equal(bare.api_extensions, 'quotas');
    assert.equal(bare.port_security, 'False');
    assert.equal(bare.floating_ips, 'False');
    // A cloud that lists no extension gets an empty list (all disabled), never tempest's 'all'.
    assert.equal(conf({ extensions: [] })['network-feature-enabled']!.api_extensions, '');
    assert.equal(conf()['network-feature-enabled']!.api_extensions, '');
  });

  test('no public network: its id is empty and no floating network is named', () => {
    const n = conf({ extensions: ['router'] }).network!;
    assert.equal(n.public_network_id, '');
    assert.equal(n.floating_network_name, undefined);
  });

  test('[neutron_plugin_options], scope and validation', () => {
    const c = conf({ extensions });
    const p = c.neutron_plugin_options!;
    assert.equal(p.available_type_drivers, 'flat,vxlan');
    assert.equal(p.provider_vlans, '');
    assert.equal(p.agent_availability_zone, 'nova');
    assert.equal(c.enforce_scope!.neutron, 'False');
    assert.equal(c.validation!.run_validation, 'False');
    assert.equal(c.service_available!.neutron, 'True');
  });

  test('a catalog without network writes no network section', () => {
    const c = conf({ extensions, publicNetworkId: 'x' }, catalog);
    for (const s of ['network', 'network-feature-enabled', 'neutron_plugin_options']) assert.equal(c[s], undefined, s);
    assert.equal(c.service_available!.neutron, 'False');
    assert.equal(c.validation!.run_validation, 'False');
  });

  test('networkEndpoint: public first, in the region, no trailing slash', () => {
    assert.equal(networkEndpoint(withNetwork), 'http://127.0.0.1:8000/networking');
    assert.equal(networkEndpoint(catalog), undefined);
    const two: CatalogEntry[] = [
      {
        type: 'network',
        endpoints: [
          ep('http://a/net/', 'admin', 'Two'),
          ep('http://b/net/', 'public', 'One'),
          ep('http://c/net/', 'public', 'Two'),
        ],
      },
    ];
    assert.equal(networkEndpoint(two, 'Two'), 'http://c/net');
    assert.equal(networkEndpoint(two, 'Three'), 'http://b/net');
  });
});

/** A Neutron that knows networks, subnets and subnet pools by name; records what it was sent. */
async function fakeNeutron(
  extensions: string[],
  refuse: (method: string, path: string, body: Record<string, JsonObject> | undefined) => boolean = () => false,
) {
  const store: Record<string, JsonObject[]> = { networks: [], subnets: [], subnetpools: [] };
  const posts: Array<{ plural: string; body: JsonObject }> = [];
  const tokens: string[] = [];
  let n = 0;
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => {
      raw += c;
    });
    req.on('end', () => {
      tokens.push(String(req.headers['x-auth-token']));
      const url = new URL(req.url!, 'http://x');
      const body: Record<string, JsonObject> | undefined = raw ? JSON.parse(raw) : undefined;
      const send = (status: number, doc: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(doc));
      };
      const m = /^\/networking\/v2\.0\/(\w+)$/.exec(url.pathname);
      if (!m) return send(404, { NeutronError: { message: 'no' } });
      const plural = m[1]!;
      if (refuse(req.method!, plural, body))
        return send(400, { NeutronError: { type: 'HTTPBadRequest', message: 'Unrecognized attribute(s)' } });
      if (plural === 'extensions')
        return send(200, { extensions: extensions.map((alias) => ({ alias, name: alias, description: '' })) });
      const list = store[plural];
      if (!list) return send(404, { NeutronError: { message: 'no' } });
      if (req.method === 'GET') {
        const filters = [...url.searchParams];
        return send(200, { [plural]: list.filter((r) => filters.every(([k, v]) => String(r[k]) === v)) });
      }
      const singular = plural.replace(/s$/, '');
      const item = { id: `${singular}-${++n}`, ...body?.[singular] };
      list.push(item);
      posts.push({ plural, body: body?.[singular] ?? {} });
      send(201, { [singular]: item });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const endpoint = `http://127.0.0.1:${(server.address() as import('node:net').AddressInfo).port}/networking`;
  return { endpoint, store, posts, tokens, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('what DevStack creates in Neutron before tempest', () => {
  const ALL = [
    'subnet_allocation',
    'default-subnetpools',
    'external-net',
    'provider',
    'auto-allocated-topology',
    'router',
  ];

  test('subnet pools, the flat external network public with its subnets, the shared network', async () => {
    const f = await fakeNeutron(ALL);
    const logs: string[] = [];
    try {
      const facts = await prepareNetwork({ endpoint: f.endpoint, token: 'tok', log: (s) => logs.push(s) });
      assert.deepEqual(facts.extensions, ALL);
      const pub = f.store.networks!.find((x) => x.name === 'public')!;
      assert.equal(facts.publicNetworkId, pub.id);
      assert.deepEqual(f.posts.find((p) => p.body.name === 'public')!.body, {
        name: 'public',
        'router:external': true,
        'provider:network_type': 'flat',
        'provider:physical_network': 'public',
        is_default: true,
      });
      assert.deepEqual(f.posts.find((p) => p.body.name === 'public-subnet')!.body, {
        name: 'public-subnet',
        network_id: pub.id,
        ip_version: 4,
        cidr: '172.24.4.0/24',
        enable_dhcp: false,
      });
      assert.deepEqual(f.posts.find((p) => p.body.name === 'ipv6-public-subnet')!.body, {
        name: 'ipv6-public-subnet',
        network_id: pub.id,
        ip_version: 6,
        cidr: '2001:db8::/64',
        gateway_ip: '2001:db8::2',
        enable_dhcp: false,
      });
      assert.deepEqual(f.posts.find((p) => p.body.name === 'shared-default-subnetpool-v4')!.body, {
        name: 'shared-default-subnetpool-v4',
        prefixes: ['10.0.0.0/22'],
        default_prefixlen: 26,
        shared: true,
        is_default: true,
      });
      const v6 = f.posts.find((p) => p.body.name === 'shared-default-subnetpool-v6')!.body;
      assert.equal((v6.prefixes as string[])[0], DEVSTACK_NETWORK.subnetPoolV6.prefix);
      assert.equal(v6.default_prefixlen, 64);
      assert.equal(f.posts.find((p) => p.body.name === 'shared')!.body.shared, true);
      assert.equal(f.posts.find((p) => p.body.name === 'shared-subnet')!.body.cidr, '192.168.233.0/24');
      assert.equal(f.posts.length, 7);
      assert.ok(f.tokens.every((t) => t === 'tok'));
      assert.ok(!logs.some((l) => l.startsWith('warning')), logs.join('\n'));

      // A second run (a cloud given with --url) reuses all of it.
      const again = await prepareNetwork({ endpoint: `${f.endpoint}/`, token: 'tok', log: () => {} });
      assert.equal(again.publicNetworkId, pub.id);
      assert.equal(f.posts.length, 7);
    } finally {
      await f.close();
    }
  });

  test('only what the extensions allow; a refused step is a warning and the rest goes on', async () => {
    const f = await fakeNeutron(
      ['external-net', 'subnet_allocation'],
      (method, plural, body) =>
        method === 'POST' && plural === 'subnetpools' && (body?.subnetpool?.prefixes as string[])[0]!.includes(':'),
    );
    const logs: string[] = [];
    try {
      const facts = await prepareNetwork({ endpoint: f.endpoint, token: 't', log: (s) => logs.push(s) });
      const pubPost = f.posts.find((p) => p.body.name === 'public')!.body;
      assert.deepEqual(pubPost, { name: 'public', 'router:external': true });
      assert.equal(f.posts.find((p) => p.body.name === 'shared-default-subnetpool-v4')!.body.is_default, undefined);
      assert.equal(f.store.subnetpools!.length, 1);
      assert.match(
        logs.find((l) => l.startsWith('warning'))!,
        /shared-default-subnetpool-v6: POST \/v2\.0\/subnetpools answered 400/,
      );
      assert.ok(facts.publicNetworkId);
      assert.equal(f.store.subnets!.length, 3);
    } finally {
      await f.close();
    }
  });

  test('no external-net: no public network; no API at all: no extensions, no error', async () => {
    const f = await fakeNeutron(['router']);
    try {
      const facts = await prepareNetwork({ endpoint: f.endpoint, token: 't', log: () => {} });
      assert.equal(facts.publicNetworkId, undefined);
      assert.equal(f.posts.length, 0);
    } finally {
      await f.close();
    }
    const g = await fakeNeutron([], () => true);
    const logs: string[] = [];
    try {
      const facts = await prepareNetwork({ endpoint: g.endpoint, token: 't', log: (s) => logs.push(s) });
      assert.deepEqual(facts, { extensions: [] });
      assert.ok(logs.some((l) => /listing the extensions: GET \/v2\.0\/extensions answered 400/.test(l)));
    } finally {
      await g.close();
    }
  });
});

describe('clouds.yaml and the token URL', () => {
  test('reads the admin credentials of the named cloud', () => {
    const f = path.join(tmp(), 'clouds.yaml');
    fs.writeFileSync(
      f,
      [
        'clouds:',
        '  stratus:',
        '    auth:',
        '      auth_url: http://127.0.0.1:9/identity/v3',
        '      username: admin',
        '      password: "p w"',
        '      project_name: admin',
        '      user_domain_name: Default',
        '      project_domain_name: Default',
        '    region_name: RegionOne',
        '    identity_api_version: 3',
        '',
      ].join('\n'),
    );
    assert.deepEqual(readCloudsYaml(f), {
      authUrl: 'http://127.0.0.1:9/identity/v3',
      username: 'admin',
      password: 'p w',
      projectName: 'admin',
      userDomainName: 'Default',
      projectDomainName: 'Default',
      regionName: 'RegionOne',
    });
    assert.throws(() => readCloudsYaml(f, 'other'), /no cloud named "other"/);
  });

  test('tokensUrl adds /v3 only when missing', () => {
    assert.equal(tokensUrl('http://h/identity/v3'), 'http://h/identity/v3/auth/tokens');
    assert.equal(tokensUrl('http://h/identity/'), 'http://h/identity/v3/auth/tokens');
  });
});

describe('subunit v2', () => {
  const T = 'tempest.api.identity.v3.test_x.XTest';
  const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));
  const stream = (packets: Array<Parameters<typeof encodeSubunitPacket>[0]>) =>
    Buffer.concat(packets.map(encodeSubunitPacket));

  test('packets round-trip through the encoder and the parser', () => {
    const big = Buffer.alloc(20_000, 'x');
    const pk: Parameters<typeof encodeSubunitPacket>[0] = {
      testId: `${T}.test_a[id-1,smoke]`,
      status: 'fail',
      tags: ['worker-0'],
      timestamp: at(3),
      mimeType: 'text/x-traceback; charset="utf8"',
      fileName: 'traceback',
      fileBytes: big,
      routeCode: '0',
      eof: true,
    };
    const [p] = parseSubunit(encodeSubunitPacket(pk));
    assert.equal(p!.testId, pk.testId);
    assert.equal(p!.status, 'fail');
    assert.deepEqual(p!.tags, ['worker-0']);
    assert.equal(p!.timestamp!.getTime(), at(3).getTime());
    assert.equal(p!.mimeType, pk.mimeType);
    assert.equal(p!.fileName, 'traceback');
    assert.equal(p!.fileBytes!.length, 20_000);
    assert.equal(p!.routeCode, '0');
    assert.equal(p!.eof, true);
  });

  test('a corrupted packet is an error, stray bytes between packets are output', () => {
    const good = encodeSubunitPacket({ testId: 'a', status: 'success' });
    const bad = Buffer.from(good);
    bad[bad.length - 6] ^= 0xff;
    assert.throws(() => parseSubunit(bad), SubunitParseError);
    const mixed = Buffer.concat([Buffer.from('hello\n'), good, Buffer.from('bye')]);
    const ps = parseSubunit(mixed);
    assert.deepEqual(
      ps.map((p: SubunitPacket) => p.testId ?? p.fileBytes!.toString()),
      ['hello\n', 'a', 'bye'],
    );
  });

  test('results fold per test: last status wins, attachments concatenate, fixtures and attrs are named', () => {
    const rs = collectResults(
      parseSubunit(
        stream([
          { testId: `${T}.test_a[id-1,smoke]`, status: 'exists' },
          { testId: `${T}.test_a[id-1,smoke]`, status: 'inprogress', timestamp: at(1) },
          {
            testId: `${T}.test_a[id-1,smoke]`,
            fileName: 'traceback',
            fileBytes: Buffer.from('Traceback (most recent call last):\n'),
          },
          {
            testId: `${T}.test_a[id-1,smoke]`,
            fileName: 'traceback',
            fileBytes: Buffer.from('  File "x.py", line 1, in f\n    g()\nValueError: boom\n'),
          },
          { testId: `${T}.test_a[id-1,smoke]`, status: 'fail', timestamp: at(3), tags: ['worker-1'] },
          { testId: `${T}.test_b[id-2]`, status: 'inprogress' },
          { testId: `${T}.test_b[id-2]`, status: 'success' },
          { testId: `${T}.test_c`, status: 'inprogress' },
          { testId: `setUpClass (${T})`, status: 'inprogress' },
          { testId: `setUpClass (${T})`, fileName: 'reason', fileBytes: Buffer.from('not configured') },
          { testId: `setUpClass (${T})`, status: 'skip' },
          { testId: `${T}.test_only_listed`, status: 'exists' },
        ]),
      ),
    );
    assert.deepEqual(
      rs.map((r) => [r.id, r.outcome]),
      [
        [`setUpClass (${T})`, 'skip'],
        [`${T}.test_a`, 'fail'],
        [`${T}.test_b`, 'pass'],
        [`${T}.test_c`, 'fail'],
      ],
    );
    const a = rs.find((r) => r.id.endsWith('test_a'))!;
    assert.deepEqual(a.attrs, ['id-1', 'smoke']);
    assert.equal(a.rawId, `${T}.test_a[id-1,smoke]`);
    assert.equal(a.seconds, 2);
    assert.equal(a.worker, 'worker-1');
    assert.equal(summarizeResult(a), 'ValueError: boom');
    assert.equal(rs[0]!.fixtureOf, T);
    assert.equal(summarizeResult(rs[0]!), 'not configured');
    assert.match(summarizeResult(rs.find((r) => r.id.endsWith('test_c'))!), /never finished/);
  });

  test('splitTestId', () => {
    assert.deepEqual(splitTestId('a.b.C.test_d[id-0f3c,negative]'), {
      id: 'a.b.C.test_d',
      attrs: ['id-0f3c', 'negative'],
    });
    assert.deepEqual(splitTestId('a.b.C.test_d'), { id: 'a.b.C.test_d', attrs: [] });
  });

  test('a stream written by python-subunit (a real run of unittest tests)', {
    skip: !hasPythonSubunit && 'no python3-subunit in /usr/bin/python3',
  }, () => {
    const dir = tmp();
    fs.writeFileSync(
      path.join(dir, 'fake_tempest_tests.py'),
      [
        'import unittest',
        'class Sample(unittest.TestCase):',
        '    def test_pass(self):',
        '        pass',
        '    def test_fail(self):',
        "        raise ValueError('boom')",
        '    def test_skip(self):',
        "        self.skipTest('not today')",
        'class Broken(unittest.TestCase):',
        '    @classmethod',
        '    def setUpClass(cls):',
        "        raise RuntimeError('no cloud')",
        '    def test_never(self):',
        '        pass',
        '',
      ].join('\n'),
    );
    const run = spawnSync(DEBIAN_PYTHON, ['-m', 'subunit.run', 'fake_tempest_tests'], { cwd: dir });
    assert.equal(run.status, 0, run.stderr.toString());
    const rs = collectResults(parseSubunit(run.stdout));
    const by = Object.fromEntries(rs.map((r) => [r.id, r]));
    assert.equal(by['fake_tempest_tests.Sample.test_pass']!.outcome, 'pass');
    assert.equal(by['fake_tempest_tests.Sample.test_fail']!.outcome, 'fail');
    assert.equal(summarizeResult(by['fake_tempest_tests.Sample.test_fail']!), 'ValueError: boom');
    assert.equal(by['fake_tempest_tests.Sample.test_skip']!.outcome, 'skip');
    assert.equal(summarizeResult(by['fake_tempest_tests.Sample.test_skip']!), 'not today');
    const broken = by['setUpClass (fake_tempest_tests.Broken)']!;
    assert.equal(broken.outcome, 'fail');
    assert.equal(broken.fixtureOf, 'fake_tempest_tests.Broken');
    assert.equal(summarizeResult(broken), 'RuntimeError: no cloud');

    // Our encoder's output reads back identically through python-subunit.
    const ours = stream([{ testId: 'x.y.Z.test_q[id-9]', status: 'success', tags: ['worker-0'], timestamp: at(5) }]);
    const csv = spawnSync('/usr/bin/subunit2csv', { input: ours });
    if (csv.status === 0) assert.match(csv.stdout.toString(), /^x\.y\.Z\.test_q\[id-9\],success,/m);
  });
});

describe('tracebacks and failing requests', () => {
  const tempestTb = [
    'Traceback (most recent call last):',
    '  File "/usr/lib/python3/dist-packages/tempest/api/identity/admin/v3/test_credentials.py", line 95, in test_x',
    '    cred = self.creds_client.create_credential(',
    '           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^',
    '  File "/usr/lib/python3/dist-packages/tempest/lib/services/identity/v3/credentials_client.py", line 38, in create_credential',
    "    resp, body = self.post('credentials', post_body)",
    '  File "/usr/lib/python3/dist-packages/tempest/lib/common/rest_client.py", line 826, in _error_checker',
    '    raise exceptions.NotFound(resp_body, resp=resp)',
    'tempest.lib.exceptions.NotFound: Object not found',
    "Details: {'code': 404, 'title': 'Not Found', 'message': 'The resource could not be found.'}",
    '',
  ].join('\n');

  test('lastException: the exception after the last frame, continuation lines included', () => {
    assert.equal(
      lastException(tempestTb),
      "tempest.lib.exceptions.NotFound: Object not found Details: {'code': 404, 'title': 'Not Found', 'message': 'The resource could not be found.'}",
    );
    const chained =
      'Traceback (most recent call last):\n  File "a.py", line 1, in f\n    x()\nKeyError: 1\n\nDuring handling of the above exception, another exception occurred:\n\nTraceback (most recent call last):\n  File "b.py", line 2, in g\n    y()\ntesttools.matchers._impl.MismatchError: 1 != 2\n';
    assert.equal(lastException(chained), 'testtools.matchers._impl.MismatchError: 1 != 2');
    assert.equal(lastException('x'.repeat(1000), 50).length, 50);
  });

  const failing = (details: Record<string, string>) => ({
    rawId: 'a',
    id: 'a',
    attrs: [],
    status: 'fail' as const,
    outcome: 'fail' as const,
    details,
  });

  test('failingRequest: the last call answered >= 400, ids masked', () => {
    const log = [
      'Request (CredentialsTestJSON:test_x): 201 POST http://127.0.0.1:1/identity/v3/users 0.01s',
      'Request (CredentialsTestJSON:test_x): 404 POST http://127.0.0.1:1/identity/v3/credentials 0.01s',
      'Request (CredentialsTestJSON:_run_cleanups): 204 DELETE http://127.0.0.1:1/identity/v3/users/0123456789abcdef0123456789abcdef 0.01s',
    ].join('\n');
    assert.equal(
      failingRequest(failing({ traceback: tempestTb, "pythonlogging:''": log })),
      'POST /identity/v3/credentials → 404',
    );
    // No captured log (a class fixture): the service client method instead.
    assert.equal(
      failingRequest(failing({ traceback: tempestTb })),
      'identity/v3/credentials_client.create_credential()',
    );
    // Not raised by the REST client: no request.
    assert.equal(
      failingRequest(
        failing({
          traceback: 'Traceback (most recent call last):\n  File "a.py", line 1, in f\n    x\nValueError: v\n',
        }),
      ),
      undefined,
    );
  });

  test('class fixtures find their calls in tempest.log', () => {
    const log = [
      '2026-01-01 INFO tempest.lib.common.rest_client [req-1 ] Request (EndPointsTestJSON:setUpClass): 201 POST http://h/identity/v3/regions 0.01s',
      '2026-01-01 INFO tempest.lib.common.rest_client [req-2 ] Request (EndPointsTestJSON:setUpClass): 400 POST http://h/identity/v3/endpoints 0.01s',
      '2026-01-01 INFO tempest.lib.common.rest_client [req-3 ] Request (OtherTest:test_y): 404 GET http://h/identity/v3/x 0.01s',
    ].join('\n');
    const byCaller = requestLinesByCaller(log);
    const fx = {
      ...failing({ traceback: tempestTb }),
      id: 'setUpClass (tempest.api.identity.admin.v3.test_endpoints.EndPointsTestJSON)',
      fixtureOf: 'tempest.api.identity.admin.v3.test_endpoints.EndPointsTestJSON',
    };
    assert.equal(fixtureCaller(fx), 'EndPointsTestJSON:setUpClass');
    assert.equal(failingRequest(fx, byCaller.get('EndPointsTestJSON:setUpClass')), 'POST /identity/v3/endpoints → 400');
  });

  test('normalizeRequestUrl', () => {
    assert.equal(
      normalizeRequestUrl(
        'http://h:1/identity/v3/users/0123456789abcdef0123456789abcdef/groups?name=x&name=y&enabled=1',
      ),
      '/identity/v3/users/{id}/groups?name=&enabled=',
    );
    assert.equal(normalizeRequestUrl('http://h/identity/v3/regions/tempest-region-123'), '/identity/v3/regions/{id}');
  });

  test('tracebackExcerpt keeps the head and the tail', () => {
    const long = Array.from({ length: 100 }, (_, i) => `line ${i}`).join('\n');
    const ex = tracebackExcerpt(long, 20).split('\n');
    assert.equal(ex.length, 20);
    assert.equal(ex[0], 'line 0');
    assert.equal(ex.at(-1), 'line 99');
    assert.match(ex[6]!, /… 81 lines …/);
  });
});

describe('report', () => {
  const T = 'tempest.api.identity.v3.test_x';
  const results = collectResults(
    parseSubunit(
      Buffer.concat(
        [
          { testId: `${T}.A.test_ok[id-1]`, status: 'success' as const },
          {
            testId: `${T}.A.test_bad[id-2]`,
            status: 'fail' as const,
            fileName: 'traceback',
            fileBytes: Buffer.from(
              "Traceback (most recent call last):\n  File \"t.py\", line 1, in t\n    x\ntempest.lib.exceptions.NotFound: Object not found\nDetails: {'code': 404, 'message': 'Could not find user: 0123456789abcdef0123456789abcdef.'}\n",
            ),
          },
          {
            testId: `${T}.A.test_bad2[id-3]`,
            status: 'fail' as const,
            fileName: 'traceback',
            fileBytes: Buffer.from(
              "Traceback (most recent call last):\n  File \"t.py\", line 1, in t\n    x\ntempest.lib.exceptions.NotFound: Object not found\nDetails: {'code': 404, 'message': 'Could not find user: fedcba9876543210fedcba9876543210.'}\n",
            ),
          },
          {
            testId: `setUpClass (${T}.B)`,
            status: 'fail' as const,
            fileName: 'traceback',
            fileBytes: Buffer.from(
              'Traceback (most recent call last):\n  File "t.py", line 1, in t\n    x\nRuntimeError: setup broke\n',
            ),
          },
          {
            testId: `setUpClass (${T}.C)`,
            status: 'skip' as const,
            fileName: 'reason',
            fileBytes: Buffer.from('Identity api v2 is not enabled'),
          },
        ].map((p) => encodeSubunitPacket(p)),
      ),
    ),
  );
  const listed = [
    `${T}.A.test_ok[id-1]`,
    `${T}.A.test_bad[id-2]`,
    `${T}.A.test_bad2[id-3]`,
    `${T}.B.test_b1[id-4]`,
    `${T}.B.test_b2[id-5]`,
    `${T}.C.test_c[id-6]`,
    `${T}.D.test_lost[id-7]`,
  ];
  const info = {
    label: 'identity',
    regex: '^tempest\\.api\\.identity\\.',
    stratusUrl: 'http://127.0.0.1:1',
    tempestVersion: '33',
    startedAt: new Date('2026-01-02T03:04:05.678Z'),
    wallSeconds: 12.34,
    workspace: '/ws',
  };

  test('tests under a failed or skipped setUpClass take its verdict; unreported tests fail', () => {
    const { tests, fixtures } = perTestEntries(results, listed);
    const by = Object.fromEntries(tests.map((t) => [t.id.split('.').slice(-2).join('.'), t]));
    assert.equal(by['B.test_b1']!.outcome, 'fail');
    assert.equal(by['B.test_b1']!.via, `setUpClass (${T}.B)`);
    assert.equal(by['C.test_c']!.outcome, 'skip');
    assert.equal(by['C.test_c']!.summary, 'Identity api v2 is not enabled');
    assert.equal(by['D.test_lost']!.status, 'none');
    assert.equal(fixtures.length, 2);
  });

  test('a module that reported only a skip (a gabbi suite) lends it to its silent tests', () => {
    const M = 'heat_tempest_plugin.tests.api.test_heat_api';
    const rs = collectResults(
      parseSubunit(
        encodeSubunitPacket({
          testId: `${M}.stacks_list.test_request[id-1]`,
          status: 'skip',
          fileName: 'reason',
          fileBytes: Buffer.from('Heat is not available'),
        }),
      ),
    );
    const { tests } = perTestEntries(rs, [
      `${M}.stacks_list.test_request[id-1]`,
      `${M}.stacks_create.test_request[id-2]`,
      'other.mod.C.test_x[id-3]',
    ]);
    assert.deepEqual(
      tests.map((t) => [t.id, t.outcome, t.summary]),
      [
        [`${M}.stacks_create.test_request`, 'skip', 'Heat is not available'],
        [`${M}.stacks_list.test_request`, 'skip', 'Heat is not available'],
        ['other.mod.C.test_x', 'fail', 'no result: listed for the run but never reported (worker crash?)'],
      ],
    );
  });

  test('counts per test, causes grouped with ids masked', () => {
    const r = buildReport(info, results, listed);
    assert.deepEqual(r.counts, { total: 7, passed: 1, failed: 5, skipped: 1, classErrors: 1 });
    assert.deepEqual(r.passed, [`${T}.A.test_ok`]);
    assert.equal(r.causes[0]!.count, 2);
    assert.equal(r.causes[0]!.cause, 'NotFound: Could not find user: <id>.');
    assert.equal(r.wallSeconds, 12.3);
  });

  test('causeKey masks what varies', () => {
    assert.equal(
      causeKey('x 12 tempest-region-123456 0x7f00 3fa85f64-5717-4562-b3fc-2c963f66afa6'),
      'x N <name> <addr> <uuid>',
    );
  });

  test('markdown and json files named <label>-<timestamp>', () => {
    const dir = tmp();
    const r = buildReport(info, results, listed);
    const files = writeReport(dir, r);
    assert.equal(path.basename(files.md), 'identity-20260102T030405Z.md');
    assert.equal(path.basename(files.json), 'identity-20260102T030405Z.json');
    assert.deepEqual(JSON.parse(fs.readFileSync(files.json, 'utf8')).counts, r.counts);
    const md = fs.readFileSync(files.md, 'utf8');
    for (const h of [
      '# Conformance: identity',
      '## Failures by cause',
      '## Class-level errors',
      '## Skipped classes',
      '## Failures',
      '## Skipped',
      '## Passed',
    ])
      assert.ok(md.includes(h), h);
    assert.match(md, /\| 7 \| 1 \| 5 \| 1 \| 1 \|/);
    assert.match(md, /RuntimeError: setup broke/);
    assert.ok(
      renderMarkdown({ ...r, regression: { passed: 1, failed: [{ id: 'x', why: 'y' }] } }).includes(
        '1 passed, 1 failed',
      ),
    );
  });
});

describe('kept list and regression', () => {
  test('adds sorted, without duplicates; comments and blanks are ignored', () => {
    const f = path.join(tmp(), 'passing.txt');
    assert.deepEqual(readPassingList(f), []);
    assert.deepEqual(addToPassingList(f, ['b.t', 'a.t', 'b.t']), ['a.t', 'b.t']);
    fs.appendFileSync(f, '\n# a comment\n');
    assert.deepEqual(addToPassingList(f, ['c.t', 'a.t']), ['c.t']);
    assert.equal(fs.readFileSync(f, 'utf8'), 'a.t\nb.t\nc.t\n');
  });

  test('exactTestRegex selects one test, with or without its attribute suffix', () => {
    const re = new RegExp(exactTestRegex('tempest.api.identity.v3.T.test_foo'));
    assert.ok(re.test('tempest.api.identity.v3.T.test_foo[id-1,smoke]'));
    assert.ok(re.test('tempest.api.identity.v3.T.test_foo'));
    assert.ok(!re.test('tempest.api.identity.v3.T.test_foo_bar[id-2]'));
    assert.ok(!re.test('tempestXapi.identity.v3.T.test_foo'));
    assert.equal(includeListFor(['a.b', 'c.d']), '^a\\.b(\\[|$)\n^c\\.d(\\[|$)\n');
  });

  test('judgeRegression: anything but a pass is a regression', () => {
    const t = (id: string, outcome: 'pass' | 'fail' | 'skip', extra = {}) => ({
      id,
      rawId: id,
      outcome,
      status: outcome,
      summary: `${id} why`,
      ...extra,
    });
    const out = judgeRegression(
      ['a', 'b', 'c', 'd'],
      [t('a', 'pass'), t('b', 'fail', { request: 'GET /x → 500' }), t('c', 'skip', { via: 'setUpClass (C)' })],
    );
    assert.deepEqual(out.passed, ['a']);
    assert.deepEqual(out.failed, [
      { id: 'b', why: 'failed: b why [GET /x → 500]' },
      { id: 'c', why: 'skipped in setUpClass (C): c why' },
      { id: 'd', why: 'did not run (no such test, or no result)' },
    ]);
  });
});

describe('areas', () => {
  test('area names and aliases give their regex and packages', () => {
    assert.deepEqual(resolveSelection('identity'), {
      label: 'identity',
      regex: '^tempest\\.api\\.identity\\.',
      packages: [],
    });
    assert.equal(resolveSelection('keystone').label, 'identity');
    assert.deepEqual(resolveSelection('orchestration').packages, ['heat-tempest-plugin']);
    assert.ok(
      AREAS.every((a) => {
        new RegExp(a.regex);
        return true;
      }),
    );
  });

  test('anything else is a regex; plugin modules in it bring their package', () => {
    const s = resolveSelection('heat_tempest_plugin\\.tests\\.api\\.test_heat_api');
    assert.equal(s.regex, 'heat_tempest_plugin\\.tests\\.api\\.test_heat_api');
    assert.deepEqual(s.packages, ['heat-tempest-plugin']);
    assert.equal(s.label, 'heat_tempest_plugin.tests.api.test_heat_api');
    assert.throws(() => resolveSelection('tempest.(api'), /neither an area/);
    assert.deepEqual(packagesFor('tempest.api.identity.x\nmistral_tempest_tests.tests.api.v2.y'), [
      'mistral-tempest-plugin',
    ]);
  });
});

describe('the command', () => {
  const cli = (args: string[]) =>
    spawnSync(process.execPath, [path.join(REPO, 'bin', 'conformance.js'), ...args], {
      cwd: REPO,
      encoding: 'utf8',
      timeout: 60_000,
    });

  test('--regression with no kept list or an empty one: 0 passed, 0 failed, exit 0', () => {
    const dir = tmp();
    const empty = path.join(dir, 'passing.txt');
    fs.writeFileSync(empty, '# nothing yet\n');
    for (const file of [empty, path.join(dir, 'missing.txt')]) {
      const r = cli(['--regression', '--passing', file]);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout.trim().split('\n').at(-1), '0 passed, 0 failed');
    }
  });

  test('usage errors exit 2, --help exits 0', () => {
    assert.equal(cli(['--help']).status, 0);
    assert.equal(cli([]).status, 2);
    assert.equal(cli(['identity', '--bogus']).status, 2);
    assert.equal(cli(['identity', '--regression']).status, 2);
  });
});
