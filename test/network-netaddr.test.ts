import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import {
  allocatePrefix,
  availablePrefixes,
  cidrContains,
  cidrContainsCidr,
  cidrFirst,
  cidrHasHostBits,
  cidrLast,
  cidrNetmask,
  cidrSize,
  cidrsOverlap,
  cidrToRange,
  compareIp,
  defaultAllocationPools,
  defaultGateway,
  eui64,
  formatCidr,
  formatIp,
  gatewayInvalidInSubnet,
  ipInRanges,
  isIpUsableInSubnet,
  isMulticastMac,
  isPrefixAvailable,
  isValidIp,
  isValidMac,
  makeCidr,
  mergeCidrs,
  normalizeIp,
  normalizeMac,
  parseCidr,
  parseCidrStrict,
  parseIp,
  randomMac,
  rangeContains,
  rangeFromStrings,
  rangesOverlap,
  rangeSize,
  rangeToCidrs,
  rangeToStrings,
  type Cidr,
  type IpRange,
} from '../src/core/netaddr.ts';

function ip(s: string): bigint {
  const p = parseIp(s);
  assert.ok(p, `test address ${s} must parse`);
  return p.value;
}

function cidr(s: string): Cidr {
  const c = parseCidr(s);
  assert.ok(c, `test cidr ${s} must parse`);
  return c;
}

function pools(c: string, gw: string | null): { start: string; end: string }[] {
  return defaultAllocationPools(cidr(c), gw === null ? null : ip(gw)).map(rangeToStrings);
}

function cidrs(list: Cidr[]): string[] {
  return list.map(formatCidr);
}

