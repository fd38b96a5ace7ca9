"""The folder tree is the architecture: every import (module level or inside a function) points down.

Read statically from the sources, so a lazy import inside a function counts as much as one at
the top of a module.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[3]
PACKAGES = ("seal_nodes", "vla_policy", "sim_worlds")

# Training and evaluation imitate the simulator's scripted experts: they are the only part of
# vla_policy that may drive a simulated world.
SIM_TEACHERS = {"vla_policy.arm.dataset", "vla_policy.arm.evaluate", "vla_policy.arm.train",
                "vla_policy.mouse.dataset", "vla_policy.mouse.dagger", "vla_policy.mouse.evaluate",
                "vla_policy.mouse.train"}

# (modules the rule is about, imported module prefixes they must never use, why)
RULES = [
    ("seal_nodes.core", ("rclpy", "seal_interfaces", "seal_nodes.nodes", "seal_nodes.stack", "seal_nodes.bench",
                         "seal_nodes.tools", "seal_nodes.launcher", "seal_nodes.cli", "vla_policy", "sim_worlds"),
     "cores are ROS-free and know nothing above them"),
    ("seal_nodes.core.thinking", ("seal_nodes.core.perception", "seal_nodes.core.voice", "seal_nodes.core.arm"),
     "the thinker sees perception and execution only through events and actions"),
    ("seal_nodes.core.perception", ("seal_nodes.core.thinking", "seal_nodes.core.voice", "seal_nodes.core.arm"),
     "perception only turns signals into events"),
    ("seal_nodes.core.voice", ("seal_nodes.core.thinking", "seal_nodes.core.perception", "seal_nodes.core.arm"),
     "the voice only turns speech goals into audio"),
    ("seal_nodes.core.arm", ("seal_nodes.core.thinking", "seal_nodes.core.perception", "seal_nodes.core.voice"),
     "the robot model is shared by the simulator, the policy and the nodes"),
    ("seal_nodes.core.language", ("seal_nodes.core.thinking", "seal_nodes.core.perception", "seal_nodes.core.voice",
                                  "seal_nodes.core.arm", "seal_nodes.core.audio", "seal_nodes.core.memory"),
     "embeddings and phonetics are shared by the thinker and the policies, below both"),
    ("seal_nodes.core.memory", ("seal_nodes.core.thinking", "seal_nodes.core.perception", "seal_nodes.core.voice",
                                "seal_nodes.core.arm", "seal_nodes.core.audio", "seal_nodes.core.skills"),
     "the knowledge base sees the loop only through events and actions"),
    ("seal_nodes.core.skills", ("seal_nodes.core.thinking", "seal_nodes.core.perception", "seal_nodes.core.voice",
                                "seal_nodes.core.arm", "seal_nodes.core.audio", "playwright"),
     "skills are browser-free: they see a page only through the Page contract"),
    ("seal_nodes.core.observe", ("seal_nodes.core.thinking", "seal_nodes.core.perception", "seal_nodes.core.voice",
                                 "seal_nodes.core.arm", "seal_nodes.core.memory", "seal_nodes.core.skills"),
     "watching the stack (health, the live view) sees it only through events and plain data"),
    ("seal_nodes.nodes", ("seal_nodes.stack", "seal_nodes.bench", "seal_nodes.tools", "seal_nodes.cli"),
     "nodes are thin adapters over cores"),
    ("seal_nodes.tools", ("seal_nodes.stack", "seal_nodes.bench", "seal_nodes.cli"),
     "tools are below the harnesses that use them"),
    ("seal_nodes.launcher", ("seal_nodes.core", "seal_nodes.nodes", "seal_nodes.stack", "seal_nodes.bench",
                             "seal_nodes.tools", "rclpy"),
     "the launcher only starts and supervises processes"),
    ("vla_policy", ("rclpy", "seal_interfaces", "seal_nodes.nodes", "seal_nodes.stack", "seal_nodes.bench",
                    "seal_nodes.cli", "seal_nodes.core.thinking", "seal_nodes.core.perception"),
     "policies are ROS-free"),
    ("sim_worlds", ("rclpy", "seal_interfaces", "vla_policy", "seal_nodes.nodes", "seal_nodes.stack",
                    "seal_nodes.bench", "seal_nodes.tools", "seal_nodes.cli", "seal_nodes.core.thinking"),
     "worlds are ROS-free and never use the policies they teach"),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """Absolute module names imported anywhere in ``path`` (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def sources() -> dict[str, set[str]]:
    return {module_name(p): imports_of(p) for pkg in PACKAGES for p in sorted((REPO / pkg).rglob("*.py"))}


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def test_the_scan_sees_the_tree():
    found = sources()
    assert "seal_nodes.core.thinking.thinker" in found and "vla_policy.mouse.runtime" in found
    assert "seal_nodes.core.events" in found["seal_nodes.core.thinking.thinker"]


@pytest.mark.parametrize("owner,forbidden,why", RULES, ids=[r[0] for r in RULES])
def test_imports_point_down(owner, forbidden, why):
    broken = sorted(f"{mod} imports {imp}" for mod, imps in sources().items() if _within(mod, owner)
                    for imp in imps if any(_within(imp, f) for f in forbidden))
    assert not broken, f"{why}:\n" + "\n".join(broken)


def test_only_training_tooling_drives_the_simulator():
    broken = sorted(f"{mod} imports {imp}" for mod, imps in sources().items()
                    if _within(mod, "vla_policy") and mod not in SIM_TEACHERS
                    for imp in imps if _within(imp, "sim_worlds"))
    assert not broken, "a policy runs on the robot, where there is no simulator:\n" + "\n".join(broken)


def test_core_top_level_holds_only_layers_and_contracts():
    core = REPO / "seal_nodes" / "core"
    modules = sorted(p.name for p in core.iterdir() if p.suffix == ".py")
    layers = sorted(p.name for p in core.iterdir() if p.is_dir() and (p / "__init__.py").exists())
    assert set(modules) <= {"__init__.py", "events.py", "actions.py", "topics.py", "bounds.py"}
    assert layers == ["arm", "audio", "language", "memory", "observe", "perception", "skills", "thinking", "voice"]
