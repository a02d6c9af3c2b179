"""Total sales of completed orders per customer (the classic EMR getting-started job).

    spark-submit sales_by_customer.py s3a://BUCKET/input/orders.csv s3a://BUCKET/output/sales_by_customer/

Reads the orders CSV (order_id,customer_id,order_date,status,amount), keeps the COMPLETED orders and writes
one CSV (header customer_id,total_sales; amounts as exact decimals) under the output prefix. The cluster's
committer makes the output appear complete, with _SUCCESS, or not at all.
"""

from __future__ import annotations

import sys

from pyspark.sql import SparkSession
from pyspark.sql import functions as sf
from pyspark.sql.types import DecimalType, StringType, StructField, StructType

ORDERS = StructType(
    [
        StructField("order_id", StringType(), nullable=False),
        StructField("customer_id", StringType(), nullable=False),
        StructField("order_date", StringType(), nullable=False),
        StructField("status", StringType(), nullable=False),
        StructField("amount", DecimalType(12, 2), nullable=False),
    ]
)


def main(source: str, target: str) -> None:
    spark = SparkSession.builder.appName("sales_by_customer").getOrCreate()
    orders = spark.read.csv(source, header=True, schema=ORDERS, mode="FAILFAST")
    totals = (
        orders.where(sf.col("status") == "COMPLETED")
        .groupBy("customer_id")
        .agg(sf.sum("amount").cast(DecimalType(14, 2)).alias("total_sales"))
        .orderBy("customer_id")
    )
    # One small file: the result is a few dozen rows.
    totals.coalesce(1).write.mode("overwrite").csv(target, header=True)
    print(f"wrote {totals.count()} customers to {target}")
    spark.stop()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: sales_by_customer.py ORDERS_CSV OUTPUT_PREFIX")
    main(sys.argv[1], sys.argv[2])
