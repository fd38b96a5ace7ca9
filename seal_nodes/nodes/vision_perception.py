"""vision_perception: /camera/image_raw → object_seen, scene_change (camera) or ui_change (screen).

A thin adapter over ``seal_nodes.core.perception.vision.events.VisionPerception``. In simulation the
camera's pose and field of view come from the MuJoCo scene file the sim renders (a fixed
camera), so object_seen carries table positions in metres; with ``camera_name:=""`` and no
explicit pose it reports image positions only. A frame that cannot be used is reported as an
``error`` event (throttled) and dropped; the stream carries on.
"""
from __future__ import annotations

import traceback

from seal_nodes.nodes.common import SealNode, run, stamp_to_ns, subscription

from rcl_interfaces.msg import ParameterDescriptor
from rclpy.parameter import Parameter
from sensor_msgs.msg import Image

from seal_nodes.core import topics
from seal_nodes.core.bounds import check_image
from seal_nodes.core.perception.vision.features import (
    DEFAULT_COLORS, CameraModel, ImageFormatError, camera_from_mjcf, color_table, decode_image,
)
from seal_nodes.core.perception.vision.change import SceneChangeConfig, UiChangeConfig
from seal_nodes.core.perception.vision.events import TrackerConfig, VisionConfig, VisionPerception


class VisionPerceptionNode(SealNode):
    def __init__(self) -> None:
        super().__init__("vision_perception")
        p = self._param
        mode = p("mode", "scene")
        if mode not in ("scene", "screen"):
            self.report_error(f"vision_perception: unknown mode {mode!r}; using 'scene'")
            mode = "scene"
        d, t, u = VisionConfig(), TrackerConfig(), UiChangeConfig()
        t.move_m, t.move_px = p("move_threshold_m", t.move_m), p("move_threshold_px", t.move_px)
        t.settle_s, t.lost_s = p("settle_s", t.settle_s), p("lost_s", t.lost_s)
        t.reannounce_s = p("reannounce_s", t.reannounce_s)
        u.min_area_px = p("ui_min_area_px", u.min_area_px)
        u.settle_s, u.max_wait_s = p("ui_settle_s", u.settle_s), p("ui_max_wait_s", u.max_wait_s)
        rates = {kind: (p(f"{kind}_per_s", per_s), burst) for kind, (per_s, burst) in d.rates.items()}
        cfg = VisionConfig(mode=mode, colors=self._colors(), min_area_px=p("min_area_px", d.min_area_px),
                           plane_z=p("object_height_m", d.plane_z), tracker=t, scene=SceneChangeConfig(), ui=u,
                           rates=rates)
        self.max_fps = p("max_fps", 0.0)
        self.expected_frame = ""  # the sim's frame_id for the scene camera whose pose we use
        self.core = VisionPerception(cfg, self._camera() if mode == "scene" else None)
        self._last_ns = 0
        subscription(self, topics.CAMERA, self.on_image)
        where = "table positions" if self.core.camera is not None else "image positions only"
        self.get_logger().info(f"vision perception ready: mode={mode}, colours "
                               f"{[c.name for c in cfg.colors]}, {where}")

    def _param(self, name: str, default: object, array_type: Parameter.Type | None = None) -> object:
        if array_type is not None:  # an empty list has no ROS type of its own: declare by type (unset → None)
            return list(self.declare_parameter(name, default or array_type).value or default)
        # dynamic typing: "reannounce_s:=30" (an integer) must not stop the node at start-up
        value = self.declare_parameter(name, default, ParameterDescriptor(dynamic_typing=True)).value
        try:
            return type(default)(value)
        except (TypeError, ValueError):
            self.report_error(f"vision_perception: parameter {name}={value!r} is not a {type(default).__name__}; "
                              f"using {default!r}")
            return default

    def _colors(self) -> tuple:
        names = self._param("colors", list(DEFAULT_COLORS), Parameter.Type.STRING_ARRAY)
        specs = self._param("color_specs", [], Parameter.Type.STRING_ARRAY)
        try:
            return color_table(names, specs)
        except ValueError as exc:  # a bad parameter must not stop the camera: fall back, say so
            self.report_error(f"vision_perception: bad colour parameter: {exc}; using {list(DEFAULT_COLORS)}")
            return color_table()

    def _camera(self) -> CameraModel | None:
        name = self._param("camera_name", "front")
        scene = self._param("scene", "tabletop")
        scene_file = self._param("scene_file", "")
        pos = self._param("camera_position", [], Parameter.Type.DOUBLE_ARRAY)
        axes = self._param("camera_xyaxes", [], Parameter.Type.DOUBLE_ARRAY)
        fovy = self._param("camera_fovy", 0.0)
        try:
            if pos:
                return CameraModel.from_xyaxes(pos, axes, fovy)
            if not name:
                return None
            if not scene_file:
                from sim_worlds.tabletop.world import SCENES  # the scenes the sim renders

                if scene not in SCENES:
                    raise ValueError(f"unknown scene {scene!r}; known: {sorted(SCENES)}")
                scene_file = str(SCENES[scene])
            model = camera_from_mjcf(scene_file, name)
            self.expected_frame = f"{name}_camera"
            return model
        except (ValueError, OSError) as exc:
            self.report_error(f"vision_perception: no camera model ({exc}); reporting image positions only")
            return None

    def on_image(self, msg: Image) -> None:
        stamp = stamp_to_ns(msg.header.stamp)
        if self.max_fps > 0 and 0 < stamp - self._last_ns < 1e9 / self.max_fps:
            return  # over the processing budget: skip this frame
        reason = check_image(msg.height, msg.width, msg.step, msg.encoding, len(msg.data), msg.header.frame_id)
        if reason:  # before the buffer is copied or decoded
            self.refuse(topics.CAMERA.name, reason)
            return
        try:
            rgb = decode_image(bytes(msg.data), msg.height, msg.width, msg.step, msg.encoding)
            events = self.core.process(rgb, stamp)
        except ImageFormatError as exc:
            # one report per kind of fault per 2 s, whatever the sizes in the message
            self.refuse(topics.CAMERA.name, str(exc))
            return
        except Exception as exc:  # a bug must not take the camera down: report it and go on
            self.get_logger().error(traceback.format_exc())
            self.report_error(f"vision_perception failed on a frame: {exc!r}", throttle_key="vision-bug")
            return
        self._last_ns = stamp
        if self.expected_frame and msg.header.frame_id and msg.header.frame_id != self.expected_frame:
            self.report_error(f"{topics.CAMERA.name} comes from {msg.header.frame_id!r}, but table positions assume "
                              f"{self.expected_frame!r} (set camera_name)", throttle_key="frame_id", throttle_s=60.0)
        for event in events:
            self.publish_event(event)


def main(args=None) -> None:
    run(VisionPerceptionNode)


if __name__ == "__main__":
    main()
