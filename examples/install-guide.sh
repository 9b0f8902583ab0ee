#!/bin/bash
# The OpenStack install guide's "Launch an instance" for the self-service networking option, on
# Stratus with real guests (libvirt driver, TCG) and the real Linux bridge data plane, on TWO
# hosts that stand on this one machine (README "Data plane and multi-node"):
#
#   host A (stratus-host-guide-a): the controller process (every API, conductor, scheduler), its
#          nova-compute and the network node (L2, DHCP, L3, metadata agents);
#   host B (stratus-host-guide-b): a second process `stratus start --role compute` (the guide's
#          compute node: nova-compute and the Linux bridge agent of its host), talking to the
#          first over a private RabbitMQ (SQLite files of the shared data directory);
#   the hosts are joined by an underlay bridge (its own namespace) and carry VXLAN between
#   10.99.0.1 and 10.99.0.2. The root namespace gets only 203.0.113.1/24, the provider
#   network's gateway (the install guide's), removed at stop.
#
# Then, with Debian's `openstack` client: the flat provider network `provider` and the self-service
# network `selfservice` with a router; a server on each (one on host B, on a port made with
# --disable-port-security); ping and SSH between them; a floating IP reached from the host; the
# metadata service read from inside a guest; a security group rule removed and the traffic
# stopping. Everything it made is removed at the end, also on failure or Ctrl-C.
#
# Needs root and the Debian packages of README "Data plane and multi-node" plus rabbitmq-server.
#   examples/install-guide.sh            (GUEST_DIR=dir: a cached test guest, else built once)
set -euo pipefail

WALK=guide
# shellcheck source=lib/two-hosts.sh
source "$(dirname "$0")/lib/two-hosts.sh"

say "server on the self-service network, host A"
boot selfservice-instance $HA --nic net-id=selfservice --security-group guide
FIP=$(os floating ip create provider -f value -c floating_ip_address)
os server add floating ip selfservice-instance "$FIP"
say "floating IP $FIP"
say "server on the provider network, host A"
boot provider-instance $HA --nic net-id=provider --security-group guide
PROV=$(os server show provider-instance -f json -c addresses | python3 -c 'import json,sys; print(json.load(sys.stdin)["addresses"]["provider"][0])')
say "a port with --disable-port-security on the self-service network, its server on host B"
os port create --network selfservice --disable-port-security --no-security-group open-port -f value -c id >/dev/null
os port show open-port -c port_security_enabled -c security_group_ids -f value | paste -sd' '
boot selfservice-b $HB --port open-port
SB=$(os port show open-port -f json -c fixed_ips | python3 -c 'import json,sys; print(json.load(sys.stdin)["fixed_ips"][0]["ip_address"])')
SA=$(os server show selfservice-instance -f json -c addresses | python3 -c 'import json,sys; print(json.load(sys.stdin)["addresses"]["selfservice"][0])')

say "host → floating IP $FIP (ping, then SSH)"
until_ok 180 "ping $FIP" hping "$FIP"
hping "$FIP" | grep -E 'transmitted'
until_ok 180 "SSH to $FIP" gssh "root@$FIP" true
gssh "root@$FIP" 'echo "  $(hostname): $(ip -4 -o addr show eth0 | awk "{print \$4}") mtu $(cat /sys/class/net/eth0/mtu)"'
say "host → provider-instance $PROV directly on the flat network (ping, SSH)"
until_ok 180 "ping $PROV" hping "$PROV"
until_ok 180 "SSH to $PROV" gssh "root@$PROV" true
gssh "root@$PROV" 'echo "  $(hostname): $(ip -4 -o addr show eth0 | awk "{print \$4}") mtu $(cat /sys/class/net/eth0/mtu)"'
say "selfservice-instance ($HA) → provider-instance through the router (SNAT): ping and SSH"
gssh "root@$FIP" "ping -c 2 -W 2 $PROV | grep transmitted"
gssh_via "$FIP" "root@$PROV" 'echo "  SSH from selfservice-instance reached $(hostname)"'
say "selfservice-instance ($HA) ↔ selfservice-b ($HB) over VXLAN: ping and SSH"
until_ok 180 "ping $SB from $SA" gssh "root@$FIP" "ping -c 1 -W 2 $SB"
gssh "root@$FIP" "ping -c 3 -W 2 -s 1372 $SB | grep transmitted"
until_ok 120 "SSH to $SB through $FIP" gssh_via "$FIP" "root@$SB" true
gssh_via "$FIP" "root@$SB" "echo \"  SSH from selfservice-instance reached \$(hostname); its ping back: \$(ping -c 2 -W 2 $SA | grep transmitted)\""
ip netns exec "$NSB" bridge fdb show | grep "dst 10.99.0.1" | head -2 | sed 's/^/  host B fdb: /'
say "the metadata service from inside the guests"
gssh "root@$FIP" 'wget -qO- http://169.254.169.254/openstack/latest/meta_data.json' | python3 -c 'import json,sys; m=json.load(sys.stdin); print("  selfservice-instance reads: uuid", m["uuid"], "name", m["name"], "keys", list(m.get("public_keys", {})))'
gssh_via "$FIP" "root@$SB" 'wget -qO- http://169.254.169.254/latest/meta-data/hostname; echo' | sed 's/^/  selfservice-b (host B, across the tunnel) reads its hostname: /'
os server show selfservice-instance -f value -c id | sed 's/^/  the API says selfservice-instance is /'

say "security group rule (ICMP) removed: ping to $FIP stops, SSH still allowed"
os security group rule delete "$ICMP_RULE"
until_ok 20 "ICMP blocked" bash -c "! busybox ping -c 1 -W 1 $FIP"
if hping "$FIP" >/dev/null 2>&1; then say "FAILED: ping still passes"; exit 1; fi
say "  ping $FIP: no answer; SSH: $(gssh "root@$FIP" hostname)"
say "  the open port's guest still answers ping from selfservice-instance (no filtering): $(gssh "root@$FIP" "ping -c 2 -W 2 $SB | grep transmitted")"
os security group rule create --proto icmp guide -f value -c id >/dev/null
until_ok 20 "ICMP allowed again" hping "$FIP"
say "rule re-added: ping $FIP passes again"

say "ALL STEPS PASSED"
