"""A HadoopJarStep → the body of an EMRStep (`spark`, `sparkSql`, `hive`, `trino` or `command`), and back.

`command-runner.jar` runs its Args as a command on EMR; kemr reads the command (Args[0], by its base name):

| Args[0]                       | kemr step | options read
| ----------------------------- | --------- | ---------------------------------------------------------------
| spark-submit                  | spark     | --class → mainClass; --conf K=V → conf; --py-files, --jars
|                               |           | (comma lists) → pyFiles, jars; --files, --archives, --packages,
|                               |           | --repositories, --exclude-packages → spark.files,
|                               |           | spark.archives, spark.jars.packages/.repositories/.excludes;
|                               |           | --name → spark.app.name; --driver-memory → driver.resources.
|                               |           | memory (sized so the driver's heap is at least that);
|                               |           | --driver-cores → driver.resources.cpu; --driver-java-options,
|                               |           | --driver-class-path, --driver-library-path → spark.driver.*;
|                               |           | --executor-memory, --executor-cores, --num-executors,
|                               |           | --total-executor-cores → spark.executor.memory/.cores/
|                               |           | .instances, spark.cores.max; --master, --deploy-mode, --queue,
|                               |           | --verbose, --supervise ignored (kemr runs client mode on the
|                               |           | cluster's master); then the application file and its args
| spark-sql                     | sparkSql  | -e QUERY or -f FILE; --master, --deploy-mode, --name ignored
| hive-script --run-hive-script | hive      | -f FILE or -e QUERY; -d / --define / --hivevar K=V → variables
| --args ..., hive              |           |
| trino-cli, presto-cli         | trino     | --execute QUERY or -f/--file FILE (s3://); --catalog, --schema,
|                               |           | --session K=V; --server, --user, --output-format ignored
| anything else                 | command   | Args as they are

Any other option of spark-submit, spark-sql, hive or the Trino CLI is refused with a ValidationException
naming `Steps[i].HadoopJarStep.Args[j]`. File URIs: s3n:// is read as s3://; a relative path is refused.
HadoopJarStep.Properties and MainClass are ignored for command-runner.jar.

A custom JAR (Jar other than command-runner.jar, e.g. `s3://bucket/wordcount.jar`) becomes a `spark` step
running the JAR's MainClass (or its manifest's Main-Class) with Args: spark-submit fetches the JAR from S3
and runs its main method with Hadoop's client on the classpath, so a MapReduce job runs in Hadoop's local
mode, as `hadoop jar` would without YARN. Properties become `-DKey=Value` in spark.driver.extraJavaOptions.
EMR's script-runner.jar is refused (use command-runner.jar with `bash -c`).
"""

from __future__ import annotations

import math
import posixpath
import re
from collections.abc import Callable, Mapping
from typing import Any, Final

from kemr.api.quantity import driver_heap_mib, min_driver_memory_mib
from kemr.api.step import APPLICATION_FILE_PATTERN, HIVE_VARIABLE_PATTERN, S3_OBJECT_PATTERN
from kemr.emrapi.errors import InvalidRequestException, ValidationException
from kemr.emrapi.translate.common import Json, s3_uri

COMMAND_RUNNER: Final = "command-runner.jar"

# spark-submit options taking a value → the Spark property they set.
_SPARK_CONF_OPTIONS: Final[Mapping[str, str]] = {
    "--files": "spark.files",
    "--archives": "spark.archives",
    "--packages": "spark.jars.packages",
    "--repositories": "spark.jars.repositories",
    "--exclude-packages": "spark.jars.excludes",
    "--name": "spark.app.name",
    "--driver-java-options": "spark.driver.extraJavaOptions",
    "--driver-class-path": "spark.driver.extraClassPath",
    "--driver-library-path": "spark.driver.extraLibraryPath",
    "--executor-memory": "spark.executor.memory",
    "--executor-cores": "spark.executor.cores",
    "--num-executors": "spark.executor.instances",
    "--total-executor-cores": "spark.cores.max",
}
_SPARK_VALUE_OPTIONS: Final = frozenset(
    {
        *_SPARK_CONF_OPTIONS,
        "--class",
        "--conf",
        "-c",
        "--py-files",
        "--jars",
        "--driver-memory",
        "--driver-cores",
    }
)
_SPARK_IGNORED_VALUE_OPTIONS: Final = frozenset({"--master", "--deploy-mode", "--queue"})
_SPARK_IGNORED_FLAGS: Final = frozenset({"--verbose", "-v", "--supervise"})

