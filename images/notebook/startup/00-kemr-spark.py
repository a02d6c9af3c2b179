"""kemr: the notebook's Spark session, `spark` (and `sc`), made when the kernel starts.

An IPython startup file: kemr-notebook copies it into $IPYTHONDIR/profile_default/startup/. The session is a
driver in client mode: spark.master and the rest come from the cluster's client configuration the pod mounts
(SPARK_CONF_DIR, HADOOP_CONF_DIR); executors connect back to the kernel at KEMR_POD_IP. If the session cannot
be made, the kernel still starts, without `spark`, and the first cell run shows one line saying why.
"""


def _kemr_spark_session() -> None:
    import atexit
    import contextlib
    import os
    import sys

    ipython = get_ipython()  # type: ignore[name-defined]  # noqa: F821  # IPython's, in startup files

    def one_line(error: BaseException) -> str:
        """The error's type and message on one line; for a Java exception, the Java one's."""
        text = str(error)
        java = getattr(error, "java_exception", None)
        if java is not None:
            with contextlib.suppress(Exception):
                text = java.toString()
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        line = f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
        return line if len(line) <= 400 else line[:397] + "..."

    def show_in_first_cell(message: str) -> None:
        """MESSAGE in the output of the first cell run: output while the kernel starts is shown nowhere."""

        def show(*_: object) -> None:
            print(message, file=sys.stderr)
            ipython.events.unregister("pre_run_cell", show)

        ipython.events.register("pre_run_cell", show)

    try:
        from pyspark.sql import SparkSession

        builder = SparkSession.builder.appName(os.environ.get("KEMR_NOTEBOOK", "notebook"))
        if os.environ.get("KEMR_POD_IP"):
            builder = builder.config("spark.driver.host", os.environ["KEMR_POD_IP"])
        spark = builder.getOrCreate()
    except Exception as e:  # any failure: the kernel must start anyway
        message = (
            f"kemr: no Spark session, `spark` is not defined: {one_line(e)}"
            " (the Spark driver's own messages are in the notebook server's log)"
        )
        print(message, file=sys.__stderr__, flush=True)  # the server's log (the pod's)
        show_in_first_cell(message)
        return
    atexit.register(spark.stop)  # the application ends (FINISHED on the master) with the kernel
    ipython.push({"spark": spark, "sc": spark.sparkContext})


_kemr_spark_session()
del _kemr_spark_session
