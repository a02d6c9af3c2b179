"""The chart against the local cluster: server-side dry-runs of every rendering, a Helm install into a
Pod Security "restricted" namespace with no warning, the operator's ServiceAccount able to do exactly what
tests/packaging/golden/ lists (one file per mode), and the pods the operator creates admitted as restricted.

Everything installed is removed afterwards (helm uninstall, namespaces; cluster-scoped RBAC goes with the
release). The chart's operator pod lands on a kwok node and never runs, so it can't fight the test operator.
`UPDATE_GOLDEN=1` rewrites the golden files; review their diff like code.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from chart_support import CHART, GOLDEN, REPO, helm, render_text, values_args

from support.emr import cluster_manifest, diagnose, step_manifest, wait_for_step
from support.helm import token_kubeconfig
from support.kube import Kube, wait_until
from support.operator import OperatorProcess

pytestmark = pytest.mark.timeout(240)

RESTRICTED = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "warn", "audit")}


def create_namespace(kube: Kube, name: str) -> None:
    kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": RESTRICTED}})


def dry_run(kube: Kube, manifests: str, *flags: str) -> str:
    """Server-side dry-run apply; returns stderr (warnings), fails on any rejection."""
    proc = kube.run(
        "apply", "--server-side", "--dry-run=server", *flags, "-f", "-", stdin=manifests, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stderr


@dataclass
class Release:
    name: str
    namespace: str
    watched: list[str]
    install_stderr: str

    @property
    def service_account(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.name}"


@pytest.fixture
def namespaces(kube: Kube) -> Iterator[Callable[[str], str]]:
    """Restricted namespaces named t-pkg-<hex>-<suffix>, deleted after the test."""
    made: list[str] = []
    token = secrets.token_hex(3)

    def make(suffix: str) -> str:
        name = f"t-pkg-{token}-{suffix}"
        create_namespace(kube, name)
        made.append(name)
        return name

    yield make
    for name in made:
        kube.run("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture
def install(crds: Kube, namespaces: Callable[[str], str]) -> Iterator[Callable[..., Release]]:
    """`helm install` of the chart into a fresh restricted namespace (watching `watch` other namespaces)."""
    installed: list[Release] = []

    def _install(watch: int = 0) -> Release:
        namespace = namespaces("operator")
        watched = [namespaces(f"watched{i}") for i in range(watch)]
        name = f"kemr-{secrets.token_hex(3)}"
        values = {"watchNamespaces": watched} if watched else {}
        args = ("install", name, str(CHART), "-n", namespace, *values_args(values), "--wait", "--timeout=90s")
        proc = helm(*args, check=False)
        release = Release(name, namespace, watched, proc.stderr)
        installed.append(release)
        assert proc.returncode == 0, proc.stderr
        return release

    yield _install
    for release in installed:
        helm("uninstall", release.name, "-n", release.namespace, "--wait", "--timeout=60s", check=False)


# --- dry-runs ----------------------------------------------------------------------------------------------


def test_cluster_wide_rendering_passes_server_dry_run(crds: Kube, namespaces: Callable[[str], str]) -> None:
    namespace = namespaces("dry")
    rendered = render_text(namespace=namespace, release="kemr-dry", extra=("--include-crds",))
    assert dry_run(crds, rendered) == ""


def test_namespaced_rendering_passes_server_dry_run(crds: Kube, namespaces: Callable[[str], str]) -> None:
    namespace, watched = namespaces("dry"), namespaces("dry-watched")
    values = {"watchNamespaces": [watched, namespace]}
    rendered = render_text(values, namespace=namespace, release="kemr-dry", extra=("--include-crds",))
    assert dry_run(crds, rendered) == ""


def test_install_manifest_passes_server_dry_run(crds: Kube) -> None:
    """The namespace must exist for its objects to be dry-run: created (restricted) and removed if absent.

    `make demo` leaves its Helm release `kemr` in that namespace: the same objects, owned by the manager
    "helm". What is checked is that the apiserver accepts install.yaml without a warning, not who owns the
    fields, so conflicts are forced: harmless in a dry run, and the README's two commands pass one after the
    other."""
    install = (REPO / "manifests" / "install.yaml").read_text()
    [namespace] = [d for d in yaml.safe_load_all(install) if d and d["kind"] == "Namespace"]
    name = namespace["metadata"]["name"]
    existed = crds.run("get", "namespace", name, check=False).returncode == 0
    if not existed:
        crds.apply(namespace)
    try:
        assert dry_run(crds, install, "--force-conflicts") == ""
    finally:
        if not existed:
            crds.run("delete", "namespace", name, "--wait=false", check=False)


# --- install, RBAC ----------------------------------------------------------------------------------------


def can_i_list(kube: Kube, who: str, namespace: str, release: str) -> str:
    """`kubectl auth can-i --list` as `who`, normalised: one sorted line per rule, verbs sorted, the (random)
    release name written RELEASE."""
    out = kube.run("auth", "can-i", "--list", f"--as={who}", "-n", namespace).stdout
    rows = []
    for line in out.splitlines()[1:]:  # after the header
        match = re.fullmatch(r"(\S*)\s+(\[.*?\])\s+(\[.*?\])\s+\[(.*?)\]\s*", line)
        assert match, f"unexpected line of auth can-i --list: {line!r}"
        resource, urls, names, verbs = match.groups()
        names = re.sub(rf"\b{re.escape(release)}\b", "RELEASE", names)
        rows.append(f"{resource or '-'} {urls} {names} [{' '.join(sorted(verbs.split()))}]")
    return "\n".join(sorted(rows)) + "\n"


def assert_golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(actual)
    assert path.exists(), f"no golden file {path}: run UPDATE_GOLDEN=1 on this test"
    assert actual == path.read_text(), (
        f"the operator's permissions changed: review, then UPDATE_GOLDEN=1 ({path})"
    )


def can_i(kube: Kube, who: str, verb: str, resource: str, namespace: str | None) -> bool:
    scope = ["-n", namespace] if namespace else ["--all-namespaces"]
    proc = kube.run("auth", "can-i", verb, resource, f"--as={who}", *scope, check=False)
    return proc.stdout.strip() == "yes"


def operator_pods(kube: Kube, release: Release) -> list[dict[str, Any]]:
    return kube.items("pods", "-n", release.namespace, "-l", f"app.kubernetes.io/instance={release.name}")


def assert_no_pod_security_rejection(kube: Kube, namespace: str) -> None:
    events = kube.items("events", "-n", namespace, "--field-selector=reason=FailedCreate")
    assert not events, [e["message"] for e in events]


@pytest.mark.timeout(240)
def test_cluster_wide_install_in_restricted_namespace(crds: Kube, install: Callable[..., Release]) -> None:
    release = install()
    assert release.install_stderr == ""  # no Pod Security (or any other) warning
    [pod] = wait_until(
        lambda: [p for p in operator_pods(crds, release) if p["status"].get("phase") == "Running"],
        60,
        "the chart's operator pod to be Running",
    )
    assert_no_pod_security_rejection(crds, release.namespace)
    assert pod["spec"]["serviceAccountName"] == release.name

    assert_golden(
        "can-i-cluster-wide.txt", can_i_list(crds, release.service_account, release.namespace, release.name)
    )
    who = release.service_account
    assert can_i(crds, who, "create", "statefulsets.apps", None)
    assert can_i(crds, who, "get", "secrets", release.namespace)  # one by name: an EMRNotebook's token
    assert not can_i(crds, who, "list", "secrets", None)
    assert not can_i(crds, who, "watch", "secrets", None)
    assert not can_i(crds, who, "get", "leases/kemr-operator", "default")  # the Lease is in its own namespace

    helm("uninstall", release.name, "-n", release.namespace, "--wait", "--timeout=60s")
    for kind in ("clusterrole", "clusterrolebinding"):  # cluster-scoped RBAC goes with the release
        assert crds.run("get", kind, release.name, check=False).returncode != 0


@pytest.mark.timeout(240)
def test_namespaced_install_can_act_only_in_watched_namespaces(
    crds: Kube, install: Callable[..., Release], namespaces: Callable[[str], str]
) -> None:
    release = install(watch=1)
    assert release.install_stderr == ""
    [watched] = release.watched
    who = release.service_account
    assert_golden("can-i-namespaced.txt", can_i_list(crds, who, watched, release.name))

    assert can_i(crds, who, "get", "leases/kemr-operator", release.namespace)
    assert not can_i(crds, who, "get", "leases/another-lease", release.namespace)
    assert not can_i(crds, who, "create", "pods", release.namespace)  # not watched: its own namespace
    elsewhere = namespaces("unwatched")
    for verb, resource in [
        ("list", "emrclusters.kemr.io"),
        ("create", "pods"),
        ("patch", "statefulsets.apps"),
        ("delete", "persistentvolumeclaims"),
        ("create", "events"),
        ("create", "leases.coordination.k8s.io"),
    ]:
        assert not can_i(crds, who, verb, resource, elsewhere), (verb, resource)
        assert not can_i(crds, who, verb, resource, None), (verb, resource)  # nor cluster-wide


# --- the operator's own pods under restricted -------------------------------------------------------------


def pod_as_new(pod: dict[str, Any]) -> dict[str, Any]:
    """The live pod as a new object to dry-run: its spec and labels, a fresh name, no owner."""
    spec = {k: v for k, v in pod["spec"].items() if k != "nodeName"}
    meta = pod["metadata"]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"dry-{meta['name']}"[:63],
            "namespace": meta["namespace"],
            "labels": meta.get("labels", {}),
            "annotations": meta.get("annotations", {}),
        },
        "spec": spec,
    }


@pytest.mark.timeout(240)
def test_operator_created_pods_are_admitted_as_restricted(
    operator: OperatorProcess, kube: Kube, namespaces: Callable[[str], str]
) -> None:
    namespace = namespaces("workload")
    spec = cluster_manifest("etl")["spec"]
    task_groups = [{**group, "minReplicas": 1} for group in spec["taskGroups"]]  # at least one task pod
    kube.apply(cluster_manifest("etl", taskGroups=task_groups), namespace=namespace)
    kube.apply(step_manifest("pi", "etl", duration="600s"), namespace=namespace)

    def pods_by_role() -> dict[str, list[dict[str, Any]]] | None:
        pods = kube.items("pods", "-n", namespace, "-l", "app.kubernetes.io/managed-by=kemr")
        roles: dict[str, list[dict[str, Any]]] = {}
        for pod in pods:
            roles.setdefault(pod["metadata"]["labels"].get("kemr.io/role", "?"), []).append(pod)
        wanted = {"master", "core", "task", "driver"}
        return roles if wanted <= set(roles) else None

    try:
        roles = wait_until(pods_by_role, 120, "master, core, task and driver pods")
    except AssertionError as err:
        raise AssertionError(f"{err}\n{diagnose(kube, namespace)}") from None
    assert_no_pod_security_rejection(kube, namespace)

    for pods in roles.values():
        for pod in pods:
            warnings = dry_run(kube, yaml.safe_dump(pod_as_new(pod)), f"--namespace={namespace}")
            assert warnings == "", f"{pod['metadata']['name']}: {warnings}"


# --- kind ------------------------------------------------------------------------------------------------


def _capacity_labels_and_taints(labels: dict[str, str], taints: list[dict[str, Any]]) -> tuple[Any, ...]:
    capacity = {k: v for k, v in labels.items() if k.startswith("karpenter.sh/")}
    return (
        tuple(sorted(capacity.items())),
        tuple(sorted((t["key"], t.get("value", ""), t["effect"]) for t in taints)),
    )


def test_kind_config_nodes_carry_the_local_clusters_labels_and_taints(kube: Kube) -> None:
    """kind-config.yaml's workers look like cluster/up.sh's kwok nodes to the scheduler: same capacity-type
    labels, same spot taint, same number of zones per capacity type."""
    config = yaml.safe_load((REPO / "kind-config.yaml").read_text())
    assert config["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    roles = [n["role"] for n in config["nodes"]]
    assert roles == ["control-plane", "worker", "worker", "worker", "worker"]

    kind_nodes = set()
    for node in config["nodes"][1:]:
        taints: list[dict[str, Any]] = []
        for patch in node.get("kubeadmConfigPatches", []):
            doc = yaml.safe_load(patch)
            assert doc["kind"] == "JoinConfiguration"
            taints += doc["nodeRegistration"].get("taints", [])
        kind_nodes.add(_capacity_labels_and_taints(node["labels"], taints))

    local_nodes = {
        _capacity_labels_and_taints(n["metadata"]["labels"], n["spec"].get("taints", []))
        for n in kube.items("nodes", "-l", "type=kwok")
    }
    assert kind_nodes == local_nodes
    capacity_types = [n["labels"]["karpenter.sh/capacity-type"] for n in config["nodes"][1:]]
    assert sorted(capacity_types) == ["on-demand", "on-demand", "spot", "spot"]


# --- the operator with exactly the chart's permissions ----------------------------------------------------


@pytest.mark.timeout(300)
@pytest.mark.parametrize("watch", [0, 1], ids=["cluster-wide", "namespaced"])
def test_operator_reconciles_with_only_the_charts_permissions(
    watch: int,
    crds: Kube,
    install: Callable[..., Release],
    namespaces: Callable[[str], str],
    spawn_operator: Callable[..., OperatorProcess],  # stops the shared (admin) operator meanwhile
    tmp_path: Path,
) -> None:
    release = install(watch=watch)
    workload = release.watched[0] if release.watched else namespaces("workload")
    configmap = crds.get("configmap", "-n", release.namespace, f"{release.name}-config")
    config = tmp_path / "config.yaml"
    config.write_text(configmap["data"]["config.yaml"])
    deployment = crds.get("deployment", "-n", release.namespace, release.name)
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    log = tmp_path / "operator.log"
    proc = OperatorProcess(
        token_kubeconfig(crds, release.name, release.namespace, tmp_path / "kubeconfig"),
        log,
        # the chart's own flags (metrics and health ports excepted: free ones on this host)
        extra_args=tuple(a for a in args[1:] if not a.startswith(("--metrics-port", "--health-port"))),
        env={"KEMR_CONFIG": str(config), "POD_NAMESPACE": release.namespace},
    )
    proc.start()
    try:
        crds.apply(cluster_manifest("etl"), namespace=workload)
        crds.apply(step_manifest("pi", "etl"), namespace=workload)
        try:
            wait_for_step(crds, workload, "pi", "COMPLETED", timeout=120)
        except AssertionError as err:
            raise AssertionError(f"{err}\n{diagnose(crds, workload)}\n{log.read_text()[-3000:]}") from None
        lease = crds.get("lease", "-n", release.namespace, "kemr-operator")
        assert lease["spec"]["holderIdentity"]
    finally:
        proc.stop()
    text = log.read_text()
    # An RBAC denial says `User "system:serviceaccount:..." cannot <verb> resource ...` (other 403s, such as
    # writes into a namespace being deleted by an earlier test, are not about permissions).
    denials = [line for line in text.splitlines() if re.search(r"cannot \w+ resource", line)]
    assert not denials, denials[:3]
    assert "Not enough permissions" not in text  # kopf's own scans (CRDs; namespaces in namespaced mode)
