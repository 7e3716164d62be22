#!/usr/bin/env bash
# The close of business on a synthetic book, with PostgreSQL's floor beside it.
#
#   scripts/bench-eod.sh postgres [LOANS] [WORKERS]    (default 1000000 loans, 2 workers)
#   scripts/bench-eod.sh sqlite [LOANS]                (default 100000 loans, one worker)
#
# Makes a fresh book with `loanbook sim book` (loans disbursed in the year before the as-of date,
# so nearly all are still running), then closes five business days one at a time with
# `loanbook eod`: three normal days (the 28th to the 30th of March 2026), the month-end (the 31st)
# and the first of April, when the most instalments fall due. For each close it prints the
# seconds, the loans read and per second, and the peak memory of the process.
#
# On PostgreSQL it measures in the same run the floor of each close: the time the server takes
# to read every row the close reads (`COPY (…) TO '/dev/null'` of the waking loans' terms, their
# newest snapshots, the events after them and their marks, and the marks whose demands fall due
# three days on, measured before the close) plus the time to bulk-write the rows the close wrote
# (`INSERT … SELECT` of its projections, snapshots, marks, GL lines and reminders into empty
# copies of their tables with their indexes, measured after), and prints the ratio close ÷ floor.
# Needs a release build (`cargo build --release -p loanbook`),
# PostgreSQL at 127.0.0.1:5432 (user postgres, trust) and psql.
set -euo pipefail
cd "$(dirname "$0")/.."

BACKEND=${1:-postgres}
WORKERS=${3:-2}
BIN=target/release/loanbook
AS_OF=2026-03-27
DAYS=(2026-03-28 2026-03-29 2026-03-30 2026-03-31 2026-04-01)
PG=postgres://postgres@127.0.0.1:5432
DB=loanbook_eod_bench
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

[ -x "$BIN" ] || { echo "build first: cargo build --release -p loanbook" >&2; exit 2; }
case "$BACKEND" in
  postgres) LOANS=${2:-1000000}; URL="$PG/$DB"
    psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" ;;
  sqlite) LOANS=${2:-100000}; URL="sqlite://$WORK/book.db"; WORKERS=1 ;;
  *) echo "usage: $0 postgres|sqlite [LOANS]" >&2; exit 2 ;;
esac

# Milliseconds psql reports for the statements of stdin, summed (`\timing`).
pg_ms() {
  { echo '\timing on'; cat; } | psql -qX "$URL" 2>&1 |
    awk '/^Time: / {ms += $2} END {printf "%.0f\n", ms}'
}

# Before the close of $1: the loans it will read, and the time to read their rows.
floor_read() {
  pg_ms <<SQL
CREATE TABLE IF NOT EXISTS floor_wake (loan_id TEXT PRIMARY KEY);
TRUNCATE floor_wake;
\timing off
INSERT INTO floor_wake SELECT loan_id FROM eod_marks WHERE book_id = 'main' AND wake_on <= '$1'
  UNION SELECT loan_id FROM eod_touched
  UNION SELECT id FROM loans l WHERE NOT EXISTS (SELECT 1 FROM eod_marks m WHERE m.loan_id = l.id);
ANALYZE floor_wake;
\timing on
COPY (SELECT l.id, l.product_id, l.borrower_id, l.terms FROM loans l JOIN floor_wake w ON w.loan_id = l.id) TO '/dev/null';
COPY (SELECT s.loan_id, s.version, s.day, s.engine FROM loan_snapshots s JOIN floor_wake w ON w.loan_id = s.loan_id
      WHERE s.version = (SELECT max(n.version) FROM loan_snapshots n WHERE n.loan_id = s.loan_id)) TO '/dev/null';
COPY (SELECT e.* FROM loan_events e JOIN floor_wake w ON w.loan_id = e.loan_id
      WHERE e.seq > COALESCE((SELECT max(n.version) FROM loan_snapshots n WHERE n.loan_id = e.loan_id), 0)) TO '/dev/null';
COPY (SELECT m.* FROM eod_marks m JOIN floor_wake w ON w.loan_id = m.loan_id) TO '/dev/null';
COPY (SELECT m.* FROM eod_marks m WHERE m.book_id = 'main'
      AND m.due_on = to_char(DATE '$1' + 3, 'YYYY-MM-DD')) TO '/dev/null';
SQL
}

