#!/usr/bin/env bash
# Runs a command beside a throwaway PostgreSQL 15 (private data dir, socket dir and port), exporting
# ETLTEST_PG (libpq key=value) and ETLTEST_PG_URI; stops and deletes the server afterwards.
#   scripts/with-postgres.sh ctest --test-dir build
set -euo pipefail
bin=/usr/lib/postgresql/15/bin
dir=$(mktemp -d /tmp/etlrun-pg-XXXXXX)
# Ports below the kernel's ephemeral range (32768 and up), where client sockets cannot hold them.
port=$(( 10000 + RANDOM % 22000 ))
as_pg() { if [ "$(id -u)" -eq 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi; }
[ "$(id -u)" -eq 0 ] && chown postgres "$dir" && chmod 700 "$dir"
cleanup() {
  as_pg "$bin/pg_ctl -D $dir/data -m immediate stop" > /dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
as_pg "$bin/initdb -D $dir/data -U postgres -A trust --no-sync -E UTF8 --no-locale" > "$dir/initdb.log" 2>&1 \
  || { cat "$dir/initdb.log"; exit 1; }
for attempt in 1 2 3 4 5; do
  as_pg "$bin/pg_ctl -D $dir/data -l $dir/server.log -w -o \"-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=${ETL_PG_FSYNC:-off} -c max_connections=50\" start" \
    > /dev/null && break
  # A port taken by someone else: another one; any other failure is shown as it is.
  if [ "$attempt" -eq 5 ] || ! grep -q "could not bind" "$dir/server.log"; then cat "$dir/server.log"; exit 1; fi
  port=$(( 10000 + RANDOM % 22000 ))
done
export ETLTEST_PG="host=127.0.0.1 port=$port user=postgres dbname=postgres"
export ETLTEST_PG_URI="postgresql://postgres@127.0.0.1:$port/postgres"
export ETLTEST_PG_BIN=$bin ETLTEST_PG_DATA=$dir/data ETLTEST_PG_PORT=$port ETLTEST_PG_SOCKDIR=$dir
echo "throwaway PostgreSQL 15 on 127.0.0.1:$port (data in $dir)"
"$@"
