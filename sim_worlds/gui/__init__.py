"""The GUI world: seeded web pages in a real headless Chromium (CDP), a human-like mouse expert."""
