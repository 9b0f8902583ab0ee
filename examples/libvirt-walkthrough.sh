#!/bin/bash
# Issue 18's acceptance with Debian's `openstack` client and real guests (libvirt driver, TCG) on the
# two-host cloud of examples/lib/two-hosts.sh (hosts lvwalk-a and lvwalk-b): the test guest created with a
# key and user data, its console log (the guest's markers and the user data's output), a noVNC URL opened
# through the proxy (the guest's VNC server greets through the websocket), SSH with the key, reboot,
# stop/start, resize --confirm, cold migration to the other host, a snapshot booted, a volume the guest
# sees, a port the guest sees, rescue, shelve/unshelve, and a delete that leaves no domain, tap or
# instance file behind. Everything it made is removed at the end, also on failure or Ctrl-C.
#
# Needs root, the Debian packages of README "Data plane and multi-node" and rabbitmq-server.
#   examples/libvirt-walkthrough.sh        (GUEST_DIR=dir: a cached test guest, else built once)
set -euo pipefail
WALK=lvwalk
# shellcheck source=lib/two-hosts.sh
source "$(dirname "$0")/lib/two-hosts.sh"

status_is() { [ "$(os server show "$1" -f value -c status)" = "$2" ]; }
wait_status() { until_ok "${3:-300}" "$1 $2" status_is "$1" "$2"; say "  $1: $2"; }
host_of() { os server show "$1" -f value -c OS-EXT-SRV-ATTR:host; }
virsh_on() { virsh -c "qemu+unix:///system?socket=/run/stratus/$1/libvirt/libvirt-sock" "${@:2}"; }
uptime_s() { gssh "root@$FIP" 'cut -d. -f1 /proc/uptime'; }

say "server create --wait: the test guest with the key mykey and user data (host A)"
printf '#!/bin/sh\necho "user data ran on $(hostname)"\n' >"$W/user-data"
boot vm1 $HA --nic net-id=selfservice --security-group guide --user-data "$W/user-data"
FIP=$(os floating ip create provider -f value -c floating_ip_address)
os server add floating ip vm1 "$FIP"
say "console log show: the guest's markers and the user data's output"
until_ok 240 "the ready marker" bash -c "openstack --os-cloud stratus console log show vm1 | grep -q 'stratus-guest: ready'"
os console log show vm1 | grep -E 'stratus-guest:|user data ran' | sed 's/^/  /'

say "console url show (noVNC), opened through the proxy"
URL=$(os console url show --novnc vm1 -f value -c url)
say "  $URL"
curl -s -o /dev/null -w '  GET of the page: HTTP %{http_code}\n' "$URL"
# The page's websocket: its path carries the token; the proxy must answer 101 and pass the guest's RFB greeting.
python3 - "$URL" <<'PY'
import base64, os, socket, sys, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
q = urllib.parse.parse_qs(u.query)
path = q.get('path', ['websockify?token=' + q.get('token', [''])[0]])[0]
path = path if path.startswith('/') else '/' + path
s = socket.create_connection((u.hostname, u.port or 80), timeout=10)
key = base64.b64encode(os.urandom(16)).decode()
s.sendall((f'GET {path} HTTP/1.1\r\nHost: {u.netloc}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
           f'Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: binary\r\n'
           f'Origin: {u.scheme}://{u.netloc}\r\n\r\n').encode())
buf = b''
while b'\r\n\r\n' not in buf:
    buf += s.recv(4096)
head, rest = buf.split(b'\r\n\r\n', 1)
print('  websocket:', head.split(b'\r\n')[0].decode())
while len(rest) < 2 + 12:
    rest += s.recv(4096)
n = rest[1] & 0x7f
print('  first frame from the guest:', rest[2:2 + n].decode(errors='replace').strip())
sys.exit(0 if rest[2:5] == b'RFB' else 1)
PY

