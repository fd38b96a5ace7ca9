"""The mouse policy network: screenshot + instruction embedding + pointer state -> pointer motion
and click.

Same recipe as the arm's ``VlaNet``: a conv net on the (half-scale) screenshot with CoordConv
channels, feature maps modulated by the instruction (FiLM) at every stage, dilated layers for the
context a grid cell needs ("third row, second column"), read out as keypoints by a spatial
softmax. Keypoint 0 is trained to sit on the named target (``aux``), and the head sees it
relative to the pointer. Outputs, all normalised outside the network (``preprocess``, ``normalizer.json``):

* ``motion`` [B, K, 2]: the next pointer displacement (pixels / ``MOTION_SCALE``),
* ``click``  [B, K]:    click logit (the pointer is at rest on the target),
* ``aux``    [B, 2]:    the target's centre in -1..1 viewport coordinates.

``state`` may carry K pointer states per image ([B, K, STATE_DIM]): training shares one image
pass across several states of the same reach; at run time K = 1.
"""
from __future__ import annotations

import torch
from torch import nn

from seal_nodes.core.language.encoder import EMBED_DIM
from vla_policy.mouse.preprocess import SCREEN_HW, STATE_DIM


class SpatialSoftmax(nn.Module):
    def __init__(self, h: int, w: int) -> None:
        super().__init__()
        ys, xs = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")
        self.register_buffer("grid", torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=1))
        self.log_temp = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        att = torch.softmax(x.reshape(b, c, h * w) / self.log_temp.exp(), dim=-1)
        return att @ self.grid  # [B, C, 2]


class MouseNet(nn.Module):
    def __init__(self, width: int = 32, keypoints: int = 12, hidden: int = 256) -> None:
        super().__init__()
        h, w = SCREEN_HW
        ys, xs = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")
        self.register_buffer("coords", torch.stack([xs, ys])[None])
        self.conv1 = nn.Conv2d(5, 16, 5, stride=2, padding=2)  # 100x160
        self.conv2 = nn.Conv2d(16, width, 3, stride=2, padding=1)  # 50x80
        self.conv3 = nn.Conv2d(width + 2, width, 3, padding=1)
        self.conv4 = nn.Conv2d(width, width, 3, padding=2, dilation=2)
        self.conv5 = nn.Conv2d(width, width, 3, padding=4, dilation=4)
        self.conv6 = nn.Conv2d(width, width, 3, padding=8, dilation=8)
        self.kp = nn.Conv2d(width, keypoints, 1)
        self.softmax = SpatialSoftmax(h // 4, w // 4)
        ys4, xs4 = torch.meshgrid(torch.linspace(-1, 1, h // 4), torch.linspace(-1, 1, w // 4), indexing="ij")
        self.register_buffer("coords4", torch.stack([xs4, ys4])[None])
        self.lang = nn.Sequential(nn.Linear(EMBED_DIM, 128), nn.ReLU())
        self.film = nn.Linear(128, 8 * width)
        self.state = nn.Sequential(nn.Linear(STATE_DIM + 2, 64), nn.ReLU())
        self.head = nn.Sequential(nn.Linear(2 * keypoints + 128 + 64, hidden), nn.ReLU(),
                                  nn.Linear(hidden, hidden), nn.ReLU())
        self.out_motion = nn.Linear(hidden, 2)
        self.out_click = nn.Linear(hidden, 1)
        self.width = width

    def forward(self, image: torch.Tensor, state: torch.Tensor, lang: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        b = image.shape[0]
        l = self.lang(lang)
        f = self.film(l).reshape(b, 8, self.width, 1, 1)
        x = torch.cat([image, self.coords.expand(b, -1, -1, -1)], dim=1)
        x = torch.relu(self.conv1(x))
        x = torch.relu(self.conv2(x) * (1 + f[:, 0]) + f[:, 1])
        x = torch.cat([x, self.coords4.expand(b, -1, -1, -1)], dim=1)
        x = torch.relu(self.conv3(x) * (1 + f[:, 2]) + f[:, 3])
        x = x + torch.relu(self.conv4(x) * (1 + f[:, 4]) + f[:, 5])
        x = x + torch.relu(self.conv5(x))
        x = x + torch.relu(self.conv6(x) * (1 + f[:, 6]) + f[:, 7])
        maps = self.kp(x)
        if self.training:  # map 0's logits: the target heatmap loss (training only; not exported)
            self.target_logits = maps[:, 0].flatten(1) / self.softmax.log_temp.exp()
        kps = self.softmax(maps)  # [B, C, 2]
        aux = kps[:, 0]
        if state.dim() == 2:
            state = state[:, None]
        k = state.shape[1]
        rel = aux[:, None, :] - state[..., :2]  # the target relative to the pointer
        s = self.state(torch.cat([state, rel], dim=-1))  # [B, K, 64]
        glob = torch.cat([kps.reshape(b, -1), l], dim=1)[:, None].expand(-1, k, -1)
        z = self.head(torch.cat([glob, s], dim=-1))
        return self.out_motion(z), self.out_click(z)[..., 0], aux


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
