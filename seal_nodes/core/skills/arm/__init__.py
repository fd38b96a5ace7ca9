"""Arm skills: a tabletop task done once goal by goal, compiled into object-relative segments, replayed with checks."""