_FILE = re.compile(APPLICATION_FILE_PATTERN)
_S3_OBJECT = re.compile(S3_OBJECT_PATTERN)
_HIVE_VARIABLE = re.compile(HIVE_VARIABLE_PATTERN)
_SPARK_MEMORY = re.compile(r"^(\d+)([kmgtp]b?)?$", re.IGNORECASE)
_MIB_PER_UNIT: Final[Mapping[str, float]] = {"k": 1 / 1024, "m": 1, "g": 1024, "t": 1024**2, "p": 1024**3}


class _Args:
    """The command's arguments, read left to right, with their field paths for errors."""

    def __init__(self, args: list[str], field: str, start: int) -> None:
        self.args, self.field, self.index = args, field, start

    def at(self, index: int) -> str:
        return f"{self.field}[{index}]"

    def more(self) -> bool:
        return self.index < len(self.args)

    def next(self) -> tuple[int, str]:
        index, value = self.index, self.args[self.index]
        self.index += 1
        return index, value

    def option(self) -> tuple[int, str, str | None]:
        """The next option, its `=value` when written `--opt=value`."""
        index, arg = self.next()
        if arg.startswith("--") and "=" in arg:
            name, _, value = arg.partition("=")
            return index, name, value
        return index, arg, None

    def value(self, index: int, name: str, inline: str | None) -> str:
        if inline is not None:
            return inline
        if not self.more():
            raise ValidationException(f"{self.at(index)}: {name} needs a value")
        return self.next()[1]

    def rest(self) -> list[str]:
        return self.args[self.index :]


def _file(value: str, field: str, what: str) -> str:
    uri = s3_uri(value)
    if not _FILE.match(uri):
        raise ValidationException(
            f"{field}: {what} must be an s3:// or hdfs:// URI or an absolute path in the image, got {value!r}"
        )
    return uri


def _key_value(value: str, field: str, option: str) -> tuple[str, str]:
    key, sep, val = value.partition("=")
    if not sep or not key:
        raise ValidationException(f"{field}: {option} expects KEY=VALUE, got {value!r}")
    return key, val


def driver_memory(spark_memory: str, field: str) -> str:
    """The driver container's memory for a `--driver-memory` (`4g`, `512m`, `2048`: MiB): the smallest
    container whose driver heap (kemr.api.quantity.driver_heap_mib) is at least that, as a quantity."""
    match = _SPARK_MEMORY.match(spark_memory.strip())
    if match is None:
        raise ValidationException(
            f"{field}: --driver-memory expects a size such as 4g or 512m, got {spark_memory!r}"
        )
    heap = math.ceil(int(match.group(1)) * _MIB_PER_UNIT[(match.group(2) or "m")[0].lower()])
    container = max(heap + 384, math.ceil(heap * 5 / 4), min_driver_memory_mib())
    while driver_heap_mib(container) < heap:
        container += 1
    return f"{container // 1024}Gi" if container % 1024 == 0 else f"{container}Mi"


def _spark_submit(args: _Args) -> Json:
    spark: Json = {}
    conf: dict[str, str] = {}
    driver: dict[str, str] = {}
    while args.more():
        index, name, inline = args.option()
        field = args.at(index)
        if not name.startswith("-"):
            spark["mainApplicationFile"] = _file(name, field, "the application")
            break
        if name in _SPARK_IGNORED_FLAGS:
            continue
        if name in _SPARK_IGNORED_VALUE_OPTIONS:
            args.value(index, name, inline)
            continue
        if name not in _SPARK_VALUE_OPTIONS:
            raise ValidationException(f"{field}: spark-submit option {name!r} is not supported")
        value = args.value(index, name, inline)
        if name == "--class":
            spark["mainClass"] = value
        elif name in ("--conf", "-c"):
            key, val = _key_value(value, field, name)
            conf[key] = val
        elif name in ("--py-files", "--jars"):
            target = "pyFiles" if name == "--py-files" else "jars"
            spark[target] = [_file(f, field, name) for f in value.split(",") if f]
        elif name == "--driver-memory":
            driver["memory"] = driver_memory(value, field)
        elif name == "--driver-cores":
            if not value.isdigit() or int(value) < 1:
                raise ValidationException(f"{field}: --driver-cores expects a whole number, got {value!r}")
            driver["cpu"] = value
        else:
            conf[_SPARK_CONF_OPTIONS[name]] = value
    if "mainApplicationFile" not in spark:
        raise ValidationException(
            f"{args.field}: spark-submit needs an application file (a .py file or a JAR)"
        )
    is_python = spark["mainApplicationFile"].endswith(".py")
    if is_python and "mainClass" in spark:
        raise ValidationException(f"{args.field}: --class is for JAR applications, not a .py file")
    if not is_python and spark.get("pyFiles"):
        raise ValidationException(f"{args.field}: --py-files needs a .py application file")
    spark["args"] = args.rest()
    if conf:
        spark["conf"] = conf
    if driver:
        spark["driver"] = {"resources": driver}
    return {"spark": spark}


