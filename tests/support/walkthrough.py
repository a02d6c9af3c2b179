"""The EMR walkthrough's data on the local cluster, shared by the SQL tests (Hive, Trino): the demo's orders
as the walkthrough's table holds them, the per-customer totals they must give, and the S3 settings and
credentials Secret a cluster in a test namespace reads them with."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path
from typing import Any

from support.kube import Kube
from support.s3 import LocalS3

ORDERS = Path(__file__).resolve().parents[2] / "scripts" / "demo" / "orders.csv"
S3_ENDPOINT = "http://s3.kemr-system.svc:9000"  # the local S3 server's Service (cluster/s3.sh)
S3_SECRET = "kemr-s3"


def walkthrough_rows(path: Path = ORDERS) -> list[list[str]]:
    """The demo's orders as the walkthrough's table holds them: order_id, customer_id, amount, status,
    order_date, no header, statuses in lower case."""
    with path.open(newline="") as f:
        return [
            [r["order_id"], r["customer_id"], r["amount"], r["status"].lower(), r["order_date"]]
            for r in csv.DictReader(f)
        ]


def expected_totals(rows: list[list[str]]) -> dict[str, Decimal]:
    """customer_id → SUM(amount) of its completed orders, exactly."""
    totals: dict[str, Decimal] = {}
    for _, customer, amount, status, _ in rows:
        if status == "completed":
            totals[customer] = totals.get(customer, Decimal(0)) + Decimal(amount)
    return totals


def s3_spec() -> dict[str, Any]:
    """spec.s3 of a cluster (or catalog) reading the local S3 server with the Secret `create_s3_secret`
    makes."""
    return {
        "endpoint": S3_ENDPOINT,
        "region": "us-east-1",
        "pathStyleAccess": True,
        "credentials": {"secretRef": {"name": S3_SECRET}},
    }


def create_s3_secret(kube: Kube, namespace: str, s3: LocalS3) -> None:
    """The Secret S3_SECRET in `namespace`, with the local S3 server's keys."""
    secret = kube.run(
        "create", "secret", "generic", S3_SECRET, "-n", namespace, "--dry-run=client", "-o", "yaml",
        f"--from-literal=AWS_ACCESS_KEY_ID={s3.access_key}",
        f"--from-literal=AWS_SECRET_ACCESS_KEY={s3.secret_key}",
    ).stdout  # fmt: skip
    kube.run("apply", "-f", "-", stdin=secret)
