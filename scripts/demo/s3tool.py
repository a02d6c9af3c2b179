"""A small S3 client for the demo, for the local S3 server (cluster/s3.sh) or any S3 endpoint.

    s3tool.py mb BUCKET                 create a bucket unless it exists
    s3tool.py put FILE s3://BUCKET/KEY  upload a file
    s3tool.py cat s3://BUCKET/KEY       print an object
    s3tool.py ls s3://BUCKET/PREFIX     list the keys under a prefix
    s3tool.py rm s3://BUCKET/PREFIX     delete every key under a prefix

Endpoint and credentials: $KEMR_S3_ENDPOINT and the file $KEMR_S3_CREDENTIALS (what `cluster/env.sh` exports).
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from urllib.parse import urlparse

from minio import Minio


def _client() -> Minio:
    endpoint = os.environ.get("KEMR_S3_ENDPOINT")
    credentials = os.environ.get("KEMR_S3_CREDENTIALS")
    if not endpoint or not credentials:
        sys.exit('s3tool: set KEMR_S3_ENDPOINT and KEMR_S3_CREDENTIALS: eval "$(cluster/env.sh)"')
    keys = dict(re.findall(r"^(\w+)=(\S+)$", Path(credentials).read_text(), re.M))
    url = urlparse(endpoint)
    return Minio(
        url.netloc,
        access_key=keys["KEMR_S3_ACCESS_KEY_ID"],
        secret_key=keys["KEMR_S3_SECRET_ACCESS_KEY"],
        secure=url.scheme == "https",
    )


def _split(uri: str) -> tuple[str, str]:
    url = urlparse(uri)
    if url.scheme not in ("s3", "s3a") or not url.netloc:
        sys.exit(f"s3tool: not an s3:// URI: {uri}")
    return url.netloc, url.path.lstrip("/")


def _keys(client: Minio, uri: str) -> list[str]:
    bucket, prefix = _split(uri)
    return sorted(str(o.object_name) for o in client.list_objects(bucket, prefix=prefix, recursive=True))


def main(argv: list[str]) -> None:
    if len(argv) < 2:
        sys.exit(__doc__)
    command, args = argv[0], argv[1:]
    client = _client()
    if command == "mb" and len(args) == 1:
        if not client.bucket_exists(args[0]):
            client.make_bucket(args[0])
    elif command == "put" and len(args) == 2:
        bucket, key = _split(args[1])
        client.fput_object(bucket, key, args[0])
    elif command == "cat" and len(args) == 1:
        bucket, key = _split(args[0])
        response = client.get_object(bucket, key)
        try:
            sys.stdout.write(response.read().decode())
        finally:
            response.close()
            response.release_conn()
    elif command == "ls" and len(args) == 1:
        for key in _keys(client, args[0]):
            print(key)
    elif command == "rm" and len(args) == 1:
        bucket, _ = _split(args[0])
        for key in _keys(client, args[0]):
            client.remove_object(bucket, key)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
