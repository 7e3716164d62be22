#!/usr/bin/env bash
# A NACH response file posted in bulk on PostgreSQL (or SQLite).
#
#   scripts/bench-debit-file.sh [postgres|sqlite] [ITEMS] [RUNS]
#
# Builds one synthetic book of ITEMS * 6 / 5 loans nearly all still running (`loanbook sim
# book --max-age-days 365`), keeps it as a template, and for each run copies it and runs
# `loanbook sim debit-file --items ITEMS` on the copy: a presentation of the demands due in
# the month from the business date, a simulated response (one item in ten returned), applied
# to the book twice. It prints each run's seconds and commands a second for the first
# application, then the medians. Needs a release build (`cargo build --release -p loanbook`)
# and, for PostgreSQL, a server at 127.0.0.1:5432 (user postgres, trust).
set -euo pipefail
cd "$(dirname "$0")/.."

BACKEND=${1:-postgres}
ITEMS=${2:-50000}
RUNS=${3:-3}
LOANS=$((ITEMS * 6 / 5))
BIN=target/release/loanbook
PG=postgres://postgres@127.0.0.1:5432
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

[ -x "$BIN" ] || { echo "build first: cargo build --release -p loanbook" >&2; exit 2; }

median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

if [ "$BACKEND" = postgres ]; then
  psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS loanbook_debits_template" -c "CREATE DATABASE loanbook_debits_template"
  "$BIN" sim book --loans "$LOANS" --max-age-days 365 --as-of 2026-03-27 --database "$PG/loanbook_debits_template" >/dev/null
else
  "$BIN" sim book --loans "$LOANS" --max-age-days 365 --as-of 2026-03-27 --database "sqlite://$WORK/template.db" >/dev/null
fi

rates=(); seconds=()
for run in $(seq 1 "$RUNS"); do
  if [ "$BACKEND" = postgres ]; then
    psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS loanbook_debits" \
      -c "CREATE DATABASE loanbook_debits TEMPLATE loanbook_debits_template"
    DB="$PG/loanbook_debits"
  else
    # A copy with no write-ahead log of an earlier run beside it (SQLite would apply it).
    rm -f "$WORK"/run.db*
    cp "$WORK/template.db" "$WORK/run.db"
    [ -f "$WORK/template.db-wal" ] && cp "$WORK/template.db-wal" "$WORK/run.db-wal"
    DB="sqlite://$WORK/run.db"
  fi
  "$BIN" sim debit-file --database "$DB" --items "$ITEMS" >"$WORK/out.json"
  s=$(python3 -c "import json,sys; d=json.load(open('$WORK/out.json')); print(round(d['first']['seconds'],3))")
  r=$(python3 -c "import json,sys; d=json.load(open('$WORK/out.json')); print(int(d['first']['commands_per_second']))")
  again=$(python3 -c "import json,sys; d=json.load(open('$WORK/out.json')); a=d['again']; print(a['posted'], 'posted,', a['unchanged'], 'unchanged in', round(a['seconds'],3), 's')")
  first=$(python3 -c "import json,sys; d=json.load(open('$WORK/out.json')); f=d['first']; print(f['paid'], 'paid,', f['bounce_charges'], 'bounce charges,', f['posted'], 'posted,', f['refused'], 'refused,', f['one_by_one'], 'one by one,', f['transactions'], 'transactions')")
  echo "run $run: ${s}s, $r commands/s ($first); again: $again"
  rates+=("$r"); seconds+=("$s")
done
echo "median: $(printf '%s\n' "${seconds[@]}" | median)s, $(printf '%s\n' "${rates[@]}" | median) commands/s"
