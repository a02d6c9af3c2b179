"""Counts the orders a previous step left on HDFS and writes the count to S3: the round trip's second half.

    spark-submit count_hdfs_orders.py hdfs:///kemr-demo/completed-orders s3a://BUCKET/output/hdfs_count/

Writes one CSV with header `orders` and a single row.
"""

from __future__ import annotations

import sys

from pyspark.sql import SparkSession


def main(source: str, target: str) -> None:
    spark = SparkSession.builder.appName("count_hdfs_orders").getOrCreate()
    count = spark.read.parquet(source).count()
    result = spark.createDataFrame([(count,)], "orders long")
    result.coalesce(1).write.mode("overwrite").csv(target, header=True)
    print(f"{count} orders in {source}, written to {target}")
    spark.stop()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: count_hdfs_orders.py HDFS_DIR OUTPUT_PREFIX")
    main(sys.argv[1], sys.argv[2])
