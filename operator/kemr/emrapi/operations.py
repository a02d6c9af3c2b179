"""EMR's operations, one async function each: a request dict (EMR's input shape) in, a response dict (its
output shape) out, through the caller's own Kubernetes identity (`Call.kube` impersonates the access key's
ServiceAccount, so Kubernetes RBAC decides what a key may do, and a key never sees another namespace).

Every operation reads and writes EMRCluster/EMRStep objects only; the translation is in `translate/`.
An operation not in OPERATIONS answers InvalidRequestException naming it (server.py).
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kemr.api.constants import CLUSTER_PLURAL, GROUP, STEP_PLURAL, VERSION
from kemr.emrapi import translate as t
from kemr.emrapi.auth.keys import AccessKey
from kemr.emrapi.errors import (
    AccessDeniedException,
    EmrApiError,
    InternalServerError,
    InvalidRequestException,
    ValidationException,
)
from kemr.emrapi.translate.common import get_object, get_objects, get_str, get_strings
from kemr.runtime.client import ApiError, Client
from kemr.status.step import step_order_key

# EMR's page size for ListClusters and ListSteps (its documentation: "up to 50 clusters/steps per page").
PAGE_SIZE = 50
MERGE_PATCH = "application/merge-patch+json"


@dataclass(frozen=True)
class Settings:
    """The API's configuration (its file: server.load_settings).

    - `instance_types`: InstanceType → (cpu, memory) of the pod (Kubernetes quantities);
    - `releases`: EMR release label → kemr release (empty: any emr-* label runs kemr's default release);
    - `cluster_defaults`: a partial EMRCluster spec (camelCase, as in a manifest) under every cluster
      RunJobFlow makes, for what EMR has implicitly and Kubernetes doesn't: `s3` (endpoint, credentials),
      `networkPolicy`, `podOverrides`, `catalog`. What the request sets wins;
    - `step_defaults`: a partial EMRStep spec under every step AddJobFlowSteps and RunJobFlow make, e.g.
      `podOverrides` (drivers' tolerations, annotations) or `retry`. What the step sets wins.
    """

    instance_types: Mapping[str, tuple[str, str]] = field(default_factory=lambda: t.DEFAULT_INSTANCE_TYPES)
    releases: Mapping[str, str] = field(default_factory=dict)
    cluster_defaults: Mapping[str, Any] = field(default_factory=dict)
    step_defaults: Mapping[str, Any] = field(default_factory=dict)


def with_defaults(defaults: Mapping[str, Any], spec: Mapping[str, Any]) -> dict[str, Any]:
    """`spec` over `defaults`, merged key by key in nested objects (lists are replaced, not merged)."""
    merged = dict(defaults)
    for key, value in spec.items():
        below = merged.get(key)
        merged[key] = (
            with_defaults(below, value) if isinstance(below, dict) and isinstance(value, dict) else value
        )
    return merged


class Names:
    """Object names by (namespace, EMR id), remembered from earlier lookups so that the next lookup of an
    id is one GET instead of a list. A hint only: the object found by a name is checked to have the id."""

    def __init__(self, limit: int = 100_000) -> None:
        self._names: dict[tuple[str, str], str] = {}
        self._limit = limit

    def get(self, namespace: str, emr_id: str) -> str | None:
        return self._names.get((namespace, emr_id))

    def remember(self, namespace: str, emr_id: str, name: str) -> None:
        if len(self._names) >= self._limit:
            self._names.clear()
        self._names[(namespace, emr_id)] = name


@dataclass(frozen=True)
class Call:
    """One request's context: the impersonating client, the access key, the signature's region, the
    settings and the server's name hints."""

    kube: Client
    key: AccessKey
    region: str
    settings: Settings
    names: Names = field(default_factory=Names)

    @property
    def namespace(self) -> str:
        return self.key.namespace

    def collection(self, plural: str) -> str:
        return f"/apis/{GROUP}/{VERSION}/namespaces/{self.namespace}/{plural}"


Operation = Callable[[Call, dict[str, Any]], Awaitable[dict[str, Any]]]


def kube_error(error: ApiError, what: str) -> EmrApiError:
    """A Kubernetes refusal in EMR's terms: 403 → AccessDeniedException, an admission or schema refusal
    (400/422) → ValidationException with Kubernetes' message (it names the field), 404 →
    InvalidRequestException; anything else is re-raised by the caller as an internal error."""
    if error.status == 403:
        return AccessDeniedException(f"{what}: {error.message}")
    if error.status in (400, 422):
        return ValidationException(f"{what}: {error.message}")
    if error.status == 404:
        return InvalidRequestException(f"{what}: not found")
    raise error


async def _request(call: Call, method: str, path: str, what: str, **kwargs: Any) -> dict[str, Any]:
    try:
        return await call.kube.request(method, path, **kwargs)
    except ApiError as error:
        raise kube_error(error, what) from error


def _id(request: Mapping[str, Any], name: str) -> str:
    """A required string member (an id), else ValidationException naming it."""
    value = get_str(request, name, required=True) or ""
    if not value:
        raise ValidationException(f"{name}: required")
    return value


def _ids(request: Mapping[str, Any], name: str) -> list[str]:
    """A required, non-empty list of strings, else ValidationException naming it."""
    values = get_strings(request, name)
    if not values:
        raise ValidationException(f"{name}: required (a non-empty list)")
    return values


def _objects(request: Mapping[str, Any], name: str) -> list[dict[str, Any]]:
    """A required, non-empty list of objects, else ValidationException naming it (or its bad item)."""
    items = [item for _, item in get_objects(request, name)]
    if not items:
        raise ValidationException(f"{name}: required (a non-empty list)")
    return items


def _object(request: Mapping[str, Any], name: str) -> dict[str, Any]:
    return get_object(request, name, required=True) or {}


# ---- finding objects by EMR id ---------------------------------------------------------------------------


async def _list(call: Call, plural: str) -> list[dict[str, Any]]:
    listing = await _request(call, "GET", call.collection(plural), f"list {plural}")
    items: list[dict[str, Any]] = listing.get("items", [])
    return items


async def _by_hint(call: Call, plural: str, emr_id: str) -> dict[str, Any] | None:
    """The object the name hint points at, if it still has this id (the id of its uid)."""
    name = call.names.get(call.namespace, emr_id)
    if name is None:
        return None
    try:
        obj = await call.kube.request("GET", f"{call.collection(plural)}/{name}")
    except ApiError as error:
        if error.status == 404:
            return None
        raise kube_error(error, f"get {plural}") from error
    return obj if _emr_id(plural, obj) == emr_id else None


def _emr_id(plural: str, obj: dict[str, Any]) -> str:
    return t.emr_cluster_id(obj) if plural == CLUSTER_PLURAL else t.emr_step_id(obj)


async def _find(call: Call, plural: str, emr_id: str) -> dict[str, Any] | None:
    """An object by EMR id in the key's namespace: by the name hint (one GET), else by the id label (one
    label-selected list), else by the id derived from each uid (a list of the namespace's objects, whose
    names are all remembered)."""
    found = await _by_hint(call, plural, emr_id)
    if found is None and _label_safe(emr_id):
        selector = {"labelSelector": f"{t.EMR_ID_LABEL}={emr_id}"}
        labelled = await _request(call, "GET", call.collection(plural), f"list {plural}", query=selector)
        found = next((o for o in labelled.get("items") or [] if _emr_id(plural, o) == emr_id), None)
    if found is None:
        for obj in await _list(call, plural):
            call.names.remember(call.namespace, _emr_id(plural, obj), obj["metadata"]["name"])
            if _emr_id(plural, obj) == emr_id:
                found = obj
    if found is not None:
        call.names.remember(call.namespace, emr_id, found["metadata"]["name"])
    return found


async def find_cluster(call: Call, cluster_id: str) -> dict[str, Any]:
    """The EMRCluster whose id is `cluster_id` (its label, or the id derived from its uid), in the key's
    namespace. Raises InvalidRequestException as EMR words it for an unknown id."""
    found = await _find(call, CLUSTER_PLURAL, cluster_id)
    if found is None:
        raise InvalidRequestException(f"Cluster id '{cluster_id}' is not valid.")
    return found


def _label_safe(value: str) -> bool:
    return len(value) <= 63 and all(c.isalnum() or c in "-_." for c in value)


async def cluster_steps(call: Call, cluster: dict[str, Any]) -> list[dict[str, Any]]:
    """The cluster's EMRSteps, newest first (EMR's order; submission order as the operator runs them)."""
    name = cluster["metadata"]["name"]
    steps = [
        s
        for s in await _list(call, STEP_PLURAL)
        if s.get("spec", {}).get("clusterRef", {}).get("name") == name
    ]
    return sorted(steps, key=step_order_key, reverse=True)


async def find_step(call: Call, cluster: dict[str, Any], step_id: str) -> dict[str, Any]:
    """The cluster's EMRStep whose id is `step_id`. Raises InvalidRequestException for an unknown id or a
    step of another cluster."""
    found = await _find(call, STEP_PLURAL, step_id)
    if found is None or found["spec"]["clusterRef"]["name"] != cluster["metadata"]["name"]:
        raise InvalidRequestException(f"Step id '{step_id}' is not valid.")
    return found


class ConflictError(EmrApiError):
    """The object changed between our read and our write (Kubernetes answered 409 to a patch carrying
    the resourceVersion we read). The server runs the whole operation again (CONFLICT_RETRIES); if it
    still conflicts, the client gets EMR's throttling code and retries as SDKs do."""

    code = "ThrottlingException"
    status = 400


async def _patch(
    call: Call, plural: str, obj: dict[str, Any], body: dict[str, Any], what: str, *, guard: bool = True
) -> dict[str, Any]:
    """A JSON merge patch of `obj`, valid only against the version read (its resourceVersion): a patch
    computed from what was read (whole group lists, the tags annotation) never overwrites a change made
    meanwhile. Raises ConflictError when the object changed. `guard=False`: a patch that holds whatever
    happened meanwhile (a label, spec.terminate)."""
    path = f"{call.collection(plural)}/{obj['metadata']['name']}"
    version = obj["metadata"].get("resourceVersion") if guard else None
    metadata = {**body.get("metadata", {}), **({"resourceVersion": version} if version else {})}
    try:
        return await call.kube.request(
            "PATCH", path, body={**body, "metadata": metadata}, content_type=MERGE_PATCH
        )
    except ApiError as error:
        if error.status == 409:
            raise ConflictError(f"{what}: the object changed meanwhile; retry") from error
        raise kube_error(error, what) from error


async def _create(call: Call, plural: str, manifest: dict[str, Any], what: str) -> dict[str, Any]:
    """Creates the object, then labels it with its EMR id (derived from the uid Kubernetes gave it)."""
    created = await _request(call, "POST", call.collection(plural), what, body=manifest)
    uid = created["metadata"]["uid"]
    emr_id = t.cluster_id(uid) if plural == CLUSTER_PLURAL else t.step_id(uid)
    call.names.remember(call.namespace, emr_id, created["metadata"]["name"])
    label = {"metadata": {"labels": {t.EMR_ID_LABEL: emr_id}}}
    return await _patch(call, plural, created, label, what, guard=False)


Change = Callable[[dict[str, Any]], dict[str, Any] | None]
"""A cluster → the JSON merge patch an operation makes of it (None: nothing to write); it may raise the
operation's own EmrApiError for a request that does not fit the cluster."""


async def _patch_cluster(call: Call, cluster_id: str, what: str, change: Change) -> dict[str, Any]:
    """Finds the cluster, computes `change(cluster)` and writes it with a merge patch guarded by the
    resourceVersion read (_patch). Returns EMR's empty answer ({}). Raises InvalidRequestException for an
    unknown id (find_cluster), what `change` raises, ConflictError when the cluster changed meanwhile (the
    server runs the operation again), and kube_error's refusals as `what`."""
    cluster = await find_cluster(call, cluster_id)
    patch = change(cluster)
    if patch is not None:
        await _patch(call, CLUSTER_PLURAL, cluster, patch, what)
    return {}


def undone(error: EmrApiError | ApiError, field: str, undo: str) -> EmrApiError:
    """The error of a request that created part of its objects and undid them: the field that failed,
    why, and what was undone (so the caller knows the retry starts clean)."""
    if isinstance(error, EmrApiError):
        return type(error)(f"{field}: {error.message} ({undo})")
    return InternalServerError(f"{field}: Kubernetes answered {error.status} {error.reason} ({undo})")


# ---- pagination ------------------------------------------------------------------------------------------


def _page(items: list[Any], request: Mapping[str, Any]) -> tuple[list[Any], str | None]:
    """One page of PAGE_SIZE from the request's Marker, and the Marker of the next (an opaque offset), as
    EMR's List* operations page. An offset: an item created between two pages shifts the next page by one
    (EMR's markers have the same caveat)."""
    marker = get_str(request, "Marker")
    try:
        start = int(base64.urlsafe_b64decode(marker.encode()).decode()) if marker else 0
    except ValueError:
        raise ValidationException(f"Marker: '{marker}' is not a marker this API gave") from None
    end = start + PAGE_SIZE
    following = base64.urlsafe_b64encode(str(end).encode()).decode() if end < len(items) else None
    return items[start:end], following


def _epoch(request: Mapping[str, Any], name: str) -> float | None:
    """A timestamp member (epoch seconds, as the JSON protocol sends them, or ISO 8601); None when absent."""
    value = request.get(name)
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise ValidationException(f"{name}: expected a timestamp (epoch seconds), got {value!r}") from None


def _step(call: Call, config: dict[str, Any], cluster_name: str, field: str) -> dict[str, Any]:
    """The EMRStep of one StepConfig, over the settings' step defaults."""
    manifest = t.step_from_config(config, cluster_name=cluster_name, namespace=call.namespace, field=field)
    manifest["spec"] = with_defaults(call.settings.step_defaults, manifest["spec"])
    return manifest


# ---- clusters --------------------------------------------------------------------------------------------


async def run_job_flow(call: Call, request: dict[str, Any]) -> dict[str, Any]:
    """RunJobFlow: an EMRCluster (and an EMRStep per entry of Steps). Returns JobFlowId and ClusterArn."""
    translated = t.cluster_from_run_job_flow(
        request,
        namespace=call.namespace,
        instance_types=call.settings.instance_types,
        releases=call.settings.releases,
    )  # its steps are validated too: a bad step refuses the whole request before anything is created
    manifest = translated.cluster
    manifest["spec"] = with_defaults(call.settings.cluster_defaults, manifest["spec"])
    cluster = await _create(call, CLUSTER_PLURAL, manifest, "RunJobFlow")
    name = cluster["metadata"]["name"]
    cluster_id = t.cluster_id(cluster["metadata"]["uid"])
    for i, cfg in enumerate(translated.steps):
        try:
            await _create(call, STEP_PLURAL, _step(call, cfg, name, f"Steps[{i}]"), "RunJobFlow")
        except (EmrApiError, ApiError) as error:
            # All or nothing, as the caller will retry: the cluster goes (its steps with it).
            await _patch(
                call, CLUSTER_PLURAL, cluster, {"spec": {"terminate": True}}, "RunJobFlow", guard=False
            )
            raise undone(
                error, f"Steps[{i}]", f"cluster {cluster_id} was created and is terminating"
            ) from error
    return {"JobFlowId": cluster_id, "ClusterArn": t.cluster_arn(cluster_id, call.region)}


async def describe_cluster(call: Call, request: dict[str, Any]) -> dict[str, Any]:
    """DescribeCluster: EMR's Cluster shape."""
    cluster = await find_cluster(call, _id(request, "ClusterId"))
    return {
        "Cluster": t.describe_cluster(
            cluster, instance_types=call.settings.instance_types, region=call.region
        )
    }


async def list_clusters(call: Call, request: dict[str, Any]) -> dict[str, Any]:
    """ListClusters: newest first, filtered by ClusterStates and CreatedAfter/CreatedBefore, 50 a page."""
    states = set(get_strings(request, "ClusterStates"))
    after, before = _epoch(request, "CreatedAfter"), _epoch(request, "CreatedBefore")
    summaries = [t.cluster_summary(obj, region=call.region) for obj in await _list(call, CLUSTER_PLURAL)]
    chosen = [
        s
        for s in summaries
        if (not states or s["Status"]["State"] in states)
        and (after is None or s["Status"]["Timeline"]["CreationDateTime"] >= after)
        and (before is None or s["Status"]["Timeline"]["CreationDateTime"] <= before)
    ]
    chosen.sort(key=lambda s: s["Status"]["Timeline"]["CreationDateTime"], reverse=True)
    page, marker = _page(chosen, request)
    return {"Clusters": page, **({"Marker": marker} if marker else {})}


async def terminate_job_flows(call: Call, request: dict[str, Any]) -> dict[str, Any]:
    """TerminateJobFlows: spec.terminate on each. A termination-protected cluster refuses (kemr's CRD rule),
    answered as EMR does: ValidationException."""
    clusters = [await find_cluster(call, i) for i in _ids(request, "JobFlowIds")]
    protected = [
        t.cluster_id(c["metadata"]["uid"]) for c in clusters if c["spec"].get("terminationProtected")
    ]
    if protected:
        raise ValidationException(
            "Could not shut down one or more job flows since they are termination protected: "
            + ", ".join(protected)
        )
    for cluster in clusters:
        if not cluster["spec"].get("terminate"):
            await _patch(call, CLUSTER_PLURAL, cluster, {"spec": {"terminate": True}}, "TerminateJobFlows")
    return {}


async def set_termination_protection(call: Call, request: dict[str, Any]) -> dict[str, Any]:
    """SetTerminationProtection: spec.terminationProtected on each."""
    value = request.get("TerminationProtected")
    if not isinstance(value, bool):
        raise ValidationException("TerminationProtected: must be true or false")
    body = {"spec": {"terminationProtected": value}}
    for cluster_id in _ids(request, "JobFlowIds"):
        await _patch_cluster(call, cluster_id, "SetTerminationProtection", lambda _: body)
    return {}


async def list_instance_groups(call: Call, request: dict[str, Any]) -> dict[str, Any]:
    """ListInstanceGroups: MASTER, each core group (CORE) and task group (TASK)."""
    cluster = await find_cluster(call, _id(request, "ClusterId"))
    groups = t.instance_groups(cluster, instance_types=call.settings.instance_types)
    page, marker = _page(groups, request)
    return {"InstanceGroups": page, **({"Marker": marker} if marker else {})}


async def modify_instance_groups(call: Call, request: dict[str, Any]) -> dict[str, Any]:
    """ModifyInstanceGroups: resize core and task groups (InstanceCount)."""

    def resize(cluster: dict[str, Any]) -> dict[str, Any] | None:
        spec = t.modify_instance_groups_patch(cluster, _objects(request, "InstanceGroups"))
        return {"spec": spec} if spec else None  # every count as it is: no write

    return await _patch_cluster(call, _id(request, "ClusterId"), "ModifyInstanceGroups", resize)


async def list_bootstrap_actions(call: Call, request: dict[str, Any]) -> dict[str, Any]:
    """ListBootstrapActions: EMR's Command shapes (Name, ScriptPath, Args)."""
    cluster = await find_cluster(call, _id(request, "ClusterId"))
    page, marker = _page(t.list_bootstrap_actions(cluster), request)
    return {"BootstrapActions": page, **({"Marker": marker} if marker else {})}


async def put_managed_scaling_policy(call: Call, request: dict[str, Any]) -> dict[str, Any]:
    """PutManagedScalingPolicy: managed scaling of the task groups within the ComputeLimits.
    InvalidRequestException on a cluster without task groups."""

    def scale(cluster: dict[str, Any]) -> dict[str, Any]:
        policy = _object(request, "ManagedScalingPolicy")
        if not cluster["spec"].get("taskGroups"):
            raise InvalidRequestException(
                "ManagedScalingPolicy: kemr's managed scaling resizes task groups, and this cluster has "
                "none (give it a TASK instance group when you create it)"
            )
        return {"spec": t.scaling_patch(cluster["spec"], policy, "ManagedScalingPolicy")}

    return await _patch_cluster(call, _id(request, "ClusterId"), "PutManagedScalingPolicy", scale)


async def get_managed_scaling_policy(call: Call, request: dict[str, Any]) -> dict[str, Any]:
    """GetManagedScalingPolicy: {"ManagedScalingPolicy": ...}, or {} when managed scaling is off."""
    return t.managed_scaling_policy(await find_cluster(call, _id(request, "ClusterId")))


async def remove_managed_scaling_policy(call: Call, request: dict[str, Any]) -> dict[str, Any]:
    """RemoveManagedScalingPolicy: managed scaling off."""
    off = {"spec": t.remove_managed_scaling_patch()}
    return await _patch_cluster(call, _id(request, "ClusterId"), "RemoveManagedScalingPolicy", lambda _: off)


async def put_auto_termination_policy(call: Call, request: dict[str, Any]) -> dict[str, Any]:
    """PutAutoTerminationPolicy: spec.autoTermination from the policy's IdleTimeout."""

    def idle_timeout(_: dict[str, Any]) -> dict[str, Any]:
        return {"spec": t.auto_termination_patch(_object(request, "AutoTerminationPolicy"))}

    return await _patch_cluster(call, _id(request, "ClusterId"), "PutAutoTerminationPolicy", idle_timeout)


async def get_auto_termination_policy(call: Call, request: dict[str, Any]) -> dict[str, Any]:
    """GetAutoTerminationPolicy: {"AutoTerminationPolicy": {"IdleTimeout": n}}, or {} without one."""
    return t.auto_termination_policy(await find_cluster(call, _id(request, "ClusterId")))


async def remove_auto_termination_policy(call: Call, request: dict[str, Any]) -> dict[str, Any]:
    """RemoveAutoTerminationPolicy: no idle timeout."""
    off = {"spec": t.remove_auto_termination_patch()}
    return await _patch_cluster(call, _id(request, "ClusterId"), "RemoveAutoTerminationPolicy", lambda _: off)


async def add_tags(call: Call, request: dict[str, Any]) -> dict[str, Any]:
    """AddTags on a cluster (ResourceId is its id): the annotation kemr.io/emr-tags (and labels)."""
    return await _patch_cluster(
        call, _id(request, "ResourceId"), "AddTags", lambda cluster: t.add_tags_patch(cluster, request)
    )


async def remove_tags(call: Call, request: dict[str, Any]) -> dict[str, Any]:
    """RemoveTags on a cluster (ResourceId is its id): the keys of TagKeys, from the annotation and labels."""
    return await _patch_cluster(
        call, _id(request, "ResourceId"), "RemoveTags", lambda cluster: t.remove_tags_patch(cluster, request)
    )


# ---- steps -----------------------------------------------------------------------------------------------


async def add_job_flow_steps(call: Call, request: dict[str, Any]) -> dict[str, Any]:
    """AddJobFlowSteps: one EMRStep per entry, in order. Returns StepIds in the same order."""
    cluster = await find_cluster(call, _id(request, "JobFlowId"))
    name = cluster["metadata"]["name"]
    manifests = [_step(call, cfg, name, f"Steps[{i}]") for i, cfg in enumerate(_objects(request, "Steps"))]
    if cluster["spec"].get("stepConcurrency", 1) > 1:  # EMR's rule, checked before anything is created
        for i, manifest in enumerate(manifests):
            if manifest["spec"]["actionOnFailure"] != "CONTINUE":
                raise ValidationException(
                    f"Steps[{i}].ActionOnFailure: must be CONTINUE on a cluster whose StepConcurrencyLevel "
                    "is above 1"
                )
    created: list[dict[str, Any]] = []
    for i, manifest in enumerate(manifests):
        try:
            created.append(await _create(call, STEP_PLURAL, manifest, "AddJobFlowSteps"))
        except (EmrApiError, ApiError) as error:
            # All or nothing, as the caller will retry: the steps created before this one are cancelled.
            for step in created:
                await _patch(
                    call, STEP_PLURAL, step, {"spec": {"cancel": True}}, "AddJobFlowSteps", guard=False
                )
            raise undone(
                error, f"Steps[{i}]", f"the {len(created)} steps before it were cancelled"
            ) from error
    return {"StepIds": [t.step_id(step["metadata"]["uid"]) for step in created]}


async def list_steps(call: Call, request: dict[str, Any]) -> dict[str, Any]:
    """ListSteps: newest first, filtered by StepStates and StepIds, 50 a page."""
    cluster = await find_cluster(call, _id(request, "ClusterId"))
    states, ids = set(get_strings(request, "StepStates")), set(get_strings(request, "StepIds"))
    summaries = [t.step_summary(s) for s in await cluster_steps(call, cluster)]
    chosen = [
        s for s in summaries if (not states or s["Status"]["State"] in states) and (not ids or s["Id"] in ids)
    ]
    page, marker = _page(chosen, request)
    return {"Steps": page, **({"Marker": marker} if marker else {})}


async def describe_step(call: Call, request: dict[str, Any]) -> dict[str, Any]:
    cluster = await find_cluster(call, _id(request, "ClusterId"))
    step = await find_step(call, cluster, _id(request, "StepId"))
    return {"Step": t.describe_step(step)}


async def cancel_steps(call: Call, request: dict[str, Any]) -> dict[str, Any]:
    """CancelSteps: spec.cancel on each PENDING or RUNNING step; others answer FAILED with the reason."""
    cluster = await find_cluster(call, _id(request, "ClusterId"))
    results = []
    for step_id in _ids(request, "StepIds"):
        try:
            step = await find_step(call, cluster, step_id)
        except InvalidRequestException as error:
            results.append({"StepId": step_id, "Status": "FAILED", "Reason": error.message})
            continue
        state = (step.get("status") or {}).get("state") or "PENDING"
        if state not in ("PENDING", "RUNNING"):
            results.append({"StepId": step_id, "Status": "FAILED", "Reason": f"The step is {state}."})
            continue
        await _patch(call, STEP_PLURAL, step, {"spec": {"cancel": True}}, "CancelSteps")
        results.append({"StepId": step_id, "Status": "SUBMITTED"})
    return {"CancelStepsInfoList": results}


OPERATIONS: dict[str, Operation] = {
    "RunJobFlow": run_job_flow,
    "DescribeCluster": describe_cluster,
    "ListClusters": list_clusters,
    "TerminateJobFlows": terminate_job_flows,
    "SetTerminationProtection": set_termination_protection,
    "ListInstanceGroups": list_instance_groups,
    "ModifyInstanceGroups": modify_instance_groups,
    "ListBootstrapActions": list_bootstrap_actions,
    "PutManagedScalingPolicy": put_managed_scaling_policy,
    "GetManagedScalingPolicy": get_managed_scaling_policy,
    "RemoveManagedScalingPolicy": remove_managed_scaling_policy,
    "PutAutoTerminationPolicy": put_auto_termination_policy,
    "GetAutoTerminationPolicy": get_auto_termination_policy,
    "RemoveAutoTerminationPolicy": remove_auto_termination_policy,
    "AddTags": add_tags,
    "RemoveTags": remove_tags,
    "AddJobFlowSteps": add_job_flow_steps,
    "ListSteps": list_steps,
    "DescribeStep": describe_step,
    "CancelSteps": cancel_steps,
}
"""EMR operation name → its function. The docs' operation table (docs/emr-api.md) lists these."""
