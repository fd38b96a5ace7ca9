"""The shared charts: each writes a valid PNG of the asked size, and refuses input it cannot draw."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from seal_nodes.bench.load import histogram
from seal_nodes.tools.charts import bar_chart, latency_histograms, line_chart

pytestmark = pytest.mark.unit


def png_size(path) -> tuple[int, int]:
    with Image.open(path) as img:
        assert img.format == "PNG"
        img.verify()
        return img.size


def test_line_chart_names_a_colour_per_series_in_order(tmp_path):
    names = line_chart(tmp_path / "rss.png", {"sim": [(0, 1.0), (60, 2.0)], "tts": [(0, 3.0), (60, 3.0)], "none": []},
                       title="rss", xlabel="s", ylabel="MB")
    assert names == ["blue", "orange", "green"]
    assert png_size(tmp_path / "rss.png") == (640, 320)
    assert line_chart(tmp_path / "empty.png", {}) == [] and png_size(tmp_path / "empty.png") == (640, 320)


def test_line_chart_of_values_on_a_log_axis_with_a_limit(tmp_path):
    line_chart(tmp_path / "loss.png", {"loss": np.exp(-np.linspace(0, 5, 300))}, log_y=True, size=(480, 300))
    assert png_size(tmp_path / "loss.png") == (480, 300)
    line_chart(tmp_path / "ctx.png", {"context": [10, 20, 30]}, limits={"limit": 25}, y_from_zero=True)
    assert png_size(tmp_path / "ctx.png") == (640, 320)


def test_line_chart_refuses_a_series_it_cannot_read(tmp_path):
    with pytest.raises(ValueError, match="y values or"):
        line_chart(tmp_path / "bad.png", {"x": [(0, 1, 2), (1, 2, 3)]})
    with pytest.raises(ValueError, match="at least 100x100"):
        line_chart(tmp_path / "tiny.png", {"x": [1, 2]}, size=(50, 50))


def test_bar_chart_with_stacked_segments_and_missing_values(tmp_path):
    bar_chart(tmp_path / "bars.png", ["pick", "push"], {"a": [0.5, None], "b": [0.8, 0.7]},
              on_top={"a": [0.1, None], "b": [0.0, 0.2]}, title="as meant", on_top_label="wrong action")
    assert png_size(tmp_path / "bars.png") == (960, 360)
    with pytest.raises(ValueError, match="2 values for 3 labels"):
        bar_chart(tmp_path / "bad.png", ["a", "b", "c"], {"x": [0.1, 0.2]})


def test_latency_histograms_one_panel_per_path(tmp_path):
    rng = np.random.default_rng(0)
    hists = {"ros_hop_ms": histogram({"idle": list(rng.gamma(4, 0.3, 50)), "loaded": list(rng.gamma(4, 0.5, 50))}),
             "first_audio_ms": histogram({"idle": [], "loaded": []})}  # a path with no samples still gets a panel
    latency_histograms(tmp_path / "bench.latency.png", hists, {"ros_hop_ms": 5.0}, size_per_path=(400, 300))
    assert png_size(tmp_path / "bench.latency.png") == (800, 300)
    with pytest.raises(ValueError, match="no histograms"):
        latency_histograms(tmp_path / "none.png", {}, {})
