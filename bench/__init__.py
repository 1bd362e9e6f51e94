"""Benchmarks and measurement scripts; run from the repository root as `python -m bench.<name>`."""
