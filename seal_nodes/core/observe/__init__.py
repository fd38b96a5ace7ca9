"""Watching the running stack: each node's health (/diagnostics) and the live view (Foxglove)."""
