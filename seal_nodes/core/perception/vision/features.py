"""Camera perception primitives (ROS-free): image checks, colour blobs, table back-projection.

Everything is plain numpy (no scipy/opencv) and sized for a 2-core machine: a frame is
classified, labelled and measured in a few vectorised passes. Image coordinates are
continuous: pixel (row r, column c) covers [c, c+1) x [r, r+1), so its centre is (c+0.5, r+0.5).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CHANNELS = {"rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "mono8": 1}
MAX_SIDE = 8192  # larger is a corrupt header, not a camera
MIN_SIDE = 16


class ImageFormatError(ValueError):
    """An image that cannot be used (encoding, size, buffer length, dtype)."""


def decode_image(data: bytes, height: int, width: int, step: int, encoding: str) -> np.ndarray:
    """A sensor_msgs/Image's fields → HxWx3 RGB uint8 (a view when possible)."""
    if encoding not in CHANNELS:
        raise ImageFormatError(f"unsupported image encoding {encoding!r}; expected one of {sorted(CHANNELS)}")
    if not (MIN_SIDE <= height <= MAX_SIDE and MIN_SIDE <= width <= MAX_SIDE):
        raise ImageFormatError(f"image is {width}x{height}; each side must be {MIN_SIDE}..{MAX_SIDE}")
    ch = CHANNELS[encoding]
    if step < width * ch or len(data) != step * height:
        raise ImageFormatError(f"image buffer of {len(data)} bytes does not match {height} rows of step {step} "
                               f"({width} px x {ch} bytes of {encoding} each)")
    rows = np.frombuffer(data, np.uint8).reshape(height, step)[:, : width * ch].reshape(height, width, ch)
    if encoding == "rgb8":
        return rows
    if encoding == "mono8":
        return np.repeat(rows, 3, axis=2)
    order = [2, 1, 0] if encoding.startswith("bgr") else [0, 1, 2]
    return rows[..., order]


def check_rgb(rgb: object) -> np.ndarray:
    """Raise ImageFormatError unless ``rgb`` is an HxWx3 uint8 array of a usable size."""
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        desc = f"{rgb.dtype} {rgb.shape}" if isinstance(rgb, np.ndarray) else type(rgb).__name__
        raise ImageFormatError(f"expected an HxWx3 uint8 RGB image, got {desc}")
    h, w = rgb.shape[:2]
    if not (MIN_SIDE <= h <= MAX_SIDE and MIN_SIDE <= w <= MAX_SIDE):
        raise ImageFormatError(f"image is {w}x{h}; each side must be {MIN_SIDE}..{MAX_SIDE}")
    return rgb


# ---- colour table ---------------------------------------------------------------------------
@dataclass(frozen=True)
class ColorClass:
    """A named colour as an HSV box: hue in degrees (hue_lo > hue_hi wraps through 0), s/v in 0..1."""

    name: str
    hue_lo: float
    hue_hi: float
    s_min: float
    v_min: float
    object: str = ""  # the object it names; "" → "<name>_cube" (the tabletop's objects)

    @property
    def object_name(self) -> str:
        return self.object or f"{self.name}_cube"


# The wooden table is hue ~31°, saturation ~0.47, so orange needs more saturation than it has.
COLOR_PRESETS: dict[str, ColorClass] = {c.name: c for c in (
    ColorClass("red", 340.0, 15.0, 0.55, 0.25),
    ColorClass("orange", 16.0, 40.0, 0.65, 0.35),
    ColorClass("yellow", 45.0, 70.0, 0.55, 0.35),
    ColorClass("green", 85.0, 160.0, 0.5, 0.2),
    ColorClass("blue", 200.0, 250.0, 0.55, 0.25),
    ColorClass("purple", 260.0, 310.0, 0.45, 0.2),
)}
DEFAULT_COLORS = ("red", "green", "blue")


