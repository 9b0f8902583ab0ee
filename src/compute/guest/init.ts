// The test guest's /init: a busybox shell script that does what cloud-init does for the tests
// that matter, printing a console marker (`stratus-guest: <step>`) at each step.
// Network from DHCP (udhcpc) on every NIC; metadata from the config drive (label config-2)
// or else from 169.254.169.254 (Nova's OpenStack tree, then the EC2 tree): hostname, public
// keys, user data (run when it starts with `#!`); dropbear for SSH; ACPI power button → power off.

/** The kernel modules the init loads, in order (the cloud kernel builds them as modules). */
export const GUEST_MODULES = [
  'kernel/drivers/virtio/virtio_ring.ko',
  'kernel/drivers/virtio/virtio.ko',
  'kernel/drivers/virtio/virtio_pci_modern_dev.ko',
  'kernel/drivers/virtio/virtio_pci_legacy_dev.ko',
  'kernel/drivers/virtio/virtio_pci.ko',
  'kernel/net/core/failover.ko',
  'kernel/drivers/net/net_failover.ko',
  'kernel/drivers/net/virtio_net.ko',
  'kernel/drivers/block/virtio_blk.ko',
  'kernel/drivers/char/virtio_console.ko',
  'kernel/drivers/input/evdev.ko',
  'kernel/drivers/acpi/button.ko',
  'kernel/drivers/scsi/scsi_common.ko',
  'kernel/drivers/scsi/scsi_mod.ko',
  'kernel/drivers/scsi/virtio_scsi.ko',
  'kernel/drivers/cdrom/cdrom.ko',
  'kernel/drivers/scsi/sr_mod.ko',
  'kernel/drivers/ata/libata.ko',
  'kernel/drivers/ata/ata_piix.ko',
  'kernel/fs/isofs/isofs.ko',
  'kernel/fs/nls/nls_cp437.ko',
  'kernel/fs/nls/nls_ascii.ko',
  'kernel/fs/fat/fat.ko',
  'kernel/fs/fat/vfat.ko',
];

/** The console markers a driver or a test waits for. */
export const GUEST_MARKERS = {
  boot: 'stratus-guest: boot',
  network: 'stratus-guest: network',
  metadata: 'stratus-guest: metadata',
  ready: 'stratus-guest: ready',
  poweroff: 'stratus-guest: power off',
} as const;

