#!/usr/bin/env bash
# Applications through the whole origination flow over the API on PostgreSQL.
#
#   scripts/bench-origination.sh [APPLICATIONS] [CONCURRENCY] [RUNS]
#
# Each run: a fresh database, `loanbook serve` on it, and `loanbook originate` taking
# APPLICATIONS applications from draft to disbursed loan (create, submit, bureau, statement,
# assess, sanction, KFS, accept, checklist, disburse, read the loan) with CONCURRENCY in flight.
# It prints applications per second and each step's latency. Needs a release build
# (`cargo build --release -p loanbook`) and PostgreSQL at 127.0.0.1:5432 (user postgres, trust).
set -euo pipefail
cd "$(dirname "$0")/.."

APPS=${1:-1000}
CONC=${2:-8}
RUNS=${3:-3}
BIN=target/release/loanbook
PG=postgres://postgres@127.0.0.1:5432
PORT=18096
WORK=$(mktemp -d)
trap 'kill "${SERVER:-0}" 2>/dev/null || true; rm -rf "$WORK"' EXIT
[ -x "$BIN" ] || { echo "build first: cargo build --release -p loanbook" >&2; exit 2; }

for run in $(seq 1 "$RUNS"); do
  psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS loanbook_orig_bench" -c "CREATE DATABASE loanbook_orig_bench"
  export LOANBOOK_AUDIT_KEY=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
  TOKEN=$("$BIN" admin init --database "$PG/loanbook_orig_bench" | tail -1)
  CHECKER=$("$BIN" token create --database "$PG/loanbook_orig_bench" --user checker --role credit | tail -1)
  "$BIN" serve --database "$PG/loanbook_orig_bench" --listen "127.0.0.1:$PORT" >"$WORK/serve.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.2; done
  echo "run $run:"
  "$BIN" originate --url "http://127.0.0.1:$PORT" --token "$TOKEN" --checker-token "$CHECKER" \
      --applications "$APPS" --concurrency "$CONC"
  kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=
done
