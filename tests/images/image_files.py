"""What tests/images read of images/: the Dockerfiles' pinned build args, the pom's versions, the archives."""

from __future__ import annotations

import json
import os
import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
IMAGES = REPO / "images"
SPARK_DOCKERFILE = IMAGES / "spark" / "Dockerfile"
OPERATOR_DOCKERFILE = IMAGES / "operator" / "Dockerfile"
TRINO_DOCKERFILE = IMAGES / "trino" / "Dockerfile"
TRINO_REQUIREMENTS = IMAGES / "trino" / "requirements.txt"
NOTEBOOK_DOCKERFILE = IMAGES / "notebook" / "Dockerfile"
NOTEBOOK_REQUIREMENTS = IMAGES / "notebook" / "requirements.txt"
POM = IMAGES / "spark" / "pom.xml"


def dockerfile_stages(path: Path) -> list[dict[str, str]]:
    """Each build stage's `ARG NAME=default` pins, in order (the args before the first FROM are stage 0)."""
    stages: list[dict[str, str]] = [{}]
    for line in path.read_text().splitlines():
        if line.startswith("FROM "):
            stages.append({})
        elif match := re.match(r"ARG (\w+)=(\S+)$", line):
            stages[-1][match[1]] = match[2]
    return stages


def dockerfile_pins(path: Path) -> dict[str, str]:
    """Every pinned build arg; an arg pinned in several stages must have one value (else AssertionError)."""
    pins: dict[str, str] = {}
    for stage in dockerfile_stages(path):
        for name, value in stage.items():
            assert pins.setdefault(name, value) == value, f"{path}: ARG {name} is {pins[name]} and {value}"
    return pins


def pom_properties() -> dict[str, str]:
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    props = ET.parse(POM).getroot().find("m:properties", ns)
    assert props is not None, f"{POM} has no <properties>"
    return {child.tag.split("}")[1]: (child.text or "") for child in props}


def image_lib(expression: str) -> str:
    """A value from images/lib.sh (e.g. `$SPARK_IMAGE`, `$(operator_image)`), as the scripts see it."""
    script = f'. {IMAGES / "lib.sh"} && echo "{expression}"'
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout.strip()


def archive(name: str) -> Path:
    """The OCI archive images/build.sh last made of image `name` (it may not exist)."""
    return Path(image_lib(f"$(latest_archive {name})"))


def archive_config(path: Path) -> dict[str, Any]:
    out = subprocess.run(
        ["python3", str(IMAGES / "oci.py"), "config", str(path)], capture_output=True, text=True, check=True
    ).stdout
    config: dict[str, Any] = json.loads(out)
    return config


def env_of(config: dict[str, Any]) -> dict[str, str]:
    pairs = (entry.split("=", 1) for entry in config["config"].get("Env", []))
    return dict(pairs)


def real_node_wanted() -> bool:
    env = {**os.environ}
    script = f". {REPO / 'cluster' / 'lib.sh'} && real_node_wanted"
    return subprocess.run(["bash", "-c", script], env=env, capture_output=True).returncode == 0
