"""`kubectl emr`: list, describe, add steps to, read driver logs of, terminate EMRClusters, and query them
with Trino.

See docs/kubectl-plugin.md.

kubectl runs any `kubectl-emr` executable on the PATH as `kubectl emr`; this is its entry point.
"""

from __future__ import annotations

import argparse
import codecs
import os
import sys
import webbrowser
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, TextIO

from kemr.api.constants import CLUSTER_KIND, NOTEBOOK_KIND, STEP_KIND
from kemr.api.step import ActionOnFailure
from kemr.applications.trino import COORDINATOR, TRINO_PORT
from kemr.builders.driver import DRIVER_CONTAINER
from kemr.kubectl import format as fmt
from kemr.kubectl import ui as spark_ui
from kemr.kubectl.kube import Kube, PluginError, ServerError
from kemr.kubectl.stepspec import STEP_TYPES, StepOptionError, StepOptions, build_step, parse_annotations

PROTECTED_HINT = (
    "EMRCluster {name} is termination-protected (spec.terminationProtected: true), so it can be neither"
    " terminated nor deleted. If you really mean it, lift the protection first:\n"
    "  kubectl patch emrcluster {name} -n {ns} --type merge"
    ' -p \'{{"spec":{{"terminationProtected":false}}}}\'\n'
    "then run kubectl emr terminate {name} again."
)


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--kubeconfig", help="path to the kubeconfig file (default: $KUBECONFIG, ~/.kube/config)"
    )
    common.add_argument("--context", help="the kubeconfig context to use")
    common.add_argument("-n", "--namespace", help="the namespace (default: the context's)")
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = argparse.ArgumentParser(
        prog="kubectl emr",
        description="Work with kemr's EMRClusters and EMRSteps, the way the EMR console does.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    listing = commands.add_parser("list", parents=[common], help="list clusters (or: list steps)")
    listing.add_argument("what", nargs="?", choices=["clusters", "steps"], default="clusters")
    listing.add_argument("-A", "--all-namespaces", action="store_true", help="across all namespaces")

    steps = commands.add_parser("steps", parents=[common], help="list steps, of one cluster if named")
    steps.add_argument("cluster", nargs="?", help="only this cluster's steps")
    steps.add_argument("-A", "--all-namespaces", action="store_true", help="across all namespaces")

    describe = commands.add_parser(
        "describe", parents=[common], help="a cluster: state, conditions, steps, timeline"
    )
    describe.add_argument("cluster")
    describe_step = commands.add_parser(
        "describe-step", parents=[common], help="a step: attempts, failure, timeline"
    )
    describe_step.add_argument("step")

    add = commands.add_parser(
        "add-step",
        parents=[common],
        help="add a step to a cluster",
        description="Create an EMRStep. Arguments of the application (or the command) go after --.",
        epilog="examples:\n"
        "  kubectl emr add-step etl --name daily --type pyspark --file s3://b/daily.py -- --day 2026-11-22\n"
        "  kubectl emr add-step etl --name q1 --type sql --query 'SELECT count(*) FROM sales'\n"
        "  kubectl emr add-step etl --name ls --type command -- hdfs dfs -ls /",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add.add_argument("cluster")
    add.add_argument("--name", required=True, help="name of the EMRStep")
    add.add_argument(
        "--type", required=True, choices=STEP_TYPES, help="EMR's step type (as aws emr add-steps Type=)"
    )
    add.add_argument(
        "--file", help="the application (.py or .jar) or SQL file: s3://, hdfs:// or a path in the image"
    )
    add.add_argument("--main-class", help="main class of a JAR application")
    add.add_argument("--query", help="SQL statements (--type sql)")
    add.add_argument("--args", nargs="+", default=[], help="arguments (or use -- ARGS...)")
    add.add_argument(
        "--action-on-failure", choices=[a.value for a in ActionOnFailure], help="default CONTINUE"
    )
    add.add_argument("--max-attempts", type=int, help="total attempts, 1 .. 10 (default 1)")
    add.add_argument(
        "--annotation", action="append", default=[], metavar="KEY=VALUE", help="annotation of the driver pod"
    )

    logs = commands.add_parser("logs", parents=[common], help="the driver log of a step's attempt")
    logs.add_argument("step")
    logs.add_argument("--attempt", type=int, help="attempt number (default: the last)")
    logs.add_argument("-f", "--follow", action="store_true", help="stream the log until the driver ends")
    logs.add_argument("--tail", type=int, help="only the last N lines")

    terminate = commands.add_parser(
        "terminate", parents=[common], help="terminate a cluster (spec.terminate)"
    )
    terminate.add_argument("cluster")

    trino = commands.add_parser(
        "trino",
        parents=[common],
        help="Trino's CLI on a cluster's coordinator: a query shell, or one query with --execute",
    )
    trino.add_argument("cluster")
    trino.add_argument("-e", "--execute", metavar="SQL", help="run these statements and exit")
    trino.add_argument("--catalog", default="hive", help="the session's catalog (default: hive)")
    trino.add_argument("--schema", default="default", help="the session's schema (default: default)")
    trino.add_argument(
        "--output-format", help="the CLI's output format, e.g. CSV_HEADER (default: the CLI's own)"
    )

    ui = commands.add_parser(
        "ui",
        parents=[common],
        help="the Spark UI of a cluster (live) or a step (live, else in the cluster's history server)",
        description="Forward a local port to a Spark UI and print its URL; Ctrl-C stops. A running cluster:"
        " its Spark master's UI. A step: its driver's UI while it runs, else its application in the"
        " cluster's Spark History Server, started on request for an hour (also after the cluster"
        " terminated; the cluster needs spec.logUri).",
    )
    ui.add_argument(
        "target", help="an EMRCluster or EMRStep name (emrcluster/NAME or emrstep/NAME if both exist)"
    )
    ui.add_argument("--attempt", type=int, help="a step's attempt (default: the last)")
    ui.add_argument("--address", default="127.0.0.1", help="local address to listen on (default 127.0.0.1)")
    ui.add_argument("--port", type=int, default=0, help="local port (default: any free one)")
    ui.add_argument("--open", action="store_true", help="also open the URL in the default browser")
    ui.add_argument(
        "--timeout", type=float, default=180, help="seconds to wait for the history server (default 180)"
    )
    notebook = commands.add_parser(
        "notebook",
        parents=[common],
        help="open an EMRNotebook's JupyterLab (port-forward to its pod)",
        description="Forward a local port to a READY EMRNotebook's JupyterLab and print its URL; Ctrl-C"
        " stops. Log in with the token or password of the Secret named in its spec.auth.",
    )
    notebook.add_argument("name", help="the EMRNotebook's name")
    notebook.add_argument(
        "--address", default="127.0.0.1", help="local address to listen on (default 127.0.0.1)"
    )
    notebook.add_argument("--port", type=int, default=0, help="local port (default: any free one)")
    notebook.add_argument("--open", action="store_true", help="also open the URL in the default browser")
    return parser


def trino_cli_command(args: argparse.Namespace, namespace: str, pod: str) -> list[str]:
    """The `kubectl exec` running Trino's CLI (the Trino image's `trino`) in the coordinator's container of
    the master pod `pod`, against the coordinator on localhost; interactive (-it) without --execute."""
    kubectl = ["kubectl"]
    if args.kubeconfig:
        kubectl += ["--kubeconfig", args.kubeconfig]
    if args.context:
        kubectl += ["--context", args.context]
    tty = [] if args.execute is not None else ["-it"]
    # The CLI is a second JVM in the coordinator's container: a small heap, so it never crowds the server.
    cli = ["env", "JAVA_TOOL_OPTIONS=-Xmx128m", "trino", "--server", f"http://127.0.0.1:{TRINO_PORT}"]
    cli += ["--catalog", args.catalog]
    cli += ["--schema", args.schema]
    if args.output_format:
        cli += ["--output-format", args.output_format]
    if args.execute is not None:
        cli += [f"--execute={args.execute}"]
    return [*kubectl, "exec", *tty, "-n", namespace, pod, "-c", COORDINATOR.name, "--", *cli]


def _paint(out: TextIO) -> fmt.Paint:
    """Colours only on a terminal, and never with NO_COLOR set (https://no-color.org)."""
    return fmt.colour_state if out.isatty() and not os.environ.get("NO_COLOR") else fmt.plain


class Plugin:
    def __init__(self, args: argparse.Namespace, out: TextIO, kube: Kube | None = None) -> None:
        self.args, self.out = args, out
        self.kube = kube or Kube(args.kubeconfig, args.context)
        self.namespace: str = args.namespace or self.kube.default_namespace
        self.now = datetime.now(UTC)
        self.paint = _paint(out)

    def print(self, text: str) -> None:
        self.out.write(text + "\n")

    def _scope(self) -> str | None:
        return None if getattr(self.args, "all_namespaces", False) else self.namespace

    def _empty(self, what: str) -> None:
        where = "any namespace" if self._scope() is None else f"namespace {self.namespace}"
        sys.stderr.write(f"No {what} found in {where}.\n")

    def list(self) -> int:
        if self.args.what == "steps":
            return self._steps(None)
        clusters = self.kube.list_objects(CLUSTER_KIND, self._scope())
        if not clusters:
            self._empty("EMRClusters")
            return 0
        self.print(fmt.cluster_table(clusters, self.now, self._scope() is None, self.paint))
        return 0

    def steps(self) -> int:
        return self._steps(self.args.cluster)

    def _steps(self, cluster: str | None) -> int:
        steps = self.kube.list_objects(STEP_KIND, self._scope())
        if cluster:
            self.kube.get(
                CLUSTER_KIND, self.namespace, cluster
            )  # a typo should say "not found", not "No steps"
            steps = [s for s in steps if s.get("spec", {}).get("clusterRef", {}).get("name") == cluster]
        if not steps:
            self._empty(f"EMRSteps{f' of {cluster}' if cluster else ''}")
            return 0
        self.print(fmt.step_table(steps, self.now, self._scope() is None, self.paint))
        return 0

    def describe(self) -> int:
        cluster = self.kube.get(CLUSTER_KIND, self.namespace, self.args.cluster)
        steps = [
            s
            for s in self.kube.list_objects(STEP_KIND, self.namespace)
            if s.get("spec", {}).get("clusterRef", {}).get("name") == self.args.cluster
        ]
        steps.sort(key=lambda s: s["metadata"].get("creationTimestamp", ""))
        events = self.kube.events(CLUSTER_KIND, self.namespace, self.args.cluster)
        self.print(fmt.describe_cluster(cluster, steps, events, self.now, self.paint))
        return 0

    def describe_step(self) -> int:
        step = self.kube.get(STEP_KIND, self.namespace, self.args.step)
        events = self.kube.events(STEP_KIND, self.namespace, self.args.step)
        self.print(fmt.describe_step(step, events, self.now, self.paint))
        return 0

    def add_step(self, extra: Sequence[str]) -> int:
        a = self.args
        options = StepOptions(
            cluster=a.cluster,
            name=a.name,
            type=a.type,
            file=a.file,
            main_class=a.main_class,
            query=a.query,
            args=[*a.args, *extra],
            action_on_failure=a.action_on_failure,
            max_attempts=a.max_attempts,
            annotations=parse_annotations(a.annotation),
        )
        body = build_step(options)
        cluster = self.kube.get(CLUSTER_KIND, self.namespace, a.cluster)
        state = (cluster.get("status") or {}).get("state")
        if state in ("TERMINATING", "TERMINATED", "TERMINATED_WITH_ERRORS"):
            raise PluginError(
                f"EMRCluster {a.cluster} is {state}: it takes no more steps; create a new cluster"
            )
        self.kube.create(STEP_KIND, self.namespace, body)
        self.print(f"emrstep.kemr.io/{a.name} created")
        return 0

    def logs(self) -> int:
        step = self.kube.get(STEP_KIND, self.namespace, self.args.step)
        attempts = (step.get("status") or {}).get("attempts") or []
        if not attempts:
            state = (step.get("status") or {}).get("state") or "PENDING"
            raise PluginError(f"EMRStep {self.args.step} has no attempt yet ({state}): no driver has run")
        number = self.args.attempt or attempts[-1]["number"]
        attempt = next((a for a in attempts if a.get("number") == number), None)
        if attempt is None:
            raise PluginError(f"EMRStep {self.args.step} has attempts 1..{len(attempts)}, not {number}")
        pod = attempt["driverPod"]
        where = f"driver pod {self.namespace}/{pod} (attempt {number} of step {self.args.step})"
        if not self.kube.pod_exists(self.namespace, pod):
            log_file = ((step.get("status") or {}).get("failureDetails") or {}).get("logFile")
            hint = f"; its log was written to {log_file}" if log_file else ""
            raise PluginError(f"{where} no longer exists{hint}")
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")  # chunks may split a character
        try:
            for chunk in self.kube.logs(
                self.namespace, pod, DRIVER_CONTAINER, self.args.follow, self.args.tail
            ):
                self.out.write(decoder.decode(chunk))
                self.out.flush()
            self.out.write(decoder.decode(b"", final=True))
        except ServerError as err:
            raise PluginError(f"cannot read the log of {where}: {err.server_message}") from None
        return 0

    def terminate(self) -> int:
        name = self.args.cluster
        cluster = self.kube.get(CLUSTER_KIND, self.namespace, name)
        spec, state = cluster.get("spec") or {}, (cluster.get("status") or {}).get("state")
        if state in ("TERMINATED", "TERMINATED_WITH_ERRORS"):
            self.print(f"emrcluster.kemr.io/{name} already {state}")
            return 0
        if spec.get("terminationProtected"):
            raise PluginError(PROTECTED_HINT.format(name=name, ns=self.namespace))
        if spec.get("terminate"):
            self.print(f"emrcluster.kemr.io/{name} already terminating ({state})")
            return 0
        try:
            self.kube.merge_patch(CLUSTER_KIND, self.namespace, name, {"spec": {"terminate": True}})
        except ServerError as err:
            if "terminationProtected" in err.server_message:  # protected between our read and our write
                raise PluginError(PROTECTED_HINT.format(name=name, ns=self.namespace)) from None
            raise
        self.print(f"emrcluster.kemr.io/{name} terminating")
        return 0

    def trino(self) -> int:
        name = self.args.cluster
        if self.args.execute is not None and not self.args.execute.strip():
            raise PluginError("--execute needs SQL, e.g. -e 'SELECT 1'; leave it out for a query shell")
        cluster = self.kube.get(CLUSTER_KIND, self.namespace, name)
        if "Trino" not in ((cluster.get("spec") or {}).get("applications") or []):
            raise PluginError(
                f"EMRCluster {name} doesn't run Trino: its spec.applications (immutable) must include it;"
                " create a cluster with applications [Spark, Hive, Trino]"
            )
        status = cluster.get("status") or {}
        state = status.get("state") or "STARTING"
        if state not in ("WAITING", "RUNNING") or not (status.get("endpoints") or {}).get("trino"):
            raise PluginError(
                f"EMRCluster {name} is {state}: Trino answers once it is WAITING or RUNNING"
                f" (kubectl emr describe {name})"
            )
        command = trino_cli_command(self.args, self.namespace, f"{name}-master-0")
        os.execvp(command[0], command)  # replaces this process: the CLI gets the terminal

    def ui(self) -> int:
        kind, obj = spark_ui.find_target(self.kube, self.namespace, self.args.target)
        if kind == CLUSTER_KIND:
            target = spark_ui.cluster_target(obj)
        else:
            target = spark_ui.step_target(
                self.kube, obj, self.args.attempt, self.args.timeout, spark_ui.stderr_say, self.now
            )
        return self._forward(target)

    def notebook(self) -> int:
        obj = self.kube.get(NOTEBOOK_KIND, self.namespace, self.args.name)
        return self._forward(spark_ui.notebook_target(self.kube, obj))

    def _forward(self, target: spark_ui.UiTarget) -> int:
        """`kubectl port-forward` to the target, its URL printed once it listens."""
        base = spark_ui.kubectl_base(self.args.kubeconfig, self.args.context)

        def command(port: int) -> list[str]:
            return spark_ui.port_forward_command(base, self.namespace, target, self.args.address, port)

        def announce(url: str) -> None:
            self.print(f"{target.what}: {url}")
            self.out.flush()
            sys.stderr.write("(forwarding; Ctrl-C to stop)\n")
            if self.args.open:
                webbrowser.open(url)

        return spark_ui.forward(command, self.args.port, target.path, announce, spark_ui.stderr_say)


def run(argv: Sequence[str], out: TextIO, err: TextIO, kube: Kube | None = None) -> int:
    argv = list(argv)
    # Everything after "--" belongs to the step (application arguments or the command), never to us.
    extra: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1 :]
    parser = build_parser()
    args = parser.parse_args(argv)
    if extra and args.command != "add-step":
        parser.error("arguments after -- are only for add-step")
    try:
        plugin = Plugin(args, out, kube)
        command = args.command.replace("-", "_")
        result: Any = plugin.add_step(extra) if command == "add_step" else getattr(plugin, command)()
        return int(result)
    except (PluginError, StepOptionError) as error:
        err.write(f"error: {error}\n")
        return 1


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return run(sys.argv[1:] if argv is None else argv, sys.stdout, sys.stderr)
    except KeyboardInterrupt:  # Ctrl-C on `logs -f`
        return 130


if __name__ == "__main__":
    sys.exit(main())
