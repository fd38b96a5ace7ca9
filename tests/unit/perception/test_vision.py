"""Vision perception core: detection, table positions, tracking, scene and UI change, bad input.

Scene tests use real frames rendered headless from the MuJoCo tabletop (MUJOCO_GL=egl), with
the simulator's true cube poses as ground truth; screen tests use synthetic screenshots.
Time is frame stamps only (50 ms apart, as the sim's 20 Hz camera).
"""
from __future__ import annotations

import mujoco
import numpy as np
import pytest

from seal_nodes.core import events as ev
from seal_nodes.core.arm.robot import HOME_Q
from seal_nodes.core.perception.vision.events import (FrameOrderError, RateLimiter, TrackerConfig, VisionConfig,
                                                      VisionPerception)
from seal_nodes.core.perception.vision.features import (
    COLOR_PRESETS, CameraModel, ImageFormatError, camera_from_mjcf, check_rgb, classify_colors, color_table,
    components, decode_image, detect_objects, parse_color_spec,
)
from sim_worlds.tabletop.world import OBJECTS, SCENES, TabletopWorld

pytestmark = pytest.mark.unit

DT = 50_000_000  # 20 Hz
T0 = 1_700_000_000_000_000_000


@pytest.fixture(scope="module")
def front() -> CameraModel:
    return camera_from_mjcf(SCENES["tabletop"], "front")


@pytest.fixture(scope="module")
def world():
    w = TabletopWorld(seed=0)
    yield w
    w.close()


class Feed:
    """The sim's camera into a VisionPerception: step 50 ms, render, process; events and stamps kept."""

    def __init__(self, world: TabletopWorld, perception: VisionPerception, seed: int = 0) -> None:
        world.reset(seed)
        self.world, self.vp = world, perception
        self.t = T0
        self.stamps: list[int] = []
        self.events: list[ev.Event] = []

    def run(self, frames: int) -> list[ev.Event]:
        out = []
        for _ in range(frames):
            self.world.step(0.05)
            self.t += DT
            self.stamps.append(self.t)
            out += self.vp.process(self.world.render("front"), self.t)
        self.events += out
        return out

    def place(self, name: str, x: float, y: float) -> None:
        a = self.world._obj_qadr[name]  # teleport: a move between two frames
        self.world.data.qpos[a:a + 3] = (x, y, 0.02)
        self.world.data.qvel[:] = 0.0
        mujoco.mj_forward(self.world.model, self.world.data)

    def truth(self, name: str) -> np.ndarray:
        return self.world.object_pose(name)[0]


def of(events: list[ev.Event], type_: str, **payload) -> list[ev.Event]:
    return [e for e in events if e.type == type_ and all(e.payload.get(k) == v for k, v in payload.items())]


# ---- input checks ---------------------------------------------------------------------------

def test_decode_image_encodings_and_row_padding():
    rgb = np.arange(16 * 20 * 3, dtype=np.uint8).reshape(16, 20, 3)
    padded = np.zeros((16, 64), np.uint8)
    padded[:, :60] = rgb.reshape(16, 60)
    np.testing.assert_array_equal(decode_image(padded.tobytes(), 16, 20, 64, "rgb8"), rgb)
    np.testing.assert_array_equal(decode_image(rgb[..., ::-1].tobytes(), 16, 20, 60, "bgr8"), rgb)
    rgba = np.concatenate([rgb, np.full((16, 20, 1), 255, np.uint8)], axis=2)
    np.testing.assert_array_equal(decode_image(rgba.tobytes(), 16, 20, 80, "rgba8"), rgb)
    np.testing.assert_array_equal(decode_image(rgba[..., [2, 1, 0, 3]].tobytes(), 16, 20, 80, "bgra8"), rgb)
    mono = decode_image(rgb[..., 0].tobytes(), 16, 20, 20, "mono8")
    assert mono.shape == (16, 20, 3) and np.all(mono[..., 1] == rgb[..., 0])


@pytest.mark.parametrize("data, h, w, step, enc, match", [
    (bytes(224 * 224 * 3), 224, 224, 672, "16UC1", "unsupported image encoding"),
    (bytes(100), 224, 224, 672, "rgb8", "does not match 224 rows of step 672"),
    (bytes(224 * 600), 224, 224, 600, "rgb8", "does not match"),  # step shorter than a row
    (bytes(300), 10, 10, 30, "rgb8", "each side must be"),
    (bytes(0), 0, 0, 0, "rgb8", "each side must be"),
])
def test_decode_image_rejects_bad_frames(data, h, w, step, enc, match):
    with pytest.raises(ImageFormatError, match=match) as info:
        decode_image(data, h, w, step, enc)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("bad", [np.zeros((32, 32), np.uint8), np.zeros((32, 32, 4), np.uint8),
                                 np.zeros((32, 32, 3), np.float32), [[0, 0, 0]], np.zeros((8, 32, 3), np.uint8)])
