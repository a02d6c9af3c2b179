"""Copies the completed orders to HDFS as Parquet: the first half of the HDFS round trip.

spark-submit orders_to_hdfs.py s3a://BUCKET/input/orders.csv hdfs:///kemr-demo/completed-orders
"""

from __future__ import annotations

import sys

from pyspark.sql import SparkSession
from pyspark.sql import functions as sf


def main(source: str, target: str) -> None:
    spark = SparkSession.builder.appName("orders_to_hdfs").getOrCreate()
    orders = spark.read.csv(source, header=True, inferSchema=False)
    completed = orders.where(sf.col("status") == "COMPLETED")
    completed.write.mode("overwrite").parquet(target)
    print(f"wrote {completed.count()} completed orders to {target}")
    spark.stop()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: orders_to_hdfs.py ORDERS_CSV HDFS_DIR")
    main(sys.argv[1], sys.argv[2])
