"""Thinking layer: interactive ReAct over the event stream (the thinker, its context, the LMs)."""
