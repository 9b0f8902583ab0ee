#!/bin/bash
# Issue 16's acceptance with Debian's openstack client and python3-heatclient, against a Stratus started here on
# a temporary data directory (fake virt driver, logical network): every command is printed with its output.
#   bash examples/heat-walkthrough.sh     (needs python3-openstackclient, python3-heatclient, curl)
# Exit status 0 when every check held. The cloud, its directory and the fake Zabbix are gone at the end.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
D=$(mktemp -d /tmp/stratus-walk-heat.XXXXXX)
PORT=${PORT:-$((20000 + RANDOM % 20000))}
ZPORT=$((PORT + 1))
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$D"
}
trap cleanup EXIT
FAILED=0
say() { printf '\n### %s\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@" 2>&1; local rc=$?; [ $rc -ne 0 ] && echo "(exit $rc)"; return $rc; }
check() { # check DESCRIPTION COMMAND...: the command must succeed
  local what=$1; shift
  if "$@" >/dev/null 2>&1; then echo "CHECK ok: $what"; else echo "CHECK FAILED: $what"; FAILED=$((FAILED + 1)); fi
}

# The example plugin's other side: a Zabbix JSON-RPC API that keeps hosts in memory (127.0.0.1 only).
cat > "$D/zabbix.py" <<'PY'
import json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
hosts = {}
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        b = json.dumps(sorted(hosts.values())).encode()
        self.send_response(200); self.send_header('Content-Length', str(len(b))); self.end_headers(); self.wfile.write(b)
    def do_POST(self):
        req = json.loads(self.rfile.read(int(self.headers['Content-Length'])))
        if req['method'] == 'host.create':
            i = str(10000 + len(hosts)); hosts[i] = req['params']['host']; res = {'hostids': [i]}
        elif req['method'] == 'host.delete':
            for i in req['params']: hosts.pop(i, None)
            res = {'hostids': req['params']}
        b = json.dumps({'jsonrpc': '2.0', 'result': res, 'id': req['id']}).encode()
        self.send_response(200); self.send_header('Content-Length', str(len(b))); self.end_headers(); self.wfile.write(b)
HTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()
PY
python3 "$D/zabbix.py" "$ZPORT" & PIDS+=($!)

mkdir -p "$D/data"
printf 'orchestration:\n  pluginDirs: [%s/examples/heat-plugins]\n' "$ROOT" > "$D/data/stratus.yaml"
node "$ROOT/bin/stratus.js" start --data-dir "$D/data" --port "$PORT" > "$D/stratus.out" 2>&1 & PIDS+=($!)
export OS_CLIENT_CONFIG_FILE=$D/data/clouds.yaml OS_CLOUD=stratus
for _ in $(seq 1 120); do
  [ -f "$D/data/clouds.yaml" ] && openstack token issue -f value -c id >/dev/null 2>&1 && break
  sleep 1
done
openstack network show public -f value -c id >/dev/null 2>&1 || { echo "the cloud did not come up"; tail -20 "$D/stratus.out"; exit 1; }

say "A server with a port, a floating IP and a volume (src/orchestration/examples/server.yaml)"
run openstack stack create -t "$ROOT/src/orchestration/examples/server.yaml" --parameter image=cirros-0.6.2-x86_64-disk \
  --parameter flavor=m1.tiny --wait web
check "web is CREATE_COMPLETE" bash -c "openstack stack show web -f value -c stack_status | grep -qx CREATE_COMPLETE"
run openstack stack list
run openstack stack show web -c stack_name -c stack_status -c parameters -c outputs
run openstack stack resource list -n 2 web
run openstack stack event list web
run openstack stack output list web
OUT=$(openstack stack output list web -f value -c output_key | head -1)
[ -n "$OUT" ] && run openstack stack output show web "$OUT"
SERVER=$(openstack stack resource show web server -f value -c physical_resource_id)
FIP=$(openstack stack resource show web floating_ip -f value -c physical_resource_id)
VOL=$(openstack stack resource show web volume -f value -c physical_resource_id)
run openstack server show "$SERVER" -c status -c addresses -c volumes_attached
check "the server is ACTIVE" bash -c "openstack server show $SERVER -f value -c status | grep -qx ACTIVE"
check "the volume is in-use on the server" bash -c "openstack volume show $VOL -f value -c status | grep -qx in-use"
run openstack floating ip show "$FIP" -c floating_ip_address -c port_id -c status

say "Update in place (--existing), snapshot and restore, suspend/resume, check"
run openstack stack update --existing --parameter volume_size=2 --wait web
check "the volume grew to 2 GiB in place" bash -c "openstack volume show $VOL -f value -c size | grep -qx 2"
run openstack stack snapshot create web --name snap1
SNAP=$(openstack stack snapshot list web -f value -c id | head -1)
for _ in $(seq 1 60); do openstack stack snapshot show web "$SNAP" -f json 2>/dev/null | grep -q '"COMPLETE"' && break; sleep 1; done
run openstack stack snapshot list web
run openstack stack snapshot restore web "$SNAP"
for _ in $(seq 1 120); do openstack stack show web -f value -c stack_status | grep -q IN_PROGRESS || break; sleep 1; done
check "restored: web is RESTORE_COMPLETE" bash -c "openstack stack show web -f value -c stack_status | grep -qx RESTORE_COMPLETE"
run openstack stack suspend --wait web
check "suspended: the server is SUSPENDED" bash -c "openstack server show \$(openstack stack resource show web server -f value -c physical_resource_id) -f value -c status | grep -qx SUSPENDED"
run openstack stack resume --wait web
run openstack stack check --wait web
run openstack stack show web -f value -c stack_status -c stack_status_reason

say "A pre-create hook: the stack pauses until the hook is cleared"
cat > "$D/hooked.yaml" <<'Y'
heat_template_version: 2021-04-16
resources:
  first: { type: OS::Heat::RandomString }
  second: { type: OS::Heat::RandomString, depends_on: first }
Y
cat > "$D/hook-env.yaml" <<'Y'
resource_registry:
  resources:
    second: { hooks: pre-create }
Y
run openstack stack create -t "$D/hooked.yaml" -e "$D/hook-env.yaml" hooked
for _ in $(seq 1 60); do openstack stack hook poll hooked -f value 2>/dev/null | grep -q second && break; sleep 1; done
run openstack stack hook poll hooked
check "hooked waits in CREATE_IN_PROGRESS" bash -c "openstack stack show hooked -f value -c stack_status | grep -qx CREATE_IN_PROGRESS"
run openstack stack hook clear hooked second
for _ in $(seq 1 60); do openstack stack show hooked -f value -c stack_status | grep -q IN_PROGRESS || break; sleep 1; done
check "after hook clear: hooked is CREATE_COMPLETE" bash -c "openstack stack show hooked -f value -c stack_status | grep -qx CREATE_COMPLETE"

say "Abandon and adopt"
run openstack stack abandon hooked --output-file "$D/abandoned.json"
check "hooked is gone after abandon" bash -c "! openstack stack show hooked >/dev/null 2>&1"
run openstack stack adopt --adopt-file "$D/abandoned.json" --wait adopted
check "adopted is ADOPT_COMPLETE" bash -c "openstack stack show adopted -f value -c stack_status | grep -qx ADOPT_COMPLETE"
run openstack stack resource list adopted

say "Resource types and template validation"
run bash -c "openstack orchestration resource type list | head -12"
check "Zabbix::Host (the plugin directory's) is listed" bash -c "openstack orchestration resource type list -f value | grep -qx Zabbix::Host"
run openstack orchestration template validate -t "$ROOT/src/orchestration/examples/server.yaml" --parameter image=cirros-0.6.2-x86_64-disk
printf 'heat_template_version: 2021-04-16\nresources:\n  x: {type: OS::Nova::Nope}\n' > "$D/bad.yaml"
run openstack orchestration template validate -t "$D/bad.yaml"
check "an unknown resource type does not validate" bash -c "! openstack orchestration template validate -t $D/bad.yaml"

say "The plugin example: Zabbix::Host from examples/heat-plugins, against a fake Zabbix on 127.0.0.1:$ZPORT"
cat > "$D/zabbix.yaml" <<Y
heat_template_version: 2021-04-16
resources:
  host: { type: Zabbix::Host, properties: { url: 'http://127.0.0.1:$ZPORT/api_jsonrpc.php', host: web-1, ip: 10.0.0.5 } }
outputs:
  hostid: { value: { get_attr: [host, hostid] } }
Y
run openstack stack create -t "$D/zabbix.yaml" --wait monitored
run openstack stack output show monitored hostid
check "the fake Zabbix holds the host" bash -c "curl -s http://127.0.0.1:$ZPORT/ | grep -q web-1"

say "Autoscaling: a group scaled out and in by signalling its ScalingPolicy URL with curl"
cat > "$D/asg.yaml" <<'Y'
heat_template_version: 2021-04-16
resources:
  group:
    type: OS::Heat::AutoScalingGroup
    properties: { min_size: 1, max_size: 3, desired_capacity: 1, resource: { type: OS::Heat::RandomString } }
  up: { type: OS::Heat::ScalingPolicy, properties: { auto_scaling_group_id: { get_resource: group }, adjustment_type: change_in_capacity, scaling_adjustment: 1, cooldown: 0 } }
  down: { type: OS::Heat::ScalingPolicy, properties: { auto_scaling_group_id: { get_resource: group }, adjustment_type: change_in_capacity, scaling_adjustment: -1, cooldown: 0 } }
outputs:
  size: { value: { get_attr: [group, current_size] } }
  up_url: { value: { get_attr: [up, signal_url] } }
  down_url: { value: { get_attr: [down, signal_url] } }
Y
run openstack stack create -t "$D/asg.yaml" --wait asg
TOKEN=$(openstack token issue -f value -c id)
UP=$(openstack stack output show asg up_url -f value -c output_value)
DOWN=$(openstack stack output show asg down_url -f value -c output_value)
size() { openstack stack output show asg size -f value -c output_value; }
echo "size: $(size)"
run curl -s -o /dev/null -w '%{http_code}\n' -X POST -H "X-Auth-Token: $TOKEN" "$UP"
for _ in $(seq 1 30); do [ "$(size)" = 2 ] && break; sleep 1; done; echo "size after scaling out: $(size)"
check "scaled out to 2" bash -c "[ \"\$(openstack stack output show asg size -f value -c output_value)\" = 2 ]"
run curl -s -o /dev/null -w '%{http_code}\n' -X POST -H "X-Auth-Token: $TOKEN" "$DOWN"
for _ in $(seq 1 30); do [ "$(size)" = 1 ] && break; sleep 1; done; echo "size after scaling in: $(size)"
check "scaled in to 1" bash -c "[ \"\$(openstack stack output show asg size -f value -c output_value)\" = 1 ]"

say "Delete everything: nothing left behind"
run openstack stack delete --yes --wait web adopted monitored asg
run openstack stack list
check "no stack left" bash -c "[ -z \"\$(openstack stack list -f value)\" ]"
check "no server left" bash -c "[ -z \"\$(openstack server list -f value)\" ]"
check "no volume left" bash -c "[ -z \"\$(openstack volume list -f value)\" ]"
check "no floating IP left" bash -c "[ -z \"\$(openstack floating ip list -f value)\" ]"
check "only DevStack's networks left" bash -c "[ \"\$(openstack network list -f value -c Name | sort | tr '\n' ' ')\" = 'private public shared ' ] || [ \"\$(openstack network list -f value -c Name | sort | tr '\n' ' ')\" = 'private public ' ]"
run openstack network list -c Name
check "the fake Zabbix holds no host" bash -c "[ \"\$(curl -s http://127.0.0.1:$ZPORT/)\" = '[]' ]"

echo
if [ "$FAILED" = 0 ]; then echo "ALL CHECKS HELD"; else echo "$FAILED CHECK(S) FAILED"; fi
exit $([ "$FAILED" = 0 ] && echo 0 || echo 1)
