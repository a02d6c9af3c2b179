"""The EMR client harness (support.emr_clients) against a stdlib fake of the EMR JSON API: each client reaches
the endpoint it is given, signs as `elasticmapreduce`, sends the operations an EMR user's command sends, and
its answers and errors come back as the harness promises. No cluster and no kemr server: the first run
installs the clients (uv, npm) under ~/.cache/kemr/emr-clients."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from support.emr_clients import Credentials, EmrClientError, aws_cli, boto3_call, boto3_wait, node_add_step

CREDS = Credentials("AKIDKEMRTEST", "kemr-test-secret", region="eu-west-1")
SIGV4 = re.compile(
    r"AWS4-HMAC-SHA256 Credential=AKIDKEMRTEST/\d{8}/eu-west-1/elasticmapreduce/aws4_request, "
    r"SignedHeaders=(?P<signed>[a-z0-9;-]+), Signature=[0-9a-f]{64}"
)


@dataclass(frozen=True)
class Request:
    operation: str  # X-Amz-Target without its "ElasticMapReduce." prefix
    headers: dict[str, str]  # lower-case names
    body: dict[str, Any]


@dataclass
class FakeEmr:
    """Answers ListClusters with no clusters, the operations in `answers` with theirs, anything else with a
    400 InvalidRequestException; records every request."""

    endpoint: str = ""
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)

    def answer(self, operation: str) -> tuple[int, dict[str, Any]]:
        if operation == "ListClusters":
            return 200, {"Clusters": []}
        if operation in self.answers:
            return 200, self.answers[operation]
        return 400, {"__type": "InvalidRequestException", "Message": f"fake: no {operation}"}

    def operations(self) -> list[str]:
        return [r.operation for r in self.requests]


def handler(fake: FakeEmr) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
            headers = {k.lower(): v for k, v in self.headers.items()}
            operation = headers.get("x-amz-target", "").removeprefix("ElasticMapReduce.")
            fake.requests.append(Request(operation, headers, body))
            status, answer = fake.answer(operation)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("x-amzn-RequestId", "fake-request")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def fake() -> Iterator[FakeEmr]:
    emr = FakeEmr()
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler(emr))
    emr.endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield emr
    server.shutdown()
    server.server_close()


def assert_signed_json_request(request: Request, endpoint: str, signed: set[str]) -> None:
    assert request.headers["content-type"] == "application/x-amz-json-1.1"
    assert request.headers["host"] == endpoint.removeprefix("http://")  # with its port
    match = SIGV4.fullmatch(request.headers["authorization"])
    assert match, request.headers["authorization"]
    assert set(match["signed"].split(";")) == signed


def test_boto3_call_returns_the_response(fake: FakeEmr) -> None:
    out = boto3_call(fake.endpoint, CREDS, "list_clusters", {})

    assert out["Clusters"] == []
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 200
    [request] = fake.requests
    assert request.operation == "ListClusters"
    assert_signed_json_request(request, fake.endpoint, {"content-type", "host", "x-amz-date", "x-amz-target"})


def test_boto3_call_raises_the_service_error_after_one_attempt(fake: FakeEmr) -> None:
    with pytest.raises(EmrClientError) as err:
        boto3_call(fake.endpoint, CREDS, "describe_cluster", {"ClusterId": "j-X"})

    assert (err.value.code, err.value.status) == ("InvalidRequestException", 400)
    assert err.value.message == "fake: no DescribeCluster"
    assert [(r.operation, r.body) for r in fake.requests] == [("DescribeCluster", {"ClusterId": "j-X"})]


def test_boto3_call_serialises_datetimes(fake: FakeEmr) -> None:
    cluster = {"Id": "j-X", "Status": {"State": "WAITING", "Timeline": {"CreationDateTime": 1700000000}}}
    fake.answers["DescribeCluster"] = {"Cluster": cluster}

    out = boto3_call(fake.endpoint, CREDS, "describe_cluster", {"ClusterId": "j-X"})

    assert out["Cluster"]["Status"]["Timeline"]["CreationDateTime"] == "2023-11-14T22:13:20+00:00"


def test_boto3_wait_names_the_last_state(fake: FakeEmr) -> None:
    fake.answers["DescribeCluster"] = {"Cluster": {"Id": "j-X", "Status": {"State": "STARTING"}}}

    with pytest.raises(EmrClientError, match="last state: STARTING") as err:
        boto3_wait(fake.endpoint, CREDS, "cluster_running", {"ClusterId": "j-X"}, delay=1, max_attempts=2)

    assert err.value.code == "WaiterError"
    assert fake.operations() == ["DescribeCluster", "DescribeCluster"]


def test_aws_cli_list_clusters_active(fake: FakeEmr) -> None:
    assert aws_cli(fake.endpoint, CREDS, "list-clusters", "--active") == {"Clusters": []}

    [request] = fake.requests
    active = ["STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING", "TERMINATING"]
    assert (request.operation, request.body) == ("ListClusters", {"ClusterStates": active})
    assert_signed_json_request(request, fake.endpoint, {"content-type", "host", "x-amz-date", "x-amz-target"})


def test_aws_cli_describe_cluster_merges_groups_and_bootstrap_actions(fake: FakeEmr) -> None:
    fake.answers["DescribeCluster"] = {"Cluster": {"Id": "j-X", "InstanceCollectionType": "INSTANCE_GROUP"}}
    fake.answers["ListInstanceGroups"] = {"InstanceGroups": [{"Id": "ig-1"}]}
    fake.answers["ListBootstrapActions"] = {"BootstrapActions": []}

    out = aws_cli(fake.endpoint, CREDS, "describe-cluster", "--cluster-id", "j-X")

    assert out["Cluster"]["InstanceGroups"] == [{"Id": "ig-1"}]
    assert out["Cluster"]["BootstrapActions"] == []
    assert fake.operations() == ["DescribeCluster", "ListInstanceGroups", "ListBootstrapActions"]
    assert all(r.body == {"ClusterId": "j-X"} for r in fake.requests)


def test_aws_cli_fails_the_command_when_a_follow_up_call_fails(fake: FakeEmr) -> None:
    fake.answers["DescribeCluster"] = {"Cluster": {"Id": "j-X"}}

    with pytest.raises(EmrClientError) as err:
        aws_cli(fake.endpoint, CREDS, "describe-cluster", "--cluster-id", "j-X")

    assert (err.value.code, err.value.operation) == ("InvalidRequestException", "ListInstanceGroups")
    assert err.value.message == "fake: no ListInstanceGroups"


def test_aws_cli_add_spark_step_reads_the_release_label_first(fake: FakeEmr) -> None:
    fake.answers["DescribeCluster"] = {"Cluster": {"Id": "j-X", "ReleaseLabel": "emr-7.0.0"}}
    fake.answers["AddJobFlowSteps"] = {"StepIds": ["s-1"]}

    out = aws_cli(
        fake.endpoint,
        CREDS,
        "add-steps",
        "--cluster-id",
        "j-X",
        "--steps",
        "Type=Spark,Name=s,Args=[s3://b/k.py]",
    )

    assert out == {"StepIds": ["s-1"]}
    assert fake.operations() == ["DescribeCluster", "AddJobFlowSteps"]
    step = {
        "Name": "s",
        "ActionOnFailure": "CONTINUE",
        "HadoopJarStep": {"Jar": "command-runner.jar", "Args": ["spark-submit", "s3://b/k.py"]},
    }
    assert fake.requests[1].body == {"JobFlowId": "j-X", "Steps": [step]}


WALKTHROUGH_STEP = {
    "Name": "walkthrough",
    "ActionOnFailure": "CONTINUE",
    "HadoopJarStep": {
        "Jar": "command-runner.jar",
        "Args": ["spark-submit", "--deploy-mode", "cluster", "s3://b/k.py"],
    },
}


def test_node_add_step_returns_the_step_ids(fake: FakeEmr) -> None:
    fake.answers["AddJobFlowSteps"] = {"StepIds": ["s-1"]}

    assert node_add_step(fake.endpoint, CREDS, "j-X", "s3://b/k.py") == ["s-1"]

    [request] = fake.requests
    assert (request.operation, request.body) == (
        "AddJobFlowSteps",
        {"JobFlowId": "j-X", "Steps": [WALKTHROUGH_STEP]},
    )
    # aws-sdk v2 signs the payload's hash header, not Content-Type.
    assert_signed_json_request(
        request, fake.endpoint, {"host", "x-amz-content-sha256", "x-amz-date", "x-amz-target"}
    )


def test_node_add_step_raises_the_service_error(fake: FakeEmr) -> None:
    with pytest.raises(EmrClientError) as err:
        node_add_step(fake.endpoint, CREDS, "j-X", "s3://b/k.py")

    assert (err.value.code, err.value.status) == ("InvalidRequestException", 400)
    assert err.value.message == "fake: no AddJobFlowSteps"
    assert fake.operations() == ["AddJobFlowSteps"]
