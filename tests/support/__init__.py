"""Helpers the tests and benchmarks share: servers on loopback, fixtures, generators."""
