"""What a fresh interpreter loads: for tests that keep heavy or sim-only packages off a run-time path."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def loaded(modules: str, roots: tuple[str, ...]) -> list[str]:
    """Modules under ``roots`` that a fresh interpreter holds after ``import {modules}``."""
    code = f"import sys, {modules}; print(sorted(m for m in sys.modules if m.split('.')[0] in {roots!r}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stderr
    return ast.literal_eval(out.stdout.strip().splitlines()[-1])
