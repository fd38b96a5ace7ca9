"""Perception layer: continuous signals in (microphone, camera), events out."""
