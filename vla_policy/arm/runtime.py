"""The learned policy at run time: ONNX model on onnxruntime, chunk smoothing, IK, done/fail.

``PolicyRuntime`` runs the network (the provider that really loads, one intra-op thread on CPU).
``LearnedPolicy`` is one goal's closed loop: camera frame + joint state in, the next joint target
out. Every step predicts a chunk of K tool targets; the targets for *now* from the last few
chunks are blended with weights favouring the newest (temporal ensembling, ACT) so consecutive
chunks join smoothly; the blended tool target is clipped to the workspace and turned into joint
targets by IK. The network's own status head ends the goal: done or failed. Whether the gripper
has held something during the goal (``grasp.GraspMemory``, from the joint state and the commands
sent, never from simulator ground truth) is an input of the network, and for pick and place (the
task as ``language.TaskReader`` reads it from the instruction) a "done" counts only with that
evidence (pick: holding now; place: held at some point); a done without it is not accepted,
and if the network keeps insisting the goal ends as failed (the
fingers closed on nothing). Until it has held something, a pick/place goal also closes the
gripper only with the tool at the object as the network reads their offset from the image and
fovea (``near``; ``close_box``: within 3 cm across and 3 cm in height); a close commanded
elsewhere is held open. While holding, a close command is a full squeeze (``latch_grip``);
"home" always commands the gripper open, as every taught home does (an unfinished pick can
leave a cube in the fingers). A missed grasp (a "done" refused
``reject_limit`` times) starts a fresh attempt, gripper opened first, up to ``max_retries``
times; then the goal fails. The fovea (a full-resolution patch of the
frame) is cut around the previous frame's object estimate, projected by the nominal camera; a
goal's first frame runs the network twice (once to have an estimate).
"""
from __future__ import annotations

import json
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seal_nodes.core.arm.kinematics import DOWN_ROT, ArmCommand, ArmIK
from seal_nodes.core.arm.limits import DEFAULT_WORKSPACE, Workspace
from seal_nodes.core.language.encoder import EMBED_DIM, SentenceEncoder
from vla_policy.arm.camera import FRONT_CAMERA, PinholeCamera
from vla_policy.arm.grasp import GraspMemory
from vla_policy.arm.language import TaskReader
from vla_policy.arm.normalizer import Normalizer
from vla_policy.arm.preprocess import FOVEA, IMAGE_HW, PROPRIO_DIM, fovea_patch, prepare_image, proprio
from vla_policy.inference import InputError, open_weights, pick_provider

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
MODEL_FILE, NORM_FILE, CARD_FILE = "vla_policy.onnx", "normalizer.json", "model_card.json"
TORCH_FILE = "vla_policy.pt"  # the same weights for torch (tests compare the two)
GRASP_TASKS = ("pick", "place")  # the tasks that hold an object: grasp evidence, the close box, the latch


