"""`kemr crds` prints every install manifest, or writes them as crds/ holds them."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kemr.api.manifests import render_files
from kemr.cli import main


def test_crds_prints_every_manifest(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["crds"]) == 0
    docs = list(yaml.safe_load_all(capsys.readouterr().out))
    names = [doc["metadata"]["name"] for doc in docs]
    assert names == [
        "emrclusters.kemr.io",
        "emrsteps.kemr.io",
        "datacatalogs.kemr.io",
        "emrnotebooks.kemr.io",
        "kemr-termination-protection",
        "kemr-termination-protection",
    ]


def test_crds_out_writes_the_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["crds", "--out", str(tmp_path)]) == 0
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == render_files()
    assert len(capsys.readouterr().out.splitlines()) == 5


def test_run_passes_its_arguments_to_the_operator(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []

    def fake_run(argv: list[str]) -> int:
        seen.append(argv)
        return 0

    monkeypatch.setattr("kemr.controllers.run.main", fake_run)
    assert main(["run", "--namespace", "x"]) == 0
    assert seen == [["--namespace", "x"]]
