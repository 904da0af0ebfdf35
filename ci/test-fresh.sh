#!/usr/bin/env bash
# make test-fresh: what CI and a new user's first `.ci/run` see, on this
# machine. The committed HEAD is cloned into a new directory and `.ci/run`
# runs there under ci/noisy.sh (both cores loaded) with every cache empty:
# relapse's builds (RELAPSE_CACHE), Go's build and module caches (GOCACHE,
# GOMODCACHE), other tools' caches (XDG_CACHE_HOME), relapse's state
# (RELAPSE_STATE: journal, host lock) and the reports. A warm cache hides
# a missing install or download step; this does not. The clone and the
# caches are removed on every exit path; the wall time is printed last.
#
#   TEST_FRESH_RUN=CMD   run CMD in the clone instead of .ci/run (a short
#                        command checks this script's own plumbing)
#   TEST_FRESH_KEEP=1    keep the clone, caches and reports to look at
#   TEST_FRESH_LOCK_WAIT=SECONDS  how long to wait for other relapse runs
#                        to leave the host (default 1800)
set -euo pipefail
# Job control: the run gets a process group of its own, so an interrupt
# can stop all of it (make, go test, relapse, daemons) and nothing else.
set -m

repo=$(git rev-parse --show-toplevel)
head=$(git -C "$repo" rev-parse HEAD)
run=${TEST_FRESH_RUN:-bash .ci/run}
lock_wait=${TEST_FRESH_LOCK_WAIT:-1800}
case $lock_wait in '' | *[!0-9]*)
  echo "test-fresh: TEST_FRESH_LOCK_WAIT=$lock_wait: want a number of seconds" >&2
  exit 2
  ;;
esac
if [ -n "$(git -C "$repo" status --porcelain --untracked-files=no)" ]; then
  echo "test-fresh: uncommitted changes in $repo are not tested: the clone is HEAD ${head:0:12}" >&2
fi

start=$(date +%s)
work=$(mktemp -d /tmp/relapse-fresh.XXXXXX)
pid=
status=0

# shellcheck disable=SC2317 # called from the EXIT trap
stop_run() {
  [ -n "$pid" ] && kill -0 -- "-$pid" 2>/dev/null || return 0
  kill -TERM -- "-$pid" 2>/dev/null || true
  # relapse undoes its host changes on TERM; give it a minute, then KILL.
  for _ in $(seq 60); do
    kill -0 -- "-$pid" 2>/dev/null || return 0
    sleep 1
  done
  echo "test-fresh: the run did not stop within 60 s of TERM; killing it" >&2
  kill -KILL -- "-$pid" 2>/dev/null || true
}

# shellcheck disable=SC2317 # the EXIT trap
finish() {
  rc=$?
  [ "$status" -ne 0 ] || status=$rc
  # Once, whatever arrives meanwhile: a second Ctrl-C must not cut the
  # clean-up short and leave gigabytes of module cache behind.
  trap '' INT TERM HUP
  stop_run
  if [ -n "${TEST_FRESH_KEEP:-}" ]; then
    echo "test-fresh: kept $work (clone, caches, reports); remove it with: chmod -R u+w $work && rm -rf $work" >&2
  else
    # The module cache is read-only by design: make it writable to remove it.
    chmod -R u+w "$work" 2>/dev/null || true
    rm -rf "$work"
  fi
  elapsed=$(($(date +%s) - start))
  printf 'test-fresh: %s exit %d after %dm%02ds (HEAD %s, fresh caches, under load)\n' \
    "$run" "$status" $((elapsed / 60)) $((elapsed % 60)) "${head:0:12}"
  exit "$status"
}
trap finish EXIT
trap 'status=130; exit 130' INT
trap 'status=143; exit 143' TERM HUP

# The fresh state directory has a host lock of its own, which other
# relapse runs on this machine do not see: hold theirs meanwhile, so
# nothing else changes the host under the fresh run, and it waits for
# a run already under way.
host_state=${RELAPSE_STATE:-/var/lib/relapse}
mkdir -p "$(dirname "$host_state")"
[ -d "$host_state" ] || mkdir -m 0700 "$host_state"
exec 9<>"$host_state/host.lock"
if ! flock -x -w "$lock_wait" 9; then
  # Who holds it now, from /proc/locks (the pid in the file may be an
  # earlier holder's).
  ino=$(stat -c %i "$host_state/host.lock")
  holders=$(grep -v -- '->' /proc/locks | awk -v dev=":$ino" 'substr($6, length($6) - length(dev) + 1) == dev {print $5}' | sort -u)
  echo "test-fresh: $host_state/host.lock still held after ${lock_wait}s by:" >&2
  for p in $holders; do ps -o pid=,args= -p "$p" >&2 || true; done
  echo "test-fresh: wait for those runs or stop them" >&2
  status=1
  exit 1
fi
echo $$ >"$host_state/host.lock"

git clone --quiet "$repo" "$work/relapse"
git -C "$work/relapse" checkout --quiet --detach "$head"
mkdir -p "$work/relapse-cache" "$work/gocache" "$work/gomodcache" "$work/xdg-cache" "$work/state" "$work/reports"
echo "test-fresh: $run in $work/relapse (HEAD ${head:0:12}) with empty caches under $work" >&2

# 9>&-: the lock stays with this script, not with daemons the run leaves.
# </dev/null: no standard input, as in CI (and a background job reading
# the terminal would stop).
(
  cd "$work/relapse"
  export RELAPSE_CACHE=$work/relapse-cache GOCACHE=$work/gocache GOMODCACHE=$work/gomodcache \
    XDG_CACHE_HOME=$work/xdg-cache GOLANGCI_LINT_CACHE=$work/xdg-cache/golangci-lint \
    RELAPSE_STATE=$work/state RELAPSE_REPORTS=$work/reports REPORTS=$work/reports
  exec ci/noisy.sh bash -c "$run"
) 9>&- </dev/null &
pid=$!
wait "$pid" || status=$?
pid=
exit "$status"
