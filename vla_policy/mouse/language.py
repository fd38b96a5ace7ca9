"""Teach a trained mouse policy free wordings: fit its language adapter, nothing else.

The instruction reaches ``MouseNet`` only through ``model.lang`` (embedding -> 128-d code) and
that code drives the FiLM layers and the head, so a wording whose code equals the code of a
phrasing the policy clicks right is clicked right too. ``fit_adapter`` trains ``model.lang`` so
that every free wording of a target gives the (frozen) code of the target's canonical phrasing,
while every training phrasing keeps its own code: the vision, FiLM and head weights stay as they
are, and no screenshot is needed.
"""
from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np


def _codes(adapter, emb: np.ndarray):
    import torch

    return adapter(torch.from_numpy(emb))


def fit_adapter(model, encode: Callable[[str], np.ndarray], wordings: dict[str, list[str]],
                anchors: dict[str, list[str]], canonical: dict[str, str], steps: int = 1500, lr: float = 1e-3,
                anchor_weight: float = 4.0, holdout: float = 0.15, seed: int = 0,
                progress: bool = True) -> tuple[list[float], dict]:
    """Fit ``model.lang`` in place; returns the loss per step and held-out figures.

    ``wordings``: target -> free wordings; ``anchors``: target -> training phrasings (keep their
    codes); ``canonical``: target -> the phrasing whose code the wordings are taught. A share
    ``holdout`` of the wordings is kept out of the fit to report how the codes generalise
    (nearest canonical code = the right target).
    """
    import torch
    from tqdm import tqdm

    targets = list(wordings)
    rng = np.random.default_rng(seed)
    items = [(w, ti) for ti, t in enumerate(targets) for w in wordings[t]]
    order = rng.permutation(len(items))
    n_val = int(len(items) * holdout)
    val, fit = [items[i] for i in order[:n_val]], [items[i] for i in order[n_val:]]
    anchor_texts = [a for t in targets for a in anchors[t]]
    old = copy.deepcopy(model.lang).eval()
    with torch.no_grad():
        canon = _codes(old, np.stack([encode(canonical[t]) for t in targets]))
        anchor_goal = _codes(old, np.stack([encode(a) for a in anchor_texts]))
    x_fit = torch.from_numpy(np.stack([encode(w) for w, _ in fit]))
    y_fit = canon[torch.tensor([ti for _, ti in fit])]
    x_anchor = torch.from_numpy(np.stack([encode(a) for a in anchor_texts]))
    scale = float((canon ** 2).sum(1).mean())  # losses relative to a code's size
    for p in model.parameters():
        p.requires_grad_(False)
    for p in model.lang.parameters():
        p.requires_grad_(True)
    opt = torch.optim.Adam(model.lang.parameters(), lr=lr)
    history: list[float] = []
    bar = tqdm(range(steps), desc="train-gui wording", unit="step", disable=not progress)
    for step in bar:
        loss_w = ((model.lang(x_fit) - y_fit) ** 2).sum(1).mean() / scale
        loss_a = ((model.lang(x_anchor) - anchor_goal) ** 2).sum(1).mean() / scale
        loss = loss_w + anchor_weight * loss_a
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        history.append(float(loss))
        if step % 100 == 0:
            bar.set_postfix(wording=f"{float(loss_w):.4f}", anchor=f"{float(loss_a):.5f}")
    for p in model.parameters():
        p.requires_grad_(True)
    stats = {"fit_wordings": len(fit), "held_out_wordings": len(val), "anchors": len(anchor_texts),
             "steps": steps, "lr": lr, "anchor_weight": anchor_weight,
             "held_out_nearest_code_right": _nearest_right(model.lang, old, encode, val, canon),
             "anchor_code_error": round(float(loss_a), 6)}
    return history, stats


def _nearest_right(adapter, old, encode: Callable[[str], np.ndarray], items: list[tuple[str, int]], canon) -> dict:
    """Share of ``items`` whose code is nearest their own target's canonical code, before and after."""
    import torch

    if not items:
        return {"before": None, "after": None}
    emb = np.stack([encode(w) for w, _ in items])
    truth = torch.tensor([ti for _, ti in items])
    out = {}
    with torch.no_grad():
        for name, net in (("before", old), ("after", adapter)):
            d = torch.cdist(_codes(net, emb), canon)
            out[name] = round(float((d.argmin(1) == truth).float().mean()), 3)
    return out
