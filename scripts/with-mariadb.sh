#!/usr/bin/env bash
# Runs a command beside a throwaway MariaDB (private data dir, socket and port), exporting
# ETLTEST_MYSQL_URI (mysql://root@127.0.0.1:PORT/mysql; tests make databases of their own on it)
# and ETLTEST_MYSQL_SOCKET; stops and deletes the server afterwards. Chains like with-postgres.sh:
#   scripts/with-postgres.sh scripts/with-mariadb.sh ctest --test-dir build
set -euo pipefail
dir=$(mktemp -d /tmp/etlrun-mariadb-XXXXXX)
# Ports below the kernel's ephemeral range (32768 and up), where client sockets cannot hold them.
port=$(( 10000 + RANDOM % 22000 ))
pid=
cleanup() {
  if [ -n "$pid" ]; then kill -9 "$pid" 2> /dev/null || true; wait "$pid" 2> /dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT
# As root the server runs as root (--user=root): the data dir is private to this run anyway. Its
# temporary files too (--tmpdir): in the shared /tmp another server's bootstrap deleted one.
mkdir -p "$dir/tmp"
mariadb-install-db --no-defaults --datadir="$dir/data" --tmpdir="$dir/tmp" \
  --auth-root-authentication-method=normal --skip-test-db --user="$(id -un)" \
  > "$dir/install.log" 2>&1 || { cat "$dir/install.log"; exit 1; }
for attempt in 1 2 3 4 5; do
  mariadbd --no-defaults --user="$(id -un)" --datadir="$dir/data" --tmpdir="$dir/tmp" \
    --socket="$dir/sock" --port="$port" --bind-address=127.0.0.1 --skip-name-resolve --innodb-buffer-pool-size=64M \
    --innodb-flush-log-at-trx-commit=${ETL_MARIADB_FLUSH:-2} --max-connections=200 \
    --max-allowed-packet=256M \
    --log-error="$dir/server.log" --pid-file="$dir/pid" 2>> "$dir/server.log" &
  pid=$!
  for _ in $(seq 1 100); do
    if mariadb --no-defaults -uroot -S "$dir/sock" -e "SELECT 1" > /dev/null 2>&1; then break 2; fi
    kill -0 "$pid" 2> /dev/null || break
    sleep 0.1
  done
  kill -9 "$pid" 2> /dev/null || true
  wait "$pid" 2> /dev/null || true
  pid=
  # A port taken by someone else: another one; any other failure is shown as it is.
  if [ "$attempt" -eq 5 ] || ! grep -q -i "bind" "$dir/server.log"; then cat "$dir/server.log"; exit 1; fi
  port=$(( 10000 + RANDOM % 22000 ))
done
export ETLTEST_MYSQL_URI="mysql://root@127.0.0.1:$port/mysql"
export ETLTEST_MYSQL_SOCKET="$dir/sock" ETLTEST_MYSQL_PORT=$port ETLTEST_MYSQL_DATA=$dir/data
echo "throwaway MariaDB $(mariadbd --version | awk '{print $3}') on 127.0.0.1:$port (data in $dir)"
"$@"