class PolicyRuntime:
    """The exported network + its normaliser; ``infer`` is one forward pass."""

    def __init__(self, weights_dir: str | Path = WEIGHTS_DIR, threads: int = 1) -> None:
        d = open_weights(weights_dir, (MODEL_FILE, NORM_FILE, CARD_FILE), "policy", "seal train-vla")
        self.session, self.provider = pick_provider(d / MODEL_FILE, threads)
        self.norm = Normalizer.load(d / NORM_FILE)
        self.card = json.loads((d / CARD_FILE).read_text())
        self.chunk = int(self.card["chunk"])
        self.colors: list[str] = list(self.card["colors"])

    def infer(self, image80: np.ndarray, fovea: np.ndarray, prop: np.ndarray, lang: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(chunk [K, 4] tool deltas + gripper, status probabilities [3], target xyz [3],
        target minus tool [3], metres: the image's own reading of the offset)."""
        if image80.shape != (*IMAGE_HW, 3) or fovea.shape != (FOVEA, FOVEA, 3) or lang.shape != (EMBED_DIM,):
            raise InputError(f"bad network input shapes {image80.shape} / {fovea.shape} / {lang.shape}")
        feed = {"image": self.norm.image(image80)[None], "fovea": self.norm.image(fovea)[None],
                "proprio": self.norm.proprio(prop)[None], "lang": lang.astype(np.float32)[None]}
        chunk, status, aux, near = self.session.run(None, feed)
        logits = status[0] - status[0].max()
        probs = np.exp(logits) / np.exp(logits).sum()
        return self.norm.unchunk(chunk[0]), probs, self.norm.unaux(aux[0]), near[0] / 10.0


@dataclass
class StepInfo:
    inference_ms: float  # preprocessing + network
    status: np.ndarray  # running / done / failed probabilities
    target_estimate: np.ndarray  # where the network thinks the named object is
    target_offset: np.ndarray  # the object minus the tool, as the image shows it


class LearnedPolicy:
    """One goal's closed loop (``reset`` per instruction, ``act`` per camera frame)."""

    def __init__(self, runtime: PolicyRuntime, encoder: SentenceEncoder, ik: ArmIK | None = None,
                 workspace: Workspace = DEFAULT_WORKSPACE, ensemble: int = 4, decay: float = 0.6,
                 max_joint_step: float = 0.15, confirm_steps: int = 2, reject_limit: int = 10,
                 close_box: tuple[float, float] | None = (0.03, 0.03), latch_grip: bool = True,
                 camera: PinholeCamera = FRONT_CAMERA, max_retries: int = 2, reopen_steps: int = 10,
                 reader: TaskReader | None = None) -> None:
        self.rt, self.encoder = runtime, encoder
        self.reader = reader if reader is not None else TaskReader(runtime.card, encoder)
        self.ik = ik if ik is not None else ArmIK()
        self.workspace = workspace
        self.ensemble, self.decay = min(ensemble, runtime.chunk), decay
        self.max_joint_step = max_joint_step
        self.confirm_steps = confirm_steps
        self.reject_limit = reject_limit  # unconfirmed "done" frames before giving up
        self.close_box = close_box  # (xy, z) tool-to-object offset (``near``) that allows a first grasp
        self.latch_grip = latch_grip
        self.camera = camera  # nominal calibration: where to cut the fovea
        self.max_retries = max_retries  # fresh attempts after a missed grasp
        self.reopen_steps = reopen_steps  # control steps the gripper is held open to start one
        self.last: StepInfo | None = None
        self.reset("go home")

    def reset(self, instruction: str, task: str | None = None) -> None:
        """Start a goal. ``task``: its name (pick, place, ...) when already read; else the reader
        reads it from the instruction (InstructionError when it cannot)."""
        self.task = task if task is not None else self.reader.read(instruction).name
        self.lang = self.encoder.encode(instruction)  # once per goal
        self.instruction = instruction
        self._q_cmd: np.ndarray | None = None
        self.steps = 0
        self.retries = 0
        self._attempt()

    def _attempt(self, reopen: int = 0) -> None:
        """Begin an attempt at the goal: the first, or a retry (with the gripper held open first)."""
        self._chunks: deque[np.ndarray] = deque(maxlen=self.ensemble)  # absolute targets, newest last
        self._done_run = self._fail_run = self._rejected = 0
        self._reopen = reopen
        self.grasp = GraspMemory()
        self._estimate: np.ndarray | None = None  # the object estimate of the previous frame

    def act(self, q: np.ndarray, gripper: float, image: np.ndarray) -> ArmCommand:
        """Next command from a 224x224 RGB frame and the measured joints; raises InputError."""
        q = np.asarray(q, dtype=float)
        t0 = time.perf_counter()
        img = prepare_image(image)
        if q.shape != (7,):
            raise InputError(f"expected 7 arm joints, got {q.shape}")
        tcp = self.ik.fk(q)[0] if np.all(np.isfinite(q)) else np.full(3, np.nan)
        prop = proprio(np.r_[q, gripper], tcp, self.grasp.held)
        # The object estimate does not read the fovea, so on a goal's first frame one pass gives
        # it and a second looks there.
        for _ in range(1 if self._estimate is not None else 2):
            look = self._estimate if self._estimate is not None else tcp
            look = np.clip(look, self.workspace.lo, self.workspace.hi)  # a wild estimate stays in view
            fovea = fovea_patch(image, self.camera.project(look))
            chunk, status, target, near = self.rt.infer(img, fovea, prop, self.lang)
            self._estimate = target
        infer_ms = (time.perf_counter() - t0) * 1e3
        self.last = StepInfo(infer_ms, status, target, near)
        absolute = chunk.copy()
        absolute[:, :3] += tcp
        self._chunks.append(absolute)
        # Chunk predicted ``age`` steps ago: its row ``age`` is meant for now.
        n = len(self._chunks)
        rows = np.array([self._chunks[i][n - 1 - i] for i in range(n)])
        w = self.decay ** np.arange(n - 1, -1, -1, dtype=float)  # newest weighs most
        now = (rows * w[:, None]).sum(0) / w.sum()
        goal = np.clip(now[:3], self.workspace.lo + 0.005, self.workspace.hi - 0.005)
        seed = self._q_cmd if self._q_cmd is not None else q
        q_new, _ = self.ik.solve(goal, DOWN_ROT, seed)
        base = self._q_cmd if self._q_cmd is not None else q
        self._q_cmd = base + np.clip(q_new - base, -self.max_joint_step, self.max_joint_step)
        self.steps += 1
        self._done_run = self._done_run + 1 if status[1] > 0.5 else 0
        self._fail_run = self._fail_run + 1 if status[2] > 0.5 else 0
        grip_cmd = float(np.clip(now[3], 0.0, 1.0))
        if self.latch_grip and self.grasp.holding and grip_cmd >= 0.5:
            # Holding: squeeze fully. A sagging half command would let the fingers open to follow
            # it, and an opening that merely follows the command would pass for grasp evidence.
            grip_cmd = 1.0
        if self.task in GRASP_TASKS and not self.grasp.held and self.close_box is not None:
            off = -near  # tool vs the object, as the image and fovea show them
            if np.linalg.norm(off[:2]) > self.close_box[0] or abs(off[2]) > self.close_box[1]:
                grip_cmd = 0.0
        if self.task == "home":
            # Every taught home opens the gripper (the task ends open). A cube left in the fingers
            # by an unfinished pick is outside what the network saw, and its own grip output can
            # keep it held forever; the task's rule lets it go where it is.
            grip_cmd = 0.0
        if self._reopen > 0:
            self._reopen -= 1
            grip_cmd = 0.0
        holding = self.grasp.update(grip_cmd, gripper)
        done = self._done_run >= self.confirm_steps
        failed = self._fail_run >= self.confirm_steps
        if done and not failed and not self._grasp_confirmed(holding):
            done = False
            self._rejected += 1
            if self._rejected >= self.reject_limit:  # it insists, without evidence: a missed grasp
                if self.retries < self.max_retries:  # open and try again
                    self.retries += 1
                    self._attempt(reopen=self.reopen_steps)
                    return ArmCommand(self._q_cmd.copy(), 0.0, "retry", 0.0, done=False)
                failed = True
        phase = "failed" if failed else "done" if done else "acting"
        return ArmCommand(self._q_cmd.copy(), grip_cmd, phase,
                            1.0 if done else float(min(0.95, status[1] + 0.5 * (1 - status[0]))),
                            done=done or failed, failed=failed)

    def _grasp_confirmed(self, holding: bool) -> bool:
        if self.task == "pick":
            return holding  # still holding it at the end
        if self.task == "place":
            return self.grasp.held  # held it at some point, released over the bin
        return True


def check_exported(weights_dir: Path, samples: int = 4, seed: int = 0) -> float:
    """Sanity check after export: the ONNX file loads and gives finite outputs. Returns max |out|."""
    rt = PolicyRuntime(weights_dir)
    rng = np.random.default_rng(seed)
    worst = 0.0
    for _ in range(samples):
        img = rng.integers(0, 256, (*IMAGE_HW, 3), dtype=np.uint8)
        prop = rt.norm.proprio_mean + rng.normal(0, 1, PROPRIO_DIM) * rt.norm.proprio_std
        lang = rng.normal(0, 1, EMBED_DIM).astype(np.float32)
        fovea = rng.integers(0, 256, (FOVEA, FOVEA, 3), dtype=np.uint8)
        outputs = rt.infer(img, fovea, prop, lang / np.linalg.norm(lang))
        if not all(np.all(np.isfinite(o)) for o in outputs):
            raise RuntimeError("exported policy gives NaN/inf")
        worst = max(worst, float(np.abs(outputs[0]).max()))
    return worst
