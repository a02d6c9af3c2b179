"""The EMR clients users already have — boto3, the aws CLI, Node's aws-sdk v2 — pointed at an EMR endpoint.

Each runs as a subprocess in its own environment, installed once under ~/.cache/kemr/emr-clients so the repo
never holds one: boto3 and the aws CLI in a uv environment of tests/emrapi/clients (botocore's
python-dateutil < 3 cannot share kemr's .venv), aws-sdk in an npm install of tests/emrapi/node. Only the
endpoint is kemr-specific; credentials and region come the way an EMR user gives them, and nothing is read
from ~/.aws.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
CLIENTS_PROJECT = REPO / "tests" / "emrapi" / "clients"
NODE_PROJECT = REPO / "tests" / "emrapi" / "node"
NODE_FILES = ("package.json", "package-lock.json", "walkthrough.js")
CACHE = Path.home() / ".cache" / "kemr" / "emr-clients"
TIMEOUT = 300  # seconds for one client run; waiters pass their own budget on top
# How the aws CLI reports a service error on stderr (exit status 254 or 255).
CLI_ERROR = re.compile(
    r"An error occurred \((?P<code>[^)]+)\) when calling the (?P<op>\w+) operation[^:]*: (?P<msg>.*)"
)


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str
    region: str = "us-east-1"


class EmrClientError(RuntimeError):
    """The service (or the client, before sending) refused: its error code, message, HTTP status (None when
    the client does not say, as the aws CLI) and operation (the aws CLI's commands call several)."""

    def __init__(
        self, code: str, message: str, status: int | None = None, operation: str | None = None
    ) -> None:
        where = f" in {operation}" if operation else ""
        super().__init__(f"{code}{where}: {message}" + (f" (HTTP {status})" if status else ""))
        self.code = code
        self.message = message
        self.status = status
        self.operation = operation


def uv_bin() -> str:
    """uv as the Makefile and cluster/lib.sh find it: $UV, else on PATH, else ~/.local/bin/uv."""
    return os.environ.get("UV") or shutil.which("uv") or str(Path.home() / ".local" / "bin" / "uv")


def files_hash(*paths: Path) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


@contextmanager
def install_lock(name: str) -> Iterator[None]:
    """Serialises installs of one environment between concurrent test processes."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / f"{name}.lock").open("w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def clients_python() -> Path:
    """The python of the boto3 + aws CLI environment, synced from tests/emrapi/clients/uv.lock when that
    changed since the last sync (else this only reads a marker file)."""
    venv = CACHE / "venv"
    python = venv / "bin" / "python"
    marker = venv / ".kemr-lock-sha256"
    wanted = files_hash(CLIENTS_PROJECT / "pyproject.toml", CLIENTS_PROJECT / "uv.lock")
    with install_lock("venv"):
        if python.exists() and marker.exists() and marker.read_text() == wanted:
            return python
        env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(venv), "UV_SYSTEM_CERTS": "1"}
        cmd = [uv_bin(), "sync", "--frozen", "--quiet", "--project", str(CLIENTS_PROJECT)]
        subprocess.run(cmd, env=env, check=True, capture_output=True, text=True, timeout=TIMEOUT)
        marker.write_text(wanted)
    return python


def node_project() -> Path:
    """A copy of tests/emrapi/node with its node_modules, installed by `npm ci` when the lock changed."""
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is not on PATH: Node.js (with npm) is needed for the aws-sdk client")
    target = CACHE / "node"
    marker = target / "node_modules" / ".kemr-lock-sha256"
    wanted = files_hash(NODE_PROJECT / "package.json", NODE_PROJECT / "package-lock.json")
    with install_lock("node"):
        target.mkdir(parents=True, exist_ok=True)
        for name in NODE_FILES:  # always, so an edited walkthrough.js runs without a reinstall
            shutil.copyfile(NODE_PROJECT / name, target / name)
        if not (marker.exists() and marker.read_text() == wanted):
            # --ignore-scripts: aws-sdk's only script prints its maintenance-mode notice.
            cmd = [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"]
            subprocess.run(cmd, cwd=target, check=True, capture_output=True, text=True, timeout=TIMEOUT)
            marker.write_text(wanted)
    return target


def aws_env(creds: Credentials) -> dict[str, str]:
    """The caller's environment without its AWS settings, plus `creds` as the standard variables; no config
    or credentials file is read. One attempt per request, so a test sees the server's first answer."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID=creds.access_key_id,
        AWS_SECRET_ACCESS_KEY=creds.secret_access_key,
        AWS_REGION=creds.region,
        AWS_DEFAULT_REGION=creds.region,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_MAX_ATTEMPTS="1",
        AWS_EC2_METADATA_DISABLED="true",
    )
    return env


