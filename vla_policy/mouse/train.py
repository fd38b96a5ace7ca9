"""``seal train-gui``: browser screenshots + expert reaches -> mouse policy -> ONNX + normaliser.

Reproduces ``vla_policy/mouse/weights/`` on a 2-core CPU: record the dataset in headless Chromium
(skipped when ``--data`` holds one and ``--regenerate`` is not given), train, export, check that
the export gives finite outputs (the tests compare it with torch). Each batch takes 16 (page, target) pairs with 8 states of
their reaches each (one image pass shared by the 8); the instruction is a random phrasing of the
target (language augmentation: the templates and ``--paraphrases`` free wordings of them per
target, none a held-out test wording), embedded once per distinct text with the arm's MiniLM encoder.
``--wording-only`` teaches a trained policy the free wordings without screenshots
(``vla_policy.mouse.language``).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from seal_nodes.core.language.encoder import EMBED_DIM, SentenceEncoder
from seal_nodes.tools.charts import line_chart
from vla_policy.mouse.preprocess import MOTION_SCALE, SCREEN_HW, STATE_DIM, VIEWPORT
from vla_policy.mouse.runtime import CARD_FILE, GUI_WEIGHTS, MODEL_FILE, NORM_FILE, TORCH_FILE, MouseRuntime

if TYPE_CHECKING:
    import torch

CLICK_POS_WEIGHT = 4.0  # click frames are ~1 in 20; a missed click costs the goal
# Batches drawn per task, not per target (12 product targets would else crowd out 5 buttons).
TASK_WEIGHTS = {"button": 0.4, "product": 0.35, "form": 0.15, "search_box": 0.1}


def free_wordings(targets: list[str], per_target: int, seed: int = 0) -> dict[str, list[str]]:
    """Paraphrases of each target's phrasings for training; none is a wording of the held-out
    test file (``sim_worlds/gui/unseen_instructions.txt``)."""
    from sim_worlds.gui.targets import task_of
    from sim_worlds.gui.wording import UNSEEN_FILE, paraphrases
    from vla_policy.mouse.evaluate import fill, read_templates

    held = [fill(tmpl, t) for task, tmpls in read_templates(UNSEEN_FILE).items() for tmpl in tmpls
            for t in targets if task_of(t) == task]
    return {t: paraphrases(t, per_target, seed, exclude=held) for t in targets}


def embedding_table(meta: dict, encoder: SentenceEncoder) -> tuple[np.ndarray, np.ndarray]:
    targets = meta["targets"]
    n = max(len(meta["phrasings"][t]) for t in targets)
    table = np.zeros((len(targets), n, EMBED_DIM), np.float32)
    counts = np.zeros(len(targets), np.int64)
    for ti, t in enumerate(targets):
        ph = meta["phrasings"][t]
        counts[ti] = len(ph)
        for k in range(n):
            table[ti, k] = encoder.encode(ph[k % len(ph)])
    return table, counts


class _PairSampler:
    """Batches of (page, target) pairs, drawn per task, with several states of their reaches each.

    The samples are grouped by (page, target) so a batch runs one image pass per pair.
    """

    def __init__(self, data: dict[str, np.ndarray], targets: list[str]) -> None:
        from sim_worlds.gui.targets import task_of

        key = data["page"].astype(np.int64) * len(targets) + data["target"]
        self.order = np.argsort(key, kind="stable")
        uniq, self.starts, self.sizes = np.unique(key[self.order], return_index=True, return_counts=True)
        self.page, self.target = uniq // len(targets), uniq % len(targets)
        g_task = np.array([task_of(targets[t]) for t in self.target])
        self.by_task = {t: np.flatnonzero(g_task == t) for t in TASK_WEIGHTS}
        self.tasks = [t for t in TASK_WEIGHTS if len(self.by_task[t])]
        self.task_p = np.array([TASK_WEIGHTS[t] for t in self.tasks]) / sum(TASK_WEIGHTS[t] for t in self.tasks)

    def draw(self, rng: np.random.Generator, pairs: int, states: int) -> tuple[np.ndarray, np.ndarray]:
        """(pair indices [pairs], sample indices [pairs, states])."""
        tasks = rng.choice(len(self.tasks), pairs, p=self.task_p)
        g = np.array([self.by_task[self.tasks[k]][rng.integers(len(self.by_task[self.tasks[k]]))] for k in tasks])
        idx = self.order[self.starts[g][:, None] + (rng.random((pairs, states)) * self.sizes[g][:, None]).astype(np.int64)]
        return g, idx


def _image_stats(screens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std of the screenshots' 0..1 pixels (a subsample of the pages)."""
    sample = screens[:: max(1, len(screens) // 200)].reshape(-1, 3) / 255.0
    return sample.mean(0), np.maximum(sample.std(0), 1e-3)


def _model(init: str | None):
    import torch

    from vla_policy.mouse.model import MouseNet

    model = MouseNet()
    if init:  # continue from trained weights (a longer schedule in several runs)
        model.load_state_dict(torch.load(init, map_location="cpu"))
    return model


def _heatmap_loss(model, aux_t: torch.Tensor) -> torch.Tensor:
    """Map 0 puts its mass on the target (a Gaussian of ~1 cell around its centre): far stronger
    gradients than the squared error of the expected position alone."""
    import torch

    hh, ww = SCREEN_HW[0] // 4, SCREEN_HW[1] // 4
    cell2 = torch.tensor([(2.0 / ww) ** 2, (2.0 / hh) ** 2])  # one cell, squared, per axis
    d2 = ((model.softmax.grid[None] - aux_t[:, None]) ** 2 / cell2).sum(-1)
    soft = torch.softmax(-d2 / 2, dim=1)
    return -(soft * torch.log_softmax(model.target_logits, dim=1)).sum(1).mean()


def _optimise(model, data: dict[str, np.ndarray], sampler: _PairSampler, table: np.ndarray, counts: np.ndarray,
              image_stats: tuple[np.ndarray, np.ndarray], steps: int, pairs: int, states: int, lr: float,
              rng: np.random.Generator, progress: bool) -> list[float]:
    """The training loop; returns the loss of every step."""
    import torch
    from tqdm import tqdm

    screens = torch.from_numpy(data["screens"])
    im = torch.tensor(image_stats[0], dtype=torch.float32).view(1, 3, 1, 1)
    isd = torch.tensor(image_stats[1], dtype=torch.float32).view(1, 3, 1, 1)
    state = torch.from_numpy(data["state"])
    motion = torch.from_numpy(data["motion"] / MOTION_SCALE)
    click = torch.from_numpy(data["click"])
    centers = data["centers"] / np.array(VIEWPORT, np.float32) * 2 - 1
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.05)
    bce = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(CLICK_POS_WEIGHT))
    history: list[float] = []
    bar = tqdm(range(steps), desc="train-gui", unit="step", disable=not progress)
    model.train()
    for step in bar:
        g, idx = sampler.draw(rng, pairs, states)
        pages, tg = sampler.page[g], sampler.target[g]
        lang = torch.from_numpy(table[tg, rng.integers(0, counts[tg])])
        img = (screens[pages].permute(0, 3, 1, 2).float() / 255.0 - im) / isd
        aux_t = torch.from_numpy(centers[pages, tg])
        pm, pc, pa = model(img, state[idx], lang)
        loss_m = torch.nn.functional.smooth_l1_loss(pm, motion[idx], beta=0.05)
        loss_c = bce(pc, click[idx])
        loss_a = ((pa - aux_t) ** 2).sum(-1).mean()
        loss_h = _heatmap_loss(model, aux_t)
        loss = loss_m + 0.3 * loss_c + 2.0 * loss_a + 0.2 * loss_h
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        history.append(float(loss))
        if step % 25 == 0:
            err = ((pa.detach() - aux_t) * torch.tensor([320.0, 200.0])).norm(dim=-1)
            bar.set_postfix(loss=f"{np.mean(history[-25:]):.4f}", aux_med_px=f"{float(err.median()):.1f}",
                            heat=f"{float(loss_h):.2f}")
    model.eval()
    return history