def _query_or_file(
    body: Json, args: _Args, index: int, name: str, inline: str | None, file_check: Callable[[str, str], str]
) -> None:
    value = args.value(index, name, inline)
    field = args.at(index)
    if "query" in body or "file" in body:
        raise ValidationException(f"{field}: only one of -e or -f")
    if name in ("-e", "--execute"):
        if not value.strip():
            raise ValidationException(f"{field}: the query is empty")
        body["query"] = value
    else:
        body["file"] = file_check(value, field)


def _spark_sql(args: _Args) -> Json:
    body: Json = {}
    while args.more():
        index, name, inline = args.option()
        if name in ("-e", "-f"):
            _query_or_file(body, args, index, name, inline, lambda v, f: _file(v, f, "the SQL file"))
        elif name in ("--master", "--deploy-mode", "--name"):
            args.value(index, name, inline)
        else:
            raise ValidationException(
                f"{args.at(index)}: spark-sql option {name!r} is not supported (kemr reads -e and -f;"
                " variables need a hive step)"
            )
    if not body:
        raise ValidationException(f"{args.field}: spark-sql needs -e QUERY or -f FILE")
    return {"sparkSql": body}


def _hive(args: _Args) -> Json:
    body: Json = {}
    variables: dict[str, str] = {}
    while args.more():
        index, name, inline = args.option()
        field = args.at(index)
        if name in ("--run-hive-script", "--args"):
            continue
        if name in ("-e", "-f"):
            _query_or_file(body, args, index, name, inline, lambda v, f: _file(v, f, "the Hive script"))
        elif name in ("-d", "--define", "--hivevar", "-hivevar"):
            key, val = _key_value(args.value(index, name, inline), field, name)
            if not _HIVE_VARIABLE.match(key):
                raise ValidationException(f"{field}: {key!r} is not a Hive variable name")
            variables[key] = val
        else:
            raise ValidationException(
                f"{field}: hive option {name!r} is not supported (kemr reads -e, -f, -d)"
            )
    if "query" not in body and "file" not in body:
        raise ValidationException(f"{args.field}: a Hive step needs -f FILE or -e QUERY")
    if variables:
        body["variables"] = variables
    return {"hive": body}


def _s3_object(value: str, field: str) -> str:
    uri = s3_uri(value)
    if not _S3_OBJECT.match(uri):
        raise ValidationException(f"{field}: the SQL file must be an s3:// object, got {value!r}")
    return uri


def _trino(args: _Args) -> Json:
    body: Json = {}
    session: dict[str, str] = {}
    while args.more():
        index, name, inline = args.option()
        field = args.at(index)
        if name in ("--execute", "-f", "--file"):
            _query_or_file(
                body, args, index, "--execute" if name == "--execute" else "-f", inline, _s3_object
            )
        elif name in ("--catalog", "--schema"):
            body[name[2:]] = args.value(index, name, inline)
        elif name == "--session":
            key, val = _key_value(args.value(index, name, inline), field, name)
            session[key] = val
        elif name in ("--server", "--user", "--output-format"):
            args.value(index, name, inline)
        elif name == "--debug":
            continue
        else:
            raise ValidationException(f"{field}: Trino CLI option {name!r} is not supported")
    if "query" not in body and "file" not in body:
        raise ValidationException(f"{args.field}: a Trino step needs --execute QUERY or --file FILE")
    if session:
        body["sessionProperties"] = session
    return {"trino": body}


_COMMANDS: Final[Mapping[str, Callable[[_Args], Json]]] = {
    "spark-submit": _spark_submit,
    "spark-sql": _spark_sql,
    "hive-script": _hive,
    "hive": _hive,
    "trino-cli": _trino,
    "presto-cli": _trino,
}