# After the close of $1: the time to bulk-write the rows it wrote into empty indexed copies.
floor_write() {
  pg_ms <<SQL
\timing off
SET default_toast_compression = lz4;
DROP TABLE IF EXISTS floor_projections, floor_snapshots, floor_marks, floor_gl, floor_outbox;
CREATE TEMP TABLE src_projections AS SELECT p.* FROM loan_projections p JOIN floor_wake w ON w.loan_id = p.loan_id;
CREATE TEMP TABLE src_snapshots AS SELECT s.* FROM loan_snapshots s JOIN floor_wake w ON w.loan_id = s.loan_id WHERE s.day = '$1';
CREATE TEMP TABLE src_marks AS SELECT m.* FROM eod_marks m WHERE m.day = '$1';
CREATE TEMP TABLE src_gl AS SELECT g.* FROM gl_lines g WHERE g.posted_on = '$1' AND g.source LIKE 'eod:$1:%';
CREATE TEMP TABLE src_outbox AS SELECT o.* FROM outbox o WHERE o.topic = 'loan.installment_due'
  AND (o.payload::json->>'due_date') = to_char(DATE '$1' + 3, 'YYYY-MM-DD');
CREATE TABLE floor_projections (LIKE loan_projections INCLUDING ALL);
CREATE TABLE floor_snapshots (LIKE loan_snapshots INCLUDING ALL);
CREATE TABLE floor_marks (LIKE eod_marks INCLUDING ALL);
CREATE TABLE floor_gl (LIKE gl_lines INCLUDING DEFAULTS INCLUDING INDEXES);
CREATE TABLE floor_outbox (LIKE outbox INCLUDING DEFAULTS INCLUDING INDEXES);
\timing on
BEGIN;
INSERT INTO floor_projections SELECT * FROM src_projections;
INSERT INTO floor_snapshots SELECT * FROM src_snapshots;
INSERT INTO floor_marks SELECT * FROM src_marks;
INSERT INTO floor_gl (book_id, entry_id, line_no, posted_on, kind, narration, account, loan_id, product_id, partner_id, debit, credit, source)
  SELECT book_id, entry_id, line_no, posted_on, kind, narration, account, loan_id, product_id, partner_id, debit, credit, source FROM src_gl;
INSERT INTO floor_outbox SELECT * FROM src_outbox;
COMMIT;
\timing off
DROP TABLE floor_projections, floor_snapshots, floor_marks, floor_gl, floor_outbox;
SQL
}

echo "== $BACKEND: a book of $LOANS loans as of $AS_OF; closes with $WORKERS workers"
/usr/bin/time -f "%e s, peak %M KB" "$BIN" sim book --loans "$LOANS" --database "$URL" \
  --seed 1 --as-of "$AS_OF" --max-age-days 365 2>&1 | tail -4
[ "$BACKEND" = postgres ] && psql -qX "$URL" -c "VACUUM ANALYZE" >/dev/null

printf '%-11s %9s %9s %9s %9s %9s %8s\n' day close_s read loans/s peak_MB floor_s ratio
for day in "${DAYS[@]}"; do
  [ "$BACKEND" = postgres ] && read_ms=$(floor_read "$day")
  start=$(date +%s.%N)
  /usr/bin/time -f "%M" -o "$WORK/rss" "$BIN" eod --database "$URL" --workers "$WORKERS" --json >"$WORK/close.json"
  secs=$(echo "$(date +%s.%N) - $start" | bc -l)
  read=$(python3 -c "import json,sys; d=json.load(open('$WORK/close.json')); d=d[0] if isinstance(d,list) else d; print(d['steps'][0]['loans_read'])")
  rss=$(( $(cat "$WORK/rss") / 1024 ))
  if [ "$BACKEND" = postgres ]; then
    write_ms=$(floor_write "$day")
    floor=$(echo "($read_ms + $write_ms) / 1000" | bc -l)
    ratio=$(echo "$secs / $floor" | bc -l)
    printf '%-11s %9.2f %9d %9.0f %9d %9.2f %8.2f\n' "$day" "$secs" "$read" "$(echo "$read / $secs" | bc -l)" "$rss" "$floor" "$ratio"
  else
    printf '%-11s %9.2f %9d %9.0f %9d %9s %8s\n' "$day" "$secs" "$read" "$(echo "$read / $secs" | bc -l)" "$rss" - -
  fi
done