export const INIT_SCRIPT = `#!/bin/sh
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
mkdir -p /dev/pts /tmp /run /var/log /root/.ssh /etc/dropbear /mnt/config
mount -t devpts devpts /dev/pts
mount -t tmpfs tmp /tmp
exec </dev/console >/dev/console 2>&1
say() { echo "stratus-guest: $*"; }
# The metadata service through /bin/curl (GUEST_TOOLS below): -f fails on anything but a 2xx.
fetch() { curl -f "http://169.254.169.254$1" > "$2" 2>/dev/null; }
say boot
for m in $(cat /etc/modules); do insmod /lib/modules/$m 2>/dev/null; done
ip link set lo up
hostname stratus-guest
# The QEMU guest agent's channel (image property hw_qemu_guest_agent=yes): /bin/qemu-ga answers it,
# from early on (a changePassword may come as soon as the server is ACTIVE).
for p in /sys/class/virtio-ports/*; do
  [ "$(cat $p/name 2>/dev/null)" = org.qemu.guest_agent.0 ] && { qemu-ga /dev/\${p##*/} & say guest-agent; }
done

# The self-booting disk's FAT volume keeps /mnt across reboots, snapshots and shelves (the
# guest's root lives in memory; tempest writes its timestamps to /mnt).
mkdir -p /media/boot
for d in /dev/vda /dev/sda; do
  [ -b $d ] || continue
  if mount -t vfat $d /media/boot 2>/dev/null; then
    if [ -f /media/boot/syslinux.cfg ]; then mkdir -p /media/boot/mnt && mount --bind /media/boot/mnt /mnt; break; fi
    umount /media/boot
  fi
done

# ACPI power button: the first event of the "Power Button" input device powers off.
for e in /sys/class/input/event*; do
  if grep -q "Power Button" $e/device/name 2>/dev/null; then
    ( dd if=/dev/input/\${e##*/} bs=24 count=1 >/dev/null 2>&1; say power off; sync; poweroff -f ) &
  fi
done

# Network: DHCP on every NIC (up to 30 s each: after a reboot on a busy host the agent may wire the tap late).
# As CirrOS, udhcpc stays once bound (it goes to the background, its pid in /var/run/udhcpc.<nic>.pid):
# it renews the lease, and tempest's renew_lease sends it SIGUSR1 to pick up a subnet's new DNS servers.
mkdir -p /var/run
for n in /sys/class/net/*; do
  n=\${n##*/}; [ "$n" = lo ] && continue
  ip link set $n up
  udhcpc -i $n -s /etc/udhcpc.sh -p /var/run/udhcpc.$n.pid -O staticroutes -O mtu -t 15 -T 2 -n >/dev/null 2>&1 && say network $n $(ip -4 -o addr show $n | awk '{print $4}')
done

# Metadata: the config drive first, then the metadata service.
MD=/tmp/meta_data.json; UD=/tmp/user_data; KEYS=/root/.ssh/authorized_keys
SRC=none
for d in /dev/sr0 /dev/sr1 /dev/vd? /dev/sd?; do
  [ -b $d ] || continue
  if mount -t iso9660 -o ro $d /mnt/config 2>/dev/null; then
    if [ -f /mnt/config/openstack/latest/meta_data.json ]; then
      cp /mnt/config/openstack/latest/meta_data.json $MD
      [ -f /mnt/config/openstack/latest/user_data ] && cp /mnt/config/openstack/latest/user_data $UD
      SRC=config-drive; umount /mnt/config; break
    fi
    umount /mnt/config
  fi
done
if [ $SRC = none ]; then
  for i in 1 2 3 4 5; do
    fetch /openstack/latest/meta_data.json $MD && { SRC=metadata-service; break; }
    sleep 1
  done
  [ $SRC = metadata-service ] && fetch /openstack/latest/user_data $UD
fi
if [ -s $MD ]; then
  H=$(sed -n 's/.*"hostname": *"\\([^"]*\\)".*/\\1/p' $MD | head -n1)
  [ -n "$H" ] && hostname "$H"
  U=$(sed -n 's/.*"uuid": *"\\([^"]*\\)".*/\\1/p' $MD | head -n1)
  tr '"' '\\n' < $MD | grep -E '^(ssh-|ecdsa-)' | sed 's/\\\\n$//' | sort -u > $KEYS
  chmod 600 $KEYS
  say metadata $SRC uuid=$U hostname=$(hostname) keys=$(grep -c . $KEYS)
else
  say metadata none
fi
if [ -s $UD ]; then
  if head -c 2 $UD | grep -q '#!'; then
    chmod +x $UD; say user-data run; $UD; say user-data exit $?
  else
    say user-data $(wc -c < $UD) bytes
  fi
fi

dropbear -R -B -p 22 2>/dev/null && say sshd
say ready $(hostname)
# CirrOS's getty prompt: neutron_tempest_plugin's wait_for_guest_os_ready polls the console for
# "login:" and, without it, waits its whole 90 s for every server before going on.
echo "$(hostname) login: "
while true; do sleep 3600; done
`;

/**
 * The commands tempest's remote client runs on a guest that busybox does not have (CirrOS has
 * them): sudo, curl, lsblk, blkid and nc's -k, as small shell scripts in /bin; mke2fs drops `-t`.
 */
