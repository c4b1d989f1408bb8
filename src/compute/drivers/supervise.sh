#!/bin/sh
# yun workload supervisor, shared by the oci and process drivers.
#
# Usage: sh supervise.sh EXIT_FILE [--umount-unified] -- CMD [ARG...]
#
# Runs CMD in the foreground and, when it ends, writes its exit status
# (the code, or 128+signal) to EXIT_FILE atomically. The driver starts this
# detached (own session), so the workload and its exit status outlive the
# control plane that started it.
#
# --umount-unified: unmount the empty hybrid cgroup2 mount at
# /sys/fs/cgroup/unified first, which crun rejects. Only ever used inside a
# private mount namespace (unshare -m), so the host's mounts are untouched.
#
# No argument is ever evaluated as shell code: CMD runs as "$@".
exit_file=$1
shift
if [ "$1" = "--umount-unified" ]; then
  shift
  umount /sys/fs/cgroup/unified 2>/dev/null
fi
[ "$1" = "--" ] && shift
# The trap is a command, not '', so CMD gets default dispositions back on
# exec, while this shell survives a signal sent to the whole process group
# and still records the status.
trap ':' TERM INT HUP
"$@"
rc=$?
echo "$rc" > "$exit_file.tmp" && mv -f "$exit_file.tmp" "$exit_file"