def parse_output(proc: subprocess.CompletedProcess[str], what: str) -> dict[str, Any]:
    """A client's JSON answer, or its error raised as EmrClientError."""
    try:
        out: dict[str, Any] = json.loads(proc.stdout) if proc.stdout.strip() else {}
    except json.JSONDecodeError:
        out = {}
    if proc.returncode == 0:
        return out
    if "Error" in out:
        raise EmrClientError(out["Error"]["Code"], out["Error"]["Message"], out.get("HTTPStatusCode"))
    if match := CLI_ERROR.search(proc.stderr):
        raise EmrClientError(match["code"], match["msg"].strip(), operation=match["op"])
    raise EmrClientError("ClientFailed", f"{what} exited {proc.returncode}: {proc.stderr.strip()}")


def run_boto3(request: dict[str, Any], creds: Credentials, timeout: float) -> dict[str, Any]:
    request = {
        **request,
        "region": creds.region,
        "access_key_id": creds.access_key_id,
        "secret_access_key": creds.secret_access_key,
    }
    proc = subprocess.run(
        [str(clients_python()), str(CLIENTS_PROJECT / "call.py")],
        input=json.dumps(request),
        env=aws_env(creds),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return parse_output(proc, f"boto3 {request.get('operation') or request.get('waiter')}")


def boto3_call(
    endpoint: str,
    creds: Credentials,
    operation: str,
    params: dict[str, Any] | None = None,
    *,
    verify: str | bool = True,
) -> dict[str, Any]:
    """`boto3.client("emr", endpoint_url=endpoint, ...).<operation>(**params)` (snake_case operation, e.g.
    "list_clusters"): the response as JSON, datetimes as ISO 8601 strings."""
    request: dict[str, Any] = {"kind": "call", "endpoint": endpoint, "verify": verify, "operation": operation}
    return run_boto3({**request, "params": params or {}}, creds, TIMEOUT)


def boto3_latencies(
    endpoint: str, creds: Credentials, operation: str, params: dict[str, Any], repeat: int
) -> list[float]:
    """Seconds each of `repeat` calls of `operation` took, as one boto3 client saw them (for benchmarks)."""
    request: dict[str, Any] = {"kind": "time", "endpoint": endpoint, "verify": True, "operation": operation}
    answer = run_boto3({**request, "params": params, "repeat": repeat}, creds, TIMEOUT + repeat)
    return [float(s) for s in answer["seconds"]]


def boto3_wait(
    endpoint: str,
    creds: Credentials,
    waiter_name: str,
    params: dict[str, Any],
    delay: int = 5,
    max_attempts: int = 60,
    *,
    verify: str | bool = True,
) -> None:
    """boto3's EMR waiter (cluster_running, step_complete, cluster_terminated) until it succeeds; raises
    EmrClientError("WaiterError", ...) naming the last state seen when it fails or runs out of attempts."""
    request: dict[str, Any] = {"kind": "wait", "endpoint": endpoint, "verify": verify, "waiter": waiter_name}
    request |= {"params": params, "delay": delay, "max_attempts": max_attempts}
    run_boto3(request, creds, TIMEOUT + delay * max_attempts)


def cli_tls_args(verify: str | bool) -> list[str]:
    """The aws CLI's spelling of boto3's `verify`: a CA bundle's path, or False to skip verification."""
    if verify is False:
        return ["--no-verify-ssl"]
    if isinstance(verify, str):
        return ["--ca-bundle", verify]
    return []


def aws_cli(endpoint: str, creds: Credentials, *args: str, verify: str | bool = True) -> dict[str, Any]:
    """`aws emr <args> --endpoint-url endpoint --region R --output json`: its JSON output ({} when it prints
    nothing); a non-zero exit raises EmrClientError with its stderr."""
    aws = clients_python().parent / "aws"
    cmd = [str(aws), "emr", *args, "--endpoint-url", endpoint, "--region", creds.region, "--output", "json"]
    proc = subprocess.run(
        [*cmd, *cli_tls_args(verify)], env=aws_env(creds), capture_output=True, text=True, timeout=TIMEOUT
    )
    return parse_output(proc, f"aws emr {' '.join(args)}")


def node_add_step(
    endpoint: str,
    creds: Credentials,
    cluster_id: str,
    script_uri: str,
    *,
    step_name: str = "walkthrough",
    verify: str | bool = True,
) -> list[str]:
    """The walkthrough's Node.js `runSparkJob(clusterId, scriptUri)` (aws-sdk v2 AddJobFlowSteps with
    spark-submit through command-runner.jar): the new step ids."""
    project = node_project()
    env = {**aws_env(creds), "EMR_ENDPOINT": endpoint, "AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE": "1"}
    if verify is False:
        env["NODE_TLS_REJECT_UNAUTHORIZED"] = "0"
    elif isinstance(verify, str):
        env["NODE_EXTRA_CA_CERTS"] = verify
    proc = subprocess.run(
        ["node", "walkthrough.js", cluster_id, script_uri, step_name],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    step_ids: list[str] = parse_output(proc, "node walkthrough.js")["StepIds"]
    return step_ids
