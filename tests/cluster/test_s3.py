"""The local cluster's S3 server (cluster/s3.sh): a real S3 implementation (MinIO) that clients reach with the
generated credentials, that refuses anyone else, and that pods can name through s3.kemr-system.svc."""

from __future__ import annotations

import io
import secrets
from collections.abc import Iterator

import pytest
from minio import Minio
from minio.error import S3Error

from support.kube import Kube
from support.s3 import LocalS3, list_keys, put_bytes, read_bytes, start_local_s3


@pytest.fixture(scope="module")
def s3(kube: Kube) -> LocalS3:
    del kube  # the Service is created only with the cluster up
    return start_local_s3()


@pytest.fixture
def bucket(s3: LocalS3) -> Iterator[str]:
    client = s3.client()
    name = f"t-{secrets.token_hex(4)}"
    client.make_bucket(name)
    yield name
    for key in list_keys(client, f"s3://{name}/"):
        client.remove_object(name, key)
    client.remove_bucket(name)


def test_objects_round_trip_with_the_generated_credentials(s3: LocalS3, bucket: str) -> None:
    client = s3.client()
    body = b"order_id,amount\nO1,9.99\n" * 1000
    put_bytes(client, f"s3://{bucket}/input/orders.csv", body)
    put_bytes(client, f"s3://{bucket}/input/more/orders.csv", b"x")
    assert read_bytes(client, f"s3a://{bucket}/input/orders.csv") == body
    assert list_keys(client, f"s3://{bucket}/input/") == ["input/more/orders.csv", "input/orders.csv"]


def test_large_objects_use_multipart_upload(s3: LocalS3, bucket: str) -> None:
    """S3A's committers and uploads of big outputs use multipart uploads: the server must assemble them."""
    client = s3.client()
    body = secrets.token_bytes(12 * 1024 * 1024)
    client.put_object(bucket, "big.bin", io.BytesIO(body), len(body), part_size=5 * 1024 * 1024)
    assert read_bytes(client, f"s3://{bucket}/big.bin") == body


def test_wrong_credentials_are_refused(s3: LocalS3, bucket: str) -> None:
    host = s3.endpoint.removeprefix("http://")
    intruder = Minio(host, access_key="intruder", secret_key="not-the-secret", secure=False)
    with pytest.raises(S3Error) as refused:
        intruder.list_objects(bucket).__next__()
    assert refused.value.code in {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied"}


def test_pods_can_name_the_server_through_a_service(s3: LocalS3, kube: Kube) -> None:
    """s3.kemr-system.svc: a Service without selector whose Endpoints are the host's address."""
    host, port = s3.endpoint.removeprefix("http://").rsplit(":", 1)
    assert s3.cluster_endpoint == f"http://s3.kemr-system.svc:{port}"
    endpoints = kube.get("endpoints", "s3", "-n", "kemr-system")
    subset = endpoints["subsets"][0]
    assert [a["ip"] for a in subset["addresses"]] == [host]
    assert [p["port"] for p in subset["ports"]] == [int(port)]
    service = kube.get("service", "s3", "-n", "kemr-system")
    assert "selector" not in service["spec"]
