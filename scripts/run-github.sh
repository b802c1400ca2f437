#!/usr/bin/env bash
# The main job: installs dependencies, builds, and runs etlrun on pipelines/github.yaml. With no
# ETL_DATABASE set it stores into the embedded SQLite default (./.etlrun/etlrun.sqlite).
# Extra arguments go to etlrun (e.g. --once, --log-level=debug).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
mkdir -p build
scripts/build.sh
exec build/etlrun "$@" pipelines/github.yaml
