#!/usr/bin/env bash
# Builds secretstore and walks through the command line on the embedded default
# (SQLite + the local Fernet backend), in a fresh folder: ./quickstart-demo.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -q
BIN="$PWD/target/release/secretstore"
DEMO="$PWD/quickstart-demo"
rm -rf "$DEMO" && mkdir -p "$DEMO" && cd "$DEMO"

step() { printf '\n$ %s\n' "$*"; }
ss() { step "secretstore $*"; "$BIN" "$@"; }

ss init
ss org create acme
ss team create acme/platform
ss workspace create acme/platform/dev
ss project create acme/platform/dev/agent-x

step "printf 'postgres://org-wide' | secretstore secret set DB_URL --scope acme --category infrastructure"
printf 'postgres://org-wide' | "$BIN" secret set DB_URL --scope acme --category infrastructure
step "printf 'postgres://dev-db' | secretstore secret set DB_URL --scope acme/platform/dev --category infrastructure"
printf 'postgres://dev-db' | "$BIN" secret set DB_URL --scope acme/platform/dev --category infrastructure
step "printf 'sk-demo-123' | secretstore secret set OPENAI_API_KEY --scope acme/platform --category provider"
printf 'sk-demo-123' | "$BIN" secret set OPENAI_API_KEY --scope acme/platform --category provider

ss secret list --scope acme/platform/dev
ss resolve --project acme/platform/dev/agent-x --ref DB_URL --ref OPENAI_API_KEY --explain
step "secretstore task create --project acme/platform/dev/agent-x --ref DB_URL --ref OPENAI_API_KEY"
TASK=$("$BIN" task create --project acme/platform/dev/agent-x --ref DB_URL --ref OPENAI_API_KEY)
echo "$TASK"
ss run --task "$TASK" -- sh -c 'echo "the agent sees DB_URL=$DB_URL, brief $SECRETSTORE_BRIEF_ID"'
step "printf 'postgres://dev-db-rotated' | secretstore secret set DB_URL --scope acme/platform/dev --expect-version 1"
printf 'postgres://dev-db-rotated' | "$BIN" secret set DB_URL --scope acme/platform/dev --expect-version 1
step "secretstore dispatch $TASK --env-file agent.env"
BRIEF=$("$BIN" dispatch "$TASK" --env-file agent.env)
echo "$BRIEF"
ss brief show "$BRIEF"
ss secret history DB_URL --scope acme/platform/dev
printf '\nDone. The demo lives in %s (database, .env with its key, briefs, agent.env).\n' "$DEMO"
