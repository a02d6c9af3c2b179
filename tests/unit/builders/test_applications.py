"""The application registry (kemr.applications): every application of the API is registered once, and what
each declares fits together (one main daemon per role, a readiness check and an entrypoint per daemon,
status endpoints the API reports, files for every classification, volumes for every mount)."""

from __future__ import annotations

import dataclasses
import re

import pytest
from golden_support import resolve_spec, small_spec

from kemr.api import Application, Classification, Endpoints
from kemr.api import constants as c
from kemr.applications import APPLICATIONS, CONFIG_FILES, ApplicationModule, enabled
from kemr.builders.pod import build_pod_template, container_resources
from kemr.builders.render import render_scripts

MODULES = list(APPLICATIONS.values())
ROLES = (c.ROLE_MASTER, c.ROLE_CORE, c.ROLE_TASK)


def test_every_application_is_registered_once_under_its_name() -> None:
    assert list(APPLICATIONS) == list(Application)
    assert all(app is module.application for app, module in APPLICATIONS.items())


@pytest.mark.parametrize("role", ROLES)
def test_a_role_has_one_main_daemon_spark_s_and_the_others_take_a_share(role: str) -> None:
    daemons = [(m, d) for m in MODULES for d in m.daemons.get(role, ())]
    main = [(m.application, d.name) for m, d in daemons if d.share is None]
    assert main == [(Application.SPARK, "spark-master" if role == c.ROLE_MASTER else "spark-worker")]
    assert daemons[0][0].application is Application.SPARK  # the main container comes first


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.application.value)
def test_every_daemon_has_an_entrypoint_and_a_readiness_check(module: ApplicationModule) -> None:
    scripts = render_scripts()
    checks = re.search(r"^CHECKS = \{(.*)\}$", scripts["probe.py"], re.M)
    assert checks is not None
    for daemons in module.daemons.values():
        for daemon in daemons:
            function = daemon.name.replace("-", "_")
            assert daemon.entrypoint in scripts
            assert daemon.pre_stop is None or daemon.pre_stop in scripts
            assert f"\ndef {function}():\n" in scripts["probe.py"]
            assert f'"{daemon.name}": {function}' in checks.group(1)
            assert daemon.readiness.lstrip().startswith(daemon.name)


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.application.value)
def test_every_mount_is_of_a_volume_the_module_declares_for_the_role(module: ApplicationModule) -> None:
    for role, daemons in module.daemons.items():
        declared = {v.name for v in module.volumes.get(role, ())}
        assert {m.volume for d in daemons for m in d.mounts} <= declared


def test_status_endpoints_are_fields_of_the_api_and_declared_by_their_module() -> None:
    aliases = {field.alias or name for name, field in Endpoints.model_fields.items()}
    big = {"resources": {"cpu": "2", "memory": "8Gi"}}
    every_application = small_spec(
        applications=[a.value for a in Application],
        master=big,
        coreGroups=[{"name": "core", "replicas": 2, **big}],
        taskGroups=[{"name": "spot", "minReplicas": 1, "maxReplicas": 4, **big}],
    )
    resolved = resolve_spec(every_application)
    for module in MODULES:
        assert set(module.status_endpoints) <= aliases
        assert set(module.status_endpoints) <= set(resolved.endpoints.urls)
    assert set(resolved.endpoints.status) == {e for m in MODULES for e in m.status_endpoints}


def test_every_classification_is_rendered_by_exactly_one_file() -> None:
    rendered = [f.classification for f in CONFIG_FILES if f.classification is not None]
    assert sorted(rendered) == sorted(Classification)
    assert len({f.key for f in CONFIG_FILES}) == len(CONFIG_FILES)
    assert len({f.path for f in CONFIG_FILES}) == len(CONFIG_FILES)


def test_a_cluster_runs_only_its_applications_daemons_ports_and_config_maps() -> None:
    only_spark = resolve_spec(small_spec(applications=["Spark"]))
    assert only_spark.applications == (Application.SPARK,)
    assert enabled([Application.SPARK]) == (APPLICATIONS[Application.SPARK],)
    assert [d.name for d in only_spark.master.daemons] == ["spark-master"]
    assert [p.name for p in only_spark.core_groups[0].ports] == ["worker", "worker-ui"]
    assert only_spark.config_maps == ()
    assert set(only_spark.endpoints.status) == {"master", "webUI"}
    with_hdfs = resolve_spec(small_spec())
    assert [d.name for d in with_hdfs.master.daemons] == ["spark-master", "namenode"]
    assert [d.name for d in with_hdfs.core_groups[0].daemons] == ["spark-worker", "datanode"]
    assert [d.name for d in with_hdfs.task_groups[0].daemons] == ["spark-worker"]
    assert [name for name, _ in with_hdfs.config_maps] == ["sales-hdfs-exclude"]
    assert with_hdfs.master.volumes == (("hdfs-exclude", "sales-hdfs-exclude"),)


def test_a_daemon_s_init_script_runs_after_the_bootstrap_actions_with_its_mounts() -> None:
    resolved = resolve_spec(
        small_spec(bootstrapActions=[{"name": "deps", "script": "s3://b/deps.sh"}]),
    )
    namenode = dataclasses.replace(resolved.master.daemons[1], init="namenode-init.sh")
    master = dataclasses.replace(resolved.master, daemons=(resolved.master.daemons[0], namenode))
    template = build_pod_template(resolved, master, "hash")
    init = template["spec"]["initContainers"]
    assert [c["name"] for c in init] == ["bootstrap-deps", "namenode-init"]
    container = next(c for c in template["spec"]["containers"] if c["name"] == "namenode")
    assert init[1]["command"] == ["bash", "/opt/kemr/scripts/namenode-init.sh"]
    assert init[1]["volumeMounts"] == container["volumeMounts"]
    assert init[1]["env"] == container["env"]
    assert init[1]["resources"]["limits"]["memory"] == container_resources(master.pod)["limits"]["memory"]