describe('parseIp / formatIp', () => {
  test('IPv4 dotted quads', () => {
    assert.deepEqual(parseIp('10.0.0.1'), { version: 4, value: 0x0a000001n });
    assert.deepEqual(parseIp('0.0.0.0'), { version: 4, value: 0n });
    assert.deepEqual(parseIp('255.255.255.255'), { version: 4, value: 0xffffffffn });
    assert.equal(formatIp(4, 0xc0a80001n), '192.168.0.1');
  });

  test('IPv4 rejects ambiguous and malformed input', () => {
    for (const bad of [
      '01.2.3.4',
      '1.2.3.04',
      '1.2.3.00',
      '256.1.1.1',
      '1.2.3',
      '1.2.3.4.5',
      '1..2.3',
      '',
      ' 1.2.3.4',
      '1.2.3.4 ',
      '0x1.2.3.4',
      '1.2.3.-4',
      '+1.2.3.4',
      '1e2.1.1.1',
      '10',
      '1.2.3.4/32',
    ]) {
      assert.equal(parseIp(bad), null, bad);
    }
    assert.equal(parseIp(undefined), null);
    assert.equal(parseIp(17), null);
    assert.equal(parseIp(null), null);
  });

  test('IPv6 accepted forms (glibc inet_pton grammar)', () => {
    for (const [s, want] of [
      ['::', 0n],
      ['::1', 1n],
      ['0::0', 0n],
      ['1::', 1n << 112n],
      ['2001:0db8::0001', (0x20010db8n << 96n) | 1n],
      ['2001:DB8::1', (0x20010db8n << 96n) | 1n],
      ['1:2:3:4:5:6:7:8', 0x00010002000300040005000600070008n],
      ['1:2:3:4:5:6:7::', 0x00010002000300040005000600070000n],
      ['::1:2:3:4:5:6:7', 0x00000001000200030004000500060007n],
      ['::ffff:1.2.3.4', 0xffff01020304n],
      ['::FFFF:1.2.3.4', 0xffff01020304n],
      ['::1.2.3.4', 0x01020304n],
      ['1:2:3:4:5:6:1.2.3.4', 0x00010002000300040005000601020304n],
      ['1:2:3:4:5::1.2.3.4', 0x00010002000300040005000001020304n],
      ['::ffff:0.2.3.4', 0xffff00020304n],
    ] as const) {
      assert.deepEqual(parseIp(s), { version: 6, value: want }, s);
    }
  });

  test('IPv6 rejected forms', () => {
    for (const bad of [
      ':::',
      '1:::2',
      '12345::',
      '00000::',
      '::g',
      '::1.2.3.4:5',
      '1::2::3',
      ':1::',
      '1::2:',
      '::1.2.3',
      '::ffff:01.2.3.4',
      '::ffff:1.2.3.04',
      '::ffff:1.2.3.256',
      '1:2:3:4:5:6:7:8::',
      '::1:2:3:4:5:6:7:8',
      '1:2:3:4:5:6::1.2.3.4',
      '1:2:3:4:5:6:7:1.2.3.4',
      '::a.2.3.4',
      ' ::1',
      '::1 ',
      'fe80::1%eth0',
      '1:2:3:4:5:6:7',
      '1:2:3:4:5:6:7:8:9',
      ':',
      ':1.2.3.4',
      '2001:db8::/64',
    ]) {
      assert.equal(parseIp(bad), null, bad);
    }
  });

  test('IPv6 printed as netaddr (glibc inet_ntop) prints it', () => {
    // Expectations taken from str(netaddr.IPAddress(s)) on the reference system.
    for (const [s, want] of [
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
      ['2001:0db8::0001', '2001:db8::1'],
      ['::', '::'],
      ['::1', '::1'],
      ['1::', '1::'],
      ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
      ['0:0:1:0:0:0:0:0', '0:0:1::'],
      ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
      ['1:0:0:0:1:0:0:0', '1::1:0:0:0'],
      ['0:0:1:0:0:1:0:0', '::1:0:0:1:0:0'],
      ['0:0:0:0:0:1:0:0', '::1:0:0'],
      ['2001:DB8::ABCD', '2001:db8::abcd'],
      ['fe80::f816:3eff:fe33:4455', 'fe80::f816:3eff:fe33:4455'],
      // IPv4-mapped and IPv4-compatible forms keep the dotted tail.
      ['::ffff:1.2.3.4', '::ffff:1.2.3.4'],
      ['::ffff:0:0', '::ffff:0.0.0.0'],
      ['::ffff:ffff:ffff', '::ffff:255.255.255.255'],
      ['::1.2.3.4', '::1.2.3.4'],
      ['::2:3', '::0.2.0.3'],
      ['::0.0.0.1', '::1'],
      ['::2', '::2'],
      ['::ffff', '::ffff'],
      ['::ffff:0', '::255.255.0.0'],
      ['::fffe:1.2.3.4', '::fffe:102:304'],
      ['64:ff9b::1.2.3.4', '64:ff9b::102:304'],
      ['::ffff:0:1.2.3.4', '::ffff:0:102:304'],
    ] as const) {
      assert.equal(normalizeIp(s), want, s);
    }
  });

  test('formatIp rejects out-of-range values', () => {
    assert.throws(() => formatIp(4, 1n << 32n), RangeError);
    assert.throws(() => formatIp(6, -1n), RangeError);
    assert.equal(formatIp(6, (1n << 128n) - 1n), 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff');
  });

  test('isValidIp and normalizeIp', () => {
    assert.equal(isValidIp('10.0.0.1'), true);
    assert.equal(isValidIp('10.0.0.1', 4), true);
    assert.equal(isValidIp('10.0.0.1', 6), false);
    assert.equal(isValidIp('::1', 6), true);
    assert.equal(isValidIp('010.0.0.1'), false);
    assert.equal(isValidIp(42), false);
    assert.equal(normalizeIp('2001:DB8:0000::1'), '2001:db8::1');
    assert.equal(normalizeIp('10.0.0.1'), '10.0.0.1');
    assert.equal(normalizeIp('nope'), null);
  });

  test('compareIp sorts by version then value', () => {
    const list = ['10.0.0.10', '::1', '10.0.0.9', '2001:db8::', '1.1.1.1'].map((s) => parseIp(s)!);
    list.sort(compareIp);
    assert.deepEqual(
      list.map((a) => formatIp(a.version, a.value)),
      ['1.1.1.1', '10.0.0.9', '10.0.0.10', '::1', '2001:db8::'],
    );
    assert.equal(compareIp(1n, 2n), -1);
    assert.equal(compareIp(2n, 2n), 0);
    assert.equal(compareIp(3n, 2n), 1);
  });
});

describe('CIDRs', () => {
  test('parseCidr masks host bits; formatCidr prints canonical form', () => {
    assert.deepEqual(parseCidr('10.0.0.0/24'), { version: 4, network: 0x0a000000n, prefixlen: 24 });
    assert.deepEqual(parseCidr('10.0.0.1/24'), { version: 4, network: 0x0a000000n, prefixlen: 24 });
    assert.equal(formatCidr(cidr('10.0.0.77/24')), '10.0.0.0/24');
    assert.equal(formatCidr(cidr('2001:0DB8:0:0::1/64')), '2001:db8::/64');
    assert.equal(formatCidr(cidr('0.0.0.0/0')), '0.0.0.0/0');
    assert.equal(formatCidr(cidr('::/0')), '::/0');
    assert.equal(formatCidr(cidr('10.1.2.3/32')), '10.1.2.3/32');
    assert.equal(formatCidr(cidr('2001:db8::1/128')), '2001:db8::1/128');
  });

  test('parseCidr rejects malformed input', () => {
    for (const bad of [
      '10.0.0.0',
      '10.0.0.0/33',
      '2001:db8::/129',
      '10.0.0.0/',
      '/24',
      '10.0.0.0/024',
      '10.0.0.0/+4',
      '10.0.0.0/255.255.255.0',
      '10/8',
      '010.0.0.0/8',
      '10.0.0.0/24 ',
      '10.0.0.0/2.4',
      '10.0.0.0/-1',
      '10.0.0.0/24/1',
      '',
    ]) {
      assert.equal(parseCidr(bad), null, bad);
    }
    assert.equal(parseCidr(null), null);
  });

  test('parseCidr allowBareIp treats a lone address as a host route', () => {
    assert.equal(formatCidr(parseCidr('10.0.0.5', { allowBareIp: true })!), '10.0.0.5/32');
    assert.equal(formatCidr(parseCidr('2001:db8::5', { allowBareIp: true })!), '2001:db8::5/128');
    assert.equal(parseCidr('10.0.0.05', { allowBareIp: true }), null);
    assert.equal(formatCidr(parseCidrStrict('10.0.0.5', { allowBareIp: true })!), '10.0.0.5/32');
  });

  test('parseCidrStrict and cidrHasHostBits', () => {
    assert.equal(parseCidrStrict('10.0.0.1/24'), null);
    assert.equal(formatCidr(parseCidrStrict('10.0.0.0/24')!), '10.0.0.0/24');
    assert.equal(parseCidrStrict('2001:db8::1/64'), null);
    assert.equal(formatCidr(parseCidrStrict('2001:db8::/64')!), '2001:db8::/64');
    assert.equal(cidrHasHostBits('10.0.0.1/24'), true);
    assert.equal(cidrHasHostBits('10.0.0.0/24'), false);
    assert.equal(cidrHasHostBits('2001:db8::1/64'), true);
    assert.equal(cidrHasHostBits('10.0.0.1/32'), false);
    assert.equal(cidrHasHostBits('garbage/24'), false);
  });

  test('makeCidr validates and masks', () => {
    assert.equal(formatCidr(makeCidr(4, ip('192.168.7.9'), 16)), '192.168.0.0/16');
    assert.throws(() => makeCidr(4, 0n, 33), RangeError);
    assert.throws(() => makeCidr(4, 1n << 32n, 8), RangeError);
    assert.throws(() => makeCidr(6, 0n, 1.5), RangeError);
  });

  test('size, first, last, netmask', () => {
    const c = cidr('10.0.0.0/24');
    assert.equal(cidrSize(c), 256n);
    assert.equal(formatIp(4, cidrFirst(c)), '10.0.0.0');
    assert.equal(formatIp(4, cidrLast(c)), '10.0.0.255');
    assert.equal(formatIp(4, cidrNetmask(c)), '255.255.255.0');
    assert.equal(cidrSize(cidr('10.0.0.0/32')), 1n);
    assert.equal(cidrSize(cidr('0.0.0.0/0')), 1n << 32n);
    const v6 = cidr('2001:db8::/64');
    assert.equal(cidrSize(v6), 1n << 64n);
    assert.equal(formatIp(6, cidrLast(v6)), '2001:db8::ffff:ffff:ffff:ffff');
    assert.equal(formatIp(6, cidrNetmask(v6)), 'ffff:ffff:ffff:ffff::');
    assert.deepEqual(rangeToStrings(cidrToRange(cidr('10.0.0.8/29'))), {
      start: '10.0.0.8',
      end: '10.0.0.15',
    });
  });

  test('containment and overlap', () => {
    const c = cidr('10.0.0.0/24');
    assert.equal(cidrContains(c, ip('10.0.0.0')), true);
    assert.equal(cidrContains(c, ip('10.0.0.255')), true);
    assert.equal(cidrContains(c, ip('10.0.1.0')), false);
    assert.equal(cidrContains(c, parseIp('10.0.0.3')!), true);
    // An IPv6 address whose value happens to fall in the IPv4 range is not inside.
    assert.equal(cidrContains(c, parseIp('::a00:3')!), false);

    assert.equal(cidrContainsCidr(cidr('10.0.0.0/16'), cidr('10.0.5.0/24')), true);
    assert.equal(cidrContainsCidr(cidr('10.0.0.0/16'), cidr('10.0.0.0/16')), true);
    assert.equal(cidrContainsCidr(cidr('10.0.5.0/24'), cidr('10.0.0.0/16')), false);
    assert.equal(cidrContainsCidr(cidr('10.0.0.0/16'), cidr('10.1.0.0/24')), false);
    assert.equal(cidrContainsCidr(cidr('::/0'), cidr('0.0.0.0/8')), false);

    assert.equal(cidrsOverlap(cidr('10.0.0.0/16'), cidr('10.0.5.0/24')), true);
    assert.equal(cidrsOverlap(cidr('10.0.5.0/24'), cidr('10.0.0.0/16')), true);
    assert.equal(cidrsOverlap(cidr('10.0.0.0/24'), cidr('10.0.1.0/24')), false);
    assert.equal(cidrsOverlap(cidr('2001:db8::/32'), cidr('2001:db8:1::/48')), true);
    assert.equal(cidrsOverlap(cidr('0.0.0.0/0'), cidr('::/0')), false);
  });

  test('mergeCidrs compacts like IPSet', () => {
    assert.deepEqual(
      cidrs(
        mergeCidrs([cidr('10.0.1.0/24'), cidr('10.0.0.0/24'), cidr('10.0.2.0/23'), cidr('::/1'), cidr('8000::/1')]),
      ),
      ['10.0.0.0/22', '::/0'],
    );
    assert.deepEqual(cidrs(mergeCidrs([cidr('10.0.0.0/16'), cidr('10.0.3.0/24'), cidr('192.168.0.0/24')])), [
      '10.0.0.0/16',
      '192.168.0.0/24',
    ]);
    assert.deepEqual(cidrs(mergeCidrs([cidr('10.0.1.0/24'), cidr('10.0.2.0/24')])), ['10.0.1.0/24', '10.0.2.0/24']);
  });
});

describe('ranges', () => {
  test('rangeFromStrings, rangeToStrings, rangeSize', () => {
    const r = rangeFromStrings('10.0.0.2', '10.0.0.254');
    assert.deepEqual(r, { version: 4, first: ip('10.0.0.2'), last: ip('10.0.0.254') });
    assert.deepEqual(rangeToStrings(r!), { start: '10.0.0.2', end: '10.0.0.254' });
    assert.equal(rangeSize(r!), 253n);
    assert.equal(rangeSize(rangeFromStrings('10.0.0.5', '10.0.0.5')!), 1n);
    assert.deepEqual(rangeToStrings(rangeFromStrings('2001:0db8::0002', '2001:db8::FFFF')!), {
      start: '2001:db8::2',
      end: '2001:db8::ffff',
    });
    assert.equal(rangeFromStrings('10.0.0.9', '10.0.0.8'), null);
    assert.equal(rangeFromStrings('10.0.0.1', '::2'), null);
    assert.equal(rangeFromStrings('10.0.0.01', '10.0.0.8'), null);
    assert.equal(rangeFromStrings('10.0.0.1', undefined), null);
  });

  test('rangesOverlap', () => {
    const a = rangeFromStrings('10.0.0.2', '10.0.0.100')!;
    assert.equal(rangesOverlap(a, rangeFromStrings('10.0.0.100', '10.0.0.200')!), true);
    assert.equal(rangesOverlap(a, rangeFromStrings('10.0.0.101', '10.0.0.200')!), false);
    assert.equal(rangesOverlap(a, rangeFromStrings('10.0.0.0', '10.0.0.1')!), false);
    assert.equal(rangesOverlap(a, rangeFromStrings('10.0.0.50', '10.0.0.60')!), true);
    assert.equal(rangesOverlap(rangeFromStrings('10.0.0.50', '10.0.0.60')!, a), true);
    assert.equal(rangesOverlap(rangeFromStrings('::2', '::100')!, { version: 4, first: 2n, last: 100n }), false);
  });

  test('rangeContains and ipInRanges', () => {
    const ranges: IpRange[] = [rangeFromStrings('10.0.0.2', '10.0.0.9')!, rangeFromStrings('10.0.0.20', '10.0.0.29')!];
    assert.equal(rangeContains(ranges[0]!, ip('10.0.0.2')), true);
    assert.equal(rangeContains(ranges[0]!, ip('10.0.0.10')), false);
    assert.equal(ipInRanges(ip('10.0.0.25'), ranges), true);
    assert.equal(ipInRanges(ip('10.0.0.15'), ranges), false);
    assert.equal(ipInRanges(parseIp('10.0.0.9')!, ranges), true);
    assert.equal(ipInRanges(parseIp('::a00:5')!, ranges), false);
    assert.equal(ipInRanges(ip('10.0.0.5'), []), false);
  });

  test('rangeToCidrs', () => {
    assert.deepEqual(cidrs(rangeToCidrs(rangeFromStrings('10.0.0.1', '10.0.0.254')!)), [
      '10.0.0.1/32',
      '10.0.0.2/31',
      '10.0.0.4/30',
      '10.0.0.8/29',
      '10.0.0.16/28',
      '10.0.0.32/27',
      '10.0.0.64/26',
      '10.0.0.128/26',
      '10.0.0.192/27',
      '10.0.0.224/28',
      '10.0.0.240/29',
      '10.0.0.248/30',
      '10.0.0.252/31',
      '10.0.0.254/32',
    ]);
    assert.deepEqual(cidrs(rangeToCidrs(rangeFromStrings('0.0.0.0', '255.255.255.255')!)), ['0.0.0.0/0']);
    assert.deepEqual(cidrs(rangeToCidrs(rangeFromStrings('::', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff')!)), ['::/0']);
    assert.deepEqual(cidrs(rangeToCidrs(rangeFromStrings('10.0.0.7', '10.0.0.7')!)), ['10.0.0.7/32']);
  });
});

describe('subnet defaults (neutron.ipam.utils.generate_pools)', () => {
  test('IPv4 pools around the gateway', () => {
    assert.deepEqual(pools('10.0.0.0/24', '10.0.0.1'), [{ start: '10.0.0.2', end: '10.0.0.254' }]);
    assert.deepEqual(pools('10.0.0.0/24', '10.0.0.254'), [{ start: '10.0.0.1', end: '10.0.0.253' }]);
    assert.deepEqual(pools('10.0.0.0/24', '10.0.0.100'), [
      { start: '10.0.0.1', end: '10.0.0.99' },
      { start: '10.0.0.101', end: '10.0.0.254' },
    ]);
    assert.deepEqual(pools('192.168.0.0/24', '192.168.0.128'), [
      { start: '192.168.0.1', end: '192.168.0.127' },
      { start: '192.168.0.129', end: '192.168.0.254' },
    ]);
    assert.deepEqual(pools('192.168.0.0/24', null), [{ start: '192.168.0.1', end: '192.168.0.254' }]);
    // A gateway outside the subnet (or on the network/broadcast address) changes nothing.
    assert.deepEqual(pools('10.0.0.0/24', '10.0.1.1'), [{ start: '10.0.0.1', end: '10.0.0.254' }]);
    assert.deepEqual(pools('10.0.0.0/24', '10.0.0.255'), [{ start: '10.0.0.1', end: '10.0.0.254' }]);
  });

  test('IPv4 small prefixes', () => {
    assert.deepEqual(pools('192.168.0.0/32', null), [{ start: '192.168.0.0', end: '192.168.0.0' }]);
    assert.deepEqual(pools('192.168.0.0/32', '192.168.0.0'), [{ start: '192.168.0.0', end: '192.168.0.0' }]);
    assert.deepEqual(pools('192.168.0.0/31', null), [{ start: '192.168.0.0', end: '192.168.0.1' }]);
    assert.deepEqual(pools('192.168.0.0/31', '192.168.0.0'), [{ start: '192.168.0.1', end: '192.168.0.1' }]);
    assert.deepEqual(pools('192.168.0.0/30', null), [{ start: '192.168.0.1', end: '192.168.0.2' }]);
    assert.deepEqual(pools('192.168.0.0/30', '192.168.0.1'), [{ start: '192.168.0.2', end: '192.168.0.2' }]);
  });

  test('IPv6 pools', () => {
    assert.deepEqual(pools('2001:db8::/64', '2001:db8::1'), [
      { start: '2001:db8::2', end: '2001:db8::ffff:ffff:ffff:ffff' },
    ]);
    assert.deepEqual(pools('F111::0/64', null), [{ start: 'f111::1', end: 'f111::ffff:ffff:ffff:ffff' }]);
    assert.deepEqual(pools('::/64', null), [{ start: '::1', end: '::ffff:ffff:ffff:ffff' }]);
    // The default IPv6 gateway is the network address, outside the pool.
    assert.deepEqual(pools('2001:db8::/64', '2001:db8::'), [
      { start: '2001:db8::1', end: '2001:db8::ffff:ffff:ffff:ffff' },
    ]);
    // The last address is usable in IPv6.
    assert.deepEqual(pools('2001:db8::/64', '2001:db8::ffff:ffff:ffff:ffff'), [
      { start: '2001:db8::1', end: '2001:db8::ffff:ffff:ffff:fffe' },
    ]);
    assert.deepEqual(pools('2001:db8::/120', '2001:db8::80'), [
      { start: '2001:db8::1', end: '2001:db8::7f' },
      { start: '2001:db8::81', end: '2001:db8::ff' },
    ]);
    assert.deepEqual(pools('2001:db8::1/128', null), [{ start: '2001:db8::1', end: '2001:db8::1' }]);
    assert.deepEqual(pools('2001:db8::/127', null), [{ start: '2001:db8::1', end: '2001:db8::1' }]);
    assert.deepEqual(pools('2001:db8::/127', '2001:db8::1'), []);
  });

  test('defaultGateway', () => {
    assert.equal(formatIp(4, defaultGateway(cidr('10.0.0.0/24'))!), '10.0.0.1');
    // Neutron gives an IPv6 subnet network+1 too, not the subnet-router anycast address (prefix::).
    assert.equal(formatIp(6, defaultGateway(cidr('2001:db8::/64'))!), '2001:db8::1');
    assert.equal(formatIp(6, defaultGateway(cidr('fd00:1:2::/48'))!), 'fd00:1:2::1');
    assert.equal(formatIp(4, defaultGateway(cidr('10.0.0.1/32'))!), '10.0.0.2');
    assert.equal(defaultGateway(cidr('255.255.255.255/32')), null);
  });

  test('isIpUsableInSubnet (check_subnet_ip)', () => {
    const v4 = cidr('10.0.0.0/24');
    assert.equal(isIpUsableInSubnet(v4, ip('10.0.0.1')), true);
    assert.equal(isIpUsableInSubnet(v4, ip('10.0.0.0')), false);
    assert.equal(isIpUsableInSubnet(v4, ip('10.0.0.255')), false);
    assert.equal(isIpUsableInSubnet(v4, ip('10.0.1.1')), false);
    const v6 = cidr('2001:db8::/64');
    assert.equal(isIpUsableInSubnet(v6, ip('2001:db8::')), true);
    assert.equal(isIpUsableInSubnet(v6, ip('2001:db8::'), 'network:router_interface'), true);
    assert.equal(isIpUsableInSubnet(v6, ip('2001:db8::'), 'compute:nova'), false);
    assert.equal(isIpUsableInSubnet(v6, ip('2001:db8::5'), 'compute:nova'), true);
    assert.equal(isIpUsableInSubnet(v6, ip('2001:db8::ffff:ffff:ffff:ffff'), 'compute:nova'), true);
    assert.equal(isIpUsableInSubnet(v6, ip('2001:db9::5')), false);
  });

  test('gatewayInvalidInSubnet (check_gateway_invalid_in_subnet)', () => {
    for (const [gw, net, want] of [
      ['10.0.0.1', '10.0.0.0/8', false],
      ['10.255.255.255', '10.0.0.0/8', true],
      ['10.0.0.0', '10.0.0.0/8', true],
      ['192.168.100.10', '10.0.0.0/8', false],
      ['2001:db8::1', '2001:db8::/64', false],
      ['2001:db8::', '2001:db8::/64', false],
    ] as const) {
      assert.equal(gatewayInvalidInSubnet(cidr(net), parseIp(gw)!), want, `${gw} in ${net}`);
    }
  });
});

describe('SLAAC (EUI-64)', () => {
  test('address from a /64 prefix and a MAC', () => {
    assert.equal(formatIp(6, eui64(cidr('2001:db8::/64'), 'fa:16:3e:33:44:55')), '2001:db8::f816:3eff:fe33:4455');
    assert.equal(formatIp(6, eui64(cidr('2001:db8::/64'), '00:16:3e:33:44:55')), '2001:db8::216:3eff:fe33:4455');
    assert.equal(formatIp(6, eui64(cidr('fe80::/64'), '52:54:00:42:02:19')), 'fe80::5054:ff:fe42:219');
    assert.equal(formatIp(6, eui64(cidr('fe80::/64'), '02:00:00:00:00:00')), 'fe80::ff:fe00:0');
    assert.equal(
      formatIp(6, eui64(cidr('2001:db8:1:2::/64'), 'FA-16-3E-33-44-55')),
      '2001:db8:1:2:f816:3eff:fe33:4455',
    );
  });

  test('rejects IPv4 prefixes and bad MACs', () => {
    assert.throws(() => eui64(cidr('10.0.8.0/24'), '00:16:3e:33:44:55'));
    assert.throws(() => eui64(cidr('2001:db8::/64'), '00:16:3e:33:44:5Z'));
  });
});

describe('MAC addresses', () => {
  test('normalizeMac accepts the netaddr forms', () => {
    for (const s of [
      '01:02:03:04:05:06',
      '1:2:3:4:5:6',
      '0102.0304.0506',
      '010203040506',
      '01-02-03-04-05-06',
      '010203-040506',
      '0102:0304:0506',
      '1-2-3-4-5-6',
      '10203040506',
    ]) {
      assert.equal(normalizeMac(s), '01:02:03:04:05:06', s);
    }
    assert.equal(normalizeMac('AB:CD:EF:01:02:03'), 'ab:cd:ef:01:02:03');
    assert.equal(normalizeMac('FA-16-3E-AA-BB-CC'), 'fa:16:3e:aa:bb:cc');
  });

  test('normalizeMac rejects everything else', () => {
    for (const bad of [
      '01:02:03:04:05:06 ',
      ' 01:02:03:04:05:06',
      '01:02:03:04:05',
      '01 02 03 04 05 06',
      '01020304050607',
      '01:02-03:04:05:06',
      'ab:cd:ef:01:02:0g',
      '001:02:03:04:05:06',
      '01:02:03:04:05:06:07',
      '',
      '01:02:03:04:05:06\n',
    ]) {
      assert.equal(normalizeMac(bad), null, JSON.stringify(bad));
    }
    assert.equal(normalizeMac(undefined), null);
    assert.equal(normalizeMac(123), null);
  });

  test('isValidMac (validate_mac_address)', () => {
    assert.equal(isValidMac('fa:16:3e:00:00:01'), true);
    assert.equal(isValidMac('FA-16-3E-00-00-01'), true);
    assert.equal(isValidMac('00:00:00:00:00:00'), false);
    assert.equal(isValidMac('0:0:0:0:0:0'), false);
    assert.equal(isValidMac('ff:ff:ff:ff:ff:ff'), false);
    assert.equal(isValidMac('FF-FF-FF-FF-FF-FF'), false);
    // Upstream accepts other multicast MACs.
    assert.equal(isValidMac('01:00:5e:00:00:01'), true);
    assert.equal(isValidMac('fa:16:3e:00:00:0g'), false);
    assert.equal(isValidMac(null), false);
  });

  test('isMulticastMac', () => {
    assert.equal(isMulticastMac('01:00:5e:00:00:01'), true);
    assert.equal(isMulticastMac('33:33:00:00:00:01'), true);
    assert.equal(isMulticastMac('fa:16:3e:00:00:01'), false);
    assert.equal(isMulticastMac('nope'), false);
  });

  test('randomMac keeps the base prefix', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const mac = randomMac();
      assert.match(mac, /^fa:16:3e:[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}$/);
      assert.equal(isValidMac(mac), true);
      seen.add(mac);
    }
    assert.ok(seen.size > 40, 'random MACs should differ');
    assert.match(randomMac('AA:BB:CC:00:00:00'), /^aa:bb:cc:[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}$/);
    // A non-zero fourth octet is kept too (get_random_mac).
    assert.match(randomMac('fa:16:3e:4f:00:00'), /^fa:16:3e:4f:[0-9a-f]{2}:[0-9a-f]{2}$/);
    assert.throws(() => randomMac('fa:16:3e'));
    assert.throws(() => randomMac('fa:16:3e:00:00:zz'));
  });
});

describe('subnet pools', () => {
  const pool16 = [cidr('10.0.0.0/16')];

  test('allocatePrefix takes the first free block', () => {
    assert.equal(formatCidr(allocatePrefix(pool16, [], 24)!), '10.0.0.0/24');
    assert.equal(formatCidr(allocatePrefix(pool16, [cidr('10.0.0.0/24')], 24)!), '10.0.1.0/24');
    assert.equal(formatCidr(allocatePrefix(pool16, [cidr('10.0.0.0/24')], 23)!), '10.0.2.0/23');
    assert.equal(formatCidr(allocatePrefix(pool16, [cidr('10.0.0.0/24')], 17)!), '10.0.128.0/17');
    assert.equal(formatCidr(allocatePrefix(pool16, [], 16)!), '10.0.0.0/16');
    assert.equal(allocatePrefix(pool16, [cidr('10.0.0.0/24')], 16), null);
    assert.equal(allocatePrefix(pool16, [], 15), null);
    assert.equal(allocatePrefix(pool16, [cidr('10.0.0.0/16')], 24), null);
    assert.equal(allocatePrefix([], [], 24), null);
    assert.equal(allocatePrefix(pool16, [], 33), null);
  });

  test('allocatePrefix fits the smallest free block first, as Neutron does', () => {
    // Free: 10.0.0.0/22, 10.0.5.0/24, 10.0.7.0/24, 10.0.8.0/21, ...
    const used = [cidr('10.0.4.0/24'), cidr('10.0.6.0/24')];
    assert.equal(formatCidr(allocatePrefix(pool16, used, 24)!), '10.0.5.0/24');
    assert.equal(formatCidr(allocatePrefix(pool16, used, 23)!), '10.0.0.0/23');
    assert.equal(formatCidr(allocatePrefix(pool16, used, 22)!), '10.0.0.0/22');
    assert.equal(formatCidr(allocatePrefix(pool16, used, 21)!), '10.0.8.0/21');
  });

  test('allocatePrefix spans several pool prefixes and ignores foreign used cidrs', () => {
    const pool = [cidr('192.168.0.0/24'), cidr('10.0.0.0/24')];
    assert.equal(formatCidr(allocatePrefix(pool, [cidr('10.0.0.0/24')], 26)!), '192.168.0.0/26');
    assert.equal(formatCidr(allocatePrefix(pool, [cidr('10.0.0.0/25'), cidr('192.168.0.0/24')], 26)!), '10.0.0.128/26');
    assert.equal(allocatePrefix(pool, [cidr('10.0.0.0/24'), cidr('192.168.0.0/24')], 26), null);
    // A used cidr larger than the pool prefix covers it completely.
    assert.equal(allocatePrefix([cidr('10.0.0.0/24')], [cidr('10.0.0.0/8')], 28), null);
    assert.equal(formatCidr(allocatePrefix(pool16, [cidr('2001:db8::/32')], 24)!), '10.0.0.0/24');
  });

  test('allocatePrefix is fast on large IPv6 pools', () => {
    const pool = [cidr('2001:db8::/32')];
    const used: Cidr[] = [];
    for (let i = 0; i < 2000; i++) used.push(makeCidr(6, ip('2001:db8::') + (BigInt(i) << 64n), 64));
    const started = Date.now();
    assert.equal(formatCidr(allocatePrefix(pool, used, 64)!), '2001:db8:0:7d0::/64');
    assert.equal(formatCidr(allocatePrefix(pool, used, 48)!), '2001:db8:1::/48');
    assert.equal(formatCidr(allocatePrefix(pool, [cidr('2001:db8::/33')], 64)!), '2001:db8:8000::/64');
    assert.ok(Date.now() - started < 2000);
  });

  test('availablePrefixes and isPrefixAvailable', () => {
    const used = [cidr('10.0.0.0/24')];
    assert.deepEqual(cidrs(availablePrefixes([cidr('10.0.0.0/22')], used)), ['10.0.1.0/24', '10.0.2.0/23']);
    assert.equal(isPrefixAvailable(pool16, used, cidr('10.0.1.0/24')), true);
    assert.equal(isPrefixAvailable(pool16, used, cidr('10.0.0.128/25')), false);
    assert.equal(isPrefixAvailable(pool16, used, cidr('10.0.0.0/23')), false);
    assert.equal(isPrefixAvailable(pool16, used, cidr('10.1.0.0/24')), false);
    assert.equal(isPrefixAvailable(pool16, used, cidr('10.0.128.0/17')), true);
  });
});
