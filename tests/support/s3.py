"""The local cluster's S3 server (cluster/s3.sh) from the host: a MinIO client with its credentials."""

from __future__ import annotations

import io
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from minio import Minio

CLUSTER_DIR = Path(__file__).resolve().parents[2] / "cluster"


@dataclass(frozen=True)
class LocalS3:
    endpoint: str  # http://HOST:PORT, as pods on the real node reach it
    cluster_endpoint: str  # http://s3.kemr-system.svc:PORT
    access_key: str
    secret_key: str

    def client(self) -> Minio:
        url = urlparse(self.endpoint)
        return Minio(url.netloc, access_key=self.access_key, secret_key=self.secret_key, secure=False)


def start_local_s3() -> LocalS3:
    """Starts the server unless it runs (cluster/up.sh normally started it) and reads its settings."""
    subprocess.run([CLUSTER_DIR / "s3.sh", "up"], check=True, capture_output=True, text=True)
    out = subprocess.run([CLUSTER_DIR / "s3.sh", "env"], check=True, capture_output=True, text=True).stdout
    env = dict(re.findall(r"^export (\w+)=(\S+)$", out, re.M))
    creds = dict(re.findall(r"^(\w+)=(\S+)$", Path(env["KEMR_S3_CREDENTIALS"]).read_text(), re.M))
    return LocalS3(
        endpoint=env["KEMR_S3_ENDPOINT"],
        cluster_endpoint=env["KEMR_S3_CLUSTER_ENDPOINT"],
        access_key=creds["KEMR_S3_ACCESS_KEY_ID"],
        secret_key=creds["KEMR_S3_SECRET_ACCESS_KEY"],
    )


def split_uri(uri: str) -> tuple[str, str]:
    """s3://bucket/key or s3a://bucket/key -> (bucket, key)."""
    url = urlparse(uri)
    if url.scheme not in ("s3", "s3a") or not url.netloc:
        raise ValueError(f"not an s3:// or s3a:// URI: {uri!r}")
    return url.netloc, url.path.lstrip("/")


def put_bytes(client: Minio, uri: str, data: bytes) -> None:
    bucket, key = split_uri(uri)
    client.put_object(bucket, key, io.BytesIO(data), len(data))


def read_bytes(client: Minio, uri: str) -> bytes:
    bucket, key = split_uri(uri)
    response = client.get_object(bucket, key)
    try:
        return response.read()
    finally:
        response.close()
        response.release_conn()


def list_keys(client: Minio, uri: str) -> list[str]:
    """Every key under a prefix, sorted."""
    bucket, prefix = split_uri(uri)
    return sorted(str(o.object_name) for o in client.list_objects(bucket, prefix=prefix, recursive=True))
