"""The exact manifests of example clusters, pinned in golden files."""

from __future__ import annotations

import pytest
import yaml
from golden_support import EXAMPLES, GOLDEN, render_example, update_requested


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_children_match_golden_file(name: str) -> None:
    path = GOLDEN / f"{name}.yaml"
    actual = render_example(name)
    if update_requested():
        path.write_text(actual)
    assert path.exists(), f"no golden file {path.name}: run UPDATE_GOLDEN=1 uv run pytest tests/unit/builders"
    assert actual == path.read_text(), (
        f"the children of {name} changed: review, then UPDATE_GOLDEN=1 uv run pytest tests/unit/builders"
    )


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_golden_file_is_valid_yaml_of_kubernetes_objects(name: str) -> None:
    docs = list(yaml.safe_load_all((GOLDEN / f"{name}.yaml").read_text()))
    assert docs
    for doc in docs:
        assert {"apiVersion", "kind", "metadata"} <= set(doc)
        assert doc["metadata"]["ownerReferences"][0]["kind"] == "EMRCluster"
