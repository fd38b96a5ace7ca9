"""MuJoCo tabletop world: the robot (``seal_nodes.core.arm.robot``) composed with our scene.

* Robot base (``panda_link0``) is at the world origin; table top is the z=0 plane.
* The world adds a ``home`` keyframe (arm at ``HOME_Q``, servos holding it) and reads and
  commands the gripper normalised (0 = fully open, 1 = fully closed).
"""

from __future__ import annotations

from pathlib import Path

import mujoco
import numpy as np

from seal_nodes.core.arm.robot import (
    ARM_ACTUATORS, ARM_JOINTS, GRIPPER_ACTUATOR, GRIPPER_CLOSED_RAD, GRIPPER_CTRL_MAX, GRIPPER_TENDON, HOME_Q,
    PREFIX, TCP_SITE, attach_robot, panda_spec,
)
from sim_worlds.tabletop.mesh_detail import lighten_visual_meshes

SCENES_DIR = Path(__file__).resolve().parent / "scenes"
# tabletop: three 4 cm cubes. tabletop_bin: cubes of three sizes, a bin, two distractors.
SCENES: dict[str, Path] = {"tabletop": SCENES_DIR / "tabletop.xml", "tabletop_bin": SCENES_DIR / "tabletop_bin.xml"}

OBJECTS: list[str] = ["red_cube", "green_cube", "blue_cube"]  # task targets (free bodies named *_cube)
BIN_SITE = "bin"
BIN_WALL = "bin_wall_e"  # one of the bin's four walls (its inner face and top bound the inside)

# Cube layout sampling region on the table (robot base frame, metres).
CUBE_X_RANGE = (0.40, 0.62)
CUBE_Y_RANGE = (-0.22, 0.22)
CUBE_MIN_DIST = 0.09
TABLE_TOP_Z = 0.0
# The injected fault ``fault_stuck_object``: the cube's free joint damped this much (N·s/m, N·m·s)
# moves it by micrometres under the gripper, so every grasp closes on it and lifts without it.
STUCK_DAMPING = 1e5
# Share of the robot's visual triangles a rendering world draws (docs/arm.md: cost and image change).
RENDER_MESH_DETAIL = 0.1


def world_spec(scene: str = "tabletop", mesh_detail: float = 1.0) -> mujoco.MjSpec:
    """Scene XML + robot attached at the origin, with a ``home`` keyframe.

    ``mesh_detail``: share of the robot's visual-only mesh faces kept (1: the meshes as shipped).
    """
    if scene not in SCENES:
        raise KeyError(f"unknown scene {scene!r}; available: {sorted(SCENES)}")
    spec = mujoco.MjSpec.from_file(str(SCENES[scene]))
    robot = panda_spec()
    lighten_visual_meshes(robot, mesh_detail)
    attach_robot(spec, (0.0, 0.0, TABLE_TOP_Z), robot)
    model = spec.compile()
    qpos, ctrl = model.qpos0.copy(), np.zeros(model.nu)
    for name, q in zip(ARM_JOINTS, HOME_Q):
        qpos[model.joint(name).qposadr[0]] = q
    for name, q in zip(ARM_ACTUATORS, HOME_Q):
        ctrl[model.actuator(name).id] = q
    spec.add_key(name="home", qpos=qpos, ctrl=ctrl)
    return spec


