#!/usr/bin/env bash
# Runs a command while stress-ng keeps both cores busy with CPU and I/O
# load, as a shared CI runner would be: `ci/noisy.sh make test` is
# `make test-noisy`. stress-ng (Debian) is installed when missing and
# stopped on every exit path, whatever the command does.
set -euo pipefail
if [ $# -eq 0 ]; then
  echo "usage: ci/noisy.sh COMMAND [ARGS...]" >&2
  exit 2
fi
if ! command -v stress-ng >/dev/null; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "noisy: stress-ng is missing; run as root or: sudo apt-get install stress-ng" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends stress-ng
fi
cpus=$(nproc)
tmp=$(mktemp -d /tmp/relapse-noise.XXXXXX)
# One CPU hog per core, one I/O hog writing and syncing files: every
# container start, scrape and kubelet sync competes with them.
setsid stress-ng --cpu "$cpus" --cpu-load 100 --hdd 1 --hdd-bytes 64M --temp-path "$tmp" --timeout 0 \
  --metrics-brief >"$tmp.log" 2>&1 &
noise=$!
stop() {
  kill -TERM -- "-$noise" 2>/dev/null || true
  wait "$noise" 2>/dev/null || true
  rm -rf "$tmp"
  echo "noisy: stress-ng stopped ($(tail -n 3 "$tmp.log" | tr '\n' ' '))" >&2
  rm -f "$tmp.log"
}
trap stop EXIT
sleep 2
echo "noisy: stress-ng running ($cpus CPU hogs + 1 I/O hog, pid $noise); load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
"$@"
