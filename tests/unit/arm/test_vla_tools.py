"""eval-vla instruction files, the normaliser, the CLI wiring."""
from __future__ import annotations

import numpy as np
import pytest

from vla_policy.arm.evaluate import read_templates
from vla_policy.arm.normalizer import Normalizer

pytestmark = pytest.mark.unit


def test_instruction_templates_file(tmp_path):
    f = tmp_path / "t.txt"
    f.write_text("# comment\npick: raise the {color} cube\n\npush the {color} block {direction}\ngo home\n")
    t = read_templates(f)
    assert t == {"pick": ["raise the {color} cube"], "push_left": ["push the {color} block left"],
                 "push_right": ["push the {color} block right"], "home": ["go home"]}
    f.write_text("juggle the {color} cube\n")
    with pytest.raises(ValueError, match="prefix the line with its task"):
        read_templates(f)


def test_normalizer_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    data = {"image": rng.integers(0, 256, (20, 8, 8, 3), dtype=np.uint8),
            "proprio": rng.normal(2, 3, (20, 11)).astype(np.float32),
            "chunk": rng.normal(0, 0.02, (20, 8, 4)).astype(np.float32),
            "target": rng.normal(0.5, 0.1, (20, 3)).astype(np.float32),
            "color": np.r_[np.zeros(15, np.int8), -np.ones(5, np.int8)]}
    n = Normalizer.fit(data)
    n.save(tmp_path / "n.json")
    m = Normalizer.load(tmp_path / "n.json")
    np.testing.assert_allclose(m.unchunk(m.chunk(data["chunk"])), data["chunk"], atol=1e-6)
    np.testing.assert_allclose(m.proprio(data["proprio"]).mean(0), 0.0, atol=1e-5)
    assert m.image(data["image"]).shape == (20, 3, 8, 8)


def test_cli_dispatches_the_vla_commands(capsys):
    from seal_nodes.cli import main
    with pytest.raises(SystemExit) as exc:
        main(["eval-vla", "--tasks", "juggle"])
    assert exc.value.code == 2 and "unknown tasks" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["train-vla", "--help"])
    assert exc.value.code == 0 and "--steps" in capsys.readouterr().out
