#!/usr/bin/env bash
# Installs the Debian packages etlrun needs to build, test and run (skips what is already there).
set -euo pipefail
packages=(build-essential cmake pkg-config libpoco-dev libyaml-cpp-dev libsimdjson-dev
          libgtest-dev zlib1g-dev libpq-dev libsqlite3-dev postgresql-15 gzip procps openssl
          python3-yaml python3-jsonschema sqlite3 dpkg-dev adduser librdkafka-dev libjq-dev libcsv-dev
          systemd mariadb-server libmariadb-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
