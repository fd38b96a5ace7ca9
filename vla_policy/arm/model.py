"""The policy network: camera image + fovea + instruction embedding + proprioception -> actions.

A small conv net whose feature maps are modulated by the instruction (FiLM), read out as image
keypoints by a spatial softmax (expected x, y per channel: sub-pixel positions of what the
instruction names, cf. Levine et al. 2016); a second small one does the same on the fovea
(a 32x32 full-resolution patch around the policy's own object estimate, ``preprocess``); both
are joined with proprioception in an MLP that predicts

* ``chunk``  [B, K, 4]: the next K tool targets relative to the current tool position + gripper,
* ``status`` [B, 3]: logits of running / done / failed (the policy's own end of a goal),
* ``aux``    [B, 3]: the named object's position, estimated from the image and the instruction
  only (no proprioception: an estimate that could read the arm's own position learns to follow
  the arm, and in closed loop the arm then follows the estimate),
* ``near``   [B, 3]: the named object relative to the tool, in decimetres, from the image, the
  fovea and the instruction only. Cube and fingers shift together when the camera is off its
  nominal pose, so near the grasp this offset is more exact than ``aux`` minus the tool position.

The action head sees the object estimate *relative to the tool* (``obj_est - tcp`` in the world
frame, and ``near``; both detached so they keep meaning "where the object is"): reaching and
grasping become a function of that offset, the same in every layout, instead of a memorised
layout. (``near`` alone is weak along the camera's line of sight, which one view cannot
measure; ``aux`` knows the cube rests on the table. The head gets both.)

Everything is normalised outside the network (``Normalizer``); the few statistics the network
needs to form ``obj_est - tcp`` in metres are buffers set by ``set_frames`` at training time.
"""
from __future__ import annotations

import torch
from torch import nn

from seal_nodes.core.language.encoder import EMBED_DIM
from vla_policy.arm.preprocess import FOVEA, IMAGE_HW, PROPRIO_DIM


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
    def __init__(self, chunk: int = 8, width: int = 32, keypoints: int = 24, hidden: int = 256,
                 fovea_keypoints: int = 8) -> None:
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
        # The fovea: full-resolution pixels around the object estimate, where the grasp is decided.
        self.register_buffer("fcoords", torch.stack(torch.meshgrid(torch.linspace(-1, 1, FOVEA),
                                                                   torch.linspace(-1, 1, FOVEA), indexing="xy"))[None])
        self.fconv1 = nn.Conv2d(5, width // 2, 3, padding=1)
        self.fconv2 = nn.Conv2d(width // 2, width, 3, stride=2, padding=1)
        self.fconv3 = nn.Sequential(nn.Conv2d(width, width, 3, padding=1, groups=width), nn.Conv2d(width, width, 1))
        self.fkeypoints = nn.Conv2d(width, fovea_keypoints, 1)
        self.fsoftmax = SpatialSoftmax(FOVEA // 2, FOVEA // 2)
        self.film_fovea = nn.Linear(128, 2 * width)
        fov = 2 * fovea_keypoints + width
        self.lang = nn.Sequential(nn.Linear(EMBED_DIM, 128), nn.ReLU())
        self.film = nn.Linear(128, 4 * width)
        self.prop = nn.Sequential(nn.Linear(PROPRIO_DIM, 64), nn.ReLU())
        self.loc = nn.Sequential(nn.Linear(2 * keypoints + width + 128, 128), nn.ReLU(),
                                 nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 3))
        # The object relative to the tool, read from image and fovea (no proprioception): the
        # camera's pose jitter moves cube and fingers alike in the image, so their offset
        # survives it, where the world-frame estimate inherits it (~0.6 cm rms per axis).
        self.near = nn.Sequential(nn.Linear(2 * keypoints + width + 128 + fov, 128), nn.ReLU(),
                                  nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 3))
        self.rel = nn.Sequential(nn.Linear(6, 64), nn.ReLU())
        self.head = nn.Sequential(nn.Linear(2 * keypoints + width + 128 + fov + 64 + 64, hidden), nn.ReLU(),
                                  nn.Linear(hidden, hidden), nn.ReLU())
        # Normalisation of aux and of the tool position (proprio[8:11]), set by ``set_frames``.
        for name in ("aux_mean", "tcp_mean"):
            self.register_buffer(name, torch.zeros(3))
        for name in ("aux_std", "tcp_std"):
            self.register_buffer(name, torch.ones(3))
        self.out_chunk = nn.Linear(hidden, chunk * 4)
        self.out_status = nn.Linear(hidden, 3)
        self.width = width

    def forward(self, image: torch.Tensor, fovea: torch.Tensor, proprio: torch.Tensor, lang: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        b = image.shape[0]
        l = self.lang(lang)
        g1, b1, g2, b2 = self.film(l).reshape(b, 4, self.width, 1, 1).unbind(1)
        x = torch.cat([image, self.coords.expand(b, -1, -1, -1)], dim=1)
        x = torch.relu(self.conv1(x))
        x = torch.relu(self.conv2(x) * (1 + g1) + b1)
        x = torch.relu(self.conv3(x) * (1 + g2) + b2)
        vis = torch.cat([self.softmax(self.keypoints(x)), x.mean(dim=(2, 3)), l], dim=1)
        fg, fb = self.film_fovea(l).reshape(b, 2, self.width, 1, 1).unbind(1)
        f = torch.cat([fovea, self.fcoords.expand(b, -1, -1, -1)], dim=1)
        f = torch.relu(self.fconv1(f))
        f = torch.relu(self.fconv2(f) * (1 + fg) + fb)
        f = torch.relu(self.fconv3(f))
        fov = torch.cat([self.fsoftmax(self.fkeypoints(f)), f.mean(dim=(2, 3))], dim=1)
        aux = self.loc(vis)
        near = self.near(torch.cat([vis, fov], dim=1))  # object - tool, decimetres
        obj = aux.detach() * self.aux_std + self.aux_mean
        tcp = proprio[:, 8:11] * self.tcp_std + self.tcp_mean
        rel = self.rel(torch.cat([(obj - tcp) * 10.0, near.detach()], dim=1))
        z = self.head(torch.cat([vis, fov, self.prop(proprio), rel], dim=1))
        return self.out_chunk(z).reshape(b, self.chunk, 4), self.out_status(z), aux, near

    def set_frames(self, norm) -> None:
        """Copy the aux / tool-position statistics of a ``Normalizer`` into the network."""
        with torch.no_grad():
            self.aux_mean.copy_(torch.as_tensor(norm.aux_mean, dtype=torch.float32))
            self.aux_std.copy_(torch.as_tensor(norm.aux_std, dtype=torch.float32))
            self.tcp_mean.copy_(torch.as_tensor(norm.proprio_mean[8:11], dtype=torch.float32))
            self.tcp_std.copy_(torch.as_tensor(norm.proprio_std[8:11], dtype=torch.float32))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
