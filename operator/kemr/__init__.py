"""kemr: Kubernetes Elastic MapReduce — EMR-style Spark + HDFS clusters as Kubernetes resources."""

__version__ = "0.1.0"
