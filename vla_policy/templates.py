"""Instruction-template files for the evaluations (``--instructions FILE``), shared by the arm
and the GUI: one template a line, ``#`` comments and blank lines skipped, an optional
``task: `` prefix naming the task (else each evaluation infers it from the wording)."""
from __future__ import annotations

from pathlib import Path
from typing import Collection, Iterator


def template_lines(path: str | Path, tasks: Collection[str]) -> Iterator[tuple[int, str, str | None]]:
    """``(line number, template, task named by its prefix or None)`` for each template."""
    for n, raw in enumerate(Path(path).read_text().splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        task, sep, text = line.partition(":")
        if sep and text.strip() and task.strip() in tasks:
            yield n, text.strip(), task.strip()
        else:
            yield n, line, None
