"""``seal train-vla``: expert demonstrations -> trained policy -> ONNX + normaliser + loss plot.

Reproduces the shipped weights from scratch on a 2-core CPU: record the expert episodes and the
localisation views (each skipped when its folder already holds data and ``--regenerate`` is not
given), train, export; then one DAgger round: the trained policy drives takeover episodes that
the expert finishes, and training goes on over all of it. Each export is checked (onnxruntime
gives finite outputs; the tests compare it with torch). Each sample's instruction is drawn from
its task's templates and their seeded paraphrases (``language.training_wordings``: synonyms,
politeness, fillers, word order; never a held-out wording); their embeddings are computed once
per distinct text. ``--tune language`` trains only the instruction's projection (the rest
frozen): how an ``--init`` policy learns new wordings without relearning what it sees.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from seal_nodes.core.language.encoder import EMBED_DIM, SentenceEncoder
from seal_nodes.tools.charts import line_chart
from vla_policy.arm.dataset import DEFAULT_EPISODES, DEFAULT_VIEWS, VIEW_LABEL, generate, load
from vla_policy.arm.language import TRAIN_WORDINGS, UNSEEN_FILE, WORDING_SEED, training_wordings
from vla_policy.arm.normalizer import Normalizer
from vla_policy.arm.runtime import CARD_FILE, MODEL_FILE, NORM_FILE, TORCH_FILE, WEIGHTS_DIR, check_exported

if TYPE_CHECKING:
    import torch

STATUS_WEIGHTS = (1.0, 3.0, 3.0)  # done/failed frames are rare; missing them costs a goal
DEFAULT_STEPS, DEFAULT_TAKEOVER_STEPS = 16000, 6000
VIEW_SHARE = 4  # a quarter of each batch is localisation views (when the data has them)
INIT_CARD_SKIP = ("parameters", "chunk", "dt", "model", "tasks", "colors", "templates")  # the same on both cards
# Takeover (DAgger) episodes per task: where a first policy makes its own mistakes (grasp, release).
DEFAULT_TAKEOVER_EPISODES = {"pick": 100, "place": 150}


def embedding_table(meta: dict, encoder: SentenceEncoder, per_template: int = TRAIN_WORDINGS
                    ) -> tuple[np.ndarray, np.ndarray]:
    """[task, wording, color] -> embedding, and the number of wordings per task (the rows past
    it are padding, never drawn)."""
    tasks, colors = meta["tasks"], meta["colors"]
    wordings = training_wordings(meta["templates"], per_template)
    counts = np.array([len(wordings[t]) for t in tasks], np.int64)
    table = np.zeros((len(tasks), int(counts.max()), len(colors), EMBED_DIM), np.float32)
    for ti, task in enumerate(tasks):
        lines = wordings[task]
        emb = encoder.encode_many([line.format(color=c) for line in lines for c in colors])
        table[ti, :len(lines)] = emb.reshape(len(lines), len(colors), EMBED_DIM)
    return table, counts


def random_fovea(stored, rng: np.random.Generator):
    """Cut each sample's FOVEA patch at a random offset from its stored FOVEA_STORED one.

    The stored patch is centred on the true object; at run time the patch is centred on the
    policy's own estimate, a few pixels off. Up to ±8 px here covers that.
    """
    import torch

    from vla_policy.arm.preprocess import FOVEA

    span = stored.shape[1] - FOVEA
    offs = rng.integers(0, span + 1, (len(stored), 2))
    return torch.stack([s[r:r + FOVEA, c:c + FOVEA] for s, (r, c) in zip(stored, offs)])


@dataclass
class _Tensors:
    """The dataset as training tensors: targets normalised, pixels kept uint8 until a batch needs them."""

    images: torch.Tensor
    foveas: torch.Tensor
    img_mean: torch.Tensor
    img_std: torch.Tensor
    prop: torch.Tensor
    chunk: torch.Tensor
    status: torch.Tensor
    aux: torch.Tensor
    aux_mask: torch.Tensor
    near: torch.Tensor
    task: np.ndarray
    color: np.ndarray

    def pixels(self, u8: torch.Tensor) -> torch.Tensor:
        """[B, H, W, 3] uint8 -> [B, 3, H, W] normalised float."""
        return (u8.permute(0, 3, 1, 2).float() / 255.0 - self.img_mean) / self.img_std


def _fit_normalizer(data: dict[str, np.ndarray], labeled: np.ndarray) -> Normalizer:
    """Statistics of the fully labeled frames (images: a subsample of them)."""
    return Normalizer.fit({"image": data["image"][labeled[:: max(1, len(labeled) // 4000)]],
                           **{k: data[k][labeled] for k in ("proprio", "chunk", "target", "color")}})


def _tensors(data: dict[str, np.ndarray], norm: Normalizer) -> _Tensors:
    import torch

    return _Tensors(
        images=torch.from_numpy(data["image"]),  # uint8, normalised per batch (saves memory)
        foveas=torch.from_numpy(data["fovea"]),
        img_mean=torch.tensor(norm.image_mean, dtype=torch.float32).view(1, 3, 1, 1),
        img_std=torch.tensor(norm.image_std, dtype=torch.float32).view(1, 3, 1, 1),
        prop=torch.from_numpy(norm.proprio(data["proprio"])),
        chunk=torch.from_numpy(norm.chunk(data["chunk"])),
        status=torch.from_numpy(data["status"].astype(np.int64)),
        aux=torch.from_numpy(norm.aux(data["target"])),
        aux_mask=torch.from_numpy((data["color"] >= 0).astype(np.float32)),
        near=torch.from_numpy(((data["target"] - data["proprio"][:, 8:11]) * 10.0).astype(np.float32)),
        task=data["task"].astype(np.int64),
        color=np.maximum(data["color"], 0).astype(np.int64),
    )


def _model(meta: dict, norm: Normalizer, init: str | Path | None):
    import torch

    from vla_policy.arm.model import VlaNet

    model = VlaNet(chunk=meta["chunk"])
    model.set_frames(norm)
    if init:  # continue from trained weights (same architecture)
        model.load_state_dict(torch.load(Path(init) / TORCH_FILE, weights_only=True))
    return model


def _draw(labeled: np.ndarray, views: np.ndarray, batch: int, n_views: int, rng: np.random.Generator) -> np.ndarray:
    """Frame indices of one batch: labeled frames first, then ``n_views`` localisation views."""
    idx = labeled[rng.integers(0, len(labeled), batch - n_views)]
    if n_views:
        idx = np.r_[idx, views[rng.integers(0, len(views), n_views)]]
    return idx


def _loss(outputs: tuple, t: _Tensors, idx: np.ndarray, n_act: int, ce) -> torch.Tensor:
    """Action chunk + status on the first ``n_act`` samples; object estimate and offset on all."""
    import torch

    pred_chunk, pred_status, pred_aux, pred_near = outputs
    act = slice(0, n_act)  # views teach the object estimate only
    loss_chunk = torch.nn.functional.smooth_l1_loss(pred_chunk[act], t.chunk[idx[act]], beta=0.2)
    loss_status = ce(pred_status[act], t.status[idx[act]])
    m = t.aux_mask[idx].unsqueeze(1)
    loss_aux = ((pred_aux - t.aux[idx]) ** 2 * m).sum() / m.sum().clamp(min=1.0) / 3
    # Huber in decimetres: exact near the object, where it matters; a far tool (maybe out
    # of the picture) costs only linearly.
    err_near = torch.nn.functional.smooth_l1_loss(pred_near, t.near[idx], beta=0.5, reduction="none")
    loss_near = (err_near * m).sum() / m.sum().clamp(min=1.0) / 3
    return loss_chunk + 0.3 * loss_status + 1.0 * loss_aux + 1.0 * loss_near


def _optimise(model, t: _Tensors, table: np.ndarray, counts: np.ndarray, labeled: np.ndarray, views: np.ndarray,
              steps: int, batch: int, lr: float, rng: np.random.Generator, progress: bool) -> list[float]:
    """The training loop; returns the loss of every step."""
    import torch
    from tqdm import tqdm

    n_views = min(batch // VIEW_SHARE, len(views))  # per batch
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.05)
    ce = torch.nn.CrossEntropyLoss(weight=torch.tensor(STATUS_WEIGHTS))
    history: list[float] = []
    bar = tqdm(range(steps), desc="train-vla", unit="step", disable=not progress)
    model.train()
    for step in bar:
        idx = _draw(labeled, views, batch, n_views, rng)
        tmpl = rng.integers(0, counts[t.task[idx]])
        lang = torch.from_numpy(table[t.task[idx], tmpl, t.color[idx]])
        img = t.pixels(t.images[idx])
        fov = t.pixels(random_fovea(t.foveas[idx], rng))
        loss = _loss(model(img, fov, t.prop[idx], lang), t, idx, batch - n_views, ce)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        history.append(loss.item())
        if step % 50 == 0:
            bar.set_postfix(loss=f"{np.mean(history[-50:]):.4f}")
    model.eval()
    return history


def _save(model, norm: Normalizer, history: list[float], out: Path) -> None:
    """ONNX + torch weights, the normaliser and the loss plot."""
    import torch

    out.mkdir(parents=True, exist_ok=True)
    export_onnx(model, out / MODEL_FILE)
    torch.save(model.state_dict(), out / TORCH_FILE)
    norm.save(out / NORM_FILE)
    smooth = np.convolve(history, np.ones(50) / 50, mode="valid") if len(history) >= 50 else np.array(history)
    line_chart(out / "loss.png", {"loss": smooth}, title="train-vla loss (50-step mean)", xlabel="step",
               ylabel="loss", log_y=True)


def train(data_dir: str | Path | list[str | Path], out_dir: str | Path, steps: int = 10000, batch: int = 32, lr: float = 1e-3,
          seed: int = 0, threads: int = 1, progress: bool = True, init: str | Path | None = None,
          wordings: int = TRAIN_WORDINGS, tune: str = "all") -> dict:
    """Train on the dataset folder(s), write the policy to ``out_dir``; returns its model card.

    ``wordings``: instructions per template (1: the templates alone); ``tune``: ``all`` or
    ``language`` (only the instruction's projection learns)."""
    import torch

    from vla_policy.arm.model import count_parameters

    torch.manual_seed(seed)
    torch.set_num_threads(threads)  # threads beyond the free cores spin-wait in OpenMP and slow it down
    rng = np.random.default_rng(seed)
    meta, data = load(data_dir)
    labeled = np.flatnonzero(data["labeled"] == 1)  # full labels (not a learner's own frames)
    views = np.flatnonzero(data["labeled"] == VIEW_LABEL)  # localisation views: target only
    if tune == "language" and init is None:
        raise ValueError("tune='language' needs init weights to keep")
    # A frozen network works only in the normalisation it was trained in.
    norm = Normalizer.load(Path(init) / NORM_FILE) if tune == "language" else _fit_normalizer(data, labeled)
    table, counts = embedding_table(meta, SentenceEncoder(), wordings)
    t = _tensors(data, norm)
    model = _model(meta, norm, init)
    if tune == "language":
        for name, p in model.named_parameters():
            p.requires_grad_(name.startswith("lang."))
    t0 = time.monotonic()
    history = _optimise(model, t, table, counts, labeled, views, steps, batch, lr, rng, progress)
    train_s = time.monotonic() - t0
    out = Path(out_dir)
    _save(model, norm, history, out)
    card = {"parameters": count_parameters(model), "steps": steps, "init": str(init) if init else None, "batch": batch, "lr": lr, "seed": seed,
            "train_seconds": round(train_s, 1), "final_loss": float(np.mean(history[-200:])),
            "dataset": {"episodes": meta["episodes"], "frames": len(data["status"]), "labeled_frames": len(labeled),
                        "views": len(views), "seed": meta["seed"],
                        "folders": meta["folders"]},
            "chunk": meta["chunk"], "dt": meta["dt"], "model": {"chunk": meta["chunk"]}, "tasks": meta["tasks"], "colors": meta["colors"],
            "templates": meta["templates"], "tune": tune,
            "language": {"wordings_per_template": wordings, "wordings": int(counts.sum()), "seed": WORDING_SEED,
                         "held_out": str(UNSEEN_FILE.relative_to(UNSEEN_FILE.parents[2]))}}
    (out / CARD_FILE).write_text(json.dumps(card, indent=2) + "\n")
    return card


def export_onnx(model, path: Path) -> None:
    import torch

    from seal_nodes.core.language.encoder import EMBED_DIM
    from vla_policy.arm.preprocess import FOVEA, IMAGE_HW, PROPRIO_DIM

    args = (torch.zeros(1, 3, *IMAGE_HW), torch.zeros(1, 3, FOVEA, FOVEA), torch.zeros(1, PROPRIO_DIM),
            torch.zeros(1, EMBED_DIM))
    axes = {k: {0: "batch"} for k in ("image", "fovea", "proprio", "lang", "chunk", "status", "aux", "near")}
    torch.onnx.export(model, args, str(path), input_names=["image", "fovea", "proprio", "lang"],
                      output_names=["chunk", "status", "aux", "near"], dynamic_axes=axes, opset_version=17,
                      dynamo=False)


def _record(ns: argparse.Namespace) -> list[str]:
    """The base dataset folders (expert episodes, localisation views), recorded where missing."""
    if ns.regenerate or not (Path(ns.data) / "meta.json").exists():
        episodes = {k: max(1, round(v * ns.episodes_scale)) for k, v in DEFAULT_EPISODES.items()}
        meta = generate(ns.data, episodes, seed=ns.seed, workers=ns.workers)
        print(f"[train-vla] dataset: {meta['episodes']} episodes, {meta['frames']} frames in {ns.data}")
    base = [ns.data]
    if ns.views > 0:
        views = f"{str(ns.data).rstrip('/')}_views"
        if ns.regenerate or not (Path(views) / "meta.json").exists():
            meta = generate(views, views=ns.views, seed=ns.seed, workers=ns.workers)
            print(f"[train-vla] localisation views: {meta['frames']} in {views}")
        base.append(views)
    return base


def _dagger_round(ns: argparse.Namespace, base: list[str], first: dict) -> dict:
    """The trained policy drives takeover episodes the expert finishes; train on everything."""
    (Path(ns.out) / "loss.png").replace(Path(ns.out) / "loss_base.png")
    takeover = ns.takeover_data or f"{str(ns.data).rstrip('/')}_takeover"
    episodes = {k: max(1, round(v * ns.episodes_scale)) for k, v in DEFAULT_TAKEOVER_EPISODES.items()}
    meta = generate(takeover, episodes, seed=ns.seed, workers=ns.workers, learner_dir=ns.out)
    print(f"[train-vla] takeover dataset: {meta['episodes']} episodes, {meta['frames']} frames in {takeover}")
    card = train(base + [takeover], ns.out, steps=ns.takeover_steps, batch=ns.batch, lr=ns.lr * 0.5,
                 seed=ns.seed + 1, threads=ns.threads, init=ns.out, wordings=ns.wordings, tune=ns.tune)
    card["base"] = {k: first[k] for k in ("steps", "lr", "seed", "train_seconds", "final_loss", "dataset")}
    (Path(ns.out) / CARD_FILE).write_text(json.dumps(card, indent=2) + "\n")
    check_exported(Path(ns.out))
    return card


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="seal train-vla", description=__doc__.splitlines()[0])
    p.add_argument("--data", default="out/vla_dataset", help="dataset folder (recorded when missing)")
    p.add_argument("--out", default=str(WEIGHTS_DIR), help="where the ONNX model, normaliser and plot go")
    p.add_argument("--regenerate", action="store_true", help="record the dataset again even if present")
    p.add_argument("--episodes-scale", type=float, default=1.0, help="scale the default episode counts")
    p.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--init", help="start from the weights in this folder instead of from scratch")
    p.add_argument("--wordings", type=int, default=TRAIN_WORDINGS,
                   help="instructions per template: the template and its paraphrases (1: the templates alone)")
    p.add_argument("--tune", choices=("all", "language"), default="all",
                   help="what learns: everything, or only the instruction's projection (with --init: new "
                        "wordings, the rest kept)")
    p.add_argument("--takeover-steps", type=int, default=DEFAULT_TAKEOVER_STEPS,
                   help="then record takeover episodes with the trained policy and train this many more "
                        "steps on both datasets (DAgger round; 0: skip)")
    p.add_argument("--takeover-data", help="takeover dataset folder (default: DATA_takeover; always recorded anew)")
    p.add_argument("--views", type=int, default=DEFAULT_VIEWS,
                   help="localisation views (still frames of fresh layouts) in DATA_views; 0: none")
    p.add_argument("--workers", type=int, default=2, help="processes recording episodes")
    p.add_argument("--threads", type=int, default=min(4, len(os.sched_getaffinity(0))),
                   help="torch threads for training (default: the cores, up to 4; use 1 while other jobs run: "
                        "threads that wait for busy cores spin and run far slower)")
    ns = p.parse_args(argv)
    if ns.tune == "language" and not ns.init:
        p.error("--tune language needs --init (the weights whose language it widens)")
    t0 = time.monotonic()
    prior = json.loads((Path(ns.init) / CARD_FILE).read_text()) if ns.init else None  # before --out overwrites it
    base = _record(ns)
    card = train(base, ns.out, steps=ns.steps, batch=ns.batch, lr=ns.lr, seed=ns.seed, threads=ns.threads,
                 init=ns.init, wordings=ns.wordings, tune=ns.tune)
    check_exported(Path(ns.out))
    if ns.takeover_steps > 0:
        card = _dagger_round(ns, base, card)
    if prior is not None:  # how the weights it started from were trained
        card["init_card"] = {k: v for k, v in prior.items() if k not in INIT_CARD_SKIP}
        (Path(ns.out) / CARD_FILE).write_text(json.dumps(card, indent=2) + "\n")
    print(f"[train-vla] {card['parameters']} parameters, {card['steps']} steps in {card['train_seconds']} s, "
          f"final loss {card['final_loss']:.4f}; wrote {ns.out} ({time.monotonic() - t0:.0f} s in all)")
    return 0
