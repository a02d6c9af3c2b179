"""EMR's request and response shapes ↔ kemr's EMRCluster and EMRStep objects: pure functions, dict in, dict
out (no I/O, no Kubernetes calls). Errors are kemr.emrapi.errors' ValidationException and
InvalidRequestException, naming the field as EMR spells it.

Modules, in the order of docs/emr-api.md: `ids` (EMR ids from metadata.uid), `instances` (instance types
as pod sizes), `configurations`, `tags`, `runjobflow` (RunJobFlow → EMRCluster), `cluster`
(DescribeCluster, ListClusters), `groups` (ListInstanceGroups, ModifyInstanceGroups), `commands`
(HadoopJarStep ↔ step body), `steps` (AddJobFlowSteps, DescribeStep, ListSteps), `policies` (managed
scaling, auto-termination, bootstrap actions, tags). Each module's docstring has its mapping table.
"""

from kemr.emrapi.translate.cluster import cluster_arn, cluster_summary, describe_cluster
from kemr.emrapi.translate.groups import instance_groups, modify_instance_groups_patch
from kemr.emrapi.translate.ids import (
    EMR_ID_LABEL,
    cluster_id,
    emr_cluster_id,
    emr_step_id,
    instance_group_id,
    step_id,
)
from kemr.emrapi.translate.instances import (
    DEFAULT_INSTANCE_TYPES,
    InstanceTypes,
    parse_instance_types,
    resources_for,
)
from kemr.emrapi.translate.policies import (
    add_tags_patch,
    auto_termination_patch,
    auto_termination_policy,
    list_bootstrap_actions,
    managed_scaling_policy,
    remove_auto_termination_patch,
    remove_managed_scaling_patch,
    remove_tags_patch,
    scaling_patch,
)
from kemr.emrapi.translate.runjobflow import RunJobFlowTranslation, cluster_from_run_job_flow
from kemr.emrapi.translate.steps import describe_step, step_from_config, step_summary

__all__ = [
    "DEFAULT_INSTANCE_TYPES",
    "EMR_ID_LABEL",
    "InstanceTypes",
    "RunJobFlowTranslation",
    "add_tags_patch",
    "auto_termination_patch",
    "auto_termination_policy",
    "cluster_arn",
    "cluster_from_run_job_flow",
    "cluster_id",
    "cluster_summary",
    "describe_cluster",
    "describe_step",
    "emr_cluster_id",
    "emr_step_id",
    "instance_group_id",
    "instance_groups",
    "list_bootstrap_actions",
    "managed_scaling_policy",
    "modify_instance_groups_patch",
    "parse_instance_types",
    "remove_auto_termination_patch",
    "remove_managed_scaling_patch",
    "remove_tags_patch",
    "resources_for",
    "scaling_patch",
    "step_from_config",
    "step_id",
    "step_summary",
]