def _save(model, image_stats: tuple[np.ndarray, np.ndarray], history: list[float], out: Path) -> None:
    """ONNX + torch weights, the normaliser and the loss plot."""
    import torch

    out.mkdir(parents=True, exist_ok=True)
    export_onnx(model, out / MODEL_FILE)
    torch.save(model.state_dict(), out / TORCH_FILE)
    (out / NORM_FILE).write_text(json.dumps({"image_mean": image_stats[0].tolist(), "image_std": image_stats[1].tolist(),
                                             "motion_scale": MOTION_SCALE}, indent=1) + "\n")
    smooth = np.convolve(history, np.ones(50) / 50, mode="valid") if len(history) >= 50 else np.array(history)
    line_chart(out / "loss.png", {"loss": smooth}, title="train-gui loss (50-step mean)", xlabel="step",
               ylabel="loss", log_y=True)


def train(data_dir: str | Path, out_dir: str | Path, steps: int = 1500, pairs: int = 16, states: int = 8,
          lr: float = 2e-3, seed: int = 0, threads: int = 1, progress: bool = True, init: str | None = None,
          paraphrases: int = 60) -> dict:
    """Train on the dataset folder, write the policy to ``out_dir``; returns its model card."""
    import torch

    from vla_policy.mouse.dataset import load
    from vla_policy.mouse.model import count_parameters

    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    rng = np.random.default_rng(seed)
    meta, data = load(data_dir)
    free = free_wordings(meta["targets"], paraphrases, seed)
    meta = {**meta, "phrasings": {t: meta["phrasings"][t] + free[t] for t in meta["targets"]}}
    image_stats = _image_stats(data["screens"])
    table, counts = embedding_table(meta, SentenceEncoder())
    sampler = _PairSampler(data, meta["targets"])
    model = _model(init)
    t0 = time.monotonic()
    history = _optimise(model, data, sampler, table, counts, image_stats, steps, pairs, states, lr, rng, progress)
    train_s = time.monotonic() - t0
    out = Path(out_dir)
    _save(model, image_stats, history, out)
    card = {"parameters": count_parameters(model), "steps": steps, "pairs": pairs, "states": states, "lr": lr,
            "seed": seed, "train_seconds": round(train_s, 1), "final_loss": float(np.mean(history[-100:])),
            "dataset": {"pages": meta["pages"], "samples": meta["samples"], "seed": meta["seed"],
                        "record_seconds": meta.get("seconds")},
            "paraphrases_per_target": paraphrases, "targets": meta["targets"], "phrasings": meta["phrasings"]}
    (out / CARD_FILE).write_text(json.dumps(card, indent=2) + "\n")
    return card


