#!/usr/bin/env bash
# The jq transform's cost beside PostgreSQL:  bench/run-jq.sh [events=200000] [rounds=3]
exec "$(dirname "$0")/run.sh" bench_jq "$@"