def parse_color_spec(spec: str) -> ColorClass:
    """``"name hue_lo hue_hi s_min v_min [object]"`` → ColorClass; raises ValueError.

    Spaces, not commas or colons: the spec stays one plain string in a ROS/YAML string array.
    """
    parts = spec.split()
    if len(parts) not in (5, 6):
        raise ValueError(f"colour spec {spec!r} must be 'name hue_lo hue_hi s_min v_min [object]'")
    try:
        h_lo, h_hi, s_min, v_min = (float(p) for p in parts[1:5])
    except ValueError as exc:
        raise ValueError(f"colour spec {spec!r}: {exc}") from None
    if not (0 <= h_lo <= 360 and 0 <= h_hi <= 360 and 0 < s_min <= 1 and 0 <= v_min <= 1):
        raise ValueError(f"colour spec {spec!r}: hue must be 0..360, s_min 0<..1, v_min 0..1")
    return ColorClass(parts[0], h_lo, h_hi, s_min, v_min, parts[5] if len(parts) == 6 else "")


def color_table(names: list[str] | tuple[str, ...] = DEFAULT_COLORS, specs: list[str] = ()) -> tuple[ColorClass, ...]:
    """Presets by name, then explicit specs (a spec with a preset's name replaces it)."""
    unknown = [n for n in names if n not in COLOR_PRESETS]
    if unknown:
        raise ValueError(f"unknown colours {unknown}; presets: {sorted(COLOR_PRESETS)} (or give a colour spec)")
    table = {n: COLOR_PRESETS[n] for n in names}
    for spec in specs:
        c = parse_color_spec(spec)
        table[c.name] = c
    return tuple(table.values())


def classify_colors(rgb: np.ndarray, colors: tuple[ColorClass, ...]) -> np.ndarray:
    """HxW uint8: 0 = no colour, k = colors[k-1] (the first matching entry wins)."""
    out = np.zeros(rgb.shape[:2], np.uint8)
    if not colors:
        return out
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    mx = np.maximum(np.maximum(r, g), b)
    chroma = mx - np.minimum(np.minimum(r, g), b)  # no overflow: max >= min
    # Cheap pre-filter on the whole image; hue only for the few saturated, bright pixels.
    s_min, v_min = min(c.s_min for c in colors), min(c.v_min for c in colors)
    cand = (chroma.astype(np.uint16) * 255 >= np.uint16(s_min * 255) * mx.astype(np.uint16))
    cand &= (mx >= v_min * 255) & (chroma > 0)
    idx = np.flatnonzero(cand)
    if idx.size == 0:
        return out
    px = rgb.reshape(-1, 3)[idx].astype(np.float32)
    v, c = px.max(axis=1), np.ptp(px, axis=1)
    s = c / v
    pr, pg, pb = px[:, 0], px[:, 1], px[:, 2]
    hue = np.where(v == pr, ((pg - pb) / c) % 6.0, np.where(v == pg, (pb - pr) / c + 2.0, (pr - pg) / c + 4.0)) * 60.0
    cls = np.zeros(idx.size, np.uint8)
    for k, col in reversed(list(enumerate(colors, start=1))):  # reversed: earlier entries win
        in_hue = (hue >= col.hue_lo) & (hue <= col.hue_hi) if col.hue_lo <= col.hue_hi else \
            (hue >= col.hue_lo) | (hue <= col.hue_hi)
        cls[in_hue & (s >= col.s_min) & (v >= col.v_min * 255)] = k
    out.reshape(-1)[idx] = cls
    return out


# ---- connected components on runs ----------------------------------------------------------
@dataclass
class Components:
    """Connected regions of equal non-zero value. Arrays are indexed by component."""

    value: np.ndarray  # the label-image value of each component
    area: np.ndarray  # pixels
    bbox: np.ndarray  # (n, 4) int: x0, y0, x1, y1 (x1/y1 exclusive)
    centroid: np.ndarray  # (n, 2) float: x, y (pixel centres at +0.5)
    runs: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # row, start, end, component of each run

    def __len__(self) -> int:
        return int(self.area.size)


