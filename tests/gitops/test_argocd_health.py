"""The Argo CD health checks of EMRCluster, EMRStep and DataCatalog, run as Argo CD runs them.

Every case of gitops/argocd/resource_customizations/kemr.io/*/health_test.yaml is run through the kind's
health.lua with a real Lua 5.1 (Argo CD embeds gopher-lua, a Lua 5.1), given only the libraries Argo CD
opens for health scripts; status and message are compared exactly, as Argo CD's TestLuaHealthScript does.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from gitops_samples import (
    KINDS,
    REPO,
    HealthCase,
    all_cases,
    build_go_tool,
    health_cases,
    kind_dir,
    load_yaml,
)
from lupa import lua51  # type: ignore[import-untyped]  # lupa ships no type hints

# Argo CD's health.HealthStatusCode values; anything else becomes Unknown with this message.
VALID_STATUSES = frozenset({"Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"})
INVALID_STATUS_MESSAGE = "Lua returned an invalid health status"
# Argo CD opens only package, base, table and a "safe" os for health scripts (util/lua/lua.go runLua).
CLOSED_LIBRARIES = ("string", "math", "io", "debug", "coroutine")


def _to_lua(runtime: Any, value: Any) -> Any:
    if isinstance(value, dict):
        return runtime.table_from({k: _to_lua(runtime, v) for k, v in value.items()})
    if isinstance(value, list):
        return runtime.table_from([_to_lua(runtime, v) for v in value])
    return value


def _from_lua(value: Any) -> Any:
    if hasattr(value, "items"):
        return {k: _from_lua(v) for k, v in value.items()}
    return value


def run_health_script(script: str, obj: dict[str, Any]) -> tuple[str, str]:
    """(status, message) as Argo CD's ExecuteHealthLua returns them for this object."""
    runtime = lua51.LuaRuntime()
    lua_globals = runtime.globals()
    for name in CLOSED_LIBRARIES:
        lua_globals[name] = None
    lua_globals.obj = _to_lua(runtime, obj)
    result = runtime.execute(script)
    assert hasattr(result, "items"), "a health script must return a table"
    # Argo CD goes through JSON into its HealthStatus struct: absent fields are "".
    health = json.loads(json.dumps(_from_lua(result)))
    status, message = health.get("status") or "", health.get("message") or ""
    if status not in VALID_STATUSES:
        return "Unknown", INVALID_STATUS_MESSAGE
    return status, message


def _script(kind: str) -> str:
    return (kind_dir(kind) / "health.lua").read_text()


@pytest.mark.parametrize("case", all_cases(), ids=lambda c: c.id)
def test_health_test_case(case: HealthCase) -> None:
    assert run_health_script(_script(case.kind), case.object()) == (case.status, case.message)


@pytest.fixture(scope="module")
def gopher_lua_check(pytestconfig: pytest.Config) -> Path:
    """Argo CD's own interpreter, gopher-lua, as a small Go program (gitops/argocd/gopher-lua-check)."""
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        return build_go_tool("argocd/gopher-lua-check")


@pytest.mark.timeout(300)  # the first build fetches gopher-lua from the Go module proxy
@pytest.mark.parametrize("kind", KINDS)
def test_gopher_lua_agrees(gopher_lua_check: Path, kind: str) -> None:
    """The same cases under gopher-lua (what Argo CD embeds): no Lua 5.1 feature it lacks slipped in."""
    cases = health_cases(kind)
    proc = subprocess.run(
        [gopher_lua_check, kind_dir(kind) / "health.lua", *(c.input_path for c in cases)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    results = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [(r["status"], r["message"]) for r in results] == [(c.status, c.message) for c in cases]


@pytest.mark.parametrize("kind", KINDS)
def test_every_sample_has_a_case(kind: str) -> None:
    """A sample without an expectation would be a state nobody checked."""
    samples = {p.name for p in (kind_dir(kind) / "testdata").glob("*.yaml")}
    covered = {c.input_path.name for c in health_cases(kind)}
    assert samples == covered


@pytest.mark.parametrize(
    ("kind", "states"),
    [
        (
            "EMRCluster",
            {"STARTING", "WAITING", "RUNNING", "TERMINATING", "TERMINATED", "TERMINATED_WITH_ERRORS"},
        ),
        (
            "EMRStep",
            {"PENDING", "RUNNING", "CANCEL_PENDING", "INTERRUPTED", "COMPLETED", "FAILED", "CANCELLED"},
        ),
        ("DataCatalog", {"CREATING", "ACTIVE", "DEGRADED", "DELETING"}),
    ],
)
def test_samples_cover_the_lifecycle(kind: str, states: set[str]) -> None:
    seen = {(c.object().get("status") or {}).get("state") for c in health_cases(kind)}
    assert states <= seen


@pytest.mark.parametrize("kind", KINDS)
def test_object_without_status_is_progressing(kind: str) -> None:
    """Right after `kubectl apply`, before the operator has written anything."""
    obj = {"apiVersion": "kemr.io/v1alpha1", "kind": kind, "metadata": {"name": "new", "generation": 1}}
    status, message = run_health_script(_script(kind), obj)
    assert status == "Progressing"
    assert "kemr operator" in message


def test_unknown_state_is_unknown() -> None:
    obj = {"metadata": {"generation": 1}, "status": {"state": "EXPLODED", "observedGeneration": 1}}
    assert run_health_script(_script("EMRCluster"), obj) == ("Unknown", "Unknown EMRCluster state EXPLODED")


def test_argocd_cm_snippet_carries_the_scripts() -> None:
    """The ready-to-paste argocd-cm data in gitops/argocd/argocd-cm.yaml is the scripts tested here."""
    cm = yaml.safe_load((REPO / "gitops" / "argocd" / "argocd-cm.yaml").read_text())
    for kind in KINDS:
        assert cm["data"][f"resource.customizations.health.kemr.io_{kind}"] == _script(kind)


def test_docs_show_the_snippet() -> None:
    doc = (REPO / "docs" / "gitops.md").read_text()
    snippet = (REPO / "gitops" / "argocd" / "argocd-cm.yaml").read_text()
    assert snippet.strip() in doc, "docs/gitops.md must show gitops/argocd/argocd-cm.yaml as it is"


def _cases_file(kind: str) -> Path:
    return kind_dir(kind) / "health_test.yaml"


def test_cases_files_are_argo_cd_format() -> None:
    for kind in KINDS:
        spec = load_yaml(_cases_file(kind))
        assert set(spec) == {"tests"}
        for test in spec["tests"]:
            assert set(test) == {"inputPath", "healthStatus"}
            assert set(test["healthStatus"]) <= {"status", "message"}
            assert test["inputPath"].startswith("testdata/")
