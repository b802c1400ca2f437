#!/usr/bin/env bash
# The ingest benchmark beside PostgreSQL:  bench/run-ingest.sh [events=200000] [naive_events=20000] [large=1000000]
exec "$(dirname "$0")/run.sh" bench_ingest "$@"
