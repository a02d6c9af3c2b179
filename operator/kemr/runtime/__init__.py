"""The operator's runtime, knowing nothing of EMR: the API client (rate-limited), where each kind lives,
informers filling an in-memory store, the work queue, leader election. Tested on its own with an in-memory
client (tests/unit/test_runtime.py); kopf only watches the two custom resources and serves the probes.
"""
