"""The EMR API server (kemr/emrapi/server.py) end to end over HTTP: aiohttp's test server running
`EmrApi.handle`, SigV4-signed requests (our signer, as in test_sigv4.py), an in-memory Kubernetes
(fake_kube.py) holding two access keys, bound to team-a and team-b.

pytest-asyncio is not installed: each test runs its scenario with asyncio.run.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from emrapi_support import load_request
from fake_kube import KEY_NAMESPACE, FakeKube
from multidict import CIMultiDict

from kemr.emrapi.auth import sigv4
from kemr.emrapi.auth.keys import KeyStore
from kemr.emrapi.operations import Settings
from kemr.emrapi.server import MAX_REQUEST_BYTES, EmrApi
from kemr.emrapi.translate import cluster_id
from kemr.runtime.client import KubeClient

CLUSTERS, STEPS = "emrclusters", "emrsteps"
HOST = "emr.kemr.svc:8443"
REGION = "eu-west-1"
SIGNED = ("host", "x-amz-date", "x-amz-target")


@dataclass(frozen=True)
class Key:
    access_key_id: str
    secret: str
    namespace: str


KEY_A = Key("AKIAKEMRTEAMA0000001", "kemrTeamASecretKey/0000000000000000000a1", "team-a")
KEY_B = Key("AKIAKEMRTEAMB0000001", "kemrTeamBSecretKey/0000000000000000000b1", "team-b")
SECRETS = [KEY_A.secret, KEY_B.secret]  # what no log line may contain (test_the_log_holds_no_secret)


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]

    @property
    def type(self) -> str:
        return str(self.body.get("__type", ""))

    @property
    def message(self) -> str:
        return str(self.body.get("Message", ""))


def signed_headers(
    body: bytes,
    *,
    key: Key,
    target: str,
    secret: str | None = None,
    when: datetime | None = None,
    signed: Sequence[str] = SIGNED,
) -> dict[str, str]:
    """The headers of an EMR request signed by `key` (or with `secret`) at `when` over `signed` headers."""
    amz_date = (when or datetime.now(UTC)).strftime(sigv4.AMZ_DATE_FORMAT)
    headers = {"Host": HOST, "X-Amz-Date": amz_date, "X-Amz-Target": target}
    scope = sigv4.SignedRequest(
        key.access_key_id, amz_date[:8], REGION, sigv4.SERVICE, tuple(sorted(signed)), ""
    )
    canonical = sigv4.canonical_request("POST", "/", "", headers, scope.signed_headers, body)
    signature = sigv4.signature(secret or key.secret, amz_date, scope, canonical)
    headers["Authorization"] = (
        f"{sigv4.ALGORITHM} Credential={key.access_key_id}/{scope.scope}, "
        f"SignedHeaders={';'.join(scope.signed_headers)}, Signature={signature}"
    )
    return headers


class Server:
    """The API under test, and the fake Kubernetes behind it."""

    def __init__(self, fake: FakeKube, client: TestClient[web.Request, web.Application]) -> None:
        self.fake, self.client = fake, client

    async def send(self, headers: CIMultiDict[str], body: bytes) -> Answer:
        headers.setdefault("Content-Type", "application/x-amz-json-1.1")
        async with self.client.post("/", data=body, headers=headers) as response:
            text = await response.text()
            try:
                payload = json.loads(text)
            except ValueError:
                payload = {"__raw": text}
            return Answer(response.status, payload if isinstance(payload, dict) else {"__raw": payload})

    async def call(
        self,
        operation: str,
        params: Any = None,
        *,
        key: Key = KEY_A,
        raw: bytes | None = None,
        secret: str | None = None,
        when: datetime | None = None,
        signed: Sequence[str] = SIGNED,
    ) -> Answer:
        """`operation` with `params` (JSON) or `raw` as the body, signed by `key`."""
        body = raw if raw is not None else json.dumps({} if params is None else params).encode()
        target = f"ElasticMapReduce.{operation}"
        headers = signed_headers(body, key=key, target=target, secret=secret, when=when, signed=signed)
        return await self.send(CIMultiDict(headers), body)

    async def ok(self, operation: str, params: Any = None, *, key: Key = KEY_A) -> dict[str, Any]:
        answer = await self.call(operation, params, key=key)
        assert answer.status == 200, (operation, answer)
        return answer.body

    async def run_job_flow(self, *, key: Key = KEY_A, **fields: Any) -> str:
        request = {**load_request("uniform"), **fields}
        job_flow_id = (await self.ok("RunJobFlow", request, key=key))["JobFlowId"]
        assert isinstance(job_flow_id, str)
        return job_flow_id


def keys_fake(*, latency: float = 0.0) -> FakeKube:
    fake = FakeKube(latency=latency)
    for key in (KEY_A, KEY_B):
        fake.add_key(key.access_key_id, key.secret, key.namespace)
    return fake


def serve(scenario: Callable[[Server], Awaitable[None]], fake: FakeKube | None = None) -> FakeKube:
    """Runs `scenario` against a fresh EmrApi (as `kemr emr-api` builds it) on `fake` (default: the two
    keys); returns the fake for the checks after."""
    kube = fake if fake is not None else keys_fake()

    async def main() -> None:
        # EmrApi is annotated with KubeClient; the fake has what it uses (request, impersonating).
        api = EmrApi(cast("KubeClient", kube), KeyStore(kube, KEY_NAMESPACE), Settings())
        app = web.Application(client_max_size=MAX_REQUEST_BYTES)
        app.router.add_post("/", api.handle)
        async with TestClient(TestServer(app)) as client:
            await scenario(Server(kube, client))

    asyncio.run(main())
    return kube


def step(name: str = "etl", action: str = "CONTINUE") -> dict[str, Any]:
    return {
        "Name": name,
        "ActionOnFailure": action,
        "HadoopJarStep": {"Jar": "command-runner.jar", "Args": ["spark-submit", "s3://bucket/job.py"]},
    }


def only(fake: FakeKube, namespace: str, plural: str) -> dict[str, Any]:
    objects = fake.items(namespace, plural)
    assert len(objects) == 1, objects
    return objects[0]


@pytest.fixture(autouse=True)
def no_secret_is_logged(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """12. Whatever a test does, no log record (message or traceback) holds a secret access key, plain or
    base64-encoded as in its Secret."""
    caplog.set_level(logging.DEBUG)
    yield
    formatter = logging.Formatter("%(message)s")
    forbidden = [*SECRETS, *(base64.b64encode(s.encode()).decode() for s in SECRETS)]
    for record in caplog.records:
        text = formatter.format(record)
        leaked = [s for s in forbidden if s in text]
        assert not leaked, f"a log record holds a secret: {record.name} {record.levelname}"


# ---- 1. a round trip --------------------------------------------------------------------------------------


def test_a_signed_round_trip_answers_in_emrs_shapes() -> None:
    async def scenario(server: Server) -> None:
        assert await server.ok("ListClusters") == {"Clusters": []}
        job_flow_id = await server.run_job_flow(Steps=[step("first")])
        assert job_flow_id.startswith("j-")

        cluster = (await server.ok("DescribeCluster", {"ClusterId": job_flow_id}))["Cluster"]
        assert cluster["Id"] == job_flow_id
        assert cluster["Name"] == load_request("uniform")["Name"]
        listed = (await server.ok("ListClusters"))["Clusters"]
        assert [c["Id"] for c in listed] == [job_flow_id]

        added = await server.ok(
            "AddJobFlowSteps", {"JobFlowId": job_flow_id, "Steps": [step("a"), step("b")]}
        )
        step_ids = added["StepIds"]
        assert len(step_ids) == 2
        assert all(s.startswith("s-") for s in step_ids)
        described = await server.ok("DescribeStep", {"ClusterId": job_flow_id, "StepId": step_ids[1]})
        assert (described["Step"]["Id"], described["Step"]["Name"]) == (step_ids[1], "b")

    fake = serve(scenario)
    created = only(fake, "team-a", CLUSTERS)
    assert cluster_id(created["metadata"]["uid"]) == created["metadata"]["labels"]["kemr.io/emr-id"]
    assert len(fake.items("team-a", STEPS)) == 3
    assert fake.items("team-b", CLUSTERS) == []
    users = {r.user for r in fake.requests if r.plural != "secrets"}
    assert users == {"system:serviceaccount:team-a:kemr-emr-api-user"}


# ---- 2. the target header is the signed one -------------------------------------------------------------


@pytest.mark.parametrize("signed_first", [True, False])
def test_two_target_headers_are_refused_and_nothing_runs(signed_first: bool) -> None:
    """NEW. One X-Amz-Target signed (ListClusters, harmless), another sent beside it (TerminateJobFlows):
    the request is refused in EMR's shape, whichever comes first, and nothing is terminated."""

    async def scenario(server: Server) -> None:
        job_flow_id = await server.run_job_flow()
        before = server.fake.snapshot()
        body = json.dumps({"JobFlowIds": [job_flow_id]}).encode()
        headers = signed_headers(body, key=KEY_A, target="ElasticMapReduce.ListClusters")
        signed_target = headers.pop("X-Amz-Target")
        other = "ElasticMapReduce.TerminateJobFlows"
        targets = [signed_target, other] if signed_first else [other, signed_target]
        sent = CIMultiDict(headers)
        for target in targets:
            sent.add("X-Amz-Target", target)
        answer = await server.send(sent, body)
        assert answer.status in (400, 403), answer
        assert answer.type.endswith("Exception"), answer
        assert answer.message
        assert server.fake.snapshot() == before
        assert not only(server.fake, "team-a", CLUSTERS)["spec"].get("terminate")

    serve(scenario)