say "SSH into it with the key"
until_ok 240 "SSH to $FIP" gssh "root@$FIP" true
gssh "root@$FIP" 'echo "  $(hostname): kernel $(uname -r), eth0 $(ip -4 -o addr show eth0 | awk "{print \$4}")"'
say "  keys the guest took from the metadata: $(gssh "root@$FIP" 'cut -c1-40 /root/.ssh/authorized_keys')"

say "server reboot (soft: ACPI power button, then a new boot)"
before=$(uptime_s)
os server reboot --wait vm1
until_ok 240 "SSH after the reboot" gssh "root@$FIP" true
say "  uptime $before s before, $(uptime_s) s after"

say "server stop / server start"
os server stop vm1
wait_status vm1 SHUTOFF
say "  libvirt on $(host_of vm1): $(virsh_on "$(host_of vm1)" list --all --name | grep . | while read -r d; do echo "$d $(virsh_on "$(host_of vm1)" domstate "$d")"; done)"
os server start vm1
wait_status vm1 ACTIVE
until_ok 240 "SSH after start" gssh "root@$FIP" true
say "  SSH again: $(gssh "root@$FIP" hostname)"

say "server resize --confirm (m1.nano → m1.micro: 128 → 192 MB)"
os flavor create --ram 192 --disk 2 --vcpus 1 m1.micro -f value -c name >/dev/null
mem() { gssh "root@$FIP" "awk '/MemTotal/ {print \$2}' /proc/meminfo"; }
say "  MemTotal before: $(mem) kB"
os server resize --flavor m1.micro --wait vm1
wait_status vm1 VERIFY_RESIZE
os server resize confirm vm1
wait_status vm1 ACTIVE
until_ok 240 "SSH after the resize" gssh "root@$FIP" true
say "  flavor $(os server show vm1 -f value -c flavor), MemTotal after: $(mem) kB, on $(host_of vm1)"

say "server migrate (cold) to the other host, then confirm"
from=$(host_of vm1)
os server migrate --wait vm1
wait_status vm1 VERIFY_RESIZE
os server migration confirm vm1
wait_status vm1 ACTIVE
to=$(host_of vm1)
[ "$from" != "$to" ] || { say "FAILED: still on $from"; exit 1; }
until_ok 240 "SSH after the migration" gssh "root@$FIP" true
say "  $from → $to; libvirt on $to runs: $(virsh_on "$to" list --name | grep . | paste -sd' '); on $from: $(virsh_on "$from" list --all --name | grep -c . || true) domain(s)"

say "server image create, then a server booted from the snapshot"
gssh "root@$FIP" 'echo written-before-the-snapshot > /mnt/mark; sync'  # /mnt is on the disk (the root is in memory)
os server image create --name vm1-snap --wait vm1 -f value -c id >/dev/null
os image show vm1-snap -c status -c disk_format -c size -f value | paste -sd' ' | sed 's/^/  vm1-snap: /'
os server create --flavor m1.micro --image vm1-snap --key-name mykey --nic net-id=selfservice --security-group guide \
  --availability-zone "nova:$HA" --wait vm2 -f value -c id >/dev/null
V2=$(os server show vm2 -f json -c addresses | python3 -c 'import json,sys; print(json.load(sys.stdin)["addresses"]["selfservice"][0])')
until_ok 240 "SSH to vm2 ($V2) through vm1" gssh_via "$FIP" "root@$V2" true
say "  vm2 ($V2, from the snapshot) has /mnt/mark: $(gssh_via "$FIP" "root@$V2" 'cat /mnt/mark')"

