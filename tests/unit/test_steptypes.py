"""The step type registry (kemr.steptypes): every step type of the API is registered once, in the API's order,
and each declares its driver, Spark conf and add-step body consistently with its pydantic model."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, get_args

import pytest

from kemr.api import EMRStepSpec
from kemr.api.common import Resources
from kemr.api.step import _ONE_STEP_KIND as ONE_STEP_KIND
from kemr.api.step import STEP_TYPE_FIELDS, DriverSpec, StepBody
from kemr.kubectl.format import describe_step
from kemr.kubectl.stepspec import STEP_TYPES as KUBECTL_TYPES
from kemr.kubectl.stepspec import StepOptions, build_step
from kemr.steptypes import (
    ADD_STEP_TYPES,
    SPARK_PROGRAMS,
    STEP_TYPES,
    StepOptionError,
    StepType,
    bodies,
    step_body,
    stored_body,
)
from kemr.steptypes.command import COMMAND
from kemr.steptypes.hive import HIVE
from kemr.steptypes.spark import SPARK
from kemr.steptypes.spark_sql import SPARK_SQL
from kemr.steptypes.trino import TRINO

# One sample body per type, as stored (camelCase).
SAMPLES: dict[str, dict[str, Any]] = {
    "spark": {
        "mainApplicationFile": "s3a://b/app.jar",
        "mainClass": "a.Main",
        "args": ["$(X)", "2"],
        "conf": {"spark.executor.cores": "2", "spark.cores.max": "8"},
        "jars": ["s3a://b/dep.jar"],
        "driver": {"resources": {"cpu": "1500m", "memory": "1Gi"}},
    },
    "sparkSql": {"query": "SELECT 1", "driver": {"resources": {"cpu": "2", "memory": "2Gi"}}},
    "command": {
        "args": ["bash", "-c", "echo $HOME"],
        "driver": {"resources": {"cpu": "100m", "memory": "64Mi"}},
    },
    "hive": {
        "file": "s3://b/q.q",
        "variables": {"OUTPUT": "s3://b/out/", "INPUT": "s3://b/in/"},
        "driver": {"resources": {"cpu": "1", "memory": "2Gi"}},
    },
    "trino": {
        "query": "SELECT 1",
        "output": "s3://b/out/result.csv",
        "catalog": "tpch",
        "schema": "tiny",
        "sessionProperties": {"query_max_run_time": "10m", "hive.compression_codec": "ZSTD"},
        "driver": {"resources": {"cpu": "100m", "memory": "256Mi"}},
    },
}


def _spec(field: str) -> EMRStepSpec:
    return EMRStepSpec.model_validate({"clusterRef": {"name": "c"}, field: SAMPLES[field]})


def _body(field: str) -> Any:
    """The parsed body of SAMPLES[field]."""
    [(_, body)] = bodies(_spec(field))
    return body


def _step_body_fields() -> dict[str, str]:
    """StepBody's fields that hold a step's body (a model with a driver), found from the model alone:
    python name → CRD name."""
    found = {}
    for name, info in StepBody.model_fields.items():
        for model in get_args(info.annotation) or (info.annotation,):
            driver = getattr(model, "model_fields", {}).get("driver")
            if driver is not None and driver.annotation is DriverSpec:
                found[name] = info.alias or name
    return found


def test_every_step_type_of_the_api_is_registered_exactly_once_in_its_order() -> None:
    fields = [t.field for t in STEP_TYPES]
    assert len(fields) == len(set(fields))
    assert tuple(fields) == STEP_TYPE_FIELDS
    assert sorted(fields) == sorted(_step_body_fields().values())
    assert {"spark": SPARK, "sparkSql": SPARK_SQL, "command": COMMAND}.items() <= {
        t.field: t for t in STEP_TYPES
    }.items()


@pytest.mark.parametrize("step_type", STEP_TYPES, ids=lambda t: t.field)
def test_each_type_reads_its_own_field_and_only_it(step_type: StepType[Any]) -> None:
    python_name = {alias: name for name, alias in _step_body_fields().items()}[step_type.field]
    spec = _spec(step_type.field)
    body = getattr(spec, python_name)
    assert step_type.body(spec) is body
    assert bodies(spec) == [(step_type, body)]
    assert step_body(spec) == (step_type, body)
    for other in STEP_TYPES:
        if other is not step_type:
            assert other.body(spec) is None
    stored = spec.to_dict()
    assert stored_body(stored) == (step_type, stored[step_type.field])


def test_a_spec_without_a_step_type_has_none() -> None:
    spec = StepBody()
    assert bodies(spec) == []
    assert step_body(spec) is None
    assert stored_body({"spark": {}, "retry": {"maxAttempts": 2}}) is None  # an empty body counts as unset


def test_a_spec_with_several_types_is_taken_as_the_first_registered() -> None:
    """The CRD refuses it; a spec built in Python may hold it."""
    spec = StepBody.model_validate({"command": SAMPLES["command"], "sparkSql": SAMPLES["sparkSql"]})
    assert [t for t, _ in bodies(spec)] == [SPARK_SQL, COMMAND]
    assert step_body(spec) == (SPARK_SQL, spec.spark_sql)


@pytest.mark.parametrize("step_type", STEP_TYPES, ids=lambda t: t.field)
def test_the_driver_resources_are_the_bodys_driver(step_type: StepType[Any]) -> None:
    """validate_step names `<field>.driver.resources.memory`: every type's driver is there."""
    body = _body(step_type.field)
    resources = step_type.driver_resources(body)
    assert isinstance(resources, Resources)
    assert resources is body.driver.resources
    assert resources.cpu == SAMPLES[step_type.field]["driver"]["resources"]["cpu"]


