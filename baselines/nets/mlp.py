"""The multi-robot MLP baseline (``VanillaMLP``, docs/networks.md §6.1).

A plain MLP on the whole zero-padded 624-wide observation: it sees limbs by their storage slot, so
unlike the transformers and the hypernetwork it is **not** invariant to how a robot's limbs are
ordered (``tests/test_nets_invariance.py`` shows this).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from unimal_gym.layout import ACTS_PER_LIMB, LIMB_OBS_DIM, MAX_LIMBS, check_task

from .layers import TERRAIN_DIMS, TerrainEncoder, mlp
from .obs import limb_view, mask_limb_outputs, require


@dataclass(frozen=True)
class MLPConfig:
    """Configuration of :class:`MultiRobotMLP`."""

    layer_num: int = 2
    """256-wide hidden activations (LAYER_NUM): 2 on FT, 3 on VT/Obstacle."""
    hidden_dim: int = 256
    """Hidden width (HIDDEN_DIM)."""
    terrain: bool = False
    """Concatenate φ(hfield) after the first hidden activation (VT, Obstacle)."""
    dropout: float = 0.0
    """Dropout after the first hidden activation (MODEL.MLP.DROPOUT)."""


def multi_robot_mlp(task: str) -> MLPConfig:
    """The paper's multi-robot MLP for a task: 624-256-256-24 on FT, 3 × 256 with terrain otherwise."""
    check_task(task)
    return MLPConfig(layer_num=2 if task == "ft" else 3, terrain=task != "ft")


class MultiRobotMLP(nn.Module):
    """``h = ReLU((W x + b) / n)`` on the padded 624-vector (padded limbs zeroed, n real limbs), then
    [φ(hfield)], further ReLU layers and a linear output (docs/networks.md §6.1).

    :param config: the architecture.
    :param out_per_limb: 2 for the actor, 1 for the critic (12 per-limb values).
    """

    def __init__(self, config: MLPConfig, out_per_limb: int = ACTS_PER_LIMB) -> None:
        super().__init__()
        self.config = config
        self.out_per_limb = out_per_limb
        h = config.hidden_dim
        self.input_layer = nn.Linear(MAX_LIMBS * LIMB_OBS_DIM, h)
        self.dropout = nn.Dropout(config.dropout)
        self.terrain_encoder = TerrainEncoder() if config.terrain else None
        dims = [h + (TERRAIN_DIMS[-1] if config.terrain else 0)] + [h] * (config.layer_num - 1)
        self.hidden = mlp(dims) if config.layer_num > 1 else nn.Identity()
        self.output_layer = nn.Linear(dims[-1], MAX_LIMBS * out_per_limb)

    def forward(self, obs: Mapping[str, Tensor]) -> Tensor:
        """:param obs: batched observation dict. :return: (B, 12·k) limb-major; absent slots are 0."""
        name = type(self).__name__
        mask = require(obs, "obs_padding_mask", name)  # (B, 12)
        x = limb_view(require(obs, "proprioceptive", name), LIMB_OBS_DIM, "proprioceptive")  # (B, 12, 52)
        x = x.masked_fill(mask.unsqueeze(-1), 0.0).flatten(1)
        n = (~mask).sum(-1, keepdim=True).to(x.dtype)
        h = self.dropout(torch.relu(self.input_layer(x) / n))
        if self.terrain_encoder is not None:
            h = torch.cat([h, self.terrain_encoder(require(obs, "hfield", name))], dim=-1)
        y = self.output_layer(self.hidden(h))
        return mask_limb_outputs(y.reshape(len(y), MAX_LIMBS, self.out_per_limb), obs)