def tune_wording(init_dir: str | Path, out_dir: str | Path, per_target: int = 60, steps: int = 1500,
                 seed: int = 0, progress: bool = True) -> dict:
    """The policy in ``init_dir`` with its language adapter fitted to free wordings, written to
    ``out_dir`` (weights, normaliser, loss plot, card); returns the card."""
    import torch

    from sim_worlds.gui.targets import canonical, phrasings
    from vla_policy.mouse.language import fit_adapter

    src, out = Path(init_dir), Path(out_dir)
    card = json.loads((src / CARD_FILE).read_text())
    norm = json.loads((src / NORM_FILE).read_text())
    torch.manual_seed(seed)
    model = _model(str(src / TORCH_FILE))
    targets = card["targets"]
    free = free_wordings(targets, per_target, seed)
    encoder = SentenceEncoder()
    encoder.encode_many([w for t in targets for w in free[t] + phrasings(t)])
    t0 = time.monotonic()
    history, stats = fit_adapter(model, encoder.encode, free, {t: phrasings(t) for t in targets},
                                 {t: canonical(t) for t in targets}, steps=steps, seed=seed, progress=progress)
    model.eval()
    stats.update(per_target=per_target, seed=seed, seconds=round(time.monotonic() - t0, 1))
    _save(model, (np.array(norm["image_mean"]), np.array(norm["image_std"])), history, out)
    card = {**card, "wording": stats, "phrasings": {t: phrasings(t) + free[t] for t in targets}}
    (out / CARD_FILE).write_text(json.dumps(card, indent=2) + "\n")
    check_export(out)
    return card


def export_onnx(model, path: Path) -> None:
    import torch

    args = (torch.zeros(1, 3, *SCREEN_HW), torch.zeros(1, 1, STATE_DIM), torch.zeros(1, EMBED_DIM))
    axes = {"image": {0: "batch"}, "state": {0: "batch", 1: "k"}, "lang": {0: "batch"},
            "motion": {0: "batch", 1: "k"}, "click": {0: "batch", 1: "k"}, "aux": {0: "batch"}}
    torch.onnx.export(model, args, str(path), input_names=["image", "state", "lang"],
                      output_names=["motion", "click", "aux"], dynamic_axes=axes, opset_version=17, dynamo=False)


