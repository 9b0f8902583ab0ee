// Stored secrets encrypted (Heat's auth_encryption_key): a stack's trust id and hidden
// parameters are Fernet tokens in the orchestration database, read back in clear by the
// engine; rows written in clear (before this) are sealed at start; the key file is 0600.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { Kysely } from 'kysely';
import { member, startCloud, type TestCloud, until } from './lib/cloud.ts';
import { Crypt, KEY_FILE } from '../src/orchestration/crypt.ts';
import type { OrchestrationDb } from '../src/orchestration/db/schema.ts';
import type { OrchestrationService } from '../src/orchestration/service.ts';

describe('orchestration: stored secrets encrypted', () => {
  let c: TestCloud;
  let owner: { project: string; token: string };
  let db: Kysely<OrchestrationDb>;

  before(async () => {
    c = await startCloud();
    owner = await member(c, 'cryptowner');
    db = c.cloud.databases.get('orchestration') as unknown as Kysely<OrchestrationDb>;
  });
  after(async () => {
    await c?.stop();
  });

  const heat = (method: string, p: string, body?: unknown) =>
    c.req(method, `${c.url}/heat-api/v1/${owner.project}${p}`, body, { token: owner.token });

  it('generates the key once into the data directory, 0600', () => {
    const st = fs.statSync(path.join(c.dataDir, KEY_FILE));
    assert.equal(st.mode & 0o777, 0o600);
  });

  it('keeps the trust id and hidden parameters as ciphertext, in clear for the engine', async () => {
    const created = await heat('POST', '/stacks', {
      stack_name: 'secret',
      template: {
        heat_template_version: '2016-10-14',
        parameters: { pw: { type: 'string', hidden: true }, name: { type: 'string' } },
        resources: { v: { type: 'OS::Heat::Value', properties: { value: { get_param: 'pw' } } } },
        outputs: { pw: { value: { get_attr: ['v', 'value'] } } },
      },
      parameters: { pw: 'hunter2-secret', name: 'visible' },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.stack.id as string;
    const s = await until(
      'complete',
      async () => {
        const x = (await heat('GET', `/stacks/secret/${id}`)).body.stack;
        return x.stack_status === 'CREATE_COMPLETE' ? x : null;
      },
      30_000,
    );
    assert.equal(s.parameters.pw, '******');
    assert.equal(s.parameters.name, 'visible');
    assert.equal(s.outputs[0].output_value, 'hunter2-secret');
    const row = await db.selectFrom('stack').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    assert.doesNotMatch(row.params, /hunter2/);
    assert.match(row.params, /"pw":\{"__heat_encrypted__":"[A-Za-z0-9_-]+"\}/);
    assert.match(row.params, /"name":"visible"/);
    assert.match(String(row.trust_id), /^fernet:/);
    // The trust is real: the engine read it in clear (and deletes it with the stack).
    const svc = c.cloud.services.find(
      (x) => x.catalogEntry.name === 'orchestration',
    ) as unknown as OrchestrationService;
    const trustId = (await svc.store.getStack(id))!.trust_id!;
    assert.match(trustId, /^[0-9a-f]{32}$/);
    assert.equal((await heat('DELETE', `/stacks/secret/${id}`)).status, 204);
    await until(
      'trust deleted',
      async () => ((await c.req('GET', `/v3/OS-TRUST/trusts/${trustId}`)).status === 404 ? true : null),
      30_000,
    );
  });

  it('seals rows kept in clear and refuses a wrong key', async () => {
    const svc = c.cloud.services.find(
      (x) => x.catalogEntry.name === 'orchestration',
    ) as unknown as OrchestrationService;
    const creds = JSON.stringify({ username: 'u', password: 'plain-password' });
    await db
      .insertInto('stack')
      .values({
        id: 'old-stack',
        name: 'old',
        project_id: owner.project,
        user_id: 'u',
        username: 'u',
        owner_id: null,
        parent_resource: null,
        action: 'CREATE',
        status: 'COMPLETE',
        status_reason: '',
        template: JSON.stringify({
          heat_template_version: '2016-10-14',
          parameters: { k: { type: 'string', hidden: true } },
        }),
        environment: '{}',
        files: '{}',
        params: JSON.stringify({ k: 'clear-hidden' }),
        disable_rollback: 1,
        timeout_mins: null,
        tags: '[]',
        created_at: new Date().toISOString(),
        updated_at: null,
        deleted_at: null,
        trust_id: 'clear-trust',
        trustor_user_id: null,
        stack_user_project_id: null,
        user_creds: creds,
      })
      .execute();
    assert.equal(await svc.store.sealExisting(), 1);
    const row = await db.selectFrom('stack').selectAll().where('id', '=', 'old-stack').executeTakeFirstOrThrow();
    assert.match(String(row.user_creds), /^fernet:/);
    assert.doesNotMatch(`${row.user_creds}${row.params}${row.trust_id}`, /plain-password|clear-hidden|clear-trust/);
    const back = (await svc.store.getStack('old-stack'))!;
    assert.equal(back.user_creds, creds);
    assert.equal(back.trust_id, 'clear-trust');
    assert.equal(back.params.k, 'clear-hidden');
    assert.throws(() => new Crypt('another key').open(row.user_creds), /does not match/);
    await db.deleteFrom('stack').where('id', '=', 'old-stack').execute();
  });
});