def test_a_signature_that_does_not_sign_the_target_is_refused() -> None:
    """NEW. SignedHeaders without x-amz-target: the operation is not covered by the signature."""

    async def scenario(server: Server) -> None:
        answer = await server.call("ListClusters", signed=("host", "x-amz-date"))
        assert (answer.status, answer.type) == (403, "InvalidSignatureException"), answer

    fake = serve(scenario)
    assert fake.count("GET", CLUSTERS) == 0


# ---- 3. authentication ------------------------------------------------------------------------------------


def test_authentication_refusals_in_emrs_shape() -> None:
    async def scenario(server: Server) -> None:
        wrong = await server.call("ListClusters", secret="not-the-secret-at-all-0000000000000000000")
        assert (wrong.status, wrong.type) == (403, "InvalidSignatureException"), wrong

        unknown = await server.call("ListClusters", key=Key("AKIAUNKNOWN000000001", "x" * 40, "team-a"))
        assert (unknown.status, unknown.type) == (403, "UnrecognizedClientException"), unknown

        body = b"{}"
        headers = signed_headers(body, key=KEY_A, target="ElasticMapReduce.ListClusters")
        del headers["Authorization"]
        missing = await server.send(CIMultiDict(headers), body)
        assert (missing.status, missing.type) == (403, "MissingAuthenticationTokenException"), missing

        old = await server.call("ListClusters", when=datetime.now(UTC) - timedelta(minutes=20))
        assert (old.status, old.type) == (403, "InvalidSignatureException"), old
        assert old.message.startswith("Signature expired"), old

    fake = serve(scenario)
    assert fake.count("GET", CLUSTERS) == 0


