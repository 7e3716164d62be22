#!/usr/bin/env bash
# Payments through the API on PostgreSQL beside pgbench on the same database server, in one run.
#
#   scripts/bench-payments.sh [CONCURRENCY] [PAYMENTS] [RUNS]
#
# Each run: a fresh database, `loanbook serve` on it, `loanbook load` posting PAYMENTS payments
# with CONCURRENCY in flight, then pgbench running a one-INSERT transaction at the same
# concurrency for as long as the payments took. It prints both rates and their ratio, then the
# medians over the runs. Needs a release build (`cargo build --release -p loanbook`), PostgreSQL
# at 127.0.0.1:5432 (user postgres, trust) and pgbench.
set -euo pipefail
cd "$(dirname "$0")/.."

CONC=${1:-8}
PAYMENTS=${2:-10000}
RUNS=${3:-3}
BIN=target/release/loanbook
PG=postgres://postgres@127.0.0.1:5432
PORT=18095
WORK=$(mktemp -d)
trap 'kill "${SERVER:-0}" 2>/dev/null || true; rm -rf "$WORK"' EXIT

[ -x "$BIN" ] || { echo "build first: cargo build --release -p loanbook" >&2; exit 2; }
command -v pgbench >/dev/null || { echo "pgbench is not installed" >&2; exit 2; }

cat >"$WORK/insert.sql" <<'SQL'
INSERT INTO bench_insert (loan_id, amount, at) VALUES (:client_id, 100, now());
SQL

median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

api_rates=(); pg_rates=(); ratios=()
for run in $(seq 1 "$RUNS"); do
  psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS loanbook_bench" -c "CREATE DATABASE loanbook_bench"
  psql -q "$PG/loanbook_bench" -c "CREATE TABLE bench_insert (id bigserial PRIMARY KEY, loan_id bigint NOT NULL, amount bigint NOT NULL, at timestamptz NOT NULL)"
  export LOANBOOK_AUDIT_KEY=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
  TOKEN=$("$BIN" admin init --database "$PG/loanbook_bench" | tail -1)
  "$BIN" serve --database "$PG/loanbook_bench" --listen "127.0.0.1:$PORT" >"$WORK/serve.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.2; done
  "$BIN" load --url "http://127.0.0.1:$PORT" --token "$TOKEN" --loans 100 \
      --payments "$PAYMENTS" --concurrency "$CONC" --reads 300 | tee "$WORK/load.txt"
  kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=
  api=$(awk '/^payments:/ {for (i=1;i<=NF;i++) if ($i ~ /\/s;?$/) {gsub(/[^0-9.]/,"",$i); print $i; exit}}' "$WORK/load.txt")
  secs=$(awk -v n="$PAYMENTS" -v r="$api" 'BEGIN {s=int(n/r+0.5); if (s<10) s=10; print s}')
  pgb=$(pgbench -n -h 127.0.0.1 -U postgres -c "$CONC" -j 2 -T "$secs" -f "$WORK/insert.sql" loanbook_bench 2>/dev/null \
      | awk '/^tps/ {print int($3)}')
  ratio=$(awk -v a="$api" -v b="$pgb" 'BEGIN {printf "%.3f", a/b}')
  echo "run $run: API payments/s $api; pgbench one-insert commits/s $pgb (${secs}s); ratio $ratio"
  api_rates+=("$api"); pg_rates+=("$pgb"); ratios+=("$ratio")
done
echo "medians over $RUNS runs at $CONC in flight: API payments/s $(printf '%s\n' "${api_rates[@]}" | median);" \
  "pgbench commits/s $(printf '%s\n' "${pg_rates[@]}" | median); ratio $(printf '%s\n' "${ratios[@]}" | median)"
