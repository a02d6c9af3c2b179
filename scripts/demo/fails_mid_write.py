"""A job whose write fails half-way: some tasks write their part, one raises. The committer must leave nothing
under the output prefix — no part file, no _SUCCESS — as if the job had never run.

    spark-submit fails_mid_write.py s3a://BUCKET/input/orders.csv s3a://BUCKET/output/half_written/
"""

from __future__ import annotations

import sys

from pyspark.sql import SparkSession
from pyspark.sql import functions as sf
from pyspark.sql.types import StringType

POISON = "C013"


def _check(customer: str) -> str:
    if customer == POISON:
        raise ValueError(f"kemr demo: customer {POISON} can't be written")
    return customer


def main(source: str, target: str) -> None:
    spark = SparkSession.builder.appName("fails_mid_write").getOrCreate()
    orders = spark.read.csv(source, header=True)
    check = sf.udf(_check, StringType())
    # One task per customer: the others finish and write before the poisoned one fails the job.
    by_customer = orders.repartition(8, "customer_id").withColumn("customer_id", check("customer_id"))
    by_customer.write.mode("overwrite").csv(target, header=True)
    spark.stop()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: fails_mid_write.py ORDERS_CSV OUTPUT_PREFIX")
    main(sys.argv[1], sys.argv[2])