def test_process_rejects_bad_arrays(bad):
    with pytest.raises(ImageFormatError):
        check_rgb(bad)
    with pytest.raises(ImageFormatError):
        VisionPerception().process(bad, T0)


def test_frame_order_duplicates_are_errors_a_restarted_stream_starts_over():
    vp = VisionPerception()
    img = _squares([(40, 40)])
    vp.process(img, T0)
    with pytest.raises(FrameOrderError, match="not after"):
        vp.process(img, T0)
    events = _feed(vp, img, T0 + DT, 6)
    assert [e.payload["reason"] for e in of(events, ev.OBJECT_SEEN)] == ["new"]
    again = _feed(vp, img, T0 - 5 * 10**9, 6)  # 5 s back: a restarted sim; everything is new again
    assert [e.payload["reason"] for e in of(again, ev.OBJECT_SEEN)] == ["new"]


# ---- colours and components -----------------------------------------------------------------

def test_components_match_a_flood_fill():
    rng = np.random.default_rng(1)
    for _ in range(150):
        h, w = rng.integers(1, 24, 2)
        lab = ((rng.random((h, w)) < rng.random()) * rng.integers(1, 4, (h, w))).astype(np.uint8)
        for conn in (4, 8):
            c = components(lab, conn)
            got = sorted((int(c.value[k]), int(c.area[k]), *map(int, c.bbox[k])) for k in range(len(c)))
            assert got == _flood_fill(lab, conn)


def test_color_table_presets_specs_and_errors():
    assert [c.name for c in color_table()] == ["red", "green", "blue"]
    table = color_table(["red", "yellow"], ["red 350 10 0.8 0.3", "teal 170 190 0.5 0.2 teal_ball"])
    assert [c.name for c in table] == ["red", "yellow", "teal"]
    assert table[0].s_min == 0.8 and table[2].object_name == "teal_ball" and table[1].object_name == "yellow_cube"
    for bad in ("red", "red 1 2 3", "red a 2 0.5 0.5", "red 0 400 0.5 0.5", "red 0 10 0 0.5", "red,0,10,0.5,0.5"):
        with pytest.raises(ValueError):
            parse_color_spec(bad)
    with pytest.raises(ValueError, match="unknown colours"):
        color_table(["magenta"])


def test_classify_colors_hue_wraps_and_ignores_the_table_and_greys():
    px = {"red_lo": (200, 10, 40), "red_hi": (200, 40, 10), "green": (25, 190, 38), "blue": (25, 64, 210),
          "table": (158, 122, 84), "white": (240, 240, 240), "grey": (90, 95, 100), "black": (5, 0, 0),
          "orange": (240, 130, 20)}
    img = np.zeros((16, len(px) * 16, 3), np.uint8)
    for i, rgb in enumerate(px.values()):
        img[:, i * 16:(i + 1) * 16] = rgb
    colors = tuple(COLOR_PRESETS.values())
    got = [colors[k - 1].name if k else "" for k in classify_colors(img, colors)[0, ::16]]
    assert got == ["red", "red", "green", "blue", "", "", "", "", "orange"]


# ---- geometry and detection on real frames --------------------------------------------------

def test_camera_model_round_trip_and_matches_the_scene_file(front):
    explicit = CameraModel.from_xyaxes([1.25, 0, 0.75], [0, 1, 0, -0.607, 0, 0.794], 55.0)
    np.testing.assert_allclose(np.asarray(explicit.rotation), np.asarray(front.rotation), atol=1e-3)
    for point in ([0.5, 0.1, 0.02], [0.3, -0.2, 0.0], [0.62, 0.22, 0.02]):
        u, v = front.project(point, 224, 224)
        assert 0 < u < 224 and 0 < v < 224
        np.testing.assert_allclose(front.pixel_to_plane(u, v, 224, 224, point[2]), point, atol=1e-9)
    assert front.pixel_to_plane(112, 0, 224, 224, 5.0) is None  # the plane is behind the camera
    with pytest.raises(ValueError, match="no camera 'nope'"):
        camera_from_mjcf(SCENES["tabletop"], "nope")


