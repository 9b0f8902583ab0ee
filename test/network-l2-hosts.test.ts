// Which hosts of a worker process get an L2-only network agent (`--role compute` with or without
// `network-agent`): never a second agent under the host name of the process's network node.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { l2OnlyHosts } from '../src/network/agent/l2_agents.ts';

describe('network: L2-only agents of a worker process', () => {
  it('a compute process: an L2 agent per compute host', () => {
    assert.deepEqual(l2OnlyHosts(['b', 'b-2'], { roles: ['compute'], network: { host: 'b' } }), ['b', 'b-2']);
  });
  it('compute + network-agent: the network node host runs its whole agent only', () => {
    assert.deepEqual(l2OnlyHosts(['b', 'b-2'], { roles: ['compute', 'network-agent'], network: { host: 'b' } }), [
      'b-2',
    ]);
    assert.deepEqual(l2OnlyHosts(['c'], { roles: ['compute', 'network-agent'], network: { host: 'b' } }), ['c']);
  });
});
