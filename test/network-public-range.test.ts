// The harness's public range per linuxbridge cloud (conformance/lib/public-range.ts): a /24 of
// 172.24.0.0/16 that no route or address of the root namespace is in and no live run claimed.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { claimPublicRange } from '../conformance/lib/public-range.ts';

const ip = (a: string) => a.split('.').reduce((n, o) => n * 256 + Number(o), 0) >>> 0;
const writable = (() => {
  try {
    return process.getuid?.() === 0;
  } catch {
    return false;
  }
})();

describe('public range per linuxbridge cloud', { skip: !writable && 'needs root (/run/stratus)' }, () => {
  it('skips ranges routed here and ranges other runs hold, and gives its claim back', () => {
    // 172.24.4.0/24 is another cloud's uplink, 172.24.5.7 an address; the default route and a wide /12 do not count.
    const present: Array<[number, number]> = [
      [ip('172.24.4.0'), 24],
      [ip('172.24.5.7'), 32],
      [ip('172.16.0.0'), 12],
    ];
    const held: ReturnType<typeof claimPublicRange>[] = [];
    try {
      const a = claimPublicRange(present);
      held.push(a);
      assert.notEqual(a.cidr, '172.24.4.0/24');
      assert.notEqual(a.cidr, '172.24.5.0/24');
      assert.match(a.cidr, /^172\.24\.\d+\.0\/24$/);
      assert.equal(a.gatewayCidr, a.cidr.replace('.0/24', '.1/24'));
      const b = claimPublicRange(present);
      held.push(b);
      assert.notEqual(b.cidr, a.cidr, 'a live claim is not handed out twice');
      a.release();
      held.shift();
      const c = claimPublicRange(present);
      held.push(c);
      assert.ok(Number(c.cidr.split('.')[2]) <= Number(b.cidr.split('.')[2]), 'a released range is free again');
    } finally {
      for (const h of held) h.release();
    }
  });
});