# ---- 4. the key store under a flood of unknown ids ---------------------------------------------------------


def test_unknown_key_ids_at_once_reload_the_keys_once() -> None:
    """NEW. 200 concurrent requests with unknown key ids: the Secrets are listed once (a single-flight
    reload), not once per request, and not again within the reload interval."""

    async def scenario(server: Server) -> None:
        async def stranger(i: int) -> Answer:
            return await server.call("ListClusters", key=Key(f"AKIASTRANGER{i:08d}", "y" * 40, "team-a"))

        answers = await asyncio.gather(*(stranger(i) for i in range(200)))
        assert {(a.status, a.type) for a in answers} == {(403, "UnrecognizedClientException")}

    fake = serve(scenario, keys_fake(latency=0.005))
    assert fake.secret_lists <= 2, f"{fake.secret_lists} Secret LISTs for 200 unknown key ids"


# ---- 5. broken key Secrets ---------------------------------------------------------------------------------


def test_a_key_secret_that_is_not_utf8_is_skipped() -> None:
    """NEW."""
    fake = keys_fake()
    bad = Key("AKIABADBYTES00000001", "z" * 40, "team-a")
    fake.add_secret(
        "bad-bytes",
        {"accessKeyId": bad.access_key_id, "secretAccessKey": b"\xff\xfe\x00secret", "namespace": "team-a"},
    )

    async def scenario(server: Server) -> None:
        assert await server.ok("ListClusters") == {"Clusters": []}
        assert await server.ok("ListClusters", key=KEY_B) == {"Clusters": []}
        answer = await server.call("ListClusters", key=bad)
        assert (answer.status, answer.type) == (403, "UnrecognizedClientException"), answer

    serve(scenario, fake)


