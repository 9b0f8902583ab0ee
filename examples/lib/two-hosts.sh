# The two-host cloud of examples/install-guide.sh and examples/libvirt-walkthrough.sh, sourced by them (set
# WALK=<name> first: the hosts are <name>-a and <name>-b, the namespaces stratus-host-<name>-a/-b): a
# controller process on host A and `stratus start --role compute` on host B over a private RabbitMQ, the
# hosts joined by an underlay bridge, the provider uplink 203.0.113.1/24 in the root namespace, the
# test guest image, the guide's provider and self-service networks with a router, a key pair `mykey`
# (private key $W/key), the flavor m1.nano and the security group `guide` (ICMP, SSH). Everything is
# removed at exit, also on failure or Ctrl-C (the EXIT trap set here).
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WALK=${WALK:-guide}
W=$(mktemp -d "/tmp/stratus-$WALK.XXXXXX")
D=$W/data
HA=$WALK-a
HB=$WALK-b
NSA=stratus-host-$HA
NSB=stratus-host-$HB
NSU=stratus-$WALK-underlay
GUEST_DIR=${GUEST_DIR:-$W/guest}
STRATUS="node $ROOT/bin/stratus.js"
PIDS=()
T0=$(date +%s)

say() { printf '[%4ss] %s\n' $(($(date +%s) - T0)) "$*"; }
os() { openstack --os-cloud stratus "$@"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
SSH_OPTS=(-i "$W/key" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=10 -o BatchMode=yes)
gssh() { ssh "${SSH_OPTS[@]}" "$@"; }
# SSH to a guest through another one (dropbear forwards the TCP connection: guest → guest).
gssh_via() { local via=$1; shift; ssh "${SSH_OPTS[@]}" -o "ProxyCommand=ssh ${SSH_OPTS[*]} -W %h:%p root@$via" "$@"; }
until_ok() { # until_ok SECONDS WHAT CMD...
  local t=$1 what=$2; shift 2
  local end=$(($(date +%s) + t))
  until "$@" >/dev/null 2>&1; do
    if (($(date +%s) > end)); then say "FAILED: $what"; return 1; fi
    sleep 2
  done
}
# As DATAPLANE.md says, the host has no ping of its own: busybox's.
hping() { busybox ping -c 2 -W 2 "$1"; }

EPMD_BEFORE=$(pgrep -x epmd || true)
cleanup() {
  local rc=$?
  set +e
  say "cleaning up"
  if [ -f "$D/clouds.yaml" ]; then
    if [ "$rc" != 0 ]; then # what the servers say about the failure
      for s in $(os server list -f value -c ID 2>/dev/null); do os server show "$s" -f json -c name -c status -c fault 2>/dev/null; done
    fi
    for s in $(os server list -f value -c ID 2>/dev/null); do os server delete --wait "$s" 2>/dev/null; done
  fi
  # The processes (SIGTERM: the agents take their data plane down, cleanupOnStop), newest first.
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    kill -TERM "${PIDS[i]}" 2>/dev/null
    for _ in $(seq 1 40); do kill -0 "${PIDS[i]}" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "-${PIDS[i]}" 2>/dev/null
  done
  # What a killed process could not remove: each host's data plane, then the hosts themselves
  # (libvirtd, virtlogd and QEMU run inside them), the underlay and the uplink.
  for h in $HA $HB; do
    [ -f "$D/stratus.yaml" ] && $STRATUS network cleanup "$h" --data-dir "$D" --config "$W/$h.yaml" >/dev/null 2>&1
    ns=stratus-host-$h
    if ip netns list | grep -qw "$ns"; then
      for p in $(ip netns pids "$ns"); do kill -KILL "$p" 2>/dev/null; done
      ip netns delete "$ns"
    fi
    rm -rf "/run/stratus/$ns" "/run/stratus/$h"
  done
  ip netns list | grep -qw "$NSU" && ip netns delete "$NSU"
  # The private broker (its whole process group), and the epmd it started if none ran before.
  [ -f "$W/rabbit.pid" ] && kill -KILL "-$(cat "$W/rabbit.pid")" 2>/dev/null
  if [ -z "$EPMD_BEFORE" ]; then for p in $(pgrep -x epmd); do kill "$p" 2>/dev/null; done; fi
  if [ "$rc" != 0 ]; then
    say "FAILED (exit $rc); logs kept in $W/logs"
    mkdir -p "/tmp/stratus-$WALK-logs.$$" && cp "$D"/*.log "$W"/*.out "/tmp/stratus-$WALK-logs.$$/" 2>/dev/null
    echo "logs: /tmp/stratus-$WALK-logs.$$"
  fi
  rm -rf "$W"
  say "done (exit $rc)"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ "$(id -u)" = 0 ] || { echo "needs root (namespaces, bridges, libvirtd)"; exit 1; }
mkdir -p "$D"

say "the underlay: a bridge joining the two hosts (10.99.0.1, 10.99.0.2)"
ip netns add "$NSU"
ip -n "$NSU" link add ul type bridge
ip -n "$NSU" link set ul up
for pair in "$HA 10.99.0.1 a" "$HB 10.99.0.2 b"; do
  set -- $pair
  ip netns add "stratus-host-$1"
  ip -n "stratus-host-$1" link add ul0 type veth peer name "ul-$3" netns "$NSU"
  ip -n "stratus-host-$1" addr add "$2/24" dev ul0
  ip -n "stratus-host-$1" link set ul0 up
  ip -n "$NSU" link set "ul-$3" master ul up
done

say "a private RabbitMQ"
AMQP=$(free_port)
DIST=$(free_port)
mkdir -p "$W/rabbit"
echo '[].' >"$W/rabbit/enabled_plugins"
(
  cd "$W/rabbit"
  export HOME=$W/rabbit RABBITMQ_NODENAME=stratus-$WALK-$$@localhost RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
    RABBITMQ_NODE_PORT=$AMQP RABBITMQ_DIST_PORT=$DIST RABBITMQ_MNESIA_BASE=$W/rabbit/mnesia \
    RABBITMQ_LOG_BASE=$W/rabbit/log RABBITMQ_ENABLED_PLUGINS_FILE=$W/rabbit/enabled_plugins \
    RABBITMQ_PID_FILE=$W/rabbit/pid RABBITMQ_CONFIG_FILE=$W/rabbit/rabbitmq \
    RABBITMQ_ADVANCED_CONFIG_FILE=$W/rabbit/advanced.config RABBITMQ_CONF_ENV_FILE=$W/rabbit/env.conf
  setsid /usr/lib/rabbitmq/bin/rabbitmq-server >"$W/rabbit.out" 2>&1 &
  echo $! >"$W/rabbit.pid"
)
until_ok 120 "RabbitMQ" bash -c "exec 3<>/dev/tcp/127.0.0.1/$AMQP"
BUS=amqp://guest:guest@127.0.0.1:$AMQP/

PORT=$(free_port)
META=$(free_port)
common() { # common HOST UNDERLAY
  cat <<EOF
port: $PORT
bus: $BUS
compute:
  host: $1
  driver: libvirt
  libvirt:
    guestDir: $GUEST_DIR
    statsInterval: 2
    shutdownTimeout: 30
    instancesPath: $D/instances-$1
    # Where each host keeps its instances: a resize or migration copies the disk into the other host's.
    hostInstancesPaths: {$HA: $D/instances-$HA, $HB: $D/instances-$HB}
  metadata: {port: $META}
  # The console proxies on free ports: another cloud on this machine may hold 6080/6082/6083.
  consoleProxy: {novnc: {port: 0}, serial: {port: 0}, spice: {port: 0}}
network:
  dataplane: linuxbridge
  host: $1
  underlayIp: $2
  novaMetadataUrl: http://127.0.0.1:$META
  cleanupOnStop: true
EOF
}
{
  common $HA 10.99.0.1
  echo "  externalUplink: {physnet: provider, cidr: 203.0.113.1/24}"
} >"$W/$HA.yaml"
cp "$W/$HA.yaml" "$D/stratus.yaml"
common $HB 10.99.0.2 >"$W/$HB.yaml"

start() { # start NAME ARGS...
  local name=$1; shift
  STRATUS_USER_CLOUDS=0 setsid $STRATUS start --bare --data-dir "$D" --port "$PORT" --log-file "$D/$name.log" "$@" >"$W/$name.out" 2>&1 &
  PIDS+=($!)
  until_ok 300 "$name to start" grep -q "is running" "$W/$name.out" || { tail -20 "$W/$name.out"; return 1; }
}
say "host A: the controller (all roles) with nova-compute and the network node"
start controller --config "$W/$HA.yaml"
say "host B: stratus start --role compute --compute-host $HB"
start compute-b --role compute --compute-host $HB --config "$W/$HB.yaml"
export OS_CLIENT_CONFIG_FILE=$D/clouds.yaml

until_ok 120 "two compute services up" bash -c "[ \$(openstack --os-cloud stratus compute service list --service nova-compute -f value -c State | grep -c up) = 2 ]"
os compute service list --service nova-compute -c Binary -c Host -c State -f value
until_ok 120 "the Linux bridge agents of both hosts" bash -c "openstack --os-cloud stratus network agent list -f value -c Host -c 'Agent Type' | grep 'Linux bridge' | grep -q $HB"
os network agent list -c 'Agent Type' -c Host -c Alive -f value | sort

say "the test guest image (cached in $GUEST_DIR)"
$STRATUS image build-guest --data-dir "$D" --config "$W/$HA.yaml" >"$W/build-guest.out" 2>&1 || { tail "$W/build-guest.out"; exit 1; }
IMAGE=stratus-guest-disk
os image show $IMAGE -c name -c status -f value | paste -sd' '

say "provider network (flat) and its subnet, as the guide"
os network create --share --external --provider-physical-network provider --provider-network-type flat provider -f value -c id >/dev/null
os subnet create --network provider --allocation-pool start=203.0.113.101,end=203.0.113.250 \
  --dns-nameserver 8.8.4.4 --gateway 203.0.113.1 --subnet-range 203.0.113.0/24 provider -f value -c id >/dev/null
say "self-service network, subnet, router"
os network create selfservice -f value -c id >/dev/null
os network show selfservice -c provider:network_type -c mtu -f value | paste -sd' '
os subnet create --network selfservice --dns-nameserver 8.8.4.4 --gateway 172.16.1.1 --subnet-range 172.16.1.0/24 selfservice -f value -c id >/dev/null
os router create router -f value -c id >/dev/null
os router add subnet router selfservice
os router set router --external-gateway provider
os port list --router router -c fixed_ips -f value

say "key pair, a flavor, a security group allowing ICMP and SSH"
ssh-keygen -q -t ed25519 -N '' -f "$W/key"
os keypair create --public-key "$W/key.pub" mykey -f value -c name >/dev/null
os flavor create --ram 128 --disk 1 --vcpus 1 m1.nano -f value -c name >/dev/null
os security group create guide -f value -c id >/dev/null
ICMP_RULE=$(os security group rule create --proto icmp guide -f value -c id)
os security group rule create --proto tcp --dst-port 22 guide -f value -c id >/dev/null

boot() { # boot NAME HOST --nic ...
  local name=$1 host=$2; shift 2
  os server create --flavor m1.nano --image $IMAGE --key-name mykey --availability-zone "nova:$host" "$@" --wait "$name" -f value -c id >/dev/null
  say "$name ACTIVE on $(os server show "$name" -f value -c OS-EXT-SRV-ATTR:host): $(os server show "$name" -f value -c addresses)"
}
