"""``seal bench-skills`` end to end on the weather app in a real headless Chromium: a task done
step by step, compiled, found again and replayed on a new layout; each injected change replayed
by the anchored skill (no wrong side effect) and by the coordinate baseline (which clicks wrong)."""
from __future__ import annotations

import json

import pytest

from seal_nodes.bench import skills as bench

pytestmark = pytest.mark.browser


def test_a_small_run_writes_every_part(tmp_path, capsys):
    out = tmp_path / "bench_skills.json"
    assert bench.main(["--json", str(out), "--pairs", "1", "--change-seeds", "1", "--apps", "weather",
                       "--no-arm", "--no-progress"]) == 0  # the arm rows: tests/sim/test_arm_skills_sim.py
    r = json.loads(out.read_text())
    attempts = r["attempts"]  # one crossed pair: each seed done first once and replayed once
    assert [a["how"] for a in attempts] == ["step by step", "skill"] * 2
    assert [a["seed"] for a in attempts] == [1000, 2000, 2000, 1000]
    for first, second in (attempts[:2], attempts[2:]):
        assert first["success"] and second["success"]
        assert second["model_calls"] == 0 and second["bound"]  # its values bound from the request's words
        assert first["model_calls"] >= 8
    assert r["summary"]["retrieval_top1"] == 1.0
    anchored, naive = r["summary"]["stale"]["skill"], r["summary"]["stale"]["coordinates"]
    assert anchored["changed_runs"] == naive["changed_runs"] == len(bench.CHANGES)
    assert anchored["wrong_side_effects"] == 0 and naive["wrong_side_effects"] >= 1  # the moved button
    assert anchored["false_alarms"] == 0.0
    assert "coordinate replay (naive RPA)" in capsys.readouterr().out
    assert out.with_suffix(".md").is_file()


def test_bad_arguments_exit_with_usage(tmp_path):
    with pytest.raises(SystemExit) as exc:
        bench.main(["--json", str(tmp_path / "x.json"), "--pairs", "0"])
    assert exc.value.code == 2
