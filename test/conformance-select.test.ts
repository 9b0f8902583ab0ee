// Which kept tempest tests CI runs for a change (conformance/lib/select.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { affectedServices, selectKept, selectSinceBaseline } from '../conformance/lib/select.ts';

const kept = [
  'cinder_tempest_plugin.api.volume.test_a.T.test_x',
  'heat_tempest_plugin.tests.functional.test_a.T.test_x',
  'keystone_tempest_plugin.tests.api.test_a.T.test_x',
  'neutron_tempest_plugin.api.test_a.T.test_x',
  'telemetry_tempest_plugin.aodh.api.test_a.T.test_x',
  'tempest.api.compute.servers.test_a.T.test_x',
  'tempest.api.identity.v3.test_a.T.test_x',
  'tempest.api.network.test_a.T.test_x',
  'tempest.api.object_storage.test_a.T.test_x',
  'tempest.api.volume.test_a.T.test_x',
];
const areas = (ids: string[]) =>
  ids.map((i) =>
    i
      .split('.')
      .slice(0, i.startsWith('tempest.') ? 3 : 1)
      .join('.'),
  );

test('shared parts run everything; prose and our own tests nothing', () => {
  assert.equal(affectedServices(['src/core/http.ts']), 'all');
  assert.equal(affectedServices(['src/identity/api/routes.ts']), 'all');
  assert.equal(affectedServices(['package-lock.json']), 'all');
  assert.equal(affectedServices(['conformance/lib/main.ts']), 'all');
  assert.deepEqual(selectKept(kept, ['README.md', 'test/compute.test.ts', 'bench/x.ts'], []).ids, []);
});

test("a service's change runs its areas and those of the services whose tests go through it", () => {
  assert.deepEqual(areas(selectKept(kept, ['src/orchestration/engine/stack.ts'], []).ids), [
    'heat_tempest_plugin',
    'telemetry_tempest_plugin',
  ]);
  assert.deepEqual(areas(selectKept(kept, ['src/compute/api/servers.ts'], []).ids), [
    'cinder_tempest_plugin',
    'heat_tempest_plugin',
    'telemetry_tempest_plugin',
    'tempest.api.compute',
    'tempest.api.volume',
  ]);
  const net = areas(selectKept(kept, ['src/network/agent/agent.ts'], []).ids);
  assert.ok(net.includes('neutron_tempest_plugin') && net.includes('tempest.api.compute'));
  assert.ok(!net.includes('tempest.api.identity') && !net.includes('tempest.api.object_storage'));
  // Ids added to the list since the baseline run whatever changed.
  const added = 'tempest.api.identity.v3.test_a.T.test_x';
  assert.deepEqual(selectKept(kept, ['src/telemetry/x.ts'], [added]).ids.includes(added), true);
});

test('from a git history: the baseline decides, a missing or foreign one runs everything', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'select-'));
  try {
    const git = (...a: string[]) =>
      execFileSync('git', ['-C', dir, '-c', 'user.email=t@t', '-c', 'user.name=t', ...a], { encoding: 'utf8' }).trim();
    git('init', '-q');
    fs.mkdirSync(path.join(dir, 'src/orchestration'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'conformance'));
    const list = path.join(dir, 'conformance/passing.txt');
    const baseline = path.join(dir, 'conformance/ci-baseline');
    fs.writeFileSync(list, `${kept.slice(0, 9).join('\n')}\n`);
    fs.writeFileSync(path.join(dir, 'src/orchestration/a.ts'), '1');
    git('add', '-A');
    git('commit', '-qm', 'one');
    const base = git('rev-parse', 'HEAD');
    assert.equal(selectSinceBaseline(dir, baseline, list, kept).all, true, 'no baseline file');
    fs.writeFileSync(baseline, `${base}\n`);
    fs.writeFileSync(path.join(dir, 'src/orchestration/a.ts'), '2');
    fs.writeFileSync(list, `${kept.join('\n')}\n`);
    assert.equal(selectSinceBaseline(dir, baseline, list, kept).reason, 'uncommitted changes');
    git('commit', '-qam', 'two');
    const sel = selectSinceBaseline(dir, baseline, list, kept);
    assert.equal(sel.all, false);
    assert.deepEqual(areas(sel.ids), ['heat_tempest_plugin', 'telemetry_tempest_plugin', 'tempest.api.volume']);
    fs.writeFileSync(baseline, 'ffffffffffffffffffffffffffffffffffffffff\n');
    git('add', '-A');
    git('commit', '-qm', 'three');
    assert.equal(selectSinceBaseline(dir, baseline, list, kept).all, true, 'a baseline not in the history');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
