// Block storage's roles: `--role volume` runs a volume agent, `--role backup` a backup agent,
// `--role scheduler` the cinder-scheduler, each alone in its process (a worker without the API).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { blockStorageOptions } from '../src/block-storage/config.ts';
import { parseRoles } from '../src/core/config.ts';
import { WORKER_ROLES } from '../src/services.ts';

describe('block storage roles', () => {
  const parts = (roles: string) => {
    const o = blockStorageOptions({ roles: parseRoles(roles), dataDir: '/tmp/x' });
    return { scheduler: o.scheduler, agent: o.agent, backup: o.backup };
  };
  it('starts what each role asks for', () => {
    assert.deepEqual(parts('all'), { scheduler: true, agent: true, backup: true });
    assert.deepEqual(parts('volume'), { scheduler: false, agent: true, backup: false });
    assert.deepEqual(parts('backup'), { scheduler: false, agent: false, backup: true });
    assert.deepEqual(parts('scheduler'), { scheduler: true, agent: false, backup: false });
    assert.deepEqual(parts('api'), { scheduler: false, agent: false, backup: false });
    assert.deepEqual(parts('api,compute'), { scheduler: false, agent: false, backup: false });
  });
  it('creates the service in a worker process of these roles', () => {
    for (const r of ['scheduler', 'volume', 'backup'] as const) assert.ok(WORKER_ROLES['block-storage']?.includes(r));
    assert.throws(() => parseRoles('volumes'), /unknown role 'volumes'.*volume, backup/);
  });
});
