#!/usr/bin/env bash
# Builds, starts a throwaway PostgreSQL 15 with default durability settings (fsync on), and runs
# one benchmark program of build/bench against it:  bench/run.sh bench_ingest|bench_kafka|bench_jq [args]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
mkdir -p build
scripts/build.sh > /dev/null
program=$1
shift
ETL_PG_FSYNC=on scripts/with-postgres.sh "build/bench/$program" "$@"
