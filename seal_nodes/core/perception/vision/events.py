"""Camera frames → perception events (ROS-free): object_seen, scene_change, ui_change.

``VisionPerception.process(rgb, stamp_ns)`` is the whole pipeline. A tracker deduplicates
detections (an object that stays put is announced once), change detectors report bursts of
change once, and per-type token buckets (on frame stamps) cap what is left. Every event
carries the stamp of the frame it describes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from seal_nodes.core import events as ev
from seal_nodes.core.perception.vision.change import (NS, Change, SceneChangeConfig, SceneChangeDetector,
                                                      UiChangeConfig, UiChangeDetector)
from seal_nodes.core.perception.vision.features import (CameraModel, ColorClass, Detection, ImageFormatError,
                                                        check_rgb, color_table, detect_objects)

MODES = ("scene", "screen")


class FrameOrderError(ImageFormatError):
    """A frame stamped at or before the previous one (a duplicate or a reordered frame)."""


@dataclass
class TrackerConfig:
    confirm_frames: int = 2  # consecutive sightings before an object is announced
    settle_s: float = 0.1  # standing still this long before a position is announced
    move_m: float = 0.02  # re-announce after moving this far on the table...
    move_px: float = 6.0  # ...or in the image, without a camera model
    still_m: float = 0.004  # frame-to-frame jitter that still counts as standing still
    still_px: float = 1.5
    gate_m: float = 0.5  # the farthest jump still matched to the same track
    gate_px: float = 120.0
    lost_s: float = 1.5  # unseen this long: gone
    reannounce_s: float = 30.0  # re-announce an object that stays put this often; 0: never


def _distance(a: Detection, b: Detection, metres: float, pixels: float) -> float:
    """Distance in units of a threshold: on the table when both have positions, else in the image."""
    if a.world_xyz is not None and b.world_xyz is not None:
        return math.dist(a.world_xyz[:2], b.world_xyz[:2]) / metres
    return math.dist(a.centroid, b.centroid) / pixels


@dataclass
class Track:
    track_id: str
    det: Detection  # the latest sighting
    still_since: int
    initial: bool  # seen in the first frame: its announcement is no scene change
    hits: int = 1  # consecutive sightings
    last_seen: int = 0
    first_seen: int = 0
    left_since: int | None = None  # first frame away from the announced position
    missing_since: int | None = None
    announced: Detection | None = None
    announced_ns: int = 0


@dataclass(frozen=True)
class Transition:
    kind: str  # new, moved, refresh, disappeared
    track: Track
    det: Detection  # what is announced (for disappeared: the last sighting)
    previous: Detection | None  # what was announced before (moved, disappeared)
    stamp_ns: int  # the frame of ``det``
    since_ns: int  # the frame where the change began (appeared, started moving, went missing)


class Tracker:
    """Greedy nearest-neighbour tracks per object name; proposes announcements, ``commit`` makes them."""

    def __init__(self, cfg: TrackerConfig | None = None) -> None:
        self.cfg = cfg or TrackerConfig()
        self.tracks: dict[str, Track] = {}
        self.frames = 0
        self.now = 0  # stamp of the latest frame

    def update(self, dets: list[Detection], stamp_ns: int) -> list[Transition]:
        cfg, out, self.now = self.cfg, [], stamp_ns
        pairs = sorted((_distance(t.det, d, cfg.gate_m, cfg.gate_px), tid, i)
                       for tid, t in self.tracks.items() for i, d in enumerate(dets) if t.det.name == d.name)
        seen: set[str] = set()
        used: set[int] = set()
        for dist, tid, i in pairs:
            if dist > 1.0 or tid in seen or i in used:
                continue
            seen.add(tid)
            used.add(i)
            t, d = self.tracks[tid], dets[i]
            if _distance(t.det, d, cfg.still_m, cfg.still_px) > 1.0:
                t.still_since = stamp_ns
            t.hits = t.hits + 1 if t.missing_since is None else 1
            t.det, t.last_seen, t.missing_since = d, stamp_ns, None
            if t.announced is not None and t.left_since is None and \
                    _distance(t.announced, d, cfg.still_m, cfg.still_px) > 1.0:
                t.left_since = stamp_ns
        for i, d in enumerate(dets):
            if i not in used:
                tid = self._free_id(d.name)
                self.tracks[tid] = Track(tid, d, stamp_ns, self.frames == 0, last_seen=stamp_ns, first_seen=stamp_ns)
                seen.add(tid)
        self.frames += 1
        for tid, t in list(self.tracks.items()):
            if tid not in seen:
                t.missing_since = t.missing_since or stamp_ns
                if stamp_ns - t.last_seen >= cfg.lost_s * NS:
                    del self.tracks[tid]
                    if t.announced is not None:
                        out.append(Transition("disappeared", t, t.det, t.announced, stamp_ns, t.missing_since))
                continue
            if t.hits < cfg.confirm_frames or stamp_ns - t.still_since < cfg.settle_s * NS:
                continue
            if t.announced is None:
                out.append(Transition("new", t, t.det, None, stamp_ns, t.first_seen))
            elif _distance(t.announced, t.det, cfg.move_m, cfg.move_px) > 1.0:
                out.append(Transition("moved", t, t.det, t.announced, stamp_ns, t.left_since or stamp_ns))
            else:
                t.left_since = None  # settled back within the threshold: no move began
                if cfg.reannounce_s > 0 and stamp_ns - t.announced_ns >= cfg.reannounce_s * NS:
                    out.append(Transition("refresh", t, t.det, t.announced, stamp_ns, stamp_ns))
        return out

    def commit(self, tr: Transition) -> None:
        """The announcement went out: later positions are compared with this one."""
        tr.track.announced, tr.track.announced_ns, tr.track.left_since = tr.det, tr.stamp_ns, None

    def busy_boxes(self) -> list[tuple[int, int, int, int]]:
        """Where tracked objects are changing the picture: moving, missing, or not announced yet."""
        boxes = []
        for t in self.tracks.values():
            if t.missing_since is not None or t.announced is None or t.left_since is not None \
                    or t.still_since == self.now:
                boxes.append(t.det.bbox)
                if t.announced is not None:
                    boxes.append(t.announced.bbox)
        return boxes

    def _free_id(self, name: str) -> str:
        k = 1
        while (tid := name if k == 1 else f"{name}_{k}") in self.tracks:
            k += 1
        return tid


class RateLimiter:
    """A token bucket on frame stamps: ``per_s`` sustained, ``burst`` at once."""

    def __init__(self, per_s: float, burst: int) -> None:
        self.per_s, self.burst = float(per_s), float(burst)
        self.tokens, self.last = float(burst), None
        self.suppressed = 0

    def allow(self, stamp_ns: int) -> bool:
        if self.last is not None:
            self.tokens = min(self.burst, self.tokens + max(0, stamp_ns - self.last) / NS * self.per_s)
        self.last = stamp_ns if self.last is None else max(self.last, stamp_ns)  # change events may look back
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


@dataclass
class VisionConfig:
    mode: str = "scene"  # scene: a camera on the world; screen: screenshots of a GUI
    colors: tuple[ColorClass, ...] = field(default_factory=color_table)
    min_area_px: int = 12
    max_area_fraction: float = 0.25
    plane_z: float = 0.02  # height of the objects' centres above the table (4 cm cubes)
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    scene: SceneChangeConfig = field(default_factory=SceneChangeConfig)
    ui: UiChangeConfig = field(default_factory=UiChangeConfig)
    rates: dict[str, tuple[float, int]] = field(default_factory=lambda: {
        ev.OBJECT_SEEN: (5.0, 10), ev.SCENE_CHANGE: (2.0, 4), ev.UI_CHANGE: (2.0, 3)})
    backjump_s: float = 1.0  # stamps this far back: a new stream (a restarted sim, a replay), start over

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")


class VisionPerception:
    """One camera (or screen) stream → events; not thread-safe."""

    def __init__(self, cfg: VisionConfig | None = None, camera: CameraModel | None = None) -> None:
        self.cfg = cfg or VisionConfig()
        self.camera = camera
        self.limits = {t: RateLimiter(*r) for t, r in self.cfg.rates.items()}
        self.reset()

    def reset(self) -> None:
        self.tracker = Tracker(self.cfg.tracker)
        self.scene = SceneChangeDetector(self.cfg.scene)
        self.ui = UiChangeDetector(self.cfg.ui)
        self.last_stamp: int | None = None
        self.shape: tuple[int, ...] | None = None

    def process(self, rgb: object, stamp_ns: int) -> list[ev.Event]:
        """Events for one HxWx3 uint8 RGB frame; raises ImageFormatError (or FrameOrderError)."""
        rgb = check_rgb(rgb)
        if self.last_stamp is not None and stamp_ns <= self.last_stamp:
            if self.last_stamp - stamp_ns < self.cfg.backjump_s * NS:
                raise FrameOrderError(f"frame stamp {stamp_ns} is not after the previous frame's {self.last_stamp}")
            self.reset()
        if rgb.shape != self.shape:  # another camera or resolution: nothing carries over
            self.reset()
            self.shape = rgb.shape
        self.last_stamp = stamp_ns
        if self.cfg.mode == "screen":
            return [self._ui_event(c, rgb.shape) for c in self.ui.update(rgb, stamp_ns)
                    if self._allow(ev.UI_CHANGE, c.stamp_ns)]
        cfg = self.cfg
        dets = detect_objects(rgb, cfg.colors, cfg.min_area_px, cfg.max_area_fraction, self.camera, cfg.plane_z)
        out = []
        for tr in self.tracker.update(dets, stamp_ns):
            out += self._object_events(tr, rgb.shape)
        for change in self.scene.update(rgb, stamp_ns, self.tracker.busy_boxes()):
            if self._allow(ev.SCENE_CHANGE, change.stamp_ns):
                out.append(self._event(ev.SCENE_CHANGE, change.stamp_ns, self._change_text(change), {
                    "kind": "unexplained", "objects": [], "regions": [list(b) for b in change.regions],
                    "changed_fraction": round(change.changed_fraction, 4), "settled": change.settled,
                    "image_size": [rgb.shape[1], rgb.shape[0]]}))
        return out

    # ---- events ------------------------------------------------------------------------------
    def _allow(self, type_: str, stamp_ns: int, count_drop: bool = True) -> bool:
        limit = self.limits.get(type_)
        if limit is None or limit.allow(stamp_ns):
            return True
        limit.suppressed += count_drop
        return False

    def _event(self, type_: str, stamp_ns: int, text: str, payload: dict, trace_id: str = "",
               confidence: float = 1.0) -> ev.Event:
        limit = self.limits.get(type_)
        if limit is not None and limit.suppressed:  # say how many were dropped before this one
            payload["suppressed"], limit.suppressed = limit.suppressed, 0
        return ev.Event(type_, stamp_ns, text=text, confidence=confidence, payload=payload,
                        trace_id=trace_id or ev.new_trace_id())

    def _object_events(self, tr: Transition, shape: tuple[int, ...]) -> list[ev.Event]:
        name, trace, out = tr.det.name, ev.new_trace_id(), []
        if tr.kind != "disappeared":
            if not self._allow(ev.OBJECT_SEEN, tr.stamp_ns, count_drop=False):
                return []  # not announced: the tracker proposes it again on a later frame
            payload = _detection_payload(tr.det, shape) | {"track_id": tr.track.track_id, "reason": tr.kind}
            if tr.previous is not None:
                payload["moved_from"] = _where(tr.previous)
            conf = min(1.0, tr.det.area / (4.0 * self.cfg.min_area_px))  # tiny blobs are less certain
            out.append(self._event(ev.OBJECT_SEEN, tr.stamp_ns, name.replace("_", " "), payload, trace, conf))
            self.tracker.commit(tr)
        if tr.kind == "refresh" or (tr.kind == "new" and tr.track.initial):
            return out  # nothing changed in the scene
        kind, verb = {"new": ("object_appeared", "appeared"), "moved": ("object_moved", "moved"),
                      "disappeared": ("object_disappeared", "disappeared")}[tr.kind]
        after = tr.det if tr.kind != "disappeared" else None
        if self._allow(ev.SCENE_CHANGE, tr.stamp_ns):
            out.append(self._event(ev.SCENE_CHANGE, tr.since_ns, f"{name.replace('_', ' ')} {verb}", {
                "kind": kind,
                "objects": [{"name": name, "track_id": tr.track.track_id,
                             "from": _where(tr.previous) if tr.previous is not None else None,
                             "to": _where(after) if after is not None else None}],
                "regions": [list(d.bbox) for d in (tr.previous, after) if d is not None],
                "settled": True, "image_size": [shape[1], shape[0]]}, trace))
        return out

    def _ui_event(self, change: Change, shape: tuple[int, ...]) -> ev.Event:
        n = len(change.regions)
        text = f"screen changed in {n} region{'s' if n != 1 else ''}" + ("" if change.settled else " (still animating)")
        return self._event(ev.UI_CHANGE, change.stamp_ns, text, {
            "regions": [list(b) for b in change.regions], "changed_fraction": round(change.changed_fraction, 4),
            "settled": change.settled, "image_size": [shape[1], shape[0]]})

    @staticmethod
    def _change_text(change: Change) -> str:
        if change.settled:
            return "something in view changed"
        return "something large is moving in view (a hand or the arm?)"


def _where(det: Detection) -> list[float]:
    """Table position [x, y, z] in metres when known, else the image centroid [u, v] in pixels."""
    if det.world_xyz is not None:
        return [round(v, 4) for v in det.world_xyz]
    return [round(v, 1) for v in det.centroid]


def _detection_payload(det: Detection, shape: tuple[int, ...]) -> dict:
    out = {"name": det.name, "color": det.color, "bbox": list(det.bbox),
           "centroid": [round(v, 2) for v in det.centroid], "area": det.area, "mean_rgb": list(det.mean_rgb),
           "image_size": [shape[1], shape[0]]}
    if det.world_xyz is not None:
        out["position"] = [round(v, 4) for v in det.world_xyz]
        out["frame"] = "world"
    return out
