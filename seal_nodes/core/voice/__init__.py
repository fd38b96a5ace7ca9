"""Voice (execution layer): speech goals → streamed audio with word timings."""