def test_each_types_driver_program_and_arguments_as_the_program_receives_them() -> None:
    """Unescaped: the builders escape them for the kubelet (tests/unit/builders/test_builders_driver.py)."""
    spark, sql, command = (_body(field) for field in ("spark", "sparkSql", "command"))
    assert (SPARK.spark_program, SPARK.driver_args(spark)) == (
        "spark-submit",
        [
            *["--class", "a.Main", "--jars", "s3a://b/dep.jar"],
            *["--conf", "spark.driver.memory=640m", "--conf", "spark.driver.cores=1"],
            *["--conf", "spark.driver.defaultJavaOptions=-XX:+ExitOnOutOfMemoryError"],
            *["--conf", "spark.cores.max=8", "--conf", "spark.executor.cores=2"],
            *["s3a://b/app.jar", "$(X)", "2"],
        ],
    )
    assert (SPARK_SQL.spark_program, SPARK_SQL.driver_args(sql)) == (
        "spark-sql",
        [
            *["--conf", "spark.driver.memory=1639m", "--conf", "spark.driver.cores=2"],
            *["--conf", "spark.driver.defaultJavaOptions=-XX:+ExitOnOutOfMemoryError", "-e", "SELECT 1"],
        ],
    )
    assert (COMMAND.spark_program, COMMAND.driver_args(command)) == (None, ["bash", "-c", "echo $HOME"])
    assert (HIVE.spark_program, HIVE.driver_args(_body("hive"))) == (
        "spark-sql",
        [
            *["--conf", "spark.driver.memory=1639m", "--conf", "spark.driver.cores=1"],
            *["--conf", "spark.driver.defaultJavaOptions=-XX:+ExitOnOutOfMemoryError"],
            *["--hivevar", "INPUT=s3://b/in/", "--hivevar", "OUTPUT=s3://b/out/", "-f", "s3://b/q.q"],
        ],
    )


def test_a_trino_step_runs_the_trino_images_driver_with_its_session_sorted() -> None:
    assert (TRINO.spark_program, TRINO.driver_application) == (None, "Trino")
    assert TRINO.driver_args(_body("trino")) == [
        *["kemr-trino-step", "--catalog=tpch", "--schema=tiny"],
        *["--session=hive.compression_codec=ZSTD", "--session=query_max_run_time=10m"],
        *["--query=SELECT 1", "--output=s3://b/out/result.csv"],
    ]
    from_file = EMRStepSpec.model_validate({"clusterRef": {"name": "c"}, "trino": {"file": "s3a://b/q.sql"}})
    assert from_file.trino is not None
    assert TRINO.driver_args(from_file.trino) == [
        *["kemr-trino-step", "--catalog=hive", "--schema=default", "--file=s3a://b/q.sql"]
    ]
    with pytest.raises(ValueError, match="pattern"):  # '?' and '#' would be read as a URL's query/fragment
        EMRStepSpec.model_validate(
            {"clusterRef": {"name": "c"}, "trino": {"query": "x", "output": "s3://b/a?x"}}
        )


def test_trino_add_step_takes_the_clis_session_options_and_an_output() -> None:
    options = StepOptions(
        "etl",
        "t",
        "trino",
        query="SELECT 1",
        args=["--catalog", "tpch", "--session", "a.b=1", "--output", "s3://b/r.csv"],
    )
    body = build_step(options)["spec"]["trino"]
    assert body == {
        "query": "SELECT 1",
        "catalog": "tpch",
        "sessionProperties": {"a.b": "1"},
        "output": "s3://b/r.csv",
    }
    with pytest.raises(StepOptionError, match="--session takes NAME=VALUE"):
        build_step(StepOptions("etl", "t", "trino", query="SELECT 1", args=["--session", "x"]))
    with pytest.raises(StepOptionError, match="not '-d'"):
        build_step(StepOptions("etl", "t", "trino", query="SELECT 1", args=["-d", "N=1"]))
    with pytest.raises(StepOptionError, match="exactly one of --query"):
        build_step(StepOptions("etl", "t", "trino"))