def components(labels: np.ndarray, connectivity: int = 8) -> Components:
    """Connected components of each non-zero value of a 2-D label image (runs + union-find in numpy)."""
    if connectivity not in (4, 8):
        raise ValueError("connectivity must be 4 or 8")
    h, w = labels.shape
    padded = np.zeros((h, w + 2), np.int16)
    padded[:, 1:-1] = labels
    rb, cb = np.nonzero(padded[:, 1:] != padded[:, :-1])  # segment boundaries, row-major order
    val = padded[rb, cb + 1]
    keep = np.flatnonzero(val[:-1] != 0) if rb.size else np.zeros(0, np.int64)
    row, start, end, value = rb[keep], cb[keep], cb[keep + 1], val[keep]  # a run ends at the next boundary
    n = row.size
    if n == 0:
        z = np.zeros(0, np.int64)
        return Components(z, z, np.zeros((0, 4), np.int64), np.zeros((0, 2)), (z, z, z, z))
    # Runs in the next row that touch run i form a contiguous range of the sorted run list.
    span = w + 2
    slack = 0 if connectivity == 8 else 1
    lo = np.searchsorted(row * span + end, (row + 1) * span + start + slack, side="left")
    hi = np.searchsorted(row * span + start, (row + 1) * span + end - slack, side="right")
    count = np.maximum(hi - lo, 0)
    a = np.repeat(np.arange(n), count)
    b = np.repeat(lo, count) + np.arange(a.size) - np.repeat(np.cumsum(count) - count, count)
    same = value[a] == value[b]
    a, b = a[same], b[same]
    comp = _union(n, a, b)
    _, comp = np.unique(comp, return_inverse=True)
    k = int(comp.max()) + 1
    length = (end - start).astype(np.float64)
    area = np.bincount(comp, length, k)
    cx = np.bincount(comp, length * (start + end - 1) / 2.0, k) / area + 0.5
    cy = np.bincount(comp, length * row, k) / area + 0.5
    bbox = np.empty((k, 4), np.int64)
    bbox[:, :2], bbox[:, 2:] = np.iinfo(np.int64).max, -1
    np.minimum.at(bbox[:, 0], comp, start)
    np.minimum.at(bbox[:, 1], comp, row)
    np.maximum.at(bbox[:, 2], comp, end)
    np.maximum.at(bbox[:, 3], comp, row + 1)
    comp_value = np.zeros(k, np.int64)
    comp_value[comp] = value  # edges join equal values only, so a component has one
    return Components(comp_value, area.astype(np.int64), bbox, np.stack([cx, cy], 1),
                      (row, start, end, comp))