def _properties(jar_step: Mapping[str, Any], field: str) -> dict[str, str]:
    props: dict[str, str] = {}
    values = jar_step.get("Properties") or []
    if not isinstance(values, list):
        raise ValidationException(f"{field}.Properties: expected a list of {{Key, Value}}")
    for index, item in enumerate(values):
        if not isinstance(item, dict) or not isinstance(item.get("Key"), str):
            raise ValidationException(f"{field}.Properties[{index}]: expected {{Key, Value}}")
        props[item["Key"]] = str(item.get("Value") or "")
    return props


def step_body(jar_step: Mapping[str, Any], field: str) -> Json:
    """The EMRStep spec's step body ({spark: ...}, {sparkSql: ...}, {hive: ...}, {trino: ...} or
    {command: ...}) for the HadoopJarStep `jar_step`; `field` names it (`Steps[0].HadoopJarStep`)."""
    jar = jar_step.get("Jar")
    if not isinstance(jar, str) or not jar:
        raise ValidationException(f"{field}.Jar: required")
    args = jar_step.get("Args") or []
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise ValidationException(f"{field}.Args: expected a list of strings")
    main_class = jar_step.get("MainClass")
    if main_class is not None and not isinstance(main_class, str):
        raise ValidationException(f"{field}.MainClass: expected a string")
    args_field = f"{field}.Args"
    if posixpath.basename(jar) == COMMAND_RUNNER:
        if not args:
            raise ValidationException(f"{args_field}: command-runner.jar needs a command")
        parse = _COMMANDS.get(posixpath.basename(args[0]))
        return parse(_Args(args, args_field, 1)) if parse else {"command": {"args": list(args)}}
    if posixpath.basename(jar) == "script-runner.jar":
        raise InvalidRequestException(
            f"{field}.Jar: script-runner.jar is not supported; use command-runner.jar"
            " (e.g. Args [bash, -c, ...])"
        )
    spark: Json = {"mainApplicationFile": _file(jar, f"{field}.Jar", "the JAR"), "args": list(args)}
    if main_class:
        spark["mainClass"] = main_class
    props = _properties(jar_step, field)
    if props:
        spark["conf"] = {"spark.driver.extraJavaOptions": " ".join(f"-D{k}={v}" for k, v in props.items())}
    return {"spark": spark}


def hadoop_jar_step(spec: Mapping[str, Any]) -> Json:
    """EMR's HadoopStepConfig ({Jar, Properties, MainClass?, Args}) for an EMRStep spec that was not created
    through the API (no kemr.io/emr-step-config annotation): the command-runner.jar command that does what
    the step does."""
    jar: Json = {"Jar": COMMAND_RUNNER, "Properties": {}}
    if isinstance(spec.get("spark"), dict):
        spark = spec["spark"]
        args = ["spark-submit", "--deploy-mode", "client"]
        if spark.get("mainClass"):
            args += ["--class", spark["mainClass"]]
        for key, value in sorted((spark.get("conf") or {}).items()):
            args += ["--conf", f"{key}={value}"]
        for option, key in (("--py-files", "pyFiles"), ("--jars", "jars")):
            if spark.get(key):
                args += [option, ",".join(spark[key])]
        args += [spark.get("mainApplicationFile", ""), *(spark.get("args") or [])]
    elif isinstance(spec.get("sparkSql"), dict):
        sql = spec["sparkSql"]
        args = (
            ["spark-sql", "-e", sql["query"]]
            if sql.get("query")
            else ["spark-sql", "-f", sql.get("file", "")]
        )
    elif isinstance(spec.get("hive"), dict):
        hive = spec["hive"]
        args = ["hive-script", "--run-hive-script", "--args"]
        args += ["-e", hive["query"]] if hive.get("query") else ["-f", hive.get("file", "")]
        for key, value in sorted((hive.get("variables") or {}).items()):
            args += ["-d", f"{key}={value}"]
    elif isinstance(spec.get("trino"), dict):
        trino = spec["trino"]
        args = ["trino-cli"]
        args += ["--execute", trino["query"]] if trino.get("query") else ["--file", trino.get("file", "")]
        for option in ("catalog", "schema"):
            if trino.get(option):
                args += [f"--{option}", trino[option]]
        for key, value in sorted((trino.get("sessionProperties") or {}).items()):
            args += ["--session", f"{key}={value}"]
    elif isinstance(spec.get("command"), dict):
        args = list(spec["command"].get("args") or [])
    else:
        args = []
    jar["Args"] = args
    return jar
