"""Reads an OCI image archive (as `buildah push ... oci-archive:` writes it) without unpacking it.

python3 images/oci.py digest ARCHIVE   the manifest digest (what containerd records for the image)
python3 images/oci.py config ARCHIVE   the image configuration (user, env, entrypoint...) as JSON
python3 images/oci.py name ARCHIVE     the image name the archive is tagged with
python3 images/oci.py id ARCHIVE       the image ID: its configuration's digest (as buildah shows it)
"""

from __future__ import annotations

import json
import sys
import tarfile
from typing import Any


def _read_json(archive: tarfile.TarFile, member: str) -> dict[str, Any]:
    extracted = archive.extractfile(member)
    if extracted is None:
        raise ValueError(f"{member} is not a file in the archive")
    data: dict[str, Any] = json.load(extracted)
    return data


def _blob(digest: str) -> str:
    algorithm, _, hexdigest = digest.partition(":")
    return f"blobs/{algorithm}/{hexdigest}"


def manifest_descriptor(path: str) -> dict[str, Any]:
    """The index's single manifest descriptor (digest, size, annotations with the image name)."""
    with tarfile.open(path) as archive:
        manifests = _read_json(archive, "index.json").get("manifests", [])
    if len(manifests) != 1:
        raise ValueError(f"{path}: expected one image in the archive, found {len(manifests)}")
    descriptor: dict[str, Any] = manifests[0]
    return descriptor


def image_id(path: str) -> str:
    """The digest of the image configuration: the image's ID, which buildah shows for it once pulled."""
    digest = manifest_descriptor(path)["digest"]
    with tarfile.open(path) as archive:
        config_digest: str = _read_json(archive, _blob(digest))["config"]["digest"]
    return config_digest


def image_config(path: str) -> dict[str, Any]:
    """The image configuration blob (its `config` holds User, Env, Entrypoint, Cmd, WorkingDir, Labels)."""
    digest = manifest_descriptor(path)["digest"]
    with tarfile.open(path) as archive:
        manifest = _read_json(archive, _blob(digest))
        return _read_json(archive, _blob(manifest["config"]["digest"]))


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[1] not in ("digest", "config", "name", "id"):
        print(__doc__, file=sys.stderr)
        return 2
    command, path = argv[1], argv[2]
    if command == "digest":
        print(manifest_descriptor(path)["digest"])
    elif command == "id":
        print(image_id(path))
    elif command == "name":
        print(manifest_descriptor(path).get("annotations", {}).get("org.opencontainers.image.ref.name", ""))
    else:
        print(json.dumps(image_config(path), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
