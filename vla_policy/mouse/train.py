"""``seal train-gui``: browser screenshots + expert reaches -> mouse policy -> ONNX + normaliser.

Reproduces ``vla_policy/mouse/weights/`` on a 2-core CPU: record the dataset in headless Chromium
(skipped when ``--data`` holds one and ``--regenerate`` is not given), train, export, check that
onnxruntime gives what torch gives. Each batch takes 16 (page, target) pairs with 8 states of
their reaches each (one image pass shared by the 8); the instruction is a random phrasing of the
target (language augmentation), embedded once per distinct text with the arm's MiniLM encoder.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from vla_policy.language import EMBED_DIM, SentenceEncoder
from vla_policy.plot import line_plot_png

GUI_WEIGHTS = Path(__file__).resolve().parent / "weights"
MODEL_FILE, NORM_FILE, CARD_FILE = "mouse_policy.onnx", "normalizer.json", "model_card.json"
TORCH_FILE = "mouse_policy.pt"  # the same weights for torch (tests compare the two)
CLICK_POS_WEIGHT = 4.0  # click frames are ~1 in 20; a missed click costs the goal
# Batches drawn per task, not per target (12 product targets would else crowd out 5 buttons).
TASK_WEIGHTS = {"button": 0.4, "product": 0.35, "form": 0.15, "search_box": 0.1}


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


def train(data_dir: str | Path, out_dir: str | Path, steps: int = 1500, pairs: int = 16, states: int = 8,
          lr: float = 2e-3, seed: int = 0, threads: int = 1, progress: bool = True, init: str | None = None) -> dict:
    import torch
    from tqdm import tqdm

    from vla_policy.mouse.dataset import load
    from vla_policy.mouse.model import MOTION_SCALE, SCREEN_HW, MouseNet, count_parameters

    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    rng = np.random.default_rng(seed)
    meta, data = load(data_dir)
    screens = torch.from_numpy(data["screens"])
    sample = data["screens"][:: max(1, len(data["screens"]) // 200)].reshape(-1, 3) / 255.0
    img_mean, img_std = sample.mean(0), np.maximum(sample.std(0), 1e-3)
    im = torch.tensor(img_mean, dtype=torch.float32).view(1, 3, 1, 1)
    isd = torch.tensor(img_std, dtype=torch.float32).view(1, 3, 1, 1)
    table, counts = embedding_table(meta, SentenceEncoder())
    # Group the samples by (page, target): one image pass per group in a batch.
    key = data["page"].astype(np.int64) * len(meta["targets"]) + data["target"]
    order = np.argsort(key, kind="stable")
    uniq, starts, sizes = np.unique(key[order], return_index=True, return_counts=True)
    g_page, g_target = uniq // len(meta["targets"]), uniq % len(meta["targets"])
    from sim_worlds.gui.targets import task_of

    g_task = np.array([task_of(meta["targets"][t]) for t in g_target])
    by_task = {t: np.flatnonzero(g_task == t) for t in TASK_WEIGHTS}
    task_names = [t for t in TASK_WEIGHTS if len(by_task[t])]
    task_p = np.array([TASK_WEIGHTS[t] for t in task_names]) / sum(TASK_WEIGHTS[t] for t in task_names)
    state = torch.from_numpy(data["state"])
    motion = torch.from_numpy(data["motion"] / MOTION_SCALE)
    click = torch.from_numpy(data["click"])
    w, h = 640.0, 400.0
    centers = data["centers"] / np.array([w, h], np.float32) * 2 - 1
    model = MouseNet()
    if init:  # continue from earlier weights (a longer schedule in several runs)
        model.load_state_dict(torch.load(init, map_location="cpu"))
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.05)
    bce = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(CLICK_POS_WEIGHT))
    grid = model.softmax.grid  # [HW, 2] cell centres in -1..1
    hh, ww = SCREEN_HW[0] // 4, SCREEN_HW[1] // 4
    cell2 = torch.tensor([(2.0 / ww) ** 2, (2.0 / hh) ** 2])  # one cell, squared, per axis
    history: list[float] = []
    t0 = time.monotonic()
    bar = tqdm(range(steps), desc="train-gui", unit="step", disable=not progress)
    model.train()
    for step in bar:
        tasks = rng.choice(len(task_names), pairs, p=task_p)
        g = np.array([by_task[task_names[k]][rng.integers(len(by_task[task_names[k]]))] for k in tasks])
        idx = order[starts[g][:, None] + (rng.random((pairs, states)) * sizes[g][:, None]).astype(np.int64)]
        pages, tg = g_page[g], g_target[g]
        lang = torch.from_numpy(table[tg, rng.integers(0, counts[tg])])
        img = (screens[pages].permute(0, 3, 1, 2).float() / 255.0 - im) / isd
        aux_t = torch.from_numpy(centers[pages, tg])
        pm, pc, pa = model(img, state[idx], lang)
        loss_m = torch.nn.functional.smooth_l1_loss(pm, motion[idx], beta=0.05)
        loss_c = bce(pc, click[idx])
        loss_a = ((pa - aux_t) ** 2).sum(-1).mean()
        # Heatmap cross-entropy: map 0 puts its mass on the target (a Gaussian of ~1 cell around its
        # centre); far stronger gradients than the squared error of the expected position alone.
        d2 = ((grid[None] - aux_t[:, None]) ** 2 / cell2).sum(-1)
        soft = torch.softmax(-d2 / 2, dim=1)
        loss_h = -(soft * torch.log_softmax(model.target_logits, dim=1)).sum(1).mean()
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
    train_s = time.monotonic() - t0
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.eval()
    export_onnx(model, out / MODEL_FILE)
    torch.save(model.state_dict(), out / TORCH_FILE)
    (out / NORM_FILE).write_text(json.dumps({"image_mean": img_mean.tolist(), "image_std": img_std.tolist(),
                                             "motion_scale": MOTION_SCALE}, indent=1) + "\n")
    smooth = np.convolve(history, np.ones(50) / 50, mode="valid") if len(history) >= 50 else np.array(history)
    line_plot_png(out / "loss.png", smooth, title="train-gui loss", log_y=True)
    card = {"parameters": count_parameters(model), "steps": steps, "pairs": pairs, "states": states, "lr": lr,
            "seed": seed, "train_seconds": round(train_s, 1), "final_loss": float(np.mean(history[-100:])),
            "dataset": {"pages": meta["pages"], "samples": meta["samples"], "seed": meta["seed"],
                        "record_seconds": meta.get("seconds")},
            "targets": meta["targets"], "phrasings": meta["phrasings"]}
    (out / CARD_FILE).write_text(json.dumps(card, indent=2) + "\n")
    return card


def export_onnx(model, path: Path) -> None:
    import torch

    from vla_policy.mouse.model import SCREEN_HW, STATE_DIM

    args = (torch.zeros(1, 3, *SCREEN_HW), torch.zeros(1, 1, STATE_DIM), torch.zeros(1, EMBED_DIM))
    axes = {"image": {0: "batch"}, "state": {0: "batch", 1: "k"}, "lang": {0: "batch"},
            "motion": {0: "batch", 1: "k"}, "click": {0: "batch", 1: "k"}, "aux": {0: "batch"}}
    torch.onnx.export(model, args, str(path), input_names=["image", "state", "lang"],
                      output_names=["motion", "click", "aux"], dynamic_axes=axes, opset_version=17, dynamo=False)


def check_export(model_dir: Path, data_dir: Path | None = None) -> float:
    """onnxruntime vs torch on random inputs is done in tests; here: finite outputs."""
    from vla_policy.mouse.runtime import MouseRuntime

    rt = MouseRuntime(model_dir)
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (200, 320, 3), dtype=np.uint8)
    lang = rng.normal(0, 1, EMBED_DIM).astype(np.float32)
    motion, p_click, aux = rt.infer(img, np.zeros(6, np.float32), lang / np.linalg.norm(lang))
    if not (np.all(np.isfinite(motion)) and np.isfinite(p_click) and np.all(np.isfinite(aux))):
        raise RuntimeError("exported mouse policy gives NaN/inf")
    return float(np.abs(motion).max())


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
    ns = p.parse_args(argv)
    t0 = time.monotonic()
    if ns.regenerate or not (Path(ns.data) / "meta.json").exists():
        from vla_policy.mouse.dataset import generate

        meta = generate(ns.data, pages=ns.pages, seed=ns.seed)
        print(f"[train-gui] dataset: {meta['pages']} pages, {meta['samples']} states in {ns.data} "
              f"({meta['seconds']} s)")
    card = train(ns.data, ns.out, steps=ns.steps, lr=ns.lr, seed=ns.seed, threads=ns.threads, init=ns.init)
    if ns.init:
        card["init"] = ns.init
        (Path(ns.out) / CARD_FILE).write_text(json.dumps(card, indent=2) + "\n")
    check_export(Path(ns.out))
    if ns.dagger_reaches > 0:
        from vla_policy.mouse.dagger import collect

        info = collect(ns.data, ns.out, reaches=ns.dagger_reaches, seed=ns.seed + 1)
        print(f"[train-gui] DAgger: {info}")
        prev = Path(ns.out) / "pre_dagger.pt"
        prev.write_bytes((Path(ns.out) / TORCH_FILE).read_bytes())
        first_s = card["train_seconds"]
        card = train(ns.data, ns.out, steps=ns.dagger_steps, lr=ns.lr / 2, seed=ns.seed + 1, threads=ns.threads,
                     init=str(prev))
        prev.unlink()
        card["dagger"] = {**info, "fine_tune_steps": ns.dagger_steps, "first_train_seconds": first_s}
        (Path(ns.out) / CARD_FILE).write_text(json.dumps(card, indent=2) + "\n")
        check_export(Path(ns.out))
    print(f"[train-gui] {card['parameters']} parameters, {card['steps']} steps in {card['train_seconds']} s, "
          f"final loss {card['final_loss']:.4f}; wrote {ns.out} ({time.monotonic() - t0:.0f} s in all)")
    return 0
