// Compute's host look-ups and usage sums (src/compute/hosts.ts, src/compute/usage.ts) on a bare
// compute database: what the servers, aggregates, moves and usage handlers ask of them.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Kysely } from 'kysely';
import { migrate, openDatabase, type Migration } from '../src/core/db.ts';
import { FAMILIES } from '../src/compute/service.ts';
import type { ComputeDb } from '../src/compute/db/schema.ts';
import {
  computeHostIsUp,
  computeNodeExists,
  computeNodeOf,
  computeServiceOf,
  computeTopicHosts,
  moveHostsOf,
  serversOnHosts,
} from '../src/compute/hosts.ts';
import { auditLog, tenantUsages } from '../src/compute/usage.ts';

describe('compute hosts and usage', () => {
  let db: Kysely<ComputeDb>;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-compute-hosts-'));
  const t = (msAgo: number) => new Date(Date.now() - msAgo).toISOString();

  before(async () => {
    db = await openDatabase<ComputeDb>({ url: ':memory:', service: 'compute', dataDir: dir });
    const all: Record<string, Migration> = {};
    for (const f of FAMILIES) for (const [k, m] of Object.entries(f.migrations)) all[`${f.name}/${k}`] = m;
    await migrate(db, all);
    const service = (host: string, seen: string | null, forced = 0, binary = 'nova-compute') => ({
      uuid: `svc-${host}-${binary}`,
      host,
      binary,
      topic: binary === 'nova-compute' ? 'compute' : 'conductor',
      last_seen_up: seen,
      forced_down: forced,
      created_at: t(60_000),
    });
    await db
      .insertInto('services')
      .values([
        service('up', t(1000)),
        service('stale', t(600_000)),
        service('forced', t(1000), 1),
        service('never', null),
        service('ctl', t(1000), 0, 'nova-conductor'),
      ])
      .execute();
    await db
      .insertInto('compute_nodes')
      .values({
        uuid: 'node-up',
        service_id: null,
        host: 'up',
        hypervisor_hostname: 'up',
        hypervisor_type: 'fake',
        hypervisor_version: 1,
        host_ip: null,
        vcpus: 4,
        memory_mb: 4096,
        local_gb: 40,
        cpu_info: null,
        cpu_allocation_ratio: 16,
        ram_allocation_ratio: 1.5,
        disk_allocation_ratio: 1,
        created_at: t(60_000),
      } as never)
      .execute();
    const server = (
      uuid: string,
      host: string,
      project: string,
      launched: string | null,
      terminated: string | null,
    ) => ({
      uuid,
      display_name: uuid,
      display_description: null,
      project_id: project,
      user_id: 'u',
      image_ref: null,
      flavor: JSON.stringify({ name: 'm1.tiny', vcpus: 2, ram: 512, disk: 1, ephemeral: 1 }),
      host,
      node: host,
      availability_zone: null,
      vm_state: terminated ? 'deleted' : 'active',
      task_state: null,
      key_name: null,
      key_data: null,
      user_data: null,
      config_drive: null,
      access_ip_v4: null,
      access_ip_v6: null,
      metadata: '{}',
      system_metadata: '{}',
      security_groups: '[]',
      requested_networks: '[]',
      network_info: '[]',
      fault: null,
      locked_by: null,
      locked_reason: null,
      hostname: uuid,
      reservation_id: 'r',
      trusted_certs: null,
      launched_at: launched,
      terminated_at: terminated,
      created_at: launched ?? t(0),
      updated_at: t(0),
      deleted_at: terminated,
      deleted: terminated ? 1 : 0,
    });
    await db
      .insertInto('instances')
      .values([
        server('a1', 'up', 'p1', t(2 * 3600_000), null),
        server('a2', 'up', 'p2', t(3600_000), null),
        server('gone', 'stale', 'p1', t(3 * 3600_000), t(2 * 3600_000)),
      ])
      .execute();
  });
  after(async () => {
    await db?.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('answers whether a host has a compute service, a node, and is up', async () => {
    const svc = { db, options: { serviceDownTime: 60 } };
    assert.ok(await computeServiceOf(db, 'up'));
    assert.equal(await computeServiceOf(db, 'ctl'), undefined, 'only nova-compute services');
    assert.equal(await computeHostIsUp(svc, 'up'), true);
    assert.equal(await computeHostIsUp(svc, 'stale'), false, 'no heartbeat within service_down_time');
    assert.equal(await computeHostIsUp(svc, 'forced'), false, 'forced down');
    assert.equal(await computeHostIsUp(svc, 'never'), false, 'never seen up');
    assert.equal(await computeHostIsUp(svc, 'nohost'), false);
    assert.equal(await computeHostIsUp(svc, null), false);
    assert.equal(await computeNodeExists(db, 'up'), true);
    assert.equal(await computeNodeExists(db, 'stale'), false);
    assert.equal((await computeNodeOf(db, 'up'))?.uuid, 'node-up');
  });

  it('counts the servers of hosts, and finds the hosts of a move and of the compute topic', async () => {
    assert.equal(await serversOnHosts(db, ['up', 'stale']), 2, 'deleted servers do not count');
    assert.equal(await serversOnHosts(db, []), 0);
    assert.deepEqual(await moveHostsOf(db, 'a1'), []);
    await db
      .insertInto('migrations')
      .values({
        uuid: 'm1',
        instance_uuid: 'a1',
        migration_type: 'migration',
        status: 'migrating',
        source_compute: 'up',
        source_node: 'up',
        dest_compute: 'stale',
        dest_node: null,
        dest_host: null,
        hidden: 0,
        cross_cell_move: 0,
        created_at: t(0),
      } as never)
      .execute();
    assert.deepEqual(await moveHostsOf(db, 'a1'), ['up', 'stale']);
    assert.deepEqual((await computeTopicHosts(db)).sort(), ['forced', 'never', 'stale', 'up']);
  });

  it('sums the usage of a period per project, with pages', async () => {
    const end = new Date().toISOString().slice(0, 19);
    const start = new Date(Date.now() - 4 * 3600_000).toISOString().slice(0, 19);
    const all = await tenantUsages(db, { start, end, detailed: true });
    const p1 = all.list.find((u) => u.tenant_id === 'p1')!;
    assert.equal(p1.server_usages?.length, 2);
    assert.ok(Math.abs(p1.total_hours - 3) < 0.01, `p1 ran 2 h + 1 h, not ${p1.total_hours}`);
    assert.ok(Math.abs(p1.total_vcpus_usage - 6) < 0.02);
    const one = await tenantUsages(db, { start, end, projectId: 'p2', detailed: false });
    assert.deepEqual(
      one.list.map((u) => [u.tenant_id, u.server_usages]),
      [['p2', undefined]],
    );
    const page = await tenantUsages(db, { start, end, detailed: true, paged: { limit: 1, marker: null } });
    assert.equal(page.more, 'gone');
    await assert.rejects(tenantUsages(db, { start: end, end: start, detailed: false }), /start time cannot occur/);
    await assert.rejects(
      tenantUsages(db, { start, end, detailed: false, paged: { limit: 5, marker: 'nope' } }),
      /Marker nope could not be found/,
    );
    const audit = await auditLog(db, new Date());
    assert.equal(audit.num_hosts, 4);
    assert.equal(audit.overall_status, '0 of 4 hosts done. 0 errors.');
  });
});
