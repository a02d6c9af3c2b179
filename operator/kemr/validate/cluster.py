"""Checks of an EMRCluster spec the CRD schema can't express."""

from __future__ import annotations

from collections.abc import Iterator

from kemr.api.cluster import Application, EMRClusterSpec
from kemr.api.common import Configuration
from kemr.applications import enabled
from kemr.validate.config import check_configurations, check_pod_overrides
from kemr.validate.issues import ValidationIssue
from kemr.validate.step import validate_step


def validate_cluster(spec: EMRClusterSpec) -> list[ValidationIssue]:
    """Problems of an EMRCluster spec, each naming the field and the fix.

    Pure: no I/O. Covers what the CRD's schema and CEL rules can't: keys the operator owns in
    `configurations` (cluster-wide and per group) and in inline steps' Spark conf, fields it owns in
    `podOverrides`, and each enabled application's own checks (ApplicationModule.validate). It also
    repeats the CRD's cross-field rules (list-map keys, CEL; the applications' own `crd_rules` among them),
    so the operator never builds a spec the apiserver would refuse (tests/api/test_fuzz_verdicts.py checks
    the two verdicts agree).
    """
    issues: list[ValidationIssue] = list(_crd_rules(spec))
    issues.extend(_reserved_group_names(spec))
    issues.extend(check_configurations(spec.configurations, "spec.configurations"))
    issues.extend(check_pod_overrides(spec.pod_overrides, "spec.podOverrides"))
    issues.extend(check_pod_overrides(spec.master.pod_overrides, "spec.master.podOverrides"))
    for core in spec.core_groups:
        base = f"spec.coreGroups[{core.name}]"
        issues.extend(check_configurations(core.configurations, f"{base}.configurations"))
        issues.extend(check_pod_overrides(core.pod_overrides, f"{base}.podOverrides"))
    for task in spec.task_groups:
        base = f"spec.taskGroups[{task.name}]"
        issues.extend(check_configurations(task.configurations, f"{base}.configurations"))
        issues.extend(check_pod_overrides(task.pod_overrides, f"{base}.podOverrides"))
    for module in enabled(spec.applications):
        issues.extend(ValidationIssue(field, message) for field, message in module.validate(spec))
    for step in spec.steps:
        issues.extend(validate_step(step, f"spec.steps[{step.name}]", [a.value for a in spec.applications]))
    return issues


def _configuration_places(spec: EMRClusterSpec) -> list[tuple[str, list[Configuration]]]:
    """Every `configurations` list of the spec (cluster-wide, then per group), with its field path."""
    places = [("spec.configurations", spec.configurations)]
    places += [(f"spec.coreGroups[{g.name}].configurations", g.configurations) for g in spec.core_groups]
    places += [(f"spec.taskGroups[{g.name}].configurations", g.configurations) for g in spec.task_groups]
    return places


def _reserved_group_names(spec: EMRClusterSpec) -> list[ValidationIssue]:
    """status.groups (keyed by name) calls the master's group "master": no core or task group may."""
    return [
        ValidationIssue(field, "group name master is the master's in status.groups: choose another")
        for field, groups in (("spec.coreGroups", spec.core_groups), ("spec.taskGroups", spec.task_groups))
        if any(g.name == "master" for g in groups)
    ]


def _duplicates(values: list[str]) -> list[str]:
    return sorted({v for v in values if values.count(v) > 1})


def _crd_rules(spec: EMRClusterSpec) -> Iterator[ValidationIssue]:
    """The CRD's list-map keys and spec-level CEL rules (kemr/api/cluster.py _SPEC_RULES), as issues."""
    groups = [g.name for g in spec.core_groups] + [g.name for g in spec.task_groups]
    for name in _duplicates(groups):
        yield ValidationIssue(
            "spec.taskGroups", f"group name {name} is used twice: names are unique across groups"
        )
    places = _configuration_places(spec)
    for field, configurations in places:
        for classification in _duplicates([c.classification.value for c in configurations]):
            yield ValidationIssue(
                field, f"{classification} appears twice: merge its properties into one entry"
            )
    if Application.SPARK not in spec.applications:
        yield ValidationIssue("spec.applications", "applications must include Spark")
    for module in enabled(spec.applications):
        yield from (ValidationIssue(field, message) for field, message in module.crd_rules(spec))
    if spec.terminate and spec.termination_protected:
        yield ValidationIssue(
            "spec.terminate",
            "a termination-protected cluster cannot be terminated: set spec.terminationProtected to false"
            " first",
        )
    if spec.step_concurrency > 1:
        for step in spec.steps:
            if step.action_on_failure.value != "CONTINUE":
                yield ValidationIssue(
                    f"spec.steps[{step.name}].actionOnFailure",
                    "must be CONTINUE when stepConcurrency > 1",
                )
