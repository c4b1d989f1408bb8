#!/bin/sh
# Usage (always inside a private mount namespace, e.g. `unshare -m --propagation private -- sh without-unified.sh CMD ARG...`):
# unmount the empty hybrid cgroup2 mount that crun rejects, then exec CMD.
# No argument is evaluated as shell code.
umount /sys/fs/cgroup/unified 2>/dev/null
exec "$@"
