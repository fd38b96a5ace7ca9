"""Skills layer: GUI tasks the model solved once, compiled into anchored steps, replayed with checks, kept in memory."""