def check_export(model_dir: Path) -> float:
    """onnxruntime vs torch on random inputs is done in tests; here: finite outputs."""
    rt = MouseRuntime(model_dir)
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (*SCREEN_HW, 3), dtype=np.uint8)
    lang = rng.normal(0, 1, EMBED_DIM).astype(np.float32)
    motion, p_click, aux = rt.infer(img, np.zeros(STATE_DIM, np.float32), lang / np.linalg.norm(lang))
    if not (np.all(np.isfinite(motion)) and np.isfinite(p_click) and np.all(np.isfinite(aux))):
        raise RuntimeError("exported mouse policy gives NaN/inf")
    return float(np.abs(motion).max())


def _dagger_round(ns: argparse.Namespace, first: dict) -> dict:
    """The trained policy rolls out on the recorded pages, the expert labels it; fine-tune on everything."""
    from vla_policy.mouse.dagger import collect

    info = collect(ns.data, ns.out, reaches=ns.dagger_reaches, seed=ns.seed + 1)
    print(f"[train-gui] DAgger: {info}")
    prev = Path(ns.out) / "pre_dagger.pt"
    prev.write_bytes((Path(ns.out) / TORCH_FILE).read_bytes())
    card = train(ns.data, ns.out, steps=ns.dagger_steps, lr=ns.lr / 2, seed=ns.seed + 1, threads=ns.threads,
                 init=str(prev), paraphrases=ns.paraphrases)
    prev.unlink()
    card["dagger"] = {**info, "fine_tune_steps": ns.dagger_steps, "first_train_seconds": first["train_seconds"]}
    (Path(ns.out) / CARD_FILE).write_text(json.dumps(card, indent=2) + "\n")
    check_export(Path(ns.out))
    return card


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="seal train-gui", description=__doc__.splitlines()[0])
    p.add_argument("--data", default="out/gui_dataset", help="dataset folder (recorded when missing)")
    p.add_argument("--out", default=str(GUI_WEIGHTS), help="where the ONNX model, normaliser and plot go")
    p.add_argument("--regenerate", action="store_true", help="record the dataset again even if present")
    p.add_argument("--pages", type=int, default=1200, help="training pages recorded in the browser")
    p.add_argument("--steps", type=int, default=6000)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch threads for training")
    p.add_argument("--init", help="start from these torch weights (mouse_policy.pt) instead of random")
    p.add_argument("--dagger-reaches", type=int, default=0,
                   help="after training: roll the policy out on the recorded pages this many times, "
                        "let the expert label what it visits, and fine-tune on everything")
    p.add_argument("--dagger-steps", type=int, default=1500, help="fine-tuning steps after DAgger")
    p.add_argument("--paraphrases", type=int, default=60, help="free wordings per target besides the templates")
    p.add_argument("--wording-only", action="store_true",
                   help="only fit the language adapter of --init's policy (default: the shipped one) to the "
                        "free wordings; no dataset, no screenshots")
    p.add_argument("--wording-steps", type=int, default=1500, help="adapter steps for --wording-only")
    ns = p.parse_args(argv)
    t0 = time.monotonic()
    if ns.wording_only:
        init = Path(ns.init).parent if ns.init else GUI_WEIGHTS
        card = tune_wording(init, ns.out, ns.paraphrases, ns.wording_steps, ns.seed)
        print(f"[train-gui] wording: {json.dumps(card['wording'])}; wrote {ns.out} "
              f"({time.monotonic() - t0:.0f} s in all)")
        return 0
    if ns.regenerate or not (Path(ns.data) / "meta.json").exists():
        from vla_policy.mouse.dataset import generate

        meta = generate(ns.data, pages=ns.pages, seed=ns.seed)
        print(f"[train-gui] dataset: {meta['pages']} pages, {meta['samples']} states in {ns.data} "
              f"({meta['seconds']} s)")
    card = train(ns.data, ns.out, steps=ns.steps, lr=ns.lr, seed=ns.seed, threads=ns.threads, init=ns.init,
                 paraphrases=ns.paraphrases)
    if ns.init:
        card["init"] = ns.init
        (Path(ns.out) / CARD_FILE).write_text(json.dumps(card, indent=2) + "\n")
    check_export(Path(ns.out))
    if ns.dagger_reaches > 0:
        card = _dagger_round(ns, card)
    print(f"[train-gui] {card['parameters']} parameters, {card['steps']} steps in {card['train_seconds']} s, "
          f"final loss {card['final_loss']:.4f}; wrote {ns.out} ({time.monotonic() - t0:.0f} s in all)")
    return 0
