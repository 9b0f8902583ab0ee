// One public range per linuxbridge cloud on this machine. The harness's cloud puts the gateway of
// DevStack's `public` network on its uplink in the root namespace (br-ex's 172.24.4.1/24): two such
// clouds with the same range would each install a route for it and break the other's way to its
// floating IPs. So each run claims a free /24 of 172.24.0.0/16 (DevStack's 172.24.4.0/24 first):
// one no route or address of the root namespace overlaps, and no other live run has claimed (a
// file per range under /run/stratus/public-ranges holding the claimer's pid, made with O_EXCL;
// a dead claimer's file is taken over). The claim is given back when the run ends.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const CLAIMS = '/run/stratus/public-ranges';

export interface PublicRange {
  /** The /24, e.g. 172.24.4.0/24. */
  cidr: string;
  /** The uplink's address with its prefix, e.g. 172.24.4.1/24 (the subnet's gateway, as br-ex's). */
  gatewayCidr: string;
  release(): void;
}

const toInt = (a: string) => a.split('.').reduce((n, o) => n * 256 + Number(o), 0) >>> 0;

/** The IPv4 prefixes the root namespace routes or holds (every routing table, every address). */
export function presentPrefixes(): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  const text = (args: string[]) => {
    try {
      return execFileSync('ip', args, { encoding: 'utf8' });
    } catch {
      return '';
    }
  };
  const words = [
    ...text(['-4', 'route', 'show', 'table', 'all'])
      .split('\n')
      .map((l) => l.trim().split(/\s+/)[0] ?? ''),
    ...text(['-4', '-o', 'addr', 'show'])
      .split('\n')
      .map((l) => /\binet (\S+)/.exec(l)?.[1] ?? ''),
  ];
  for (const w of words) {
    const m = /^(\d+\.\d+\.\d+\.\d+)(?:\/(\d+))?$/.exec(w);
    if (!m) continue; // default, broadcast/local keywords, ...
    const len = m[2] === undefined ? 32 : Number(m[2]);
    out.push([toInt(m[1]!), len]);
  }
  return out;
}

/**
 * Whether a present prefix is the /24 or inside it (another cloud's uplink, an address). A wider
 * route around it (a /12, the default) does not take it: the uplink's connected /24 is more specific.
 */
const inside = (p: [number, number], range: [number, number]) =>
  p[1] >= range[1] && (p[0] & 0xffffff00) >>> 0 === range[0];

function alive(pid: number) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Claims a free 172.24.X.0/24 (X from 4 up, then 0..3). */
export function claimPublicRange(present = presentPrefixes()): PublicRange {
  fs.mkdirSync(CLAIMS, { recursive: true });
  const order = [...Array.from({ length: 252 }, (_, i) => i + 4), 0, 1, 2, 3];
  for (const x of order) {
    const cidr = `172.24.${x}.0/24`;
    const mine: [number, number] = [toInt(`172.24.${x}.0`), 24];
    const file = path.join(CLAIMS, `172.24.${x}.0`);
    let fd: number;
    try {
      fd = fs.openSync(file, 'wx');
    } catch {
      // Claimed: by a live run, skip it; by a dead one, take it over (remove, then claim as usual).
      const pid = Number(fs.readFileSync(file, 'utf8').trim()) || 0;
      if (pid && alive(pid)) continue;
      fs.rmSync(file, { force: true });
      try {
        fd = fs.openSync(file, 'wx');
      } catch {
        continue;
      }
    }
    fs.writeSync(fd, `${process.pid}\n`);
    fs.closeSync(fd);
    // A route left by a run that died before its stop (or anything else in the range): not this one.
    if (present.some((p) => inside(p, mine))) {
      fs.rmSync(file, { force: true });
      continue;
    }
    return {
      cidr,
      gatewayCidr: `172.24.${x}.1/24`,
      release: () => {
        try {
          if (Number(fs.readFileSync(file, 'utf8').trim()) === process.pid) fs.rmSync(file, { force: true });
        } catch {
          // gone already
        }
      },
    };
  }
  throw new Error('no free /24 left in 172.24.0.0/16 for the public network');
}