export const GUEST_TOOLS: Record<string, string> = {
  // The guest logs in as root: sudo only runs its command.
  sudo: `#!/bin/sh
exec "$@"
`,
  // curl [-f] [-X METHOD] [-d DATA] [flags] URL: plain HTTP/1.0 over nc (busybox's static wget
  // crashes without NSS here); sed keeps a body without a final newline as it is.
  curl: `#!/bin/sh
url= method= data= fail=
while [ $# -gt 0 ]; do
  case "$1" in
    -X|--request) method=$2; shift;;
    -f|--fail) fail=1;;
    -d|--data|--data-raw) data=$2; shift;;
    -m|--max-time|-H|--header|-o|--output|-u|--user) shift;;
    http://*) url=$1;;
  esac
  shift
done
[ -n "$url" ] || { echo "curl: no URL" >&2; exit 2; }
[ -n "$method" ] || { [ -n "$data" ] && method=POST || method=GET; }
hp=\${url#http://}; path=/\${hp#*/}; [ "$path" = "/$hp" ] && path=/; hp=\${hp%%/*}
host=\${hp%%:*}; port=\${hp#*:}; [ "$port" = "$hp" ] && port=80
{
  printf '%s %s HTTP/1.0\\r\\nHost: %s\\r\\n' "$method" "$path" "$host"
  [ -n "$data" ] && printf 'Content-Type: application/x-www-form-urlencoded\\r\\nContent-Length: %s\\r\\n' "\${#data}"
  printf '\\r\\n%s' "$data"
} | nc -w 5 "$host" "$port" > /tmp/curl.$$ || { rm -f /tmp/curl.$$; exit 7; }
if [ -n "$fail" ] && ! head -n1 /tmp/curl.$$ | grep -q ' 2[0-9][0-9] '; then rm -f /tmp/curl.$$; exit 22; fi
sed '1,/^\\r\\{0,1\\}$/d' /tmp/curl.$$
rm -f /tmp/curl.$$
`,
  // The few commands of the QEMU guest agent's protocol that libvirt sends (JSON, one a line, on
  // the virtio-serial port given): guest-sync(-delimited), guest-ping, guest-info and
  // guest-set-user-password (Nova's changePassword: virsh set-user-password), answered as
  // qemu-guest-agent answers them; anything else is CommandNotFound. The port gives EOF while
  // libvirt is not connected: read again a second later, the port held open all along on fd 4
  // (libvirt connects to the agent when the guest opens the port and drops it when the guest
  // closes it: closing on each EOF lost that race under load, as qemu-ga's sleep-and-retry does not).
  'qemu-ga': `#!/bin/sh
dev=$1
field() { sed -n "s/.*\\"$1\\": *\\"\\{0,1\\}\\([^\\",}]*\\).*/\\1/p"; }
exec 4<>"$dev" || exit 1
while true; do
  exec 3<&4
  while IFS= read -r line <&3; do
    cmd=$(echo "$line" | field execute)
    case "$cmd" in
      guest-sync) echo "{\\"return\\": $(echo "$line" | field id)}" >&3;;
      guest-sync-delimited) printf '\\377{"return": %s}\\n' "$(echo "$line" | field id)" >&3;;
      guest-ping) echo '{"return": {}}' >&3;;
      guest-info) echo '{"return": {"version": "7.2.0", "supported_commands": []}}' >&3;;
      guest-set-user-password)
        user=$(echo "$line" | field username)
        pass=$(echo "$line" | field password | base64 -d 2>/dev/null)
        if echo "$line" | grep -q '"crypted": *true'; then hash=$pass; else hash=$(mkpasswd -m sha512 "$pass"); fi
        if [ -n "$hash" ] && grep -q "^$user:" /etc/shadow; then
          sed -i "s|^$user:[^:]*:|$user:$hash:|" /etc/shadow
          echo '{"return": {}}' >&3; echo "stratus-guest: password of $user set" > /dev/console
        else
          echo "{\\"error\\": {\\"class\\": \\"GenericError\\", \\"desc\\": \\"user '$user' not found\\"}}" >&3
        fi;;
      '') ;;
      *) echo "{\\"error\\": {\\"class\\": \\"CommandNotFound\\", \\"desc\\": \\"The command $cmd has not been found\\"}}" >&3;;
    esac
  done
  exec 3<&-
  sleep 1
done
`,
  // nc as neutron_tempest_plugin calls it on CirrOS: a persistent server `nc [-u] -p PORT -lk [-e
  // PROG ARGS|-c CMD] < /dev/zero &`, a one-shot server `nc -lp PORT`, a client `nc [-u] [-z] -w N
  // HOST PORT`. busybox's small nc knows no -k, -c, -z, -u: -lk is its -ll with -e (stdin
  // /dev/zero served by `cat /dev/zero`), -z is dropped; UDP is Debian's netcat-openbsd
  // (/usr/lib/stratus/udp/nc), a server answering each datagram's sender with PROG's output. Both
  // run under the name nc (busybox through a link so named), so pidof and killall find "nc".
  nc: `#!/bin/sh
NC=/usr/lib/stratus/nc UNC=/usr/lib/stratus/udp/nc
l= k= u= p= w= c= e= pos=
while [ $# -gt 0 ]; do
  case "$1" in
    -e) shift; e=1; break;;
    -?*)
      o=\${1#-}
      while [ -n "$o" ]; do
        f=\${o%"\${o#?}"}; o=\${o#?}
        case "$f" in
          l) l=1;; k) k=1;; u) u=1;;
          p|w|c|q|i|s)
            if [ -z "$o" ]; then v=$2; shift; else v=$o; o=; fi
            case "$f" in p) p=$v;; w) w=$v;; c) c=$v;; esac;;
          *) ;;
        esac
      done;;
    *) pos="$pos $1";;
  esac
  shift
done
if [ -n "$u" ]; then
  [ -z "$l" ] && exec $UNC -u \${w:+-w $w} $pos
  [ -n "$c" ] && set -- sh -c "$c"
  while true; do
    if [ $# -gt 0 ]; then "$@" | $UNC -u -l -q 1 -p $p; else $UNC -u -l -p $p; fi
    [ -n "$k" ] || exit 0
  done
fi
if [ -z "$l" ]; then exec $NC \${w:+-w $w} $pos; fi
ll=-l; [ -n "$k" ] && ll=-ll
[ -n "$e" ] && exec $NC $ll -p $p -e "$@"
[ -n "$c" ] && exec $NC $ll -p $p -e sh -c "$c"
if [ -n "$k" ] && [ "$(readlink /proc/self/fd/0)" = /dev/zero ]; then exec $NC -ll -p $p -e cat /dev/zero; fi
exec $NC -l -p $p
`,
  // busybox's mke2fs makes ext2 (the kernel's ext4 mounts it) and knows no -t.
  mke2fs: `#!/bin/sh
args=
while [ $# -gt 0 ]; do case "$1" in -t) shift;; *) args="$args $1";; esac; shift; done
exec busybox mke2fs $args
`,
  // lsblk's list of block devices, in the columns tempest reads (TYPE disk or rom).
  lsblk: `#!/bin/sh
row() { printf '%-6s %-7s %2s %14s %2s %-4s %s\\n' "$@"; }
row NAME MAJ:MIN RM SIZE RO TYPE MOUNTPOINT
for b in /sys/block/*; do
  n=\${b##*/}; case "$n" in loop*|ram*) continue;; esac
  t=disk; case "$n" in sr*) t=rom;; esac
  row "$n" "$(cat $b/dev)" "$(cat $b/removable)" "$(( $(cat $b/size) * 512 ))" "$(cat $b/ro)" "$t" ""
done
`,
  // blkid -L LABEL [-o device]: the device whose ISO 9660 volume id is LABEL.
  blkid: `#!/bin/sh
label=
while [ $# -gt 0 ]; do case "$1" in -L) label=$2; shift;; esac; shift; done
[ -n "$label" ] || exit 2
for d in /dev/sr* /dev/vd? /dev/sd?; do
  [ -b "$d" ] || continue
  v=$(dd if=$d bs=1 skip=32808 count=32 2>/dev/null | tr -d ' \\000')
  [ "$v" = "$label" ] && { echo $d; exit 0; }
done
exit 2
`,
};

export const UDHCPC_SCRIPT = `#!/bin/sh
case "$1" in
  bound|renew)
    # A renewal that keeps the address keeps the interface as it is (a flush would drop its routes).
    if [ "$(ip -4 -o addr show dev $interface | awk '{print $4}')" != "$ip/\${mask:-24}" ]; then
      ip addr flush dev $interface
      ip addr add $ip/\${mask:-24} dev $interface
    fi
    [ -n "$mtu" ] && ip link set $interface mtu $mtu
    if [ -n "$staticroutes" ]; then
      set -- $staticroutes
      while [ $# -ge 2 ]; do ip route add $1 via $2 dev $interface 2>/dev/null; shift 2; done
    fi
    for r in $router; do ip route add default via $r dev $interface 2>/dev/null; break; done
    : > /etc/resolv.conf
    for d in $dns; do echo "nameserver $d" >> /etc/resolv.conf; done
    [ -n "$search$domain" ] && echo "search $search $domain" >> /etc/resolv.conf
    ;;
esac
exit 0
`;
