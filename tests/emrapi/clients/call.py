"""One boto3 EMR call or waiter, run in the clients' own environment (tests/support/emr_clients.py runs it).

Reads one JSON request on stdin:
    {"kind": "call", "endpoint": URL, "region": R, "access_key_id": K, "secret_access_key": S,
     "verify": true | false | "/path/ca.pem", "operation": "list_clusters", "params": {...}}
    {"kind": "wait", ...the same connection fields..., "waiter": "cluster_running", "params": {...},
     "delay": 5, "max_attempts": 60}
    {"kind": "time", ...the "call" fields..., "repeat": N}: the call N times, one client, answering
     {"seconds": [each call's latency as the client sees it]} (bench/emr_api.py)
and prints one JSON object on stdout: the call's response (datetimes as ISO 8601), {} after a waiter, or
    {"Error": {"Code": C, "Message": M}, "HTTPStatusCode": N | null}
with exit status 1 when the service, botocore or the waiter said no.
"""

from __future__ import annotations

import datetime
import json
import sys
import time
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, WaiterError


def emr_client(request: dict[str, Any]) -> Any:
    """The client an EMR user makes, pointed at `endpoint`. One attempt in all (botocore's `max_attempts`
    counts retries, `total_max_attempts` the requests), so a test sees the server's first answer."""
    return boto3.client(
        "emr",
        endpoint_url=request["endpoint"],
        region_name=request["region"],
        aws_access_key_id=request["access_key_id"],
        aws_secret_access_key=request["secret_access_key"],
        verify=request.get("verify", True),
        config=Config(retries={"total_max_attempts": 1}),
    )


def last_state(response: dict[str, Any]) -> str | None:
    """The cluster's or step's state in a waiter's last response (DescribeCluster / DescribeStep)."""
    for key in ("Cluster", "Step"):
        state = response.get(key, {}).get("Status", {}).get("State")
        if state:
            return str(state)
    return None


def error(code: str, message: str, status: int | None) -> dict[str, Any]:
    return {"Error": {"Code": code, "Message": message}, "HTTPStatusCode": status}


def run(request: dict[str, Any]) -> tuple[dict[str, Any], int]:
    client = emr_client(request)
    try:
        if request["kind"] == "wait":
            waiter = client.get_waiter(request["waiter"])
            config = {"Delay": request["delay"], "MaxAttempts": request["max_attempts"]}
            waiter.wait(**request["params"], WaiterConfig=config)
            return {}, 0
        if request["kind"] == "time":
            seconds = []
            for _ in range(request["repeat"]):
                started = time.perf_counter()
                getattr(client, request["operation"])(**request["params"])
                seconds.append(time.perf_counter() - started)
            return {"seconds": seconds}, 0
        response: dict[str, Any] = getattr(client, request["operation"])(**request["params"])
        return response, 0
    except ClientError as err:
        body = err.response.get("Error", {})
        status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return error(body.get("Code", ""), body.get("Message", ""), status), 1
    except WaiterError as err:
        last = err.last_response or {}
        status = last.get("ResponseMetadata", {}).get("HTTPStatusCode")
        reason = f"{err} (last state: {last_state(last)}, last error: {last.get('Error')})"
        return error("WaiterError", reason, status), 1
    except BotoCoreError as err:  # rejected before or without an HTTP answer: bad parameters, no connection
        return error(type(err).__name__, str(err), None), 1


def iso(value: object) -> str:
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def main() -> int:
    result, status = run(json.load(sys.stdin))
    json.dump(result, sys.stdout, default=iso)
    return status


if __name__ == "__main__":
    sys.exit(main())
