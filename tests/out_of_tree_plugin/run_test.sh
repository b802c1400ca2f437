#!/usr/bin/env bash
# Installs etlrun into a temp prefix, builds this folder's plugin against the installed SDK only,
# and runs the installed etlrun with it: a new sink without recompiling the core.
set -euo pipefail
build_dir=$1 plugin_src=$2 data_dir=$3
work=$(mktemp -d /tmp/etlrun-oot-XXXXXX)
trap 'rm -rf "$work"' EXIT

cmake --install "$build_dir" --prefix "$work/prefix" > "$work/install.log"
cmake -S "$plugin_src" -B "$work/build" -DCMAKE_PREFIX_PATH="$work/prefix" > "$work/configure.log"
cmake --build "$work/build" > "$work/build.log"
plugin=$(find "$work/build" -name 'libetl_type_count.so')
test -n "$plugin" || { echo "FAIL: plugin not built"; exit 1; }

cat > "$work/p.yaml" <<YAML
pipelines:
  count:
    source: {plugin: file, path: "$data_dir/gharchive/gharchive_2021-07-21_hour06_200events.jsonl"}
    sink: {plugin: type_count, path: "$work/counts.txt"}
YAML
# The installed etlrun finds its bundled plugins itself; --plugin-path adds the new one.
listed=$("$work/prefix/bin/etlrun" --plugin-path="$(dirname "$plugin")" plugins)
grep -q '^type_count  *sink' <<< "$listed" \
  || { echo "FAIL: installed etlrun does not list the plugin"; exit 1; }
"$work/prefix/bin/etlrun" --once --state-dir="$work/state" --plugin-path="$(dirname "$plugin")" "$work/p.yaml"
grep -qx 'PushEvent 109' "$work/counts.txt" || { echo "FAIL: unexpected counts"; cat "$work/counts.txt"; exit 1; }
grep -qx 'CreateEvent 31' "$work/counts.txt" || { echo "FAIL: unexpected counts"; cat "$work/counts.txt"; exit 1; }
echo "out-of-tree plugin built against the installed SDK and run by the installed etlrun: OK"
