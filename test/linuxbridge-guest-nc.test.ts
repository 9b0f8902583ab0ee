// The test guest's nc and shell as neutron_tempest_plugin drives them over SSH (scenario/base.py's
// get_ncat_server_cmd through `sudo sh -eux`, utils.py's pidof/killall, StatefulConnection's
// `nc -lp`, spawn_http_server): the built initramfs unpacked and run with chroot inside fresh
// mount, network and PID namespaces (so pidof and killall see only its processes), the client
// side with the host's netcat-openbsd. Everything lives in those namespaces and a temporary
// directory: gone when the test ends, also on failure.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { buildGuest, missingGuestTools } from '../src/compute/guest/build.ts';
import { needsRoot } from './lib/netns.ts';

const run = promisify(execFile);
const GUEST_DIR = process.env.STRATUS_GUEST_DIR ?? path.join(os.tmpdir(), 'stratus-guest-nc-cache');
const missing = missingGuestTools();
const skip =
  needsRoot('chroot and namespaces') ||
  (missing.length ? `the guest build needs ${missing.join(' ')}` : false) ||
  (fs.existsSync('/usr/bin/unshare') ? false : 'needs unshare');

// Inside the namespaces: the guest's commands as tempest sends them, each result on a line.
const SCRIPT = `
set -u
R=$1
ip link set lo up
mount -t proc proc $R/proc
mount -t tmpfs tmp $R/tmp
mount -t devtmpfs dev $R/dev 2>/dev/null || mount --rbind /dev $R/dev
g() { chroot $R /usr/bin/env -i PATH=/usr/bin:/bin HOME=/root /bin/sh -c "$1"; }
# get_ncat_server_cmd(1234, 'tcp') through execute_script(become_root=True)
printf 'nc  -p 1234 -lk < /dev/zero &\\nsleep 0.1\\n' | chroot $R /usr/bin/env -i PATH=/usr/bin:/bin sudo sh -eux >/dev/null 2>&1
g 'pidof nc >/dev/null' && echo "tcp-pidof ok"
echo "tcp-bytes $(timeout 5 nc -w 1 127.0.0.1 1234 </dev/null | head -c 1000 | wc -c)"
g 'killall -q nc'; sleep 0.2
g 'pidof nc >/dev/null' || echo "killall ok"
# get_ncat_server_cmd(1235, 'tcp', 'srv-a')
printf 'nc  -p 1235 -lk -e echo srv-a < /dev/zero &\\nsleep 0.1\\n' | chroot $R /usr/bin/env -i PATH=/usr/bin:/bin sudo sh -eux >/dev/null 2>&1
sleep 0.3
for i in 1 2; do echo "tcp-echo $( (sleep 0.3; echo knock) | timeout 5 nc -w 1 127.0.0.1 1235)"; done
# get_ncat_server_cmd(1236, 'udp', 'srv-b')
printf 'nc -u -p 1236 -lk -e echo srv-b < /dev/zero &\\nsleep 0.1\\n' | chroot $R /usr/bin/env -i PATH=/usr/bin:/bin sudo sh -eux >/dev/null 2>&1
sleep 0.3
for i in 1 2; do echo "udp-echo $(echo knock | timeout 5 nc -u -w 1 127.0.0.1 1236)"; sleep 1.2; done
g 'killall -q nc'; sleep 0.2
# StatefulConnection: tail -f input.txt | sudo nc -lp PORT &> output.txt &, and the client
g 'cd /tmp; echo attempt_000 > in-s.txt; tail -f in-s.txt | sudo nc -lp 3000 &> out-s.txt &'
sleep 0.3
g 'cd /tmp; echo attempt_001 > in-c.txt; tail -f in-c.txt | sudo nc 127.0.0.1 3000 &> out-c.txt &'
sleep 1
echo "stateful-server $(cat $R/tmp/out-s.txt)"
echo "stateful-client $(cat $R/tmp/out-c.txt)"
g 'killall nc; killall tail'; sleep 0.2
# spawn_http_server + call_url_remote (the guest's curl)
g "(echo -e 'HTTP/1.1 200 OK\\r\\n'; echo 'foo_ok') | sudo nc -lp 3001 &"
sleep 0.3
echo "http $(g 'curl http://127.0.0.1:3001 --retry 3 --connect-timeout 2')"
g 'killall -q nc'
# mke2fs through the wrapper (busybox-static's ash would run its own applet, which refuses -t)
g 'type nc; type mke2fs'
`;

describe('the test guest runs nc as neutron_tempest_plugin does', { skip }, () => {
  let root: string;
  let out = '';

  before(async () => {
    const guest = await buildGuest(GUEST_DIR);
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-guest-nc-'));
    await run('sh', ['-c', `gzip -dc ${JSON.stringify(guest.ramdisk)} | cpio -idm --quiet`], { cwd: root });
    const r = await run(
      'timeout',
      ['120', 'unshare', '-m', '-n', '-p', '--fork', '--mount-proc', 'sh', '-c', SCRIPT, 'sh', root],
      {
        maxBuffer: 1 << 22,
      },
    ).catch((e: { stdout?: string; stderr?: string }) => ({ stdout: e.stdout ?? '', stderr: e.stderr ?? '' }));
    out = r.stdout;
  });

  after(() => {
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  const line = (key: string) =>
    out
      .split('\n')
      .filter((l) => l.startsWith(`${key} `))
      .map((l) => l.slice(key.length + 1));

  it('resolves nc and mke2fs through PATH to the wrappers, not to busybox applets', () => {
    assert.match(out, /nc is \/usr\/bin\/nc|nc is \/bin\/nc/, out);
    assert.match(out, /mke2fs is \/(usr\/)?s?bin\/mke2fs/, out);
  });

  it('`nc -p PORT -lk < /dev/zero &` serves zeros to every client, pidof finds it, killall stops it', () => {
    assert.deepEqual(line('tcp-pidof'), ['ok'], out);
    assert.ok(Number(line('tcp-bytes')[0]) >= 1000, out);
    assert.deepEqual(line('killall'), ['ok'], out);
  });

  it('`-e echo MSG` answers each TCP connection; `-u` answers each UDP datagram', () => {
    assert.deepEqual(line('tcp-echo'), ['srv-a', 'srv-a'], out);
    assert.deepEqual(line('udp-echo'), ['srv-b', 'srv-b'], out);
  });

  it("StatefulConnection's `nc -lp` pair carries both ways; spawn_http_server answers curl", () => {
    assert.deepEqual(line('stateful-server'), ['attempt_001'], out);
    assert.deepEqual(line('stateful-client'), ['attempt_000'], out);
    assert.deepEqual(line('http'), ['foo_ok'], out);
  });
});
