#!/usr/bin/env bash
# The real etlrun process watching a long list, its memory measured alone (bench_watch's world runs
# in the same process as the watcher; here the world is the fake GitHub's, in a process of its own):
#   bench/run-watch-rss.sh [repositories=10000] [minutes=10] [requests_per_second=100]
# The fake advertises 1,000,000 requests an hour so the first round takes minutes, not hours, and
# every feed then holds its full state (ETag, ids, rate) while busy feeds keep the batches full.
# Prints etlrun's peak RSS (VmHWM) beside the same binary watching one feed (its fixed cost:
# code, libraries, threads), and the RSS every minute (flat once every feed has been polled).
set -euo pipefail
cd "$(dirname "$0")/.."
repos=${1:-10000}
minutes=${2:-10}
rps=${3:-100}
[ -x build/etlrun ] && [ -x build/tests/fake_github ] || {
  scripts/install-deps.sh
  mkdir -p build
  scripts/build.sh > /dev/null
}
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

port=$((20000 + RANDOM % 20000))
build/tests/fake_github --port "$port" --world "$repos" --world-hours "$(echo "$minutes / 60" | bc -l)" \
  --world-list "$work/watch.txt" --token-rate-limit 1000000 > "$work/fake.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -qs listening "$work/fake.log" && break; sleep 0.1; done

# One pipeline file; the list (and the state directory) by the environment.
cat > "$work/watch.yaml" << EOF
pipelines:
  watch:
    source:
      plugin: github_watch
      base_url: http://127.0.0.1:$port
      token: \${BENCH_TOKEN}
      watch_file: \${WATCH_FILE}
      max_requests_per_second: $rps
      report_interval: 1m
    sink: {plugin: jsonl, path: "\${OUT}", fsync: false}
EOF

# Samples a process's VmRSS every second; prints its VmHWM and the RSS at each minute.
measure() {
  local pid=$1 seconds=$2 label=$3 t=0
  while [ "$t" -lt "$seconds" ] && kill -0 "$pid" 2>/dev/null; do
    sleep 1
    t=$((t + 1))
    if [ $((t % 60)) -eq 0 ]; then
      printf '  %-10s %3d min: RSS %6.1f MiB\n' "$label" $((t / 60)) \
        "$(awk '/^VmRSS:/ {print $2 / 1024}' "/proc/$pid/status")" >&2
    fi
  done
  awk '/^VmHWM:/ {print $2 / 1024}' "/proc/$pid/status"
}

run() {  # label list seconds
  local label=$1 list=$2 seconds=$3
  mkdir -p "$work/$label"
  # ETLRUN_WRAP: a command to run etlrun under (heaptrack -o FILE: what the memory is).
  BENCH_TOKEN=bench WATCH_FILE=$list OUT=$work/$label/events.jsonl \
    ${ETLRUN_WRAP:-} build/etlrun --state-dir "$work/$label" "$work/watch.yaml" > "$work/$label/log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  local peak
  peak=$(measure "$pid" "$seconds" "$label" | tail -1)
  pkill -TERM -P "$pid" 2> /dev/null || true  # etlrun under ETLRUN_WRAP
  kill -TERM "$pid"
  wait "$pid" || true
  local events
  events=$(wc -l < "$work/$label/events.jsonl" 2> /dev/null || echo 0)
  local polled
  polled=$(grep -c '"requests": [1-9]' "$work/$label/watch.feeds.json" 2> /dev/null || echo 0)
  printf '%-10s feeds %6d, polled %6d, events %8d, peak RSS %6.1f MiB\n' "$label" \
    "$(grep -c . "$list")" "$polled" "$events" "$peak" >> "$work/summary"
}

head -1 "$work/watch.txt" > "$work/one.txt"
echo "etlrun watching $repos repositories for $minutes minutes (the fake GitHub in its own process)"
run one-feed "$work/one.txt" 60
run "$repos" "$work/watch.txt" $((minutes * 60))
cat "$work/summary"
one=$(awk 'NR==1 {print $(NF-1)}' "$work/summary")
all=$(awk 'NR==2 {print $(NF-1)}' "$work/summary")
echo "above the one-feed run: $(echo "($all - $one) * 1048576 / $repos" | bc) bytes a feed"
