#!/usr/bin/env bash
# The Azure workflow's benchmark.sh, twice: first with Apache Bench exactly as the seed runs it, then with
# bankscore-bench and the same flags (it takes ab's command line and prints ab's report, then an exact summary).
#
#   python examples/endpoint.py          # scores two customers and writes data.json (the request body)
#   bash examples/benchmark.sh [SCORING_URI] [KEY]
#
# With no arguments it uses the local deployment (`bankscore deploy local`), as endpoint.py does.
set -euo pipefail

URI=${1:-}
KEY=${2:-}
if [ -z "$URI" ]; then
    STATUS=$(bankscore deploy status --json --show-keys)
    URI=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["scoring_uri"])' <<<"$STATUS")
    KEY=$(python3 -c 'import json,sys; print((json.load(sys.stdin).get("keys") or {}).get("primary") or "")' <<<"$STATUS")
fi
[ -f data.json ] || { echo "data.json is missing: run python examples/endpoint.py first" >&2; exit 1; }

AUTH=()
[ -n "$KEY" ] && AUTH=(-H "Authorization: Bearer $KEY")

echo "== ab (the seed's command)"
ab -n 10 -v 4 -p data.json -T 'application/json' "${AUTH[@]}" "$URI"

echo "== bankscore-bench (the same command line)"
bankscore-bench -n 10 -v 4 -p data.json -T 'application/json' "${AUTH[@]}" "$URI"

echo "== bankscore-bench beyond ab: 8 concurrent, keep-alive, realistic records, exact percentiles, an HTML report"
bankscore-bench -n 2000 -c 8 -k --batch-size 1 --threshold 'errors<=1%' --html bench.html "${AUTH[@]}" "$URI"
echo "report: $(pwd)/bench.html"
