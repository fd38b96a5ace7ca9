"""Benchmarks (`seal bench*`): JSON and a table, idle and under load."""
