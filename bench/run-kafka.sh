#!/usr/bin/env bash
# Builds, starts a throwaway PostgreSQL 15 with default durability settings (fsync on), and runs
# the Kafka benchmark:  bench/run-kafka.sh [events=100000] [partitions=4]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
mkdir -p build
scripts/build.sh > /dev/null
ETL_PG_FSYNC=on scripts/with-postgres.sh build/bench/bench_kafka "$@"
