#!/usr/bin/env bash
# Builds the Debian package (cpack), installs it (dpkg -i as root, otherwise unpacked into a temp
# root), and runs the installed etlrun: validate on every shipped pipeline, then a --once backfill
# into the embedded store. As root the package is removed again afterwards.
set -euo pipefail
build_dir=$1 data_dir=$2
work=$(mktemp -d /tmp/etlrun-deb-XXXXXX)
installed=""
cleanup() {
  if [ -n "$installed" ]; then dpkg -r etlrun > /dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

(cd "$build_dir" && cpack -G DEB -B "$work/out" > "$work/cpack.log" 2>&1) \
  || { cat "$work/cpack.log"; echo "FAIL: cpack"; exit 1; }
deb=$(ls "$work"/out/etlrun_*.deb)
# (Into a variable first: with pipefail, grep -q closing the pipe early would fail dpkg-deb.)
control=$(dpkg-deb -I "$deb")
grep -q 'Depends:.*libpq5' <<< "$control" \
  || { echo "$control"; echo "FAIL: no library dependencies"; exit 1; }
# Stripped binaries (debug info was nine tenths of the package); their symbols in the -dbgsym
# package beside it, under each binary's build id.
dpkg-deb -x "$deb" "$work/contents"
dbgsym=$(ls "$work"/out/etlrun-dbgsym_*.ddeb) || { echo "FAIL: no -dbgsym package"; exit 1; }
symbols=$(dpkg-deb -c "$dbgsym")
elves=0
while IFS= read -r -d '' binary; do
  kind=$(file -b "$binary")
  case "$kind" in ELF*) ;; *) continue ;; esac
  elves=$((elves + 1))
  [[ "$kind" == *", stripped"* ]] || { echo "FAIL: not stripped: $binary ($kind)"; exit 1; }
  id=$(readelf -n "$binary" | sed -n 's/.*Build ID: \([0-9a-f]*\).*/\1/p')
  grep -q "/usr/lib/debug/.build-id/${id:0:2}/${id:2}.debug" <<< "$symbols" \
    || { echo "FAIL: no debug symbols for $binary (build id $id) in $dbgsym"; exit 1; }
done < <(find "$work/contents" -type f -print0)
[ "$elves" -ge 10 ] || { echo "FAIL: only $elves ELF files in the package"; exit 1; }
echo "$elves binaries, stripped, symbols in $(basename "$dbgsym"); $(stat -c %s "$deb") bytes"
if [ "$(id -u)" -eq 0 ]; then
  # Another package manager may hold dpkg's lock for a moment: wait for it, a little.
  for attempt in 1 2 3 4 5; do
    if dpkg -i "$deb" > "$work/dpkg.log" 2>&1; then break; fi
    if [ "$attempt" = 5 ] || ! grep -qi 'lock' "$work/dpkg.log"; then
      cat "$work/dpkg.log"; echo "FAIL: dpkg -i"; exit 1
    fi
    sleep 3
  done
  installed=yes
  root=""
  getent passwd etlrun > /dev/null || { echo "FAIL: no etlrun user"; exit 1; }
  [ -d /var/lib/etlrun ] || { echo "FAIL: no /var/lib/etlrun"; exit 1; }
else
  dpkg-deb -x "$deb" "$work/root"
  root="$work/root"
fi
etlrun="$root/usr/bin/etlrun"
unit="$root/lib/systemd/system/etlrun@.service"
[ -f "$unit" ] || unit="$root/usr/lib/systemd/system/etlrun@.service"
grep -q '^ExecStart=/usr/bin/etlrun --state-dir=/var/lib/etlrun/%i $ETLRUN_OPTIONS /etc/etlrun/%i.yaml' "$unit" \
  || { echo "FAIL: the unit does not run /etc/etlrun/%i.yaml"; exit 1; }
grep -q '^User=etlrun' "$unit" && grep -q '^Restart=on-failure' "$unit" \
  || { echo "FAIL: the unit's user or restart policy"; exit 1; }
# What a restart cannot fix (usage 64, configuration 78) is not restarted; RestartPreventExitStatus=
# sees the main process only, so nothing that can fail with them runs before it.
grep -q '^RestartPreventExitStatus=64 78$' "$unit" && ! grep -q '^ExecStartPre=' "$unit" \
  || { echo "FAIL: the unit would restart exit 64 or 78"; exit 1; }

"$etlrun" --version
for pipeline in "$root"/usr/share/etlrun/pipelines/*.yaml; do
  GHARCHIVE_FILES=x ORDERS_FILES=x GITHUB_WEBHOOK_SECRET=x "$etlrun" validate "$pipeline" || { echo "FAIL: validate $pipeline"; exit 1; }
done
GHARCHIVE_FILES="$data_dir/gharchive/gharchive_2021-07-21_hour06_200events.jsonl" \
ETL_STATE_DIR="$work/state" ETL_DATABASE= \
  "$etlrun" --once "$root/usr/share/etlrun/pipelines/gharchive.yaml" 2> "$work/run.log" \
  || { tail -20 "$work/run.log"; echo "FAIL: the installed backfill"; exit 1; }
events=$(sqlite3 "$work/state/etlrun.sqlite" 'SELECT count(*) FROM github_events')
pushes=$(sqlite3 "$work/state/etlrun.sqlite" 'SELECT count(*) FROM push_events')
[ "$events" = 200 ] && [ "$pushes" = 109 ] \
  || { echo "FAIL: stored $events events and $pushes pushes, expected 200 and 109"; exit 1; }
# The web shop: the jq transform's worker process must be installed beside its plugin.
cat > "$work/orders.jsonl" <<'ORDERS'
{"id":"P-1","status":"paid","customer":{"name":"Ana"},"items":[{"sku":"S-1","qty":"2","price":"1.50"},{"sku":"S-2","price":3}],"created_at":"2024-03-01T10:00:00Z"}
{"id":"P-2","customer":{"name":"Bo"},"items":[{"sku":"S-3","qty":1,"price":"2"}],"created_at":1709290500}
ORDERS
ORDERS_FILES="$work/orders.jsonl" ETL_STATE_DIR="$work/shop" ETL_DATABASE= \
  "$etlrun" --once "$root/usr/share/etlrun/pipelines/webshop.yaml" 2> "$work/shop.log" \
  || { tail -20 "$work/shop.log"; echo "FAIL: the installed web shop"; exit 1; }
orders=$(sqlite3 "$work/shop/webshop.sqlite" 'SELECT group_concat(order_id || ":" || total) FROM orders')
items=$(sqlite3 "$work/shop/webshop.sqlite" 'SELECT count(*) FROM order_items')
[ "$orders" = "P-1:6,P-2:2" ] && [ "$items" = 3 ] \
  || { tail -20 "$work/shop.log"; echo "FAIL: web shop stored '$orders' and $items items"; exit 1; }
echo "the .deb installs, validates every shipped pipeline and backfills from installed paths: OK"