def test_an_access_key_id_in_two_secrets_is_refused() -> None:
    """NEW. Two Secrets claim one id (for two namespaces): neither is trusted; the other keys work."""
    fake = keys_fake()
    twin_a = Key("AKIATWIN000000000001", "twinSecretForTeamA000000000000000000000a", "team-a")
    twin_b = Key("AKIATWIN000000000001", "twinSecretForTeamB000000000000000000000b", "team-b")
    fake.add_key(twin_a.access_key_id, twin_a.secret, twin_a.namespace, name="twin-a")
    fake.add_key(twin_b.access_key_id, twin_b.secret, twin_b.namespace, name="twin-b")

    async def scenario(server: Server) -> None:
        for twin in (twin_a, twin_b):
            answer = await server.call("ListClusters", key=twin)
            assert (answer.status, answer.type) == (403, "UnrecognizedClientException"), answer
        assert await server.ok("ListClusters") == {"Clusters": []}
        assert await server.ok("ListClusters", key=KEY_B) == {"Clusters": []}

    serve(scenario, fake)


# ---- 6. malformed input ------------------------------------------------------------------------------------

CID = "<the cluster's id>"

MALFORMED: list[tuple[str, dict[str, Any], str]] = [
    ("DescribeCluster", {"ClusterId": 5}, "ClusterId"),
    ("TerminateJobFlows", {"JobFlowIds": "j-x"}, "JobFlowIds"),
    ("TerminateJobFlows", {"JobFlowIds": [5]}, "JobFlowIds"),
    ("ListClusters", {"Marker": 5}, "Marker"),
    ("ListClusters", {"CreatedAfter": "yesterday"}, "CreatedAfter"),
    ("ListClusters", {"ClusterStates": [["x"]]}, "ClusterStates"),
    ("AddJobFlowSteps", {"JobFlowId": CID, "Steps": {}}, "Steps"),
    ("AddJobFlowSteps", {"JobFlowId": CID, "Steps": [5]}, "Steps"),
    ("PutManagedScalingPolicy", {"ClusterId": CID, "ManagedScalingPolicy": "x"}, "ManagedScalingPolicy"),
]


@pytest.mark.parametrize(
    ("operation", "params", "field"), MALFORMED, ids=[f"{o}-{json.dumps(p)}" for o, p, _ in MALFORMED]
)
def test_a_malformed_field_is_a_validation_error_naming_it(
    operation: str, params: dict[str, Any], field: str
) -> None:
    """NEW (most): never a 500."""

    async def scenario(server: Server) -> None:
        job_flow_id = await server.run_job_flow()
        request = {k: job_flow_id if v == CID else v for k, v in params.items()}
        before = server.fake.snapshot()
        answer = await server.call(operation, request)
        assert (answer.status, answer.type) == (400, "ValidationException"), answer
        assert field in answer.message, answer
        assert server.fake.snapshot() == before

    serve(scenario)


@pytest.mark.parametrize("body", [b'{"ClusterStates": [', b"[]", b'"ListClusters"', b"\xff\xfe"])
def test_a_body_that_is_not_a_json_object_is_a_validation_error(body: bytes) -> None:
    async def scenario(server: Server) -> None:
        answer = await server.call("ListClusters", raw=body)
        assert (answer.status, answer.type) == (400, "ValidationException"), answer

    serve(scenario)


def test_a_body_over_a_mebibyte_is_refused_in_emrs_shape() -> None:
    """NEW: 413 with `__type`, not aiohttp's own page nor a 500."""

    async def scenario(server: Server) -> None:
        padding = "x" * (MAX_REQUEST_BYTES + 1)
        answer = await server.call("ListClusters", {"Marker": padding})
        assert answer.status == 413, answer.status
        assert "__type" in answer.body, answer.body

    fake = serve(scenario)
    assert fake.count("GET", CLUSTERS) == 0


