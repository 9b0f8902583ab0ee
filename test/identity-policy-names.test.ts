// Every rule a route enforces must be one of Keystone's rule names: a typo would deny everyone.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { IDENTITY_POLICIES } from '../src/identity/policies.ts';

it('identity routes only enforce rules that exist upstream', () => {
  const defined = new Set(IDENTITY_POLICIES.map((p) => p.name));
  const dir = path.resolve('src/identity/api');
  const missing: string[] = [];
  for (const f of fs.readdirSync(dir)) {
    const src = fs.readFileSync(path.join(dir, f), 'utf8');
    for (const m of src.matchAll(/'(identity:[a-z_0-9]+)'/g)) if (!defined.has(m[1]!)) missing.push(`${f}: ${m[1]}`);
  }
  assert.deepEqual(missing, []);
});
