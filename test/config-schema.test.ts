// The configuration check's fast path (devstack/config-schema.ts plainlyValid) against Ajv: it
// may say "valid" only where Ajv does, so configProblems answers as Ajv alone would.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configProblems, configSchema, plainlyValid } from '../src/devstack/config-schema.ts';
import { compileSchema } from '../src/core/validate.ts';
import { defaultConfig } from '../src/core/config.ts';

const sections = ['object-store', 'image', 'network', 'placement', 'compute', 'metric', 'collector'];

const docs: unknown[] = [
  {},
  { port: 8000, logLevel: 'debug', roles: ['api'], compute: { vcpus: 64, fakeHosts: 2 } },
  JSON.parse(JSON.stringify(defaultConfig('/tmp/x'))),
  { port: 70000 },
  { port: 1.5 },
  { port: '8000' },
  { logLevel: 'loud' },
  { adminPassword: '' },
  { prot: 8000 },
  { compute: { vcpu: 4 } },
  { compute: { consoles: { vnc: true, other: 1 } } },
  { network: { externalUplink: { physnet: 'public' } } },
  { network: { externalUplink: { physnet: 'public', cidr: '192.0.2.0/24' } } },
  { network: { quotas: { port: 10, network: 'x' } } },
  { network: { l2Hosts: ['a', 2] } },
  { devstack: { faults: [{ action: 'fail', status: 503, method: 'GET' }] } },
  { devstack: { faults: [{ action: 'explode' }] } },
  { devstack: { faults: [{ status: 503 }] } },
  { devstack: { faults: [{ action: 'delay', method: 'G3T' }] } },
  { devstack: { faults: [{ action: 'delay', rate: 2 }] } },
  { image: { anything: 1 } },
  { image: 'no' },
  { compute: { policy: { enforceScope: true } } },
  { compute: { policy: { enforceScope: 'yes' } } },
  { roles: 'api,compute' },
  [],
  null,
];

test('the fast path says valid only where Ajv says valid, and configProblems is unchanged', () => {
  const schema = configSchema(sections);
  const ajv = compileSchema(schema);
  let fast = 0;
  for (const d of docs) {
    const ok = ajv(d);
    const quick = plainlyValid(schema, d);
    if (quick) {
      fast++;
      assert.equal(ok, true, `fast path said valid, Ajv not: ${JSON.stringify(d)}`);
    }
    // Every valid document of this list is one the fast path decides.
    if (ok) assert.equal(quick, true, `valid but not decided by the fast path: ${JSON.stringify(d)}`);
    assert.equal(configProblems(d, 'x', sections).length === 0, ok);
  }
  assert.ok(fast >= 6, `fast ${fast}`);
  assert.match(configProblems({ prot: 8000 }, 'f', sections)[0]!, /unknown option 'prot' \(did you mean 'port'\?\)/);
  assert.match(configProblems({ port: 70000 }, 'f', sections)[0]!, /option 'port' must be <= 65535/);
});
