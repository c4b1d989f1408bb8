#!/bin/sh
# Usage: sh init.sh ROOT CMD [ARG...]
# Runs ROOT/run/yun/user-data once (first start only, status recorded in
# ROOT/run/yun/user-data.status), then execs CMD. Nothing is evaluated as shell code.
root=$1
shift
if [ -e "$root/run/yun/user-data" ] && [ ! -e "$root/run/yun/user-data.status" ]; then
  "$root/run/yun/user-data"
  echo "$?" > "$root/run/yun/user-data.status"
fi
exec "$@"
