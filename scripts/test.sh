#!/usr/bin/env bash
# The test command: installs dependencies, builds, starts a throwaway PostgreSQL and MariaDB, runs
# every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
mkdir -p build
scripts/build.sh
scripts/with-postgres.sh scripts/with-mariadb.sh ctest --test-dir build --output-on-failure -j 2 --timeout 600