@pytest.mark.parametrize("seed", range(6))
def test_every_cube_is_found_once_within_2cm_of_the_truth(world, front, seed):
    world.reset(seed)
    dets = detect_objects(world.render("front"), color_table(), camera=front)
    assert sorted(d.name for d in dets) == sorted(OBJECTS)
    for d in dets:
        true = world.object_pose(d.name)[0]
        assert np.hypot(*(np.array(d.world_xyz[:2]) - true[:2])) < 0.02, (d, true)
        assert d.area > 50 and d.bbox[0] <= d.centroid[0] <= d.bbox[2]
        assert d.mean_rgb[["red", "green", "blue"].index(d.color)] > 150


# ---- tracking and scene change on the simulated camera --------------------------------------

def test_a_static_scene_announces_each_cube_once_with_frame_stamps(world, front):
    feed = Feed(world, VisionPerception(camera=front))
    events = feed.run(40)
    seen = of(events, ev.OBJECT_SEEN)
    assert sorted(e.payload["name"] for e in seen) == sorted(OBJECTS)
    assert {e.payload["reason"] for e in seen} == {"new"} and not of(events, ev.SCENE_CHANGE)
    for e in seen:
        assert e.stamp_ns in feed.stamps and e.payload["frame"] == "world"
        assert np.hypot(*(np.array(e.payload["position"][:2]) - feed.truth(e.payload["name"])[:2])) < 0.02
    assert feed.run(40) == []


def test_moving_a_cube_gives_one_object_seen_and_one_scene_change(world, front):
    feed = Feed(world, VisionPerception(camera=front))
    feed.run(20)
    before = feed.truth("red_cube")
    feed.place("red_cube", before[0] - 0.06, before[1] + 0.08)
    moved_at = feed.t + DT  # the first frame that shows it
    events = feed.run(30)
    seen, changes = of(events, ev.OBJECT_SEEN), of(events, ev.SCENE_CHANGE)
    assert len(seen) == 1 and len(changes) == 1, events
    s, c = seen[0], changes[0]
    assert s.payload["name"] == "red_cube" and s.payload["reason"] == "moved"
    assert np.hypot(*(np.array(s.payload["position"][:2]) - feed.truth("red_cube")[:2])) < 0.02
    assert np.hypot(*(np.array(s.payload["moved_from"][:2]) - before[:2])) < 0.02
    assert c.payload["kind"] == "object_moved" and c.stamp_ns == moved_at and c.trace_id == s.trace_id
    assert c.payload["objects"][0]["to"] == s.payload["position"] and len(c.payload["regions"]) == 2
    assert feed.run(20) == []


def test_a_small_nudge_is_not_a_move(world, front):
    feed = Feed(world, VisionPerception(camera=front))
    feed.run(20)
    p = feed.truth("green_cube")
    feed.place("green_cube", p[0], p[1] + 0.008)  # under the 2 cm threshold
    assert of(feed.run(20), ev.OBJECT_SEEN) == []


def test_the_arm_moving_over_the_table_is_one_unexplained_scene_change(world, front):
    feed = Feed(world, VisionPerception(camera=front))
    feed.run(20)
    world.set_command(HOME_Q + np.array([0.6, 0.5, 0, 0, 0, 0, 0]), 0.0)
    start = feed.t + DT
    events = feed.run(60)
    changes = of(events, ev.SCENE_CHANGE)
    assert len(changes) == 1, events
    c = changes[0]
    assert c.payload["kind"] == "unexplained" and not c.payload["settled"]
    assert c.payload["changed_fraction"] > 0.01 and c.payload["regions"]
    assert c.stamp_ns == start  # the frame where the change began
    assert not of(events, ev.OBJECT_SEEN, reason="moved")
    world.set_command(HOME_Q, 0.0)  # and back: one more
    assert len(of(feed.run(60), ev.SCENE_CHANGE, kind="unexplained")) == 1


def test_a_removed_cube_disappears_once_and_reappears(world, front):
    feed = Feed(world, VisionPerception(camera=front))
    feed.run(20)
    feed.place("blue_cube", 3.0, 2.0)  # off the table, out of view
    gone_at = feed.t + DT
    events = feed.run(50)
    assert not of(events, ev.OBJECT_SEEN)
    gone = of(events, ev.SCENE_CHANGE)
    assert len(gone) == 1 and gone[0].payload["kind"] == "object_disappeared" and gone[0].stamp_ns == gone_at
    feed.place("blue_cube", 0.5, 0.1)
    events = feed.run(20)
    assert [e.payload["reason"] for e in of(events, ev.OBJECT_SEEN)] == ["new"]
    assert [e.payload["kind"] for e in of(events, ev.SCENE_CHANGE)] == ["object_appeared"]


