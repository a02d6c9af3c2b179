"""A job that fails on purpose, after Spark has started: its step must end FAILED with this exception as
failureDetails.message and the driver log at failureDetails.logFile.

    spark-submit failing_job.py s3a://BUCKET/input/orders.csv
"""

from __future__ import annotations

import sys

from pyspark.sql import SparkSession

MESSAGE = "kemr demo: no order has status REFUNDED in"


def main(source: str) -> None:
    spark = SparkSession.builder.appName("failing_job").getOrCreate()
    refunded = spark.read.csv(source, header=True).where("status = 'REFUNDED'").count()
    if refunded == 0:
        raise ValueError(f"{MESSAGE} {source}")
    spark.stop()


if __name__ == "__main__":
    main(sys.argv[1])