def _union(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Root (smallest member) of every node of the graph with edges a-b: hook roots, then shortcut."""
    parent = np.arange(n)
    while a.size:
        pa, pb = parent[a], parent[b]
        if np.array_equal(pa, pb):
            break
        np.minimum.at(parent, np.maximum(pa, pb), np.minimum(pa, pb))
        while True:  # pointer jumping until every node points at a root
            nxt = parent[parent]
            if np.array_equal(nxt, parent):
                break
            parent = nxt
    return parent


def run_pixels(comps: Components, k: int, width: int) -> np.ndarray:
    """Flat pixel indices (row * width + col) of component ``k``."""
    row, start, end, comp = comps.runs
    sel = comp == k
    r, s, e = row[sel], start[sel], end[sel]
    length = e - s
    offsets = np.arange(length.sum()) - np.repeat(np.cumsum(length) - length, length)
    return np.repeat(r * width + s, length) + offsets


# ---- detection ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Detection:
    color: str
    name: str  # object name, e.g. "red_cube"
    bbox: tuple[int, int, int, int]  # x0, y0, x1, y1 in pixels (x1/y1 exclusive)
    centroid: tuple[float, float]  # x, y in pixels
    area: int  # pixels
    mean_rgb: tuple[int, int, int]
    world_xyz: tuple[float, float, float] | None = None  # on the object plane, metres; None without a camera model


def detect_objects(rgb: np.ndarray, colors: tuple[ColorClass, ...], min_area: int = 12,
                   max_area_fraction: float = 0.25, camera: CameraModel | None = None,
                   plane_z: float = 0.02) -> list[Detection]:
    """Colour blobs of at least ``min_area`` pixels, largest first; table positions if ``camera``."""
    rgb = check_rgb(rgb)
    h, w = rgb.shape[:2]
    comps = components(classify_colors(rgb, colors))
    out = []
    flat = rgb.reshape(-1, 3)
    for k in np.argsort(-comps.area, kind="stable"):
        area = int(comps.area[k])
        if area < min_area or area > max_area_fraction * h * w:
            continue
        col = colors[int(comps.value[k]) - 1]
        cx, cy = (float(v) for v in comps.centroid[k])
        mean = flat[run_pixels(comps, int(k), w)].mean(axis=0)
        world = camera.pixel_to_plane(cx, cy, w, h, plane_z) if camera is not None else None
        out.append(Detection(col.name, col.object_name, tuple(int(v) for v in comps.bbox[k]), (cx, cy), area,
                             tuple(int(round(v)) for v in mean),
                             None if world is None else tuple(float(v) for v in world)))
    return out


def block_means(rgb: np.ndarray, block: int) -> np.ndarray:
    """(H/block)x(W/block)x3 float32 block averages; edges that do not fill a block are dropped."""
    h, w = (rgb.shape[0] // block) * block, (rgb.shape[1] // block) * block
    img = rgb[:h, :w]
    # Sum rows first (uint16 holds 8 x 255 and 64 x 255): far faster than a 5-D mean.
    acc = np.uint16 if block <= 16 else np.uint32
    rows = img.reshape(h // block, block, w * 3).sum(axis=1, dtype=acc)
    sums = rows.reshape(h // block, w // block, block, 3).sum(axis=2, dtype=np.uint32)
    return sums.astype(np.float32) / float(block * block)


# ---- camera geometry ------------------------------------------------------------------------
@dataclass(frozen=True)
class CameraModel:
    """A pinhole camera in MuJoCo/OpenGL convention: looks along -z, x right, y up.

    ``rotation`` columns are the camera's x, y, z axes in the world; intrinsics follow from the
    vertical field of view and the image size (square pixels, principal point at the centre).
    """

    position: tuple[float, float, float]
    rotation: tuple[tuple[float, float, float], ...]  # 3x3, row-major
    fovy_deg: float

    @staticmethod
    def from_xyaxes(position: list[float], xyaxes: list[float], fovy_deg: float) -> CameraModel:
        """From MJCF-style ``pos`` and ``xyaxes`` (x axis, then y axis, in world coordinates)."""
        if len(position) != 3 or len(xyaxes) != 6 or not 0 < fovy_deg < 180:
            raise ValueError("camera needs a 3-vector position, 6 xyaxes values and 0 < fovy < 180")
        x, y = np.asarray(xyaxes[:3], float), np.asarray(xyaxes[3:], float)
        x /= np.linalg.norm(x)
        y = y - x * float(x @ y)
        y /= np.linalg.norm(y)
        rot = np.stack([x, y, np.cross(x, y)], axis=1)
        return CameraModel(tuple(float(v) for v in position), tuple(map(tuple, rot.tolist())), float(fovy_deg))

    def focal_px(self, height: int) -> float:
        return height / 2.0 / math.tan(math.radians(self.fovy_deg) / 2.0)

    def pixel_to_plane(self, u: float, v: float, width: int, height: int, plane_z: float) -> np.ndarray | None:
        """Where the ray through image point (u, v) meets the plane z = plane_z; None if it never does."""
        f = self.focal_px(height)
        ray = np.asarray(self.rotation) @ np.array([(u - width / 2.0) / f, (height / 2.0 - v) / f, -1.0])
        pos = np.asarray(self.position)
        if abs(ray[2]) < 1e-9:
            return None
        t = (plane_z - pos[2]) / ray[2]
        return pos + t * ray if t > 0 else None

    def project(self, point: list[float], width: int, height: int) -> tuple[float, float] | None:
        """Image point (u, v) of a world point; None when it is behind the camera."""
        p = np.asarray(self.rotation).T @ (np.asarray(point, float) - np.asarray(self.position))
        if p[2] >= 0:
            return None
        f = self.focal_px(height)
        return width / 2.0 + f * p[0] / -p[2], height / 2.0 - f * p[1] / -p[2]


def camera_from_mjcf(path: str | Path, camera: str) -> CameraModel:
    """A fixed camera's pose and fovy from a MuJoCo scene file (the sim renders from the same file)."""
    import mujoco  # only this function needs it

    model = mujoco.MjModel.from_xml_path(str(path))
    cam = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, camera)
    if cam < 0:
        names = [model.camera(i).name for i in range(model.ncam)]
        raise ValueError(f"no camera {camera!r} in {path}; cameras: {names}")
    data = mujoco.MjData(model)
    mujoco.mj_kinematics(model, data)
    mujoco.mj_camlight(model, data)
    rot = data.cam_xmat[cam].reshape(3, 3)
    return CameraModel(tuple(float(v) for v in data.cam_xpos[cam]), tuple(map(tuple, rot.tolist())),
                       float(model.cam_fovy[cam]))
