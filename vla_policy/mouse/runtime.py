"""The mouse policy at run time: ONNX on onnxruntime (``inference.pick_provider``), one goal's loop.

``MouseRuntime.infer`` is one forward pass. ``MousePolicy`` is the controller the GUI loop
drives (``sim_worlds.gui.episode``): per screenshot it returns the next pointer position or a
click. It sees only the screenshot, the pointer and the instruction; the page's DOM boxes given
to ``reset`` are for the expert and are ignored here. ``MousePolicy.ground`` names the trained
phrasing (model card) nearest a free wording, its target and the cosine similarity
(``sim_worlds.gui.wording.read_target`` decides on it).
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seal_nodes.core.language.encoder import EMBED_DIM, SentenceEncoder
from vla_policy.inference import InputError, open_weights, pick_provider
from vla_policy.mouse.preprocess import MAX_MOTION, SCREEN_HW, STATE_DIM, VIEWPORT, pointer_state

GUI_WEIGHTS = Path(__file__).resolve().parent / "weights"
MODEL_FILE, NORM_FILE, CARD_FILE = "mouse_policy.onnx", "normalizer.json", "model_card.json"
TORCH_FILE = "mouse_policy.pt"  # the same weights for torch (tests compare the two)


class UnknownWording(ValueError):
    """A wording the policy cannot be asked about (empty, or a card without phrasings)."""


@dataclass(frozen=True)
class Grounding:
    target: str
    similarity: float
    nearest: str  # the trained phrasing it is nearest


class MouseRuntime:
    def __init__(self, weights_dir: str | Path = GUI_WEIGHTS, threads: int = 1) -> None:
        d = open_weights(weights_dir, (MODEL_FILE, NORM_FILE, CARD_FILE), "mouse policy", "seal train-gui")
        self.session, self.provider = pick_provider(d / MODEL_FILE, threads)
        norm = json.loads((d / NORM_FILE).read_text())
        self.mean = np.array(norm["image_mean"], np.float32)
        self.std = np.array(norm["image_std"], np.float32)
        self.motion_scale = float(norm["motion_scale"])
        self.card = json.loads((d / CARD_FILE).read_text())

    def infer(self, screen: np.ndarray, state: np.ndarray, lang: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
        """(displacement in viewport pixels [2], click probability, target estimate in pixels [2])."""
        if not isinstance(screen, np.ndarray) or screen.dtype != np.uint8 or screen.shape != (*SCREEN_HW, 3):
            raise InputError(f"expected a {SCREEN_HW[0]}x{SCREEN_HW[1]}x3 uint8 screenshot, got "
                             f"{getattr(screen, 'dtype', type(screen).__name__)} {getattr(screen, 'shape', None)}")
        if state.shape != (STATE_DIM,) or lang.shape != (EMBED_DIM,) or not np.all(np.isfinite(state)):
            raise InputError(f"bad policy input: state {state.shape}, lang {lang.shape}")
        img = np.moveaxis((screen.astype(np.float32) / 255.0 - self.mean) / self.std, -1, 0)[None]
        motion, click, aux = self.session.run(None, {"image": img, "state": state.astype(np.float32)[None, None],
                                                     "lang": lang.astype(np.float32)[None]})
        p = float(1.0 / (1.0 + np.exp(-float(click[0, 0]))))
        target = (aux[0] + 1) / 2 * np.array(VIEWPORT, dtype=float)
        return motion[0, 0] * self.motion_scale, p, target


class MousePolicy:
    """One goal's closed loop on screenshots: ``reset`` per instruction, ``act`` per screenshot."""

    def __init__(self, runtime: MouseRuntime | None = None, encoder: SentenceEncoder | None = None,
                 click_threshold: float = 0.5) -> None:
        self.rt = runtime or MouseRuntime()
        self.encoder = encoder or SentenceEncoder()
        self.click_threshold = click_threshold
        self.last_infer_ms = 0.0
        self.last_target = np.zeros(2)
        self._phrasings: tuple[list[str], list[str], np.ndarray] | None = None

    def ground(self, instruction: str) -> Grounding:
        """The trained phrasing nearest ``instruction`` (cosine of MiniLM embeddings) and its target."""
        if not isinstance(instruction, str) or not instruction.strip():
            raise UnknownWording("empty instruction")
        if self._phrasings is None:  # embedded on first use: the node's start-up does not wait for it
            card = self.rt.card.get("phrasings") or {}
            pairs = [(t, p) for t, ps in card.items() for p in ps]
            if not pairs:
                raise UnknownWording("the mouse policy's model card lists no phrasings")
            texts = [p for _, p in pairs]
            self._phrasings = ([t for t, _ in pairs], texts, np.asarray(self.encoder.encode_many(texts)))
        targets, texts, table = self._phrasings
        sims = table @ self.encoder.encode(instruction)
        k = int(np.argmax(sims))
        return Grounding(targets[k], float(sims[k]), texts[k])

    def warm_up(self) -> None:
        self.encoder.encode("click the search button")

    def reset(self, instruction: str, target: str = "", box: object = None, pointer: np.ndarray | None = None) -> None:
        self.lang = self.encoder.encode(instruction)  # once per goal
        self.d1 = np.zeros(2)
        self.d2 = np.zeros(2)
        self.prev: np.ndarray | None = None

    def act(self, screen: np.ndarray, pointer: np.ndarray) -> tuple[np.ndarray | None, bool]:
        pointer = np.asarray(pointer, dtype=float)
        if self.prev is not None:
            self.d2, self.d1 = self.d1, pointer - self.prev
        self.prev = pointer.copy()
        t0 = time.perf_counter()
        motion, p_click, target = self.rt.infer(screen, pointer_state(pointer, self.d1, self.d2), self.lang)
        self.last_infer_ms = (time.perf_counter() - t0) * 1e3
        self.last_target = target
        if p_click > self.click_threshold:
            return None, True
        return pointer + np.clip(motion, -MAX_MOTION, MAX_MOTION), False
