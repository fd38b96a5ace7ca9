"""The policy network: camera image + instruction embedding + proprioception -> an action chunk.

A small conv net whose feature maps are modulated by the instruction (FiLM), read out as image
keypoints by a spatial softmax (expected x, y per channel: sub-pixel positions of what the
instruction names, cf. Levine et al. 2016), joined with proprioception in an MLP that predicts

* ``chunk``  [B, K, 4]: the next K tool targets relative to the current tool position + gripper,
* ``status`` [B, 3]: logits of running / done / failed (the policy's own end of a goal),
* ``aux``    [B, 3]: the named object's position, estimated from the image and the instruction
  only (no proprioception: an estimate that could read the arm's own position learns to follow
  the arm, and in closed loop the arm then follows the estimate).

The action head sees the object estimate *relative to the tool* (``obj_est - tcp``, in the
world frame, detached so it keeps meaning "where the object is"): reaching and grasping become
a function of that offset, the same in every layout, instead of a memorised layout.

Everything is normalised outside the network (``Normalizer``); the few statistics the network
needs to form ``obj_est - tcp`` in metres are buffers set by ``set_frames`` at training time.
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
        self.loc = nn.Sequential(nn.Linear(2 * keypoints + width + 128, 128), nn.ReLU(),
                                 nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 3))
        self.rel = nn.Sequential(nn.Linear(3, 64), nn.ReLU())
        self.head = nn.Sequential(nn.Linear(2 * keypoints + width + 128 + 64 + 64, hidden), nn.ReLU(),
                                  nn.Linear(hidden, hidden), nn.ReLU())
        # Normalisation of aux and of the tool position (proprio[8:11]), set by ``set_frames``.
        for name in ("aux_mean", "tcp_mean"):
            self.register_buffer(name, torch.zeros(3))
        for name in ("aux_std", "tcp_std"):
            self.register_buffer(name, torch.ones(3))
        self.out_chunk = nn.Linear(hidden, chunk * 4)
        self.out_status = nn.Linear(hidden, 3)
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
        vis = torch.cat([self.softmax(self.keypoints(x)), x.mean(dim=(2, 3)), l], dim=1)
        aux = self.loc(vis)
        obj = aux.detach() * self.aux_std + self.aux_mean
        tcp = proprio[:, 8:11] * self.tcp_std + self.tcp_mean
        rel = self.rel((obj - tcp) * 10.0)  # decimetres
        z = self.head(torch.cat([vis, self.prop(proprio), rel], dim=1))
        return self.out_chunk(z).reshape(b, self.chunk, 4), self.out_status(z), aux

    def set_frames(self, norm) -> None:
        """Copy the aux / tool-position statistics of a ``Normalizer`` into the network."""
        with torch.no_grad():
            self.aux_mean.copy_(torch.as_tensor(norm.aux_mean, dtype=torch.float32))
            self.aux_std.copy_(torch.as_tensor(norm.aux_std, dtype=torch.float32))
            self.tcp_mean.copy_(torch.as_tensor(norm.proprio_mean[8:11], dtype=torch.float32))
            self.tcp_std.copy_(torch.as_tensor(norm.proprio_std[8:11], dtype=torch.float32))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
