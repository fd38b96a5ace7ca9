"""Helpers shared by tests (synthetic audio, tiny language models)."""
