"""Prints the demo's result and checks it against the input, computed without Spark.

    check_result.py ORDERS_CSV s3://BUCKET/PREFIX/

Reads the CSV part files under PREFIX (header customer_id,total_sales), prints them as a table, and compares
each customer's total with the sum of that customer's COMPLETED orders in ORDERS_CSV (exact decimals). Exit
status 0 and a final line ``result verified: N customers …`` when every row matches and none is missing or
extra; else 1, with the differences. Endpoint and credentials as for s3tool.py (``eval "$(cluster/env.sh)"``).
"""

from __future__ import annotations

import csv
import io
import sys
from decimal import Decimal
from pathlib import Path

from s3tool import _client, _keys, _split


def expected_totals(orders_csv: Path) -> dict[str, Decimal]:
    """Total ``amount`` of the COMPLETED orders per ``customer_id`` (the job's own rule)."""
    totals: dict[str, Decimal] = {}
    with orders_csv.open(newline="") as f:
        for row in csv.DictReader(f):
            if row["status"] == "COMPLETED":
                totals[row["customer_id"]] = totals.get(row["customer_id"], Decimal(0)) + Decimal(
                    row["amount"]
                )
    return totals


def read_result(prefix: str) -> list[dict[str, str]]:
    """The rows of every ``.csv`` part under the S3 prefix; exits when ``_SUCCESS`` is missing."""
    client = _client()
    bucket, _ = _split(prefix)
    keys = _keys(client, prefix)
    if not any(k.endswith("/_SUCCESS") for k in keys):
        sys.exit(f"check_result: no _SUCCESS under {prefix}: the step's output is incomplete (keys: {keys})")
    rows: list[dict[str, str]] = []
    for key in (k for k in keys if k.endswith(".csv")):
        response = client.get_object(bucket, key)
        try:
            rows.extend(csv.DictReader(io.StringIO(response.read().decode())))
        finally:
            response.close()
            response.release_conn()
    return rows


def differences(rows: list[dict[str, str]], expected: dict[str, Decimal]) -> list[str]:
    """What differs between the result rows and the expected totals, one line each (empty: they agree)."""
    got = {row["customer_id"]: Decimal(row["total_sales"]) for row in rows}
    problems = [
        f"{c}: result has no row, expected {expected[c]}" for c in sorted(expected.keys() - got.keys())
    ]
    problems += [
        f"{c}: result has {got[c]}, which the input has no completed order for"
        for c in sorted(got.keys() - expected.keys())
    ]
    problems += [
        f"{c}: result {got[c]} != expected {expected[c]}"
        for c in sorted(got.keys() & expected.keys())
        if got[c] != expected[c]
    ]
    if len(rows) != len(got):
        problems.append(f"{len(rows)} rows for {len(got)} customers: some customer appears twice")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.exit(__doc__)
    rows = read_result(argv[1])
    print(f"  {'customer_id':<12} {'total_sales':>12}")
    for row in sorted(rows, key=lambda r: r["customer_id"]):
        print(f"  {row['customer_id']:<12} {row['total_sales']:>12}")
    problems = differences(rows, expected_totals(Path(argv[0])))
    if problems:
        print("result WRONG: " + "; ".join(problems), file=sys.stderr)
        return 1
    print(
        f"  result verified: {len(rows)} customers, every total equals the sum of its COMPLETED orders "
        f"in {argv[0]}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
