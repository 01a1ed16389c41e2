"""Score two Bank Marketing customers against a deployment: the seed's endpoint.py done with the typed client.

The same two customers as endpoint.py, as typed records (Python names, checked before anything is sent), and
no body shapes to know: the client reads the endpoint's wire generation (A, B, C or D) from its spec. With no
arguments it scores against the local deployment (`bankscore deploy local`); give --uri (and --key) for any
other endpoint, Azure's included, or set BANKSCORE_URI and BANKSCORE_KEY.

    python examples/endpoint_typed.py [--uri http://127.0.0.1:5001/score] [--key KEY]
"""

from __future__ import annotations

import argparse
import json
import sys

import bankscore

CUSTOMERS = [
    bankscore.BankMarketingRecord(
        age=57, job="technician", marital="married", education="high.school", default="no", housing="no",
        loan="yes", contact="cellular", month="may", day_of_week="mon", duration=371, campaign=1, pdays=999,
        previous=1, poutcome="failure", emp_var_rate=-1.8, cons_price_idx=92.893, cons_conf_idx=-46.2,
        euribor3m=1.299, nr_employed=5099.1,
    ),
    bankscore.BankMarketingRecord(
        age=43, job="blue-collar", marital="married", education="basic.9y", default="no", housing="yes",
        loan="no", contact="cellular", month="jul", day_of_week="thu", duration=982, campaign=2, pdays=999,
        previous=0, poutcome="nonexistent", emp_var_rate=1.4, cons_price_idx=93.918, cons_conf_idx=-42.7,
        euribor3m=4.962, nr_employed=5228.1,
    ),
]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uri", help="scoring URI (default: BANKSCORE_URI, else the local deployment)")
    parser.add_argument("--key", help="the endpoint's key (default: BANKSCORE_KEY, else the local deployment's)")
    args = parser.parse_args()
    try:
        with bankscore.Client(args.uri, key=args.key) as client:
            result = client.predict_many(CUSTOMERS)
    except bankscore.BankscoreError as exc:
        sys.exit(str(exc))
    print(json.dumps([{"label": p.label, "probability": p.probability} for p in result if p is not None]))


if __name__ == "__main__":
    main()