class TabletopWorld:
    """Physics wrapper with named accessors. Not thread-safe."""

    def __init__(
        self,
        seed: int = 0,
        image_size: tuple[int, int] = (224, 224),
        render: bool = True,
        scene: str = "tabletop",
        randomize: bool = False,
        fault_stuck_object: str = "",
        mesh_detail: float | None = None,
    ) -> None:
        """``randomize``: every reset also jitters sizes, colours, lighting and the cameras.
        ``fault_stuck_object``: a cube held to the table (a fault injected on purpose: every pick of
        it fails, the missed grasp ``seal diagnose`` is tested on); "" for none.
        ``mesh_detail``: share of the robot's visual triangles kept; default ``RENDER_MESH_DETAIL``
        when the world renders, 1 when it does not (nothing is drawn, nothing to save)."""
        if mesh_detail is None:
            mesh_detail = RENDER_MESH_DETAIL if render else 1.0
        self.mesh_detail = float(mesh_detail)
        self.model: mujoco.MjModel = world_spec(scene, self.mesh_detail).compile()
        self.data = mujoco.MjData(self.model)
        self.scene = scene
        self.image_size = (int(image_size[0]), int(image_size[1]))  # (height, width)
        self._render_enabled = render
        self._renderer: mujoco.Renderer | None = None
        m = self.model
        self._arm_qadr = np.array([m.joint(j).qposadr[0] for j in ARM_JOINTS])
        self._arm_vadr = np.array([m.joint(j).dofadr[0] for j in ARM_JOINTS])
        self._arm_act = np.array([m.actuator(a).id for a in ARM_ACTUATORS])
        self._grip_act = m.actuator(GRIPPER_ACTUATOR).id
        self._grip_tendon = m.tendon(GRIPPER_TENDON).id
        self._tcp = m.site(TCP_SITE).id
        self._lower = m.jnt_range[[m.joint(j).id for j in ARM_JOINTS], 0].copy()
        self._upper = m.jnt_range[[m.joint(j).id for j in ARM_JOINTS], 1].copy()
        free = [m.joint(j).name for j in range(m.njnt) if m.jnt_type[j] == mujoco.mjtJoint.mjJNT_FREE]
        self._objects = [n for n in free if n.endswith("_cube")]
        self._distractors = [n for n in free if not n.endswith("_cube")]
        self._obj_qadr = {n: m.joint(n).qposadr[0] for n in free}
        self._home_key = m.key("home").id
        self._bin = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_SITE, BIN_SITE)
        self._bin_wall = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, BIN_WALL)
        self._robot_root = int(m.body_rootid[m.body(f"{PREFIX}link0").id])
        self.randomize = randomize
        self._nominal = _Nominal(m, free)
        self.last_command_clipped = False
        self.fault_stuck_object = fault_stuck_object or ""
        if self.fault_stuck_object:
            if self.fault_stuck_object not in self._objects:
                raise KeyError(f"fault_stuck_object: unknown object {self.fault_stuck_object!r}; "
                               f"known objects: {sorted(self._objects)}")
            adr = m.joint(self.fault_stuck_object).dofadr[0]
            m.dof_damping[adr : adr + 6] = STUCK_DAMPING  # implicitfast integrates damping stably
        self.rng = np.random.default_rng(seed)
        self.reset(seed)

    # ---- episode -------------------------------------------------------------
    def reset(self, seed: int | None = None, rng: np.random.Generator | None = None) -> None:
        """Home pose, gripper open, cubes re-sampled (no overlaps, in reach)."""
        if rng is not None:
            self.rng = rng
        elif seed is not None:
            self.rng = np.random.default_rng(seed)
        m, d = self.model, self.data
        self._nominal.restore(m)
        if self.randomize:
            self._nominal.jitter(m, self.rng)
        mujoco.mj_resetDataKeyframe(m, d, self._home_key)
        names = self._objects + self._distractors
        for name, (x, y) in zip(names, self._sample_layout(len(names))):
            a = self._obj_qadr[name]
            d.qpos[a : a + 3] = (x, y, TABLE_TOP_Z + self._half_height(name))
            yaw = float(self.rng.uniform(-0.25, 0.25)) if self.randomize else 0.0
            d.qpos[a + 3 : a + 7] = (np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2))
        self.last_command_clipped = False
        mujoco.mj_forward(m, d)

    def _half_height(self, name: str) -> float:
        g = self.model.geom(name)
        return float(g.size[1] if g.type[0] == mujoco.mjtGeom.mjGEOM_CYLINDER else g.size[2])

    def set_arm(self, q: np.ndarray, gripper: float = 0.0) -> None:
        """Teleport the arm (and its servo targets) to ``q``: a start pose for an episode."""
        q = np.clip(np.asarray(q, dtype=float), self._lower, self._upper)
        self.data.qpos[self._arm_qadr] = q
        self.data.qvel[self._arm_vadr] = 0.0
        self.set_command(q, gripper)
        mujoco.mj_forward(self.model, self.data)

    def _sample_layout(self, n: int) -> list[tuple[float, float]]:
        pts: list[tuple[float, float]] = []
        while len(pts) < n:  # rejection sampling; the region fits 3 easily
            p = (float(self.rng.uniform(*CUBE_X_RANGE)), float(self.rng.uniform(*CUBE_Y_RANGE)))
            if all(np.hypot(p[0] - q[0], p[1] - q[1]) >= CUBE_MIN_DIST for q in pts):
                pts.append(p)
        return pts

    # ---- state ---------------------------------------------------------------
    @property
    def time(self) -> float:
        return float(self.data.time)

    def joint_positions(self) -> np.ndarray:
        """[7 arm joints (rad), gripper (0=open..1=closed)]."""
        g = self.data.ten_length[self._grip_tendon] / GRIPPER_CLOSED_RAD
        return np.append(self.data.qpos[self._arm_qadr], g)

    def joint_velocities(self) -> np.ndarray:
        """[7 arm joints (rad/s), gripper (normalised units/s)]."""
        g = self.data.ten_velocity[self._grip_tendon] / GRIPPER_CLOSED_RAD
        return np.append(self.data.qvel[self._arm_vadr], g)

    def joint_limits(self) -> tuple[np.ndarray, np.ndarray]:
        return self._lower.copy(), self._upper.copy()

    def ee_position(self) -> np.ndarray:
        """TCP (``panda_pinch`` site) position in the world/base frame [m]."""
        return self.data.site_xpos[self._tcp].copy()

    def object_names(self) -> list[str]:
        """Task targets (the cubes)."""
        return list(self._objects)

    def distractor_names(self) -> list[str]:
        return list(self._distractors)

    def bin_position(self) -> np.ndarray | None:
        """Middle of the bin's floor, or None in a scene without a bin."""
        return None if self._bin < 0 else self.data.site_xpos[self._bin].copy()

    def in_bin(self, name: str) -> bool:
        """The object rests in the bin: its centre between the walls, the gripper not touching it, and
        its bottom below the walls' top or on an object that is in the bin (cubes piled in the bin)."""
        return self._in_bin(name, set())

    def _in_bin(self, name: str, seen: set[str]) -> bool:
        b = self.bin_position()
        if b is None:
            return False
        pos, _ = self.object_pose(name)
        wall, size = self.data.geom_xpos[self._bin_wall], self.model.geom_size[self._bin_wall]
        inner, top = abs(wall[0] - b[0]) - size[0], wall[2] + size[2]  # the bin is square
        touching = self._touching(name)
        if not np.all(np.abs(pos[:2] - b[:2]) < inner) or self._robot_root in touching.values():
            return False
        if pos[2] - self._half_height(name) < top:
            return True
        seen = seen | {name}
        return any(o in self._obj_qadr and o not in seen and self._in_bin(o, seen) for o in touching)

    def _touching(self, name: str) -> dict[str, int]:
        """The geoms in contact with the object's geom: name → the root body they belong to."""
        m, d = self.model, self.data
        g = m.geom(name).id
        out = {}
        for c in d.contact[: d.ncon]:
            if g in (c.geom1, c.geom2):
                other = int(c.geom2 if c.geom1 == g else c.geom1)
                out[m.geom(other).name or str(other)] = int(m.body_rootid[m.geom_bodyid[other]])
        return out

    def object_pose(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(position xyz [m], quaternion wxyz) read from the free joint."""
        if name not in self._obj_qadr:
            raise KeyError(f"unknown object {name!r}; known objects: {sorted(self._obj_qadr)}")
        a = self._obj_qadr[name]
        return self.data.qpos[a : a + 3].copy(), self.data.qpos[a + 3 : a + 7].copy()

    def is_lifted(self, name: str, height: float = 0.05) -> bool:
        """Cube bottom at least ``height`` above the table top."""
        pos, _ = self.object_pose(name)
        return bool(pos[2] - self._half_height(name) - TABLE_TOP_Z >= height)

    def warnings(self) -> dict[str, int]:
        """Non-zero MuJoCo warning counters since the last reset."""
        out = {}
        for wname, w in mujoco.mjtWarning.__members__.items():
            if wname == "mjNWARNING":
                continue
            n = int(self.data.warning[int(w)].number)
            if n:
                out[wname] = n
        return out

    # ---- control -------------------------------------------------------------
    def set_command(self, arm_q: np.ndarray, gripper: float) -> bool:
        """Set position targets; returns True if anything had to be clipped."""
        q = np.asarray(arm_q, dtype=float)
        if q.shape != (7,):
            raise ValueError(f"arm_q must have shape (7,), got {q.shape}")
        g = float(gripper)
        if not (np.all(np.isfinite(q)) and np.isfinite(g)):
            raise ValueError("command contains NaN/inf")
        qc = np.clip(q, self._lower, self._upper)
        gc = min(max(g, 0.0), 1.0)
        self.last_command_clipped = bool(np.any(qc != q) or gc != g)
        self.data.ctrl[self._arm_act] = qc
        self.data.ctrl[self._grip_act] = gc * GRIPPER_CTRL_MAX
        return self.last_command_clipped

    def step(self, duration_s: float) -> None:
        """Advance by ``duration_s`` of sim time (rounded to whole timesteps)."""
        if not np.isfinite(duration_s) or duration_s < 0:
            raise ValueError(f"duration_s must be finite and >= 0, got {duration_s}")
        n = int(round(duration_s / self.model.opt.timestep))
        if n:
            mujoco.mj_step(self.model, self.data, nstep=n)
            # mj_step leaves positions-derived quantities one step stale; refresh them.
            mujoco.mj_kinematics(self.model, self.data)

    # ---- rendering -----------------------------------------------------------
    def render(self, camera: str = "front", data: mujoco.MjData | None = None) -> np.ndarray:
        """HxWx3 uint8 image; needs MUJOCO_GL=egl (or osmesa) when headless.

        ``data``: a copy of this world's state to draw instead of the live one, so that another
        thread may step the live one meanwhile (the renderer belongs to the thread that first renders).
        """
        if not self._render_enabled:
            raise RuntimeError("world was created with render=False")
        if mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_CAMERA, camera) < 0:
            cams = [self.model.camera(i).name for i in range(self.model.ncam)]
            raise KeyError(f"unknown camera {camera!r}; cameras: {cams}")
        if self._renderer is None:
            h, w = self.image_size
            self._renderer = mujoco.Renderer(self.model, height=h, width=w)
            flags = self._renderer.scene.flags
            flags[mujoco.mjtRndFlag.mjRND_SHADOW] = 0
            flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = 0
            flags[mujoco.mjtRndFlag.mjRND_SKYBOX] = 0
        self._renderer.update_scene(self.data if data is None else data, camera=camera)
        return self._renderer.render().copy()

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None


class _Nominal:
    """The scene's nominal sizes/colours/lights/cameras, and the seeded jitter applied around them."""

    def __init__(self, m: mujoco.MjModel, objects: list[str]) -> None:
        self.objects = [m.geom(n).id for n in objects]
        self.size = m.geom_size.copy()
        self.rbound = m.geom_rbound.copy()
        self.aabb = m.geom_aabb.copy()
        self.rgba = m.geom_rgba.copy()
        self.mat_rgba = m.mat_rgba.copy()
        # Geoms with the default grey take their material's colour; a changed rgba would override it.
        self.coloured = np.flatnonzero(np.any(np.abs(self.rgba - [0.5, 0.5, 0.5, 1.0]) > 1e-6, axis=1))
        self.light_diffuse = m.light_diffuse.copy()
        self.light_dir = m.light_dir.copy()
        self.head = (m.vis.headlight.diffuse.copy(), m.vis.headlight.ambient.copy())
        self.cam_pos = m.cam_pos.copy()
        self.cam_quat = m.cam_quat.copy()

    def restore(self, m: mujoco.MjModel) -> None:
        m.geom_size[:], m.geom_rbound[:], m.geom_aabb[:] = self.size, self.rbound, self.aabb
        m.geom_rgba[:], m.mat_rgba[:] = self.rgba, self.mat_rgba
        m.light_diffuse[:], m.light_dir[:] = self.light_diffuse, self.light_dir
        m.vis.headlight.diffuse[:], m.vis.headlight.ambient[:] = self.head
        m.cam_pos[:], m.cam_quat[:] = self.cam_pos, self.cam_quat

    def jitter(self, m: mujoco.MjModel, rng: np.random.Generator) -> None:
        for g in self.objects:  # sizes ±12 %; collision bounds follow so contacts stay right
            s = float(rng.uniform(0.88, 1.12))
            m.geom_size[g] *= s
            m.geom_rbound[g] *= s
            m.geom_aabb[g] *= s
        # Colour: small shifts that keep each colour's name true; the table's wood varies too.
        c = self.coloured
        m.geom_rgba[c, :3] = np.clip(self.rgba[c, :3] + rng.normal(0.0, 0.04, (len(c), 3)), 0.0, 1.0)
        m.mat_rgba[:, :3] = np.clip(self.mat_rgba[:, :3] + rng.normal(0.0, 0.03, (m.nmat, 3)), 0.0, 1.0)
        m.light_diffuse[:] = self.light_diffuse * rng.uniform(0.7, 1.25)
        tilt = rng.normal(0.0, 0.15, (m.nlight, 3))
        tilt[:, 2] = 0.0
        d = self.light_dir + tilt
        m.light_dir[:] = d / np.linalg.norm(d, axis=1, keepdims=True)
        m.vis.headlight.diffuse[:] = self.head[0] * rng.uniform(0.75, 1.25)
        m.vis.headlight.ambient[:] = self.head[1] * rng.uniform(0.8, 1.2)
        m.cam_pos[:] = self.cam_pos + rng.normal(0.0, 0.01, self.cam_pos.shape)  # camera jitter: ±1 cm
        for i in range(m.ncam):  # and ±~1 degree
            dq = np.r_[1.0, rng.normal(0.0, 0.008, 3)]
            q = np.zeros(4)
            mujoco.mju_mulQuat(q, self.cam_quat[i], dq / np.linalg.norm(dq))
            m.cam_quat[i] = q
