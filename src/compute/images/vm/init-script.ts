/**
 * The tiny VM's /init (busybox ash, PID 1). It is guest code: nothing here is
 * ever run on the host. Lines it prints that tests and the driver rely on:
 *   `YUN-TINY-VM: BOOTED`            — init finished (modules, disks, acpid)
 *   `yun-tiny: new block device X …` — a disk appeared (hot-plug)
 *   `yun-tiny: block device removed X`
 *   `yun-tiny: block device X resized to N sectors`
 *   `yun-tiny: user-data exit N`
 *   `yun-tiny: net ethN MAC IP/PREFIX`  — a NIC configured from the seed
 *   `yun-tiny: vCPU cpuN online: M vCPU` — a hot-plugged vCPU brought online
 */
export const TINY_VM_BOOT_MARKER = 'YUN-TINY-VM: BOOTED';

export const INIT_SCRIPT = `#!/bin/sh
PATH=/bin:/sbin:/usr/bin:/usr/sbin
export PATH
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /run /tmp /mnt /var/log /etc/acpi
mount -t devpts devpts /dev/pts
# the serial console (kernel cmdline console=ttyS0) becomes init's stdio
exec 0</dev/console 1>/dev/console 2>&1
log() { echo "yun-tiny: $*"; }
log "init starting on kernel $(uname -r)"

while read -r m; do
  [ -n "$m" ] && { insmod "/lib/modules/$m" 2>/dev/null || log "insmod $m failed"; }
done < /etc/modules.load
mdev -s 2>/dev/null

# ACPI power button -> /etc/acpi/PWRF/00000080 (busybox acpid reads /dev/input/event*)
acpid -c /etc/acpi -l /var/log/acpid.log

# busybox-static has findfs (volume_id) but no blkid; mount without -t tries every known type
seed="$(findfs LABEL=cidata 2>/dev/null | sed 's,^/dev/,,')"
mount_disk() {
  b="$1"
  [ "$b" = "$seed" ] && return
  mkdir -p "/mnt/$b"
  if mount "/dev/$b" "/mnt/$b" 2>/dev/null; then
    log "mounted $b ($(awk -v d="/dev/$b" '$1 == d { print $3 }' /proc/mounts)) on /mnt/$b"
  else rmdir "/mnt/$b"; log "disk $b has no mountable filesystem"; fi
}
for p in $(sed -n 's/.* \\(vd[a-z]*[0-9]*\\)$/\\1/p' /proc/partitions); do
  log "disk $p size=$(cat /sys/class/block/$p/size) sectors"
  mount_disk "$p"
done
for f in /mnt/*/yun-disk.txt; do [ -f "$f" ] && log "disk marker $f: $(cat "$f")"; done

if [ -n "$seed" ]; then
  mkdir -p /run/seed
  if mount -o ro "/dev/$seed" /run/seed; then
    log "NoCloud seed found on $seed"
    h="$(sed -n 's/^local-hostname: *//p' /run/seed/meta-data 2>/dev/null | tr -d '"')"
    [ -n "$h" ] && hostname "$h" && log "hostname $h"
    iid="$(sed -n 's/^instance-id: *//p' /run/seed/meta-data 2>/dev/null | tr -d '"')"
    [ -n "$iid" ] && log "instance-id $iid"
    [ -d /run/seed/yun-files ] && cp -a /run/seed/yun-files/. / && log "injected files copied"
  else log "seed $seed mount failed"; fi
fi

# static addresses from the seed: "<mac> <ip>/<prefix> <gateway or ->" per NIC
ip link set lo up
if [ -s /run/seed/yun-network ]; then
  while read -r mac addr gw; do
    for n in /sys/class/net/*; do
      [ "$(cat "$n/address")" = "$mac" ] || continue
      i="\${n##*/}"
      ip link set "$i" up && ip addr add "$addr" dev "$i" && log "net $i $mac $addr"
      [ "$gw" != "-" ] && ip route add default via "$gw" dev "$i" && log "default route via $gw"
    done
  done < /run/seed/yun-network
fi

log "$(grep -c ^processor /proc/cpuinfo) vCPU, $(sed -n 's/MemTotal: *//p' /proc/meminfo) memory"
echo "${TINY_VM_BOOT_MARKER}"

if [ -f /run/seed/user-data ]; then
  case "$(head -c 2 /run/seed/user-data)" in
    '#!') cp /run/seed/user-data /run/user-data; chmod 0700 /run/user-data
          ( /run/user-data; log "user-data exit $?" ) & ;;
    *) log "user-data is not a script (only #! user-data runs on this image)" ;;
  esac
fi

# vCPUs hot-plugged later are brought online once (one offlined by hand stays offline)
cpus=" $(cd /sys/devices/system/cpu && ls -d cpu[0-9]* | tr '\\n' ' ')"
known=" $(ls /sys/block | tr '\\n' ' ')"
for b in $known; do eval "size_$(echo "$b" | tr -c 'a-z0-9\\n' '_')=$(cat /sys/block/$b/size)"; done
while true; do
  for b in $(ls /sys/block); do
    v="size_$(echo "$b" | tr -c 'a-z0-9\\n' '_')"
    sz="$(cat /sys/block/$b/size 2>/dev/null)"
    case "$known" in
      *" $b "*) eval "old=\\$$v"; [ "$old" != "$sz" ] && log "block device $b resized to $sz sectors" ;;
      *) log "new block device $b size=$sz sectors serial=$(cat /sys/block/$b/serial 2>/dev/null)"
         known="$known$b " ;;
    esac
    eval "$v=$sz"
  done
  for b in $known; do
    [ -e "/sys/block/$b" ] || { log "block device removed $b"; known="$(echo "$known" | sed "s/ $b / /")"; }
  done
  for c in $(cd /sys/devices/system/cpu && ls -d cpu[0-9]*); do
    case "$cpus" in *" $c "*) continue ;; esac
    cpus="$cpus$c "
    [ -f "/sys/devices/system/cpu/$c/online" ] && echo 1 > "/sys/devices/system/cpu/$c/online" && log "vCPU $c online: $(grep -c ^processor /proc/cpuinfo) vCPU"
  done
  sleep 1
done
`;

export const POWEROFF_SCRIPT = `#!/bin/sh
echo "yun-tiny: ACPI power button: powering off" > /dev/console
sync
umount -a -r 2>/dev/null
poweroff -f
`;