say "server add volume: the guest sees the disk"
os volume create --size 1 vol1 -f value -c id >/dev/null
until_ok 60 "vol1 available" bash -c "[ \"\$(openstack --os-cloud stratus volume show vol1 -f value -c status)\" = available ]"
disks() { gssh "root@$FIP" "awk 'NR>2 && \$4 !~ /[0-9]\$/ {print \$4}' /proc/partitions | paste -sd' '"; }
say "  disks before: $(disks)"
os server add volume vm1 vol1
until_ok 120 "vol1 in-use" bash -c "[ \"\$(openstack --os-cloud stratus volume show vol1 -f value -c status)\" = in-use ]"
until_ok 60 "a new disk in the guest" bash -c "[ \"\$(ssh ${SSH_OPTS[*]} root@$FIP \"awk 'NR>2' /proc/partitions | wc -l\")\" -gt 1 ]"
say "  disks after: $(disks); the attachment: $(os server volume list vm1 -f value -c Device 2>/dev/null | paste -sd' ')"
gssh "root@$FIP" 'd=/dev/$(awk "NR>2 {print \$4}" /proc/partitions | tail -1); echo stratus-volume-bytes | dd of=$d bs=512 conv=sync 2>/dev/null; sync; head -c 20 $d; echo " (read back from $d)"' | sed 's/^/  /'

say "server add port: the guest sees a second NIC"
os port create --network selfservice --security-group guide p2 -f value -c id >/dev/null
os server add port vm1 p2
until_ok 60 "eth1 in the guest" gssh "root@$FIP" 'test -e /sys/class/net/eth1'
say "  NICs: $(gssh "root@$FIP" 'ls /sys/class/net | paste -sd" "'); port p2 $(os port show p2 -f value -c status) on $(os port show p2 -f value -c binding_host_id)"

say "server rescue: the rescue image boots with the original disk attached"
os server remove volume vm1 vol1
until_ok 120 "vol1 available again" bash -c "[ \"\$(openstack --os-cloud stratus volume show vol1 -f value -c status)\" = available ]"
os server rescue vm1
wait_status vm1 RESCUE
until_ok 240 "SSH to the rescue guest" gssh "root@$FIP" true
say "  rescue guest disks: $(disks); the original disk, mounted in it: mnt/mark = $(gssh "root@$FIP" 'mkdir -p /orig && mount -t vfat /dev/vdb /orig && cat /orig/mnt/mark; umount /orig')"
os server unrescue vm1
wait_status vm1 ACTIVE
until_ok 240 "SSH after unrescue" gssh "root@$FIP" true
say "  unrescued: /mnt/mark = $(gssh "root@$FIP" 'cat /mnt/mark')"

say "server shelve (offloaded: no domain left on any host) / unshelve"
os server shelve --wait vm1 || true
wait_status vm1 SHELVED_OFFLOADED
for h in $HA $HB; do say "  libvirt on $h: $(virsh_on "$h" list --all --name | grep -c vm1 || true) domain(s) of vm1; all: $(virsh_on "$h" list --all --name | grep . | paste -sd' ')"; done
os server unshelve vm1
wait_status vm1 ACTIVE
until_ok 240 "SSH after unshelve" gssh "root@$FIP" true
say "  unshelved on $(host_of vm1): /mnt/mark = $(gssh "root@$FIP" 'cat /mnt/mark')"

say "server delete: no domain, tap or instance file left"
PORTS=$(for s in vm1 vm2; do os port list --server "$s" -f value -c ID; done)
os server delete --wait vm1 vm2
os volume delete vol1
for h in $HA $HB; do
  doms=$(virsh_on "$h" list --all --name | grep -c . || true)
  # The servers' taps (tap<port id[0:11]>); the network node's own (DHCP, router) stay on host A.
  taps=0
  for p in $PORTS; do ip -n "stratus-host-$h" link show "tap${p:0:11}" >/dev/null 2>&1 && taps=$((taps + 1)); done
  say "  $h: $doms domain(s), $taps tap(s) of the servers' ports ($(echo $PORTS | wc -w) ports)"
  [ "$doms" = 0 ] && [ "$taps" = 0 ] || { say "FAILED: something left on $h"; exit 1; }
done
left=$(find "$D"/instances* -mindepth 1 -maxdepth 1 ! -name _base ! -name locks ! -name compute_nodes 2>/dev/null | wc -l)
say "  instance directories left: $left"
[ "$left" = 0 ] || { find "$D"/instances* -mindepth 1 -maxdepth 1; say "FAILED: instance files left"; exit 1; }

say "ALL STEPS PASSED"
