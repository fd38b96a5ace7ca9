"""The policy network: camera image + instruction embedding + proprioception -> an action chunk.

A small conv net whose feature maps are modulated by the instruction (FiLM), read out as image
keypoints by a spatial softmax (expected x, y per channel: sub-pixel positions of what the
instruction names, cf. Levine et al. 2016), joined with proprioception in an MLP that predicts

* ``chunk``  [B, K, 4]: the next K tool targets relative to the current tool position + gripper,
* ``status`` [B, 3]: logits of running / done / failed (the policy's own end of a goal),
* ``aux``    [B, 3]: the target object's position (training signal that speeds up localising).

Everything is normalised outside the network (``Normalizer``), so the ONNX graph is the network.
"""
from __future__ import annotations

import torch
from torch import nn

from vla_policy.language import EMBED_DIM
from vla_policy.preprocess import IMAGE_HW, PROPRIO_DIM


class SpatialSoftmax(nn.Module):
    """[B, C, H, W] -> [B, C*2] expected (x, y) in -1..1 of each channel's softmax map."""

    def __init__(self, h: int, w: int) -> None:
        super().__init__()
        ys, xs = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")
        self.register_buffer("grid", torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=1))  # [HW, 2]
        self.log_temp = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        att = torch.softmax(x.reshape(b, c, h * w) / self.log_temp.exp(), dim=-1)
        return (att @ self.grid).reshape(b, c * 2)


class VlaNet(nn.Module):
    def __init__(self, chunk: int = 8, width: int = 32, keypoints: int = 24, hidden: int = 256) -> None:
        super().__init__()
        h, w = IMAGE_HW
        self.chunk = chunk
        ys, xs = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")
        self.register_buffer("coords", torch.stack([xs, ys])[None])  # CoordConv channels
        self.conv1 = nn.Conv2d(5, width // 2, 5, stride=2, padding=2)
        self.conv2 = nn.Conv2d(width // 2, width, 3, padding=1)
        # Depthwise-separable: a third layer of context for a third of a full conv's cost.
        self.conv3 = nn.Sequential(nn.Conv2d(width, width, 3, padding=1, groups=width), nn.Conv2d(width, width, 1))
        self.keypoints = nn.Conv2d(width, keypoints, 1)
        self.softmax = SpatialSoftmax(h // 2, w // 2)
        self.lang = nn.Sequential(nn.Linear(EMBED_DIM, 128), nn.ReLU())
        self.film = nn.Linear(128, 4 * width)
        self.prop = nn.Sequential(nn.Linear(PROPRIO_DIM, 64), nn.ReLU())
        self.head = nn.Sequential(nn.Linear(2 * keypoints + width + 128 + 64, hidden), nn.ReLU(),
                                  nn.Linear(hidden, hidden), nn.ReLU())
        self.out_chunk = nn.Linear(hidden, chunk * 4)
        self.out_status = nn.Linear(hidden, 3)
        self.out_aux = nn.Linear(hidden, 3)
        self.width = width

    def forward(self, image: torch.Tensor, proprio: torch.Tensor, lang: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        b = image.shape[0]
        l = self.lang(lang)
        g1, b1, g2, b2 = self.film(l).reshape(b, 4, self.width, 1, 1).unbind(1)
        x = torch.cat([image, self.coords.expand(b, -1, -1, -1)], dim=1)
        x = torch.relu(self.conv1(x))
        x = torch.relu(self.conv2(x) * (1 + g1) + b1)
        x = torch.relu(self.conv3(x) * (1 + g2) + b2)
        feats = torch.cat([self.softmax(self.keypoints(x)), x.mean(dim=(2, 3)), l, self.prop(proprio)], dim=1)
        z = self.head(feats)
        return self.out_chunk(z).reshape(b, self.chunk, 4), self.out_status(z), self.out_aux(z)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
