"""The built images pass images/check.sh: each runs read-only as its own user, with no node or runtime
(the data plane: java, pyspark, a local PySpark job, a Spark master and worker, a NameNode and a DataNode
with an HDFS round trip; Trino: a single-node server, kemr-trino-step's queries and errors, kemr-trino-drain;
the notebook: JupyterLab with notebooks in S3 and a kernel running a job on a standalone master).
Skipped until the images are built (make images; images/build.sh trino|notebook) or when not root."""

from __future__ import annotations

import os
import subprocess

import pytest
from image_files import IMAGES, archive


@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", ["spark", "operator", "trino", "notebook"])
def test_image_passes_its_checks(name: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("images/check.sh needs root (mount namespaces, chroot)")
    if not archive(name).exists():
        pytest.skip(f"the {name} image is not built: run `make images`")
    proc = subprocess.run([IMAGES / "check.sh", name], capture_output=True, text=True)
    output = f"{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}"
    assert proc.returncode == 0, f"images/check.sh {name} failed:\n{output}"
    assert "checks passed" in proc.stderr
