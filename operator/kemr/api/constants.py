"""Names shared by the API, the builders and the controllers: group, kinds, labels, field manager."""

from typing import Final

GROUP: Final = "kemr.io"
VERSION: Final = "v1alpha1"
API_VERSION: Final = f"{GROUP}/{VERSION}"
CATEGORY: Final = "kemr"

CLUSTER_KIND: Final = "EMRCluster"
CLUSTER_PLURAL: Final = "emrclusters"
CLUSTER_SINGULAR: Final = "emrcluster"
CLUSTER_SHORT_NAMES: Final = ("emrc",)

STEP_KIND: Final = "EMRStep"
STEP_PLURAL: Final = "emrsteps"
STEP_SINGULAR: Final = "emrstep"
STEP_SHORT_NAMES: Final = ("emrs",)

CATALOG_KIND: Final = "DataCatalog"
CATALOG_PLURAL: Final = "datacatalogs"
CATALOG_SINGULAR: Final = "datacatalog"
CATALOG_SHORT_NAMES: Final = ("dcat",)

NOTEBOOK_KIND: Final = "EMRNotebook"
NOTEBOOK_PLURAL: Final = "emrnotebooks"
NOTEBOOK_SINGULAR: Final = "emrnotebook"
NOTEBOOK_SHORT_NAMES: Final = ("emrnb",)

# Server-side apply field owner of everything the operator writes.
FIELD_MANAGER: Final = "kemr-operator"

# Labels on every child object.
LABEL_CLUSTER: Final = "kemr.io/cluster"  # the EMRCluster's name
LABEL_ROLE: Final = "kemr.io/role"  # one of ROLES
LABEL_GROUP: Final = "kemr.io/group"  # core/task group name ("master" for the master)
LABEL_STEP: Final = "kemr.io/step"  # the EMRStep's name (driver pods)
LABEL_CATALOG: Final = "kemr.io/catalog"  # the DataCatalog's name (its database and metastore)
LABEL_NOTEBOOK: Final = "kemr.io/notebook"  # the EMRNotebook's name (its Deployment and pod)
LABEL_FALLBACK: Final = "kemr.io/fallback"  # "on-demand" on a spot task group's on-demand stand-ins
LABEL_MANAGED_BY: Final = "app.kubernetes.io/managed-by"
LABEL_NAME: Final = "app.kubernetes.io/name"
LABEL_INSTANCE: Final = "app.kubernetes.io/instance"
MANAGED_BY: Final = "kemr"  # value of LABEL_MANAGED_BY

ROLE_MASTER: Final = "master"
ROLE_CORE: Final = "core"
ROLE_TASK: Final = "task"
ROLE_DRIVER: Final = "driver"
# An EMRNotebook's JupyterLab pod: labelled with its cluster (so the cluster's NetworkPolicy admits it and
# its executors may connect back to the kernel's driver) but owned by the EMRNotebook, not by the cluster.
ROLE_NOTEBOOK: Final = "notebook"
# On every driver pod, removed by the operator once the attempt's outcome is in the step's status (as the Job
# controller's batch.kubernetes.io/job-tracking): a driver deleted meanwhile can't take its result with it.
DRIVER_FINALIZER: Final = "kemr.io/driver-outcome"
ROLES: Final = (ROLE_MASTER, ROLE_CORE, ROLE_TASK, ROLE_DRIVER)

# Name lengths. Workloads are named "<cluster>-core-<group>" / "<cluster>-task-<group>" (resolve/names) and
# the StatefulSet controller labels pods with "<statefulset>-<10-char hash>", a label value (<= 63 chars):
# so cluster (30) + "-core-" (6) + group (16) = 52. Inline steps become EMRSteps named "<cluster>-<step>",
# and EMRStep names are label values ("kemr.io/step") and prefix driver pods "<step>-attempt-<n>"
# whose hostname must fit 63 characters: 52 + len("-attempt-10") = 63.
MAX_CLUSTER_NAME_LENGTH: Final = 30
MAX_GROUP_NAME_LENGTH: Final = 16
MAX_STEP_NAME_LENGTH: Final = 52
MAX_INLINE_STEP_NAME_LENGTH: Final = MAX_STEP_NAME_LENGTH - MAX_CLUSTER_NAME_LENGTH - 1
# DataCatalogs name "<catalog>-metastore" (a Service: DNS-1035, <= 63) and "<catalog>-db" (a StatefulSet,
# whose pods' controller-revision-hash label "<catalog>-db-<10-char hash>" must fit 63).
MAX_CATALOG_NAME_LENGTH: Final = 40
# EMRNotebooks name "<notebook>-notebook" (a Deployment, whose pods are "<deployment>-<hash>-<5 chars>") and
# are a label value (kemr.io/notebook): 52 leaves room for the suffixes, as a step's name does.
MAX_NOTEBOOK_NAME_LENGTH: Final = 52

# DNS-1035 label: what a Service name must be (the cluster's name prefixes its Services).
DNS_1035_LABEL_PATTERN: Final = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
# DNS-1123 label: names of groups, steps, bootstrap actions (they become parts of object/container names).
DNS_1123_LABEL_PATTERN: Final = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"

DEFAULT_RELEASE: Final = "kemr-1.0"

# A step driver's termination message starts with this and its Spark application's id (submit.sh writes it,
# kemr.status.step reads it into status.attempts[].applicationId). The id is the standalone master's
# `app-<yyyyMMddHHmmss>-<nnnn>` (Spark's Master.newApplicationId).
SPARK_APPLICATION_ID_PREFIX: Final = "kemr.io/spark-application-id: "
SPARK_APPLICATION_ID_PATTERN: Final = r"app-[0-9]{14}-[0-9]{4,}"
