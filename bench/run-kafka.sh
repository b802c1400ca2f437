#!/usr/bin/env bash
# The Kafka benchmark beside PostgreSQL:  bench/run-kafka.sh [events=100000] [partitions=32]
exec "$(dirname "$0")/run.sh" bench_kafka "$@"
