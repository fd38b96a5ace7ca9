"""The docs match the tree: every relative link resolves, and the README's topic table is topics.py's."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from seal_nodes.core import topics

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")


def _docs() -> list[Path]:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]
    return pages + sorted((ROOT / "seal_nodes").glob("**/README.md"))


def _prose(text: str) -> list[str]:
    """The lines outside fenced code blocks: links inside code are examples, not links."""
    lines, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    return {_slug(m.group(1)) for line in _prose(page.read_text()) if (m := HEADING.match(line))}


def _links(page: Path) -> list[str]:
    return [m.group(1) for line in _prose(page.read_text()) for m in LINK.finditer(line)]


def test_the_pages_exist():
    assert (ROOT / "README.md").is_file() and len(_docs()) > 2


@pytest.mark.parametrize("page", _docs(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page: Path):
    broken = []
    for link in _links(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", link):  # http:, https:, mailto: — not checked offline
            continue
        target, _, anchor = link.partition("#")
        path = (page.parent / target).resolve() if target else page
        if not path.exists():
            broken.append(f"{link}: no such file")
        elif anchor and path.suffix == ".md" and anchor not in _anchors(path):
            broken.append(f"{link}: no heading #{anchor} in {path.relative_to(ROOT)}")
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)


def test_readme_topic_table_matches_the_contract():
    rows = {m.group(1) for line in _prose((ROOT / "README.md").read_text()) if (m := re.match(r"^\| `([^`]+)`", line))}
    declared = {t.name for t in topics.TOPICS} | {a.name for a in topics.ACTIONS}
    assert declared <= rows, f"missing from the README's topic table: {sorted(declared - rows)}"
    stale = {r for r in rows if r.startswith("/")} - declared
    assert not stale, f"in the README's topic table but not in seal_nodes/core/topics.py: {sorted(stale)}"


def test_slug_follows_github():
    assert _slug("The ears (audio_perception)") == "the-ears-audio_perception"
    assert _slug("Arm policy (VLA)") == "arm-policy-vla"
    assert _slug("Latency budgets and the benchmark") == "latency-budgets-and-the-benchmark"
