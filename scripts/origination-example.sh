#!/usr/bin/env bash
# The worked example of docs/origination.md: a fresh server on SQLite, a product, and one
# application from draft to disbursed loan with curl, printing what each step answered.
# Usage: scripts/origination-example.sh [path/to/loanbook]
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-target/debug/loanbook}"
work="$(mktemp -d)"
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
db="sqlite://$work/example.db"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
admin="$("$bin" admin init --database "$db" | tail -n 1)"
credit="$("$bin" token create --database "$db" --user cara --role credit | tail -n 1)"
ops="$("$bin" token create --database "$db" --user olga --role operations | tail -n 1)"
LOANBOOK_LOG=warn "$bin" serve --database "$db" --listen "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 60); do curl -fsS "$base/health" >/dev/null 2>&1 && break; sleep 0.5; done

post() { # token path body
  curl -sS -X POST "$base$2" -H "authorization: Bearer $1" -H 'content-type: application/json' -d "$3"
}
show() { python3 -c "import json,sys; d=json.load(sys.stdin); print(json.dumps(eval(sys.argv[1], {'d': d}), indent=1, ensure_ascii=False))" "$1"; }

echo "## product PL (held for a second user's approval, approved by cara)"
made="$(post "$admin" /v1/products "{\"code\": \"PL\", \"name\": \"Personal loan\", \"config\": $(python3 -c 'import json; print(json.dumps(json.load(open("docs/examples/personal-loan-product.json"))))')}")"
approval="$(echo "$made" | show 'd["approval"]["id"]' | tr -d '"')"
post "$credit" "/v1/approvals/$approval/approve" '{}' | show '{k: d[k] for k in ("code", "version") if k in d}'

echo "## open"
id="$(post "$ops" /v1/applications "$(cat docs/examples/application.json)" | show 'd["id"]' | tr -d '"')"
echo "id: $id"
echo "## submit"; post "$ops" "/v1/applications/$id/submit" '' | show '{"status": d["status"], "parties": d["application"]["parties"]}'
echo "## bureau"; post "$ops" "/v1/applications/$id/bureau" '{}' | show 'd["application"]["bureau"][0]["summary"]'
echo "## statement"
curl -sS -X POST "$base/v1/applications/$id/statements" -H "authorization: Bearer $ops" \
  -H 'content-type: text/csv' --data-binary @docs/examples/hdfc-statement.csv \
  | show '{k: v for k, v in d["application"]["bank"][0]["analysis"].items() if k != "months"}'
echo "## assess"
post "$ops" "/v1/applications/$id/assess" '' | show '{"status": d["status"], "facts": d["application"]["assessment"]["facts"], "rules": [(r["rule"], r["passed"], r["reason"]) for r in d["application"]["assessment"]["assessment"]["rules"]], "offer": d["application"]["assessment"]["offer"]}'
echo "## sanction"
post "$credit" "/v1/applications/$id/sanction" '{}' | show '{"status": d["status"], "terms_hash": d["application"]["sanction"]["terms_hash"], "valid_until": d["application"]["sanction"]["valid_until"]}'
echo "## kfs"
curl -sS "$base/v1/applications/$id/kfs" -H "authorization: Bearer $ops" | show '{k: d[k] for k in ["loan_amount", "fees_to_lender", "net_disbursed", "total_interest", "total_payable", "apr", "installments"]}'
curl -sS -o "$work/kfs.pdf" "$base/v1/applications/$id/kfs?format=pdf" -H "authorization: Bearer $ops"
echo "pdf: $(head -c 8 "$work/kfs.pdf") $(wc -c < "$work/kfs.pdf") bytes"
echo "## accept"; post "$ops" "/v1/applications/$id/accept" '{"channel": "otp"}' | show 'd["application"]["acceptance"]'
for item in kyc agreement_signed mandate_registered; do
  post "$ops" "/v1/applications/$id/checklist" "{\"item\": \"$item\"}" >/dev/null
done
echo "## disburse"
loan="$(post "$ops" "/v1/applications/$id/disburse" '{"rail": "neft"}' | show 'd["loan_id"]' | tr -d '"')"
echo "loan: $loan"
curl -sS "$base/v1/loans/$loan" -H "authorization: Bearer $ops" | show '{"application_id": d["application_id"], "terms_hash": d["terms_hash"], "product_version": d["product_version"], "installment_amount": d["state"]["installment_amount"], "principal_outstanding": d["state"]["balances"]["principal_outstanding"], "first_rows": d["state"]["installments"][:2]}'
curl -sS "$base/v1/applications/$id/events" -H "authorization: Bearer $ops" | show '[e["event"]["type"] for e in d]'