def test_objects_are_reannounced_after_the_interval_only(world, front):
    cfg = VisionConfig(tracker=TrackerConfig(reannounce_s=1.0))
    feed = Feed(world, VisionPerception(cfg, camera=front))
    events = feed.run(50)  # 2.5 s: new at ~0.15 s, refreshes at ~1.15 s and ~2.15 s
    for name in OBJECTS:
        assert [e.payload["reason"] for e in of(events, ev.OBJECT_SEEN, name=name)] == ["new", "refresh", "refresh"]
    assert not of(events, ev.SCENE_CHANGE)


# ---- synthetic scenes -----------------------------------------------------------------------

def _squares(centres: list[tuple[int, int]], size: int = 8, shape: tuple[int, int] = (224, 224)) -> np.ndarray:
    img = np.full((*shape, 3), (158, 122, 84), np.uint8)  # the table's colour
    for x, y in centres:
        img[y - size // 2:y + size // 2, x - size // 2:x + size // 2] = (210, 25, 25)
    return img


def _feed(vp: VisionPerception, img: np.ndarray, t0: int, n: int) -> list[ev.Event]:
    return [e for i in range(n) for e in vp.process(img, t0 + i * DT)]


def test_without_a_camera_model_positions_are_pixels():
    vp = VisionPerception()
    events = _feed(vp, _squares([(60, 60)]), T0, 6)
    (seen,) = of(events, ev.OBJECT_SEEN)
    assert "position" not in seen.payload and seen.payload["centroid"] == [60.0, 60.0]
    assert of(_feed(vp, _squares([(63, 60)]), T0 + 6 * DT, 6), ev.OBJECT_SEEN) == []  # 3 px < 6 px
    events = _feed(vp, _squares([(90, 60)]), T0 + 12 * DT, 6)
    (moved,) = of(events, ev.OBJECT_SEEN)
    assert moved.payload["reason"] == "moved" and moved.payload["moved_from"] == [60.0, 60.0]
    assert [e.payload["kind"] for e in of(events, ev.SCENE_CHANGE)] == ["object_moved"]


def test_a_one_frame_flicker_is_not_a_scene_change():
    vp = VisionPerception()
    img = _squares([(60, 60)])
    _feed(vp, img, T0, 6)
    glitch = img.copy()
    glitch[100:200, 20:200] = 30
    events = vp.process(glitch, T0 + 6 * DT) + _feed(vp, img, T0 + 7 * DT, 10)
    assert not of(events, ev.SCENE_CHANGE)


def test_an_unknown_object_put_down_is_one_settled_scene_change():
    vp = VisionPerception()  # yellow is not in the default colour table
    img = _squares([(60, 60)])
    _feed(vp, img, T0, 6)
    placed = img.copy()
    placed[150:160, 150:160] = (230, 210, 30)  # cube-sized: reported once it has settled
    events = _feed(vp, placed, T0 + 6 * DT, 20)
    assert [(e.type, e.payload["kind"], e.payload["settled"]) for e in events] == [
        (ev.SCENE_CHANGE, "unexplained", True)]
    (box,) = events[0].payload["regions"]
    assert box[0] <= 150 and box[1] <= 150 and box[2] >= 160 and box[3] >= 160
    assert events[0].stamp_ns == T0 + 6 * DT


def test_a_new_resolution_starts_over():
    vp = VisionPerception()
    assert len(of(_feed(vp, _squares([(60, 60)]), T0, 6), ev.OBJECT_SEEN)) == 1
    big = _squares([(120, 120)], size=16, shape=(448, 448))
    assert [e.payload["reason"] for e in of(_feed(vp, big, T0 + 6 * DT, 6), ev.OBJECT_SEEN)] == ["new"]


def test_rate_limit_defers_announcements_without_losing_or_repeating_them():
    centres = [(20 + 40 * (i % 5), 30 + 50 * (i // 5)) for i in range(14)]
    vp = VisionPerception()  # object_seen: 5/s, bursts of 10
    events = _feed(vp, _squares(centres), T0, 40)
    seen = of(events, ev.OBJECT_SEEN)
    assert len(seen) == 14 and len({tuple(e.payload["centroid"]) for e in seen}) == 14
    first = seen[0].stamp_ns
    assert sum(e.stamp_ns == first for e in seen) == 10  # the burst, then one per 200 ms
    assert (seen[-1].stamp_ns - first) / 1e9 == pytest.approx(0.8, abs=0.11)


def test_rate_limiter_counts_on_stamps():
    lim = RateLimiter(per_s=2.0, burst=2)
    assert [lim.allow(T0) for _ in range(3)] == [True, True, False]
    assert not lim.allow(T0 + 400_000_000) and lim.allow(T0 + 600_000_000)


# ---- screen mode ----------------------------------------------------------------------------

def _screen(h: int = 800, w: int = 1280) -> np.ndarray:
    img = np.full((h, w, 3), 245, np.uint8)
    img[: h // 12] = (40, 60, 90)  # a title bar
    img[h // 12:, : w // 6] = (225, 225, 232)  # a side panel
    return img


def _run_screen(vp: VisionPerception, frames: list[np.ndarray], t0: int, dt: int = 100_000_000):
    return [e for i, f in enumerate(frames) for e in vp.process(f, t0 + i * dt)]


@pytest.mark.parametrize("scale", [1, 2])  # 1280x800 and a downscaled 640x400
def test_screen_dialog_is_one_ui_change_with_its_box(scale):
    vp = VisionPerception(VisionConfig(mode="screen"))
    base = _screen(800 // scale, 1280 // scale)
    dialog = base.copy()
    y0, y1, x0, x1 = 300 // scale, 500 // scale, 400 // scale, 880 // scale
    dialog[y0:y1, x0:x1] = 255
    dialog[y0:y0 + 30 // scale, x0:x1] = (20, 100, 200)  # coloured, but screens have no objects
    assert _run_screen(vp, [base] * 10, T0) == []
    events = _run_screen(vp, [dialog] * 20, T0 + 10**9)
    assert [e.type for e in events] == [ev.UI_CHANGE]
    e = events[0]
    assert e.stamp_ns == T0 + 10**9 and e.payload["settled"]
    assert e.payload["image_size"] == [1280 // scale, 800 // scale]
    (box,) = e.payload["regions"]
    assert box[0] <= x0 < box[0] + 8 and box[1] <= y0 < box[1] + 8 and x1 <= box[2] < x1 + 8 and y1 <= box[3] < y1 + 8


def test_screen_animation_and_blinking_caret_do_not_flood():
    vp = VisionPerception(VisionConfig(mode="screen"))
    base = _screen()
    spinner = []
    for i in range(60):  # 6 s of a spinner
        img = base.copy()
        cx, cy = 640 + int(20 * np.cos(i * 0.6)), 420 + int(20 * np.sin(i * 0.6))
        img[cy - 4:cy + 4, cx - 4:cx + 4] = 0
        spinner.append(img)
    _run_screen(vp, [base] * 5, T0)
    events = _run_screen(vp, spinner, T0 + 10**9)
    assert len(events) == 1 and not events[0].payload["settled"]
    x0, y0, x1, y1 = events[0].payload["regions"][0]
    assert x0 <= 620 and x1 >= 660 and y0 <= 400 and y1 >= 440  # where it spins, not one position
    caret = [base.copy() for _ in range(60)]
    for i, img in enumerate(caret):
        if (i // 5) % 2 == 0:
            img[350:368, 450:452] = 0
    assert len(_run_screen(vp, caret, T0 + 8 * 10**9)) <= 1
    dialog = base.copy()
    dialog[100:200, 900:1200] = 255
    later = _run_screen(vp, [dialog] * 10, T0 + 20 * 10**9)
    assert len(later) == 1 and later[0].payload["regions"][0][0] <= 900  # real changes still get through


def test_tiny_screen_changes_below_the_minimum_area_are_ignored():
    vp = VisionPerception(VisionConfig(mode="screen"))
    vp.cfg.ui.min_area_px = 200
    base = _screen()
    dot = base.copy()
    dot[500:502, 700:702] = 0
    assert _run_screen(vp, [base] * 5 + [dot] * 10, T0) == []


# ---- reference ------------------------------------------------------------------------------

def _flood_fill(lab: np.ndarray, conn: int) -> list[tuple]:
    h, w = lab.shape
    seen = np.zeros_like(lab, bool)
    steps = [(-1, 0), (1, 0), (0, -1), (0, 1)] + ([(-1, -1), (-1, 1), (1, -1), (1, 1)] if conn == 8 else [])
    out = []
    for y in range(h):
        for x in range(w):
            if lab[y, x] and not seen[y, x]:
                stack, pts = [(y, x)], []
                seen[y, x] = True
                while stack:
                    a, b = stack.pop()
                    pts.append((a, b))
                    for dy, dx in steps:
                        c, d = a + dy, b + dx
                        if 0 <= c < h and 0 <= d < w and not seen[c, d] and lab[c, d] == lab[y, x]:
                            seen[c, d] = True
                            stack.append((c, d))
                ys, xs = zip(*pts)
                out.append((int(lab[y, x]), len(pts), min(xs), min(ys), max(xs) + 1, max(ys) + 1))
    return sorted(out)
