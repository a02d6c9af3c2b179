"""Spark: the standalone master on the master pod, a worker in every core and task pod, drivers in client
mode (kemr.builders.driver). Every cluster runs it (the CRD requires it). What a worker offers executors
follows from the pod's size (kemr.resolve.sizing); its Spark conf keys owned in configurations and steps are
kemr.validate.owned's (steps check them without a cluster)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from kemr.api import Application, ApplicationImages, Classification
from kemr.applications.base import (
    ALL,
    CORE,
    DATA_DIR,
    MASTER,
    MIN_DAEMON_MEMORY_MIB,
    TASK,
    ApplicationModule,
    ClusterContext,
    ConfigFile,
    ContainerSize,
    Daemon,
    DaemonContext,
    Env,
    Port,
    Properties,
    Script,
    jvm_heap,
)
from kemr.config import Sizing

# Ports: Spark's defaults.
SPARK_MASTER_PORT: Final = 7077
SPARK_MASTER_UI_PORT: Final = 8080
SPARK_WORKER_PORT: Final = 7078
SPARK_WORKER_UI_PORT: Final = 8081

SPARK_RECOVERY_DIR: Final = f"{DATA_DIR}/spark/recovery"
SPARK_WORKER_DIR: Final = f"{DATA_DIR}/spark/work"
SPARK_LOCAL_DIRS: Final = f"{DATA_DIR}/spark/local"
# A Spark worker being removed decommissions for up to this long (its preStop hook).
WORKER_DECOMMISSION_SECONDS: Final = 120


def _master_env(daemon: DaemonContext) -> Env:
    return ({"name": "SPARK_DAEMON_MEMORY", "value": f"{daemon.heap_mib}m"},)


def _worker_env(daemon: DaemonContext) -> Env:
    return (
        {"name": "SPARK_DAEMON_MEMORY", "value": f"{daemon.heap_mib}m"},
        {"name": "SPARK_WORKER_CORES", "value": str(daemon.worker_cores)},
        {"name": "SPARK_WORKER_MEMORY", "value": f"{daemon.worker_memory_mib}m"},
        {"name": "SPARK_WORKER_DIR", "value": SPARK_WORKER_DIR},
        {"name": "SPARK_LOCAL_DIRS", "value": SPARK_LOCAL_DIRS},
    )


def _worker_heap(size: ContainerSize, sizing: Sizing) -> int:
    del size  # the worker daemon's own memory is fixed; the rest is offered to executors
    return sizing.worker_daemon_memory_mib // 2


SPARK_MASTER = Daemon(
    name="spark-master",
    label="Spark master",
    what="the Spark master",
    entrypoint="spark-master.sh",
    ports=(Port("spark", SPARK_MASTER_PORT), Port("spark-ui", SPARK_MASTER_UI_PORT)),
    liveness_port=SPARK_MASTER_PORT,
    env=_master_env,
    heap=jvm_heap,
    min_memory_mib=MIN_DAEMON_MEMORY_MIB,
    readiness="  spark-master  the master's /json/ says status ALIVE (not RECOVERING or STANDBY)",
)

SPARK_WORKER = Daemon(
    name="spark-worker",
    label="Spark worker",
    what="the Spark worker",
    entrypoint="spark-worker.sh",
    ports=(Port("worker", SPARK_WORKER_PORT), Port("worker-ui", SPARK_WORKER_UI_PORT)),
    liveness_port=SPARK_WORKER_UI_PORT,
    env=_worker_env,
    heap=_worker_heap,
    readiness="  spark-worker  the worker's /json/ names the master it registered with",
    # Scale-in, spot loss, drains: the worker decommissions its executors before it stops.
    pre_stop="spark-worker-stop.sh",
)


def _endpoints(context: ClusterContext) -> Mapping[str, str]:
    return {
        "master": f"spark://{context.master_host}:{SPARK_MASTER_PORT}",
        "webUI": f"http://{context.master_host}:{SPARK_MASTER_UI_PORT}",
    }


def _properties(context: ClusterContext, role: str) -> Properties:
    if role == ALL:
        return {Classification.SPARK_DEFAULTS: {"spark.master": _endpoints(context)["master"]}}
    if role == MASTER:
        return {
            Classification.SPARK_DEFAULTS: {
                # Registered workers and applications survive a master restart.
                "spark.deploy.recoveryMode": "FILESYSTEM",
                "spark.deploy.recoveryDirectory": SPARK_RECOVERY_DIR,
            }
        }
    if role in (CORE, TASK):
        return {
            Classification.SPARK_DEFAULTS: {
                # Reconnect through the master's Service (not its old pod IP) after the master pod is
                # replaced.
                "spark.worker.preferConfiguredMasterAddress": "true",
                # SIGPWR (the preStop hook) decommissions the worker: no new executors, its own ones
                # wound down.
                "spark.decommission.enabled": "true",
            }
        }
    return {}


def _image(images: ApplicationImages) -> str | None:
    return images.spark


SPARK = ApplicationModule(
    application=Application.SPARK,
    image=_image,
    daemons={MASTER: (SPARK_MASTER,), CORE: (SPARK_WORKER,), TASK: (SPARK_WORKER,)},
    files=(
        ConfigFile(
            "spark-defaults.conf",
            "spark/spark-defaults.conf",
            "properties",
            Classification.SPARK_DEFAULTS,
            header="spark-defaults.conf",
        ),
        ConfigFile("spark-env.sh", "spark/spark-env.sh", "spark-env", Classification.SPARK_ENV),
        ConfigFile(
            "log4j2.properties",
            "spark/log4j2.properties",
            "properties",
            Classification.SPARK_LOG4J2,
            header="log4j2.properties (Spark)",
        ),
        # Spark's Hadoop client: S3A, the default filesystem.
        ConfigFile("core-site.xml", "hadoop/core-site.xml", "hadoop-xml", Classification.CORE_SITE),
    ),
    scripts=(
        Script(
            "spark-master.sh",
            "spark-master.sh.j2",
            {"recovery_dir": SPARK_RECOVERY_DIR, "port": SPARK_MASTER_PORT, "ui_port": SPARK_MASTER_UI_PORT},
        ),
        Script(
            "spark-worker.sh",
            "spark-worker.sh.j2",
            {"port": SPARK_WORKER_PORT, "ui_port": SPARK_WORKER_UI_PORT},
        ),
        Script(
            "spark-worker-stop.sh",
            "spark-worker-stop.sh.j2",
            {"wait_seconds": WORKER_DECOMMISSION_SECONDS, "ui_port": SPARK_WORKER_UI_PORT},
        ),
    ),
    probe_checks="spark-probe.py.j2",
    probe_context={
        "spark_master_ui_port": SPARK_MASTER_UI_PORT,
        "spark_worker_ui_port": SPARK_WORKER_UI_PORT,
    },
    properties=_properties,
    env=lambda context: ({"name": "KEMR_SPARK_MASTER_URL", "value": _endpoints(context)["master"]},),
    endpoints=_endpoints,
    status_endpoints=("master", "webUI"),
)