# ---- 7. a step Kubernetes refuses midway -------------------------------------------------------------------


def test_run_job_flow_whose_second_step_is_refused_terminates_its_cluster() -> None:
    """NEW."""

    async def scenario(server: Server) -> None:
        server.fake.fail("POST", STEPS, nth=2, status=422, message="admission webhook denied the step")
        request = {**load_request("uniform"), "Steps": [step("first"), step("second"), step("third")]}
        answer = await server.call("RunJobFlow", request)
        assert (answer.status, answer.type) == (400, "ValidationException"), answer
        cluster = only(server.fake, "team-a", CLUSTERS)
        job_flow_id = cluster_id(cluster["metadata"]["uid"])
        assert "Steps[1]" in answer.message, answer
        assert job_flow_id in answer.message, answer
        assert re.search(r"\bterminat(ed|ing)\b", answer.message), (
            answer
        )  # "was terminated" / "is terminating"
        assert cluster["spec"].get("terminate") is True
        assert server.fake.count("POST", STEPS) == 2  # the third step was not tried

    serve(scenario)


def test_add_job_flow_steps_whose_second_step_is_refused_cancels_the_first() -> None:
    """NEW."""

    async def scenario(server: Server) -> None:
        job_flow_id = await server.run_job_flow()
        server.fake.fail("POST", STEPS, nth=2, status=422, message="admission webhook denied the step")
        request = {"JobFlowId": job_flow_id, "Steps": [step("first"), step("second")]}
        answer = await server.call("AddJobFlowSteps", request)
        assert (answer.status, answer.type) == (400, "ValidationException"), answer
        first = only(server.fake, "team-a", STEPS)
        assert first["spec"].get("cancel") is True, first["spec"]

    serve(scenario)


# ---- 8. ids come from uids --------------------------------------------------------------------------------


def test_a_copied_id_label_does_not_take_the_id() -> None:
    """NEW. A kubectl-made copy of a cluster keeps its kemr.io/emr-id label but has its own uid: lookups
    by the original's id find the original (even on a server that has no name hints yet), and ListClusters
    reports one id per object, derived from its uid."""
    fake = keys_fake()
    ids: dict[str, str] = {}

    async def create(server: Server) -> None:
        ids["original"] = await server.run_job_flow(Name="original")

    serve(create, fake)
    original = only(fake, "team-a", CLUSTERS)
    copied = json.loads(json.dumps(original))
    copied["metadata"] = {
        "name": "0-copy",  # sorts before the original: a label-selected list returns it first
        "labels": dict(original["metadata"]["labels"]),
        "annotations": dict(original["metadata"].get("annotations") or {}),
    }
    copied.pop("status", None)
    copy_uid = fake.add_object("team-a", CLUSTERS, copied)["metadata"]["uid"]
    ids["copy"] = cluster_id(copy_uid)
    assert ids["copy"] != ids["original"]

    async def look_up(server: Server) -> None:  # a fresh server: no name hints
        found = (await server.ok("DescribeCluster", {"ClusterId": ids["original"]}))["Cluster"]
        assert found["Id"] == ids["original"]
        assert found["Name"] == "original"
        listed = [c["Id"] for c in (await server.ok("ListClusters"))["Clusters"]]
        assert sorted(listed) == sorted(ids.values())
        by_uid = (await server.ok("DescribeCluster", {"ClusterId": ids["copy"]}))["Cluster"]
        assert by_uid["Id"] == ids["copy"]

    serve(look_up, fake)


# ---- 9. conflicts ------------------------------------------------------------------------------------------


def test_a_conflict_on_add_tags_is_retried() -> None:
    """NEW. The cluster's PATCH answers 409 once: AddTags re-reads and tries again; the tag lands."""

    async def scenario(server: Server) -> None:
        job_flow_id = await server.run_job_flow()
        server.fake.fail(
            "PATCH", CLUSTERS, status=409, reason="Conflict", message="the object has been modified"
        )
        await server.ok("AddTags", {"ResourceId": job_flow_id, "Tags": [{"Key": "team", "Value": "a"}]})
        tags = (await server.ok("DescribeCluster", {"ClusterId": job_flow_id}))["Cluster"]["Tags"]
        assert {"Key": "team", "Value": "a"} in tags

    serve(scenario)


