"""Tooling for benchmarks and tests: speech sets, scenarios, WER, recordings, images."""
