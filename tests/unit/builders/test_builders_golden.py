"""The exact manifests of example clusters, pinned in golden files."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from golden_support import EXAMPLES, GOLDEN, render_example, resolve_example, update_requested

from kemr.builders import build_children


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


def _containers(value: Any, seen: dict[int, str], path: str) -> None:
    if isinstance(value, dict | list):
        assert id(value) not in seen, f"{path} is the same object as {seen[id(value)]}"
        seen[id(value)] = path
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            _containers(item, seen, f"{path}.{key}")


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_children_share_no_objects(name: str) -> None:
    """Callers may change what they get (the apply layer adds owner references and annotations): no two places
    in the output, and nothing of the resolved cluster, may be the same object."""
    resolved = resolve_example(EXAMPLES[name])
    seen: dict[int, str] = {}
    first, second = build_children(resolved), build_children(resolved)  # both alive: ids stay unique
    for child in first:
        _containers(child, seen, f"{child['kind']}/{child['metadata']['name']}")
    for child in second:  # a second build shares nothing with the first
        _containers(child, seen, f"again {child['kind']}/{child['metadata']['name']}")
