#!/usr/bin/env python3
"""Packs host files into a one-layer OCI image archive that `ctr images import` accepts (no registry needed).

    oci-pack.py --name kemr.local/busybox:test --out busybox.tar \\
        --file /bin/busybox=/usr/bin/busybox --link /bin/sh=busybox --dir /tmp=1777 \\
        --entrypoint '["/bin/sh"]' --env PATH=/bin

The archive is reproducible: the same inputs give the same image digest (fixed mtimes and owners, sorted
entries), so re-importing an unchanged image is a no-op for containerd.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path

LAYER_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar"
CONFIG_MEDIA_TYPE = "application/vnd.oci.image.config.v1+json"
MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"


@dataclass(frozen=True)
class Entry:
    """One path of the image's filesystem: a copied host file, a symlink or a directory."""

    path: str  # absolute path inside the image
    source: Path | None = None  # host file to copy
    link: str | None = None  # symlink target
    mode: int | None = None  # directory mode


def split_pair(arg: str, flag: str) -> tuple[str, str]:
    dest, sep, value = arg.partition("=")
    if not sep or not dest.startswith("/") or not value:
        raise SystemExit(f"{flag} {arg!r}: expected /path/in/image=VALUE")
    return dest, value


def parents(path: str) -> list[str]:
    parts = path.strip("/").split("/")[:-1]
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


def layer_tar(entries: list[Entry]) -> bytes:
    """An uncompressed tar of the entries (and their parent directories), owned by root, mtime 0."""
    dirs = {p: 0o755 for e in entries for p in parents(e.path)}
    dirs.update({e.path: e.mode for e in entries if e.mode is not None})
    files = {e.path: e for e in entries if e.mode is None}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(set(dirs) | set(files)):
            info = tarfile.TarInfo(path.lstrip("/"))
            info.mtime = 0
            entry = files.get(path)
            if entry is None:
                info.type, info.mode = tarfile.DIRTYPE, dirs[path]
                tar.addfile(info)
            elif entry.link is not None:
                info.type, info.linkname, info.mode = tarfile.SYMTYPE, entry.link, 0o777
                tar.addfile(info)
            else:
                assert entry.source is not None
                data = entry.source.read_bytes()
                info.size, info.mode = len(data), entry.source.stat().st_mode & 0o7777
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def blob(data: bytes, media_type: str) -> tuple[dict[str, object], str]:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    return {"mediaType": media_type, "digest": digest, "size": len(data)}, digest


def canonical(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def image_archive(name: str, entries: list[Entry], config: dict[str, object]) -> bytes:
    layer = layer_tar(entries)
    layer_desc, layer_digest = blob(layer, LAYER_MEDIA_TYPE)
    image_config = canonical(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": config,
            "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        }
    )
    config_desc, _ = blob(image_config, CONFIG_MEDIA_TYPE)
    manifest = canonical(
        {"schemaVersion": 2, "mediaType": MANIFEST_MEDIA_TYPE, "config": config_desc, "layers": [layer_desc]}
    )
    manifest_desc, _ = blob(manifest, MANIFEST_MEDIA_TYPE)
    # containerd names the imported image after this annotation (the full reference, registry included).
    manifest_desc["annotations"] = {
        "io.containerd.image.name": name,
        "org.opencontainers.image.ref.name": name.rsplit(":", 1)[-1],
    }
    index = canonical({"schemaVersion": 2, "manifests": [manifest_desc]})
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        members = [("oci-layout", canonical({"imageLayoutVersion": "1.0.0"})), ("index.json", index)]
        blobs = (layer, image_config, manifest)
        members += [(f"blobs/sha256/{hashlib.sha256(d).hexdigest()}", d) for d in blobs]
        for path, data in members:
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--name", required=True, help="image reference, e.g. kemr.local/busybox:test")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--file", action="append", default=[], help="/path/in/image=/host/file")
    parser.add_argument("--link", action="append", default=[], help="/path/in/image=target")
    parser.add_argument("--dir", action="append", default=[], help="/path/in/image=octal mode")
    parser.add_argument("--entrypoint", help="JSON list")
    parser.add_argument("--cmd", help="JSON list")
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE")
    parser.add_argument("--user", help="uid[:gid] the container runs as")
    args = parser.parse_args()

    entries = [Entry(d, source=Path(s)) for d, s in (split_pair(a, "--file") for a in args.file)]
    entries += [Entry(d, link=t) for d, t in (split_pair(a, "--link") for a in args.link)]
    entries += [Entry(d, mode=int(m, 8)) for d, m in (split_pair(a, "--dir") for a in args.dir)]
    for entry in entries:
        if entry.source is not None and not entry.source.is_file():
            raise SystemExit(f"--file {entry.path}={entry.source}: no such file on the host")
    config: dict[str, object] = {"Env": args.env or ["PATH=/usr/local/bin:/usr/bin:/bin"], "WorkingDir": "/"}
    if args.entrypoint:
        config["Entrypoint"] = json.loads(args.entrypoint)
    if args.cmd:
        config["Cmd"] = json.loads(args.cmd)
    if args.user:
        config["User"] = args.user
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    tmp.write_bytes(image_archive(args.name, entries, config))
    tmp.replace(args.out)


if __name__ == "__main__":
    main()