def test_hive_add_step_takes_emrs_variables_and_nothing_else() -> None:
    options = StepOptions(
        "etl", "h", "hive", file="s3://b/q.q", args=["-d", "INPUT=s3://b/in/", "--hivevar", "N=1"]
    )
    assert build_step(options)["spec"]["hive"] == {
        "file": "s3://b/q.q",
        "variables": {"INPUT": "s3://b/in/", "N": "1"},
    }
    for args in (["-x"], ["-d"], ["-d", "NOVALUE"]):
        with pytest.raises(StepOptionError, match="takes only variables after --"):
            HIVE.add_step_body(StepOptions("etl", "h", "hive", query="SELECT 1", args=args))


def test_the_spark_programs_are_what_submit_sh_accepts() -> None:
    assert SPARK_PROGRAMS == ("spark-submit", "spark-sql")
    for program in SPARK_PROGRAMS:  # a word in a shell `case` pattern and in an error message
        assert re.fullmatch(r"[a-z][a-z0-9-]*", program), program


@pytest.mark.parametrize("step_type", STEP_TYPES, ids=lambda t: t.field)
def test_each_types_spark_conf_comes_from_its_stored_body(step_type: StepType[Any]) -> None:
    conf = step_type.spark_conf(SAMPLES[step_type.field])
    expected = SAMPLES[step_type.field].get(step_type.conf_field or "", {})
    assert conf == expected
    if step_type.conf_field is not None:  # the conf field is one of the body's, on the wire
        assert step_type.conf_field in _body(step_type.field).to_dict()


def test_spark_conf_values_are_strings() -> None:
    assert SPARK.spark_conf({"conf": {"spark.executor.instances": 4}}) == {"spark.executor.instances": "4"}
    assert SPARK.spark_conf({}) == {}


def test_every_add_step_type_name_belongs_to_one_step_type() -> None:
    names = [name for t in STEP_TYPES for name in t.add_step_types]
    assert len(names) == len(set(names))
    assert KUBECTL_TYPES == tuple(names) == tuple(ADD_STEP_TYPES)
    assert KUBECTL_TYPES[:4] == ("spark", "pyspark", "sql", "command")
    assert {"spark": "spark", "pyspark": "spark", "sql": "sparkSql", "command": "command"}.items() <= {
        name: t.field for name, t in ADD_STEP_TYPES.items()
    }.items()


@pytest.mark.parametrize(
    "options",
    [
        StepOptions("etl", "a", "spark", file="/app.jar", main_class="a.Main", args=["1"]),
        StepOptions("etl", "b", "pyspark", file="s3://b/app.py"),
        StepOptions("etl", "c", "sql", file="s3://b/q.sql"),
        StepOptions("etl", "d", "command", args=["true"]),
        StepOptions("etl", "e", "hive", query="SELECT ${N}", args=["-d", "N=1"]),
        StepOptions("etl", "f", "trino", file="s3://b/q.sql", args=["--schema", "sales"]),
    ],
    ids=lambda o: o.type,
)
def test_each_add_step_body_is_a_valid_body_of_its_type(options: StepOptions) -> None:
    manifest = build_step(options)
    spec = EMRStepSpec.model_validate(manifest["spec"])
    [(step_type, _)] = bodies(spec)
    assert step_type is ADD_STEP_TYPES[options.type]


def test_the_exactly_one_rule_and_its_message_come_from_the_field_list() -> None:
    rule = re.fullmatch(r"\[(.*)\]\.exists_one\(x, x\)", ONE_STEP_KIND["rule"])
    assert rule is not None
    assert rule.group(1).split(", ") == [f"has(self.{field})" for field in STEP_TYPE_FIELDS]
    message = re.fullmatch(r"exactly one of (.*) or (\w+) must be set", ONE_STEP_KIND["message"])
    assert message is not None
    assert [*message.group(1).split(", "), message.group(2)] == list(STEP_TYPE_FIELDS)
    assert STEP_TYPE_FIELDS[:3] == ("spark", "sparkSql", "command")


def test_the_registry_is_pure_data() -> None:
    """Nothing else registers a type at run time: the table is an immutable tuple of frozen declarations."""
    assert isinstance(STEP_TYPES, tuple)
    for step_type in STEP_TYPES:
        with pytest.raises(AttributeError):
            step_type.field = "x"  # type: ignore[misc]


@pytest.mark.parametrize("field", STEP_TYPE_FIELDS)
def test_kubectl_describe_names_the_steps_type(field: str) -> None:
    step = {
        "metadata": {"name": "s", "namespace": "n"},
        "spec": {"clusterRef": {"name": "c"}, field: SAMPLES[field]},
    }
    out = describe_step(step, [], datetime(2026, 11, 22, tzinfo=UTC))
    assert re.search(rf"^Type:\s+{field}$", out, re.MULTILINE), out
