"""The Spark History Server's start and its time to list N applications (docs/spark-ui.md), on the local
cluster's real node, with the operator `make demo` installed and the demo's event log as the sample.

Run after `make demo` (it leaves the operator watching kemr-demo, the data-plane image on the node, and the
demo job's Spark event log in s3://kemr-demo/logs/):

    eval "$(cluster/env.sh)"; uv run python bench/history_listing.py [--applications=100]

Creates EMRCluster `history-bench` in kemr-demo, already terminated (`spec.terminate: true`: no pods), puts
N copies of the demo application's event log in its event log directory (each with its own application id),
asks for its history server as `kubectl emr ui` does (the request annotation), and prints: request → pod
Ready, Ready → all N applications listed by `/api/v1/applications`, and the first application page's load
time. Deletes the cluster (and so the history server) at the end.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

import yaml  # noqa: E402
from bench_support import as_dict  # noqa: E402
from kubernetes import client, config  # noqa: E402

from kemr.builders.history import HISTORY_REQUESTED_ANNOTATION, HISTORY_UI_PORT  # noqa: E402
from support.s3 import list_keys, put_bytes, read_bytes, start_local_s3  # noqa: E402

NAMESPACE = "kemr-demo"
BUCKET = "kemr-demo"
NAME = "history-bench"
APP_ID = re.compile(rb"app-[0-9]{14}-[0-9]{4,}")


def wait(what: str, check: Any, timeout: float, every: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(every)
    raise SystemExit(f"timed out after {timeout:.0f}s waiting for {what}")


def sample_event_log(s3: Any) -> bytes:
    """A completed event log of the demo's job (the newest), from s3://kemr-demo/logs/."""
    keys = [
        k
        for k in list_keys(s3, f"s3://{BUCKET}/logs/")
        if "/spark-events/app-" in k and not k.endswith(".inprogress")
    ]
    if not keys:
        raise SystemExit("no Spark event log under s3://kemr-demo/logs/: run `make demo` first")
    return read_bytes(s3, f"s3://{BUCKET}/{sorted(keys)[-1]}")


def cluster_manifest() -> dict[str, Any]:
    """The demo's cluster (manifests/demo/emrcluster-demo.yaml), renamed, without steps, logging elsewhere and
    terminated from the start: the operator makes no pods for it, only its history server on request."""
    manifest: dict[str, Any] = yaml.safe_load(
        (REPO / "manifests" / "demo" / "emrcluster-demo.yaml").read_text()
    )
    manifest["metadata"] = {"name": NAME, "namespace": NAMESPACE}
    manifest["spec"].pop("steps", None)
    manifest["spec"]["logUri"] = f"s3://{BUCKET}/bench-logs/"
    manifest["spec"]["terminate"] = True
    return manifest


def forward(pod: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        ["kubectl", "port-forward", "-n", NAMESPACE, f"pod/{pod}", f":{HISTORY_UI_PORT}"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    port = re.search(r":(\d+) ->", line)
    if not port:
        raise SystemExit(f"kubectl port-forward said: {line!r}")
    return process, f"http://127.0.0.1:{port.group(1)}"


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.load(response)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--applications", type=int, default=100)
    args = parser.parse_args()
    config.load_kube_config()
    custom, core = client.CustomObjectsApi(), client.CoreV1Api()
    s3 = start_local_s3().client()
    sample = sample_event_log(s3)
    original = APP_ID.search(sample)
    assert original, "the sample names no application id"

    group, version, plural = "kemr.io", "v1alpha1", "emrclusters"
    try:
        custom.delete_namespaced_custom_object(group, version, NAMESPACE, plural, NAME)
        wait("the previous bench cluster to go", lambda: NAME not in _names(custom), 60)
    except client.ApiException as err:
        if err.status != 404:
            raise
    created = as_dict(
        custom.create_namespaced_custom_object(group, version, NAMESPACE, plural, cluster_manifest())
    )
    uid = created["metadata"]["uid"]
    events = f"s3://{BUCKET}/bench-logs/{NAME}-{uid[:8]}/spark-events"
    for i in range(args.applications):
        new_id = f"app-20260101000000-{i:04d}".encode()
        put_bytes(s3, f"{events}/{new_id.decode()}", sample.replace(original.group(0), new_id))
    print(f"{args.applications} event logs of {len(sample) / 1024:.0f} KiB each in {events}/")

    try:
        started = time.monotonic()
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        patch = {"metadata": {"annotations": {HISTORY_REQUESTED_ANNOTATION: stamp}}}
        custom.patch_namespaced_custom_object(group, version, NAMESPACE, plural, NAME, patch)
        pod = f"{NAME}-history"
        wait("the history server pod to be Ready", lambda: _ready(core, pod), 300)
        ready = time.monotonic()
        process, base = forward(pod)
        try:
            wait(
                f"{args.applications} applications listed",
                lambda: len(get_json(f"{base}/api/v1/applications")) >= args.applications,
                600,
            )
            listed = time.monotonic()
            with urllib.request.urlopen(f"{base}/history/app-20260101000000-0000/jobs/", timeout=120) as page:
                page.read()
            viewed = time.monotonic()
        finally:
            process.terminate()
        print(f"request → history server Ready:            {ready - started:6.1f} s")
        print(f"Ready → {args.applications} applications listed:        {listed - ready:6.1f} s")
        print(f"request → {args.applications} applications listed:      {listed - started:6.1f} s")
        print(f"first application's jobs page (replay):    {viewed - listed:6.1f} s")
    finally:
        custom.delete_namespaced_custom_object(group, version, NAMESPACE, plural, NAME)


def _names(custom: client.CustomObjectsApi) -> set[str]:
    items = as_dict(custom.list_namespaced_custom_object("kemr.io", "v1alpha1", NAMESPACE, "emrclusters"))[
        "items"
    ]
    return {i["metadata"]["name"] for i in items}


def _ready(core: client.CoreV1Api, pod: str) -> bool:
    try:
        status = core.read_namespaced_pod(pod, NAMESPACE).status
    except client.ApiException:
        return False
    conditions = (status.conditions if status else None) or []
    return any(c.type == "Ready" and c.status == "True" for c in conditions)


if __name__ == "__main__":
    main()
