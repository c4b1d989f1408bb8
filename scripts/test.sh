#!/usr/bin/env bash
# The README's test command (`npm test`): installs what the suite needs,
# type-checks and lints, then runs every test with node's test runner.
# Tests needing a missing capability skip with a reason; under CI=true
# such a skip fails instead.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the suite drives for real (containers, VMs, networks, S3 clients, browser).
PKGS=(crun runc busybox-static perl util-linux tar iproute2 nftables qemu-system-x86 qemu-utils dosfstools mtools
      e2fsprogs genisoimage kmod file awscli python3-boto3 rclone s3cmd chromium postgresql postgresql-client curl)
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  missing=()
  for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  # tiny-vm takes its kernel from Debian's linux-image-amd64 (apt-get download), which needs package lists.
  if [ ${#missing[@]} -gt 0 ] || [ -z "$(ls /var/lib/apt/lists 2>/dev/null | grep -v -e lock -e partial)" ]; then
    apt-get update -qq
    if [ ${#missing[@]} -gt 0 ]; then
      echo "installing Debian packages: ${missing[*]}"
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
  fi
else
  echo "not root or not Debian: skipping package installs; tests needing them will say so"
fi
[ -d node_modules ] || npm ci

echo "== typecheck"
npx tsc --noEmit -p .
echo "== lint"
npx biome lint --diagnostic-level=error src test bench

if [ -f console/vite.config.ts ]; then
  echo "== console build"
  npm run --silent build:console
fi

echo "== tests"
mapfile -t files < <(find src test -name '*.test.ts' -not -path '*/node_modules/*' | sort)
exec node --import tsx --test --test-concurrency=1 --test-timeout=900000 "${files[@]}"
