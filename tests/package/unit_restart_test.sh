#!/usr/bin/env bash
# Runs packaging/etlrun@.service under a real systemd (a user manager, in a mount namespace of its
# own so that the machine's /run is left alone) with the etlrun of the build:
#   - a mistake in the pipeline file or a state directory that cannot be made (exit 78) and an
#     unknown option in ETLRUN_OPTIONS (exit 64) fail the unit and are never restarted;
#   - a pipeline that fails at run time (exit 70) is restarted;
#   - ETLRUN_OPTIONS from the instance's environment file turns on /health, and a stop exits 0.
# The unit runs as it ships except for paths, RestartSec (1 s, to keep the test short) and what a
# user manager cannot do (User=, Group=, the filesystem sandbox). Exits 77 (skipped) where there is
# no systemd or no way to give it a private /run.
set -euo pipefail

if [ "${1:-}" != "--inside" ]; then
  if [ "$(id -u)" -ne 0 ] || [ ! -x /lib/systemd/systemd ] || ! command -v unshare > /dev/null \
    || ! command -v systemctl > /dev/null; then
    echo "SKIP: needs root, systemd and unshare"
    exit 77
  fi
  # The manager refuses to start unless /run/systemd/system exists; a private /run gives it one.
  exec unshare --mount --propagation private "$0" --inside "$@"
fi
etlrun=$(realpath "$2") unit_src=$3

work=$(mktemp -d /tmp/etlrun-unit-XXXXXX)
manager=""
cleanup() {
  if [ -n "$manager" ]; then
    systemctl --user stop 'etlrun@*' 2> /dev/null || true
    kill "$manager" 2> /dev/null || true
    wait "$manager" 2> /dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
mount -t tmpfs tmpfs /run || { echo "SKIP: cannot mount a private /run"; exit 77; }
mkdir -p /run/systemd/system /run/user-test
chmod 700 /run/user-test
export XDG_RUNTIME_DIR=/run/user-test XDG_CONFIG_HOME="$work/config" XDG_STATE_HOME="$work/xdg-state"
units="$XDG_CONFIG_HOME/systemd/user"
mkdir -p "$units" "$work/etc" "$work/default" "$work/state"

# The shipped unit, pointed at this test's folders.
sed -e "s|/usr/bin/etlrun|$etlrun|g" -e "s|/etc/default/etlrun|$work/default/etlrun|g" \
    -e "s|/etc/etlrun|$work/etc|g" -e "s|/var/lib/etlrun|$work/state|g" \
    -e 's|^RestartSec=.*|RestartSec=1|' \
    -e '/^User=/d' -e '/^Group=/d' -e '/^Protect/d' -e '/^PrivateTmp=/d' -e '/^NoNewPrivileges=/d' \
    "$unit_src" > "$units/etlrun@.service"
grep -q '^RestartSec=1$' "$units/etlrun@.service" || { echo "FAIL: the unit has no RestartSec"; exit 1; }

data=$(cd "$(dirname "$0")/../data" && pwd)
# 78: a mistake in the file.
printf 'pipelines:\n  p:\n    source: {plugin: file, pth: x}\n    sink: {plugin: jsonl}\n' \
  > "$work/etc/broken.yaml"
# 64: the file is fine, an option is not.
printf 'pipelines:\n  p:\n    source: {plugin: file, path: "%s"}\n    sink: {plugin: jsonl, path: "%s"}\n' \
  "$data/gharchive/gharchive_2021-07-21_hour06_200events.jsonl" "$work/badoption.jsonl" \
  > "$work/etc/badoption.yaml"
echo 'ETLRUN_OPTIONS=--no-such-option' > "$work/etc/badoption.env"
# 78: a state directory that cannot be made (a file is in the way).
cp "$work/etc/badoption.yaml" "$work/etc/nostate.yaml"
echo 'a file, not a folder' > "$work/state/nostate"
# 70 at run time: a damaged gzip file, read after the start.
printf 'not gzip at all' > "$work/damaged.json.gz"
printf 'pipelines:\n  p:\n    source: {plugin: file, path: "%s"}\n    sink: {plugin: jsonl, path: "%s"}\n' \
  "$work/damaged.json.gz" "$work/failing.jsonl" > "$work/etc/failing.yaml"
# A service that keeps running (its source retries: nothing listens at its base_url), with /health
# turned on by its environment file.
printf 'pipelines:\n  p:\n    source: {plugin: github_events, base_url: "http://127.0.0.1:1"}\n    sink: {plugin: jsonl, path: "%s"}\n' \
  "$work/good.jsonl" > "$work/etc/good.yaml"
port=$((20000 + RANDOM % 20000))
echo "ETLRUN_OPTIONS=--http=127.0.0.1:$port --log-format=json" > "$work/etc/good.env"

/lib/systemd/systemd --user > "$work/manager.log" 2>&1 &
manager=$!
for _ in $(seq 100); do [ -S "$XDG_RUNTIME_DIR/systemd/private" ] && break; sleep 0.1; done
[ -S "$XDG_RUNTIME_DIR/systemd/private" ] || { cat "$work/manager.log"; echo "SKIP: the user manager did not start"; exit 77; }
sctl() { systemctl --user "$@"; }
show() { sctl show "etlrun@$1" -p "$2" --value; }

for instance in broken badoption nostate failing good; do sctl start "etlrun@$instance" || true; done
# RestartSec=1: in 5 s a unit that restarts has done so several times.
sleep 5
fail=0
for instance in broken:78 badoption:64 nostate:78; do
  name=${instance%%:*} code=${instance##*:}
  state=$(show "$name" ActiveState) restarts=$(show "$name" NRestarts) status=$(show "$name" ExecMainStatus)
  echo "$name: $state, exit $status, $restarts restart(s)"
  if [ "$state" != failed ] || [ "$restarts" != 0 ] || [ "$status" != "$code" ]; then
    echo "FAIL: etlrun@$name should fail with exit $code and never be restarted"
    fail=1
  fi
done
restarts=$(show failing NRestarts)
# It restarts every second: while a new run is under way its last exit status reads 0, so the
# status is sampled until a run has ended.
status=0
for _ in $(seq 40); do
  status=$(show failing ExecMainStatus)
  [ "$status" = 70 ] && break
  sleep 0.05
done
echo "failing: exit $status, $restarts restart(s)"
if [ "$restarts" -lt 1 ] || [ "$status" != 70 ]; then
  echo "FAIL: etlrun@failing (exit 70) should be restarted"
  fail=1
fi
health=$(python3 -c "import urllib.request,sys; print(urllib.request.urlopen('http://127.0.0.1:$port/health', timeout=5).status)" 2> /dev/null || true)
echo "good: $(show good ActiveState), /health answered $health"
[ "$health" = 200 ] || { echo "FAIL: ETLRUN_OPTIONS did not turn /health on"; fail=1; }
sctl stop etlrun@good
if [ "$(show good Result)" != success ] || [ "$(show good ExecMainStatus)" != 0 ]; then
  echo "FAIL: etlrun@good stopped with $(show good Result), exit $(show good ExecMainStatus)"
  fail=1
fi
if [ "$fail" != 0 ]; then
  for instance in broken badoption nostate failing good; do sctl status "etlrun@$instance" --no-pager -n 0 || true; done
  exit 1
fi
echo "the unit restarts runtime failures only, and ETLRUN_OPTIONS reaches etlrun: OK"
