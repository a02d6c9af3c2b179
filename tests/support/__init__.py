"""Helpers shared by the tests that run against the local cluster."""