def test_concurrent_add_tags_keep_both_tags() -> None:
    """NEW (beyond the brief's item 9: what its retry is for). Two AddTags at once, each reading the tags
    before the other writes: both tags land (a resourceVersion-guarded patch, retried on 409), none lost."""

    async def scenario(server: Server) -> None:
        job_flow_id = await server.run_job_flow()
        server.fake.latency = 0.005
        await asyncio.gather(
            server.ok("AddTags", {"ResourceId": job_flow_id, "Tags": [{"Key": "one", "Value": "1"}]}),
            server.ok("AddTags", {"ResourceId": job_flow_id, "Tags": [{"Key": "two", "Value": "2"}]}),
        )
        tags = (await server.ok("DescribeCluster", {"ClusterId": job_flow_id}))["Cluster"]["Tags"]
        assert {"Key": "one", "Value": "1"} in tags
        assert {"Key": "two", "Value": "2"} in tags

    serve(scenario)


# ---- 10. namespaces and unsupported operations ------------------------------------------------------------


def test_a_key_sees_only_its_own_namespace() -> None:
    async def scenario(server: Server) -> None:
        theirs = await server.run_job_flow(key=KEY_B)
        answer = await server.call("DescribeCluster", {"ClusterId": theirs})
        assert (answer.status, answer.type) == (400, "InvalidRequestException"), answer
        terminate = await server.call("TerminateJobFlows", {"JobFlowIds": [theirs]})
        assert (terminate.status, terminate.type) == (400, "InvalidRequestException"), terminate
        assert await server.ok("ListClusters") == {"Clusters": []}
        assert [c["Id"] for c in (await server.ok("ListClusters", key=KEY_B))["Clusters"]] == [theirs]

    fake = serve(scenario)
    assert not only(fake, "team-b", CLUSTERS)["spec"].get("terminate")


def test_an_unsupported_operation_is_named() -> None:
    async def scenario(server: Server) -> None:
        answer = await server.call("ListStudios")
        assert answer.status == 400, answer
        assert answer.body == {
            "__type": "InvalidRequestException",
            "Message": "ListStudios is not supported by kemr",
        }

    serve(scenario)


# ---- 11. EMR's rule on concurrent steps --------------------------------------------------------------------


def test_cancel_and_wait_is_refused_on_a_cluster_running_steps_concurrently() -> None:
    """NEW. EMR: with StepConcurrencyLevel above 1, ActionOnFailure must be CONTINUE."""

    async def scenario(server: Server) -> None:
        job_flow_id = await server.run_job_flow(StepConcurrencyLevel=2)
        request = {"JobFlowId": job_flow_id, "Steps": [step("ok"), step("waits", "CANCEL_AND_WAIT")]}
        answer = await server.call("AddJobFlowSteps", request)
        assert (answer.status, answer.type) == (400, "ValidationException"), answer
        assert "ActionOnFailure" in answer.message, answer

    fake = serve(scenario)
    assert fake.count("POST", STEPS) == 0
    assert fake.items("team-a", STEPS) == []


# ---- 12. logs ----------------------------------------------------------------------------------------------


def test_the_log_holds_no_secret(caplog: pytest.LogCaptureFixture) -> None:
    """Refusals, reloads and failures log (the autouse fixture checks every test's log; this one makes
    sure there is something to check)."""

    async def scenario(server: Server) -> None:
        await server.call("ListClusters", secret=KEY_B.secret)  # team-a's id, team-b's secret
        await server.call("ListClusters", key=Key(KEY_A.access_key_id, KEY_A.secret[::-1], "team-a"))
        await server.call("DescribeCluster", {"ClusterId": 5})
        server.fake.fail("GET", CLUSTERS, status=500, reason="InternalError", message="etcd is away")
        await server.call("ListClusters")
        await server.ok("ListClusters", key=KEY_B)

    serve(scenario)
    assert any("AKIAKEMRTEAMA0000001" in r.getMessage() for r in caplog.records)
