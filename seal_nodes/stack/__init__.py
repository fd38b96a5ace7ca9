"""The whole stack as processes: launch graph, a running session, the demo."""
