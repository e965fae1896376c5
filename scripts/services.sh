#!/usr/bin/env bash
# Real services for the tests, on free loopback ports: moto (AWS Secrets Manager and S3),
# an OpenBao dev server (the Vault API), both pinned in the venv that scripts/setup.sh
# makes, and a PostgreSQL server (Debian's package, found with `pg_config --bindir`) in a
# throwaway data folder. `start` runs scripts/setup.sh first (nothing to do when all is there).
#
#   eval "$(scripts/services.sh start)"   # starts a fresh pair; prints the env the tests read
#   scripts/services.sh stop              # stops the pair named by $SECRETSTORE_TEST_SERVICES
#
# Each start has a state folder of its own, so several checkouts or shells can run
# their own servers side by side.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=target/test-venv
STATE_ROOT=target/test-services

log() { printf '== %s\n' "$*" >&2; }

free_port() {
  "$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_for() { # URL NAME LOGFILE
  for _ in $(seq 1 200); do
    if curl -s -o /dev/null "$1"; then return 0; fi
    sleep 0.1
  done
  log "$2 did not start; its log:"; cat "$3" >&2; return 1
}

# PostgreSQL's server binaries, whatever the version (installed by scripts/setup.sh).
PG_BIN=$(pg_config --bindir 2>/dev/null || true)

# Runs a PostgreSQL tool as the postgres user (root may not run the server).
as_pg() {
  if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi
}

start() {
  scripts/setup.sh
  PG_BIN=$(pg_config --bindir)
  mkdir -p "$STATE_ROOT"
  STATE=$(mktemp -d "$PWD/$STATE_ROOT/run.XXXXXX")
  local moto_port bao_port
  moto_port=$(free_port)
  "$VENV/bin/moto_server" -H 127.0.0.1 -p "$moto_port" >"$STATE/moto.log" 2>&1 &
  echo $! >"$STATE/moto.pid"
  bao_port=$(free_port)
  "$VENV/bin/bao" server -dev -dev-listen-address="127.0.0.1:$bao_port" \
    -dev-root-token-id=root -dev-no-store-token >"$STATE/bao.log" 2>&1 &
  echo $! >"$STATE/bao.pid"
  local pg_port pg_dir
  pg_port=$(free_port)
  pg_dir=$(mktemp -d /tmp/secretstore-pg.XXXXXX)
  echo "$pg_dir" >"$STATE/pg.dir"
  [ "$(id -u)" = 0 ] && chown postgres "$pg_dir"
  as_pg "$PG_BIN/initdb -D $pg_dir/data -U postgres -A trust >$pg_dir/initdb.log 2>&1"
  as_pg "$PG_BIN/pg_ctl -D $pg_dir/data -w -l $pg_dir/server.log -o \"-c listen_addresses=127.0.0.1 -p $pg_port -k $pg_dir -c fsync=on\" start >/dev/null"
  if ! wait_for "http://127.0.0.1:$moto_port/moto-api/" moto "$STATE/moto.log" ||
     ! wait_for "http://127.0.0.1:$bao_port/v1/sys/health" OpenBao "$STATE/bao.log"; then
    SECRETSTORE_TEST_SERVICES="$STATE" stop_quietly
    exit 1
  fi
  log "moto on 127.0.0.1:$moto_port, OpenBao on 127.0.0.1:$bao_port, PostgreSQL on 127.0.0.1:$pg_port"
  cat <<ENV
export SECRETSTORE_TEST_SERVICES="$STATE"
export SECRETSTORE_TEST_PYTHON="$PWD/$VENV/bin/python"
export SECRETSTORE_TEST_MOTO_URL="http://127.0.0.1:$moto_port"
export SECRETSTORE_TEST_VAULT_ADDR="http://127.0.0.1:$bao_port"
export SECRETSTORE_TEST_VAULT_TOKEN=root
export SECRETSTORE_TEST_BAO="$PWD/$VENV/bin/bao"
export SECRETSTORE_TEST_MOTO_SERVER="$PWD/$VENV/bin/moto_server"
export SECRETSTORE_TEST_PG_URL="postgres://postgres@127.0.0.1:$pg_port/postgres"
ENV
}

stop_quietly() {
  local state=${SECRETSTORE_TEST_SERVICES:-}
  [ -n "$state" ] && [ -d "$state" ] || return 0
  for svc in moto bao; do
    if [ -f "$state/$svc.pid" ]; then
      kill "$(cat "$state/$svc.pid")" 2>/dev/null || true
    fi
  done
  if [ -f "$state/pg.dir" ]; then
    local pg_dir
    pg_dir=$(cat "$state/pg.dir")
    as_pg "$PG_BIN/pg_ctl -D $pg_dir/data -m immediate stop >/dev/null 2>&1" || true
    rm -rf "$pg_dir"
  fi
  rm -rf "$state"
}

case "${1:-}" in
  start) start ;;
  stop) stop_quietly ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
