"""The HyperDistill student: a morphology-conditioned hypernetwork that generates a small MLP per robot.

docs/networks.md §5. Context encoders embed each limb's 53-dim context; three hypernetwork heads generate

* the input layer, per limb: W_i (17 × 256), b_i (256), summed over real limbs before the ReLU;
* the hidden layers, from the masked mean limb embedding: W_k (256 × 256, or 320 × 256 after the
  terrain concatenation on VT/Obstacle), b_k;
* the output layer, per limb: W_i (256 × 2), b_i (2).

For one robot the generated network is a plain MLP 204 → 256 [+64 terrain] → 256 (→ 256) → 24
(:meth:`HyperDistill.generate`, :class:`GeneratedMLP`). On VT/Obstacle φ(hfield) is concatenated to
the first hidden activation after its ReLU (docs/networks.md §5.5: our reconstruction).

Training-time weights are generated once per robot present in the batch (``generation="per_robot"``)
and applied with batched matmuls over the samples of each robot; ``"per_sample"`` generates weights
for every sample, as the original does, and is kept for comparison (``benchmarks/hn_generation.py``).
One difference follows: with context-embedding dropout on, ``per_robot`` draws one dropout mask per
robot and batch instead of one per sample.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal

import torch
from torch import Tensor, nn

from unimal_gym.layout import ACTS_PER_LIMB, CONTEXT_DIM, MAX_LIMBS, check_task

from .layers import TERRAIN_DIMS, HeadInit, HypernetHead, PreLNEncoderLayer, TerrainEncoder, mlp, robot_groups
from .obs import (
    STATE_DIM,
    limb_view,
    mask_limb_outputs,
    require,
    student_state,
)

Aggregation = Literal["sum", "limb_num", "sqrt_limb_num", "max_limb_num"]


@dataclass(frozen=True)
class HyperDistillConfig:
    """Configuration of :class:`HyperDistill` (docs/networks.md §5; names after ``MODEL.HYPERNET`` / ``MODEL.MLP``)."""

    layer_num: int = 2
    """256-wide hidden activations of the generated MLP: 2 on FT, 3 on VT/Obstacle (LAYER_NUM)."""
    hidden_dim: int = 256
    """Width of the generated MLP (HIDDEN_DIM)."""
    embed_dim: int = 128
    """Context embedding width (CONTEXT_EMBED_SIZE)."""
    context_encoder: Literal["transformer", "mlp"] = "transformer"
    """Per-limb context encoder: one pre-LN transformer layer (default) or a per-limb ReLU MLP."""
    context_heads: int = 2
    """Heads of the transformer context encoder (CONTEXT_TF_ENCODER_NHEAD)."""
    context_ff_dim: int = 256
    """Feed-forward width of the transformer context encoder (CONTEXT_TF_ENCODER_FF_DIM)."""
    mlp_encoder_layers: int = 3
    """Linear layers of the MLP context encoder (ENCODER_LAYER_NUM)."""
    share_context_encoder: bool = False
    """One encoder for all three heads instead of three (SHARE_CONTEXT_ENCODER)."""
    embedding_dropout: float = 0.1
    """Dropout on the context embeddings, active in train mode (EMBEDDING_DROPOUT; paper 0.1)."""
    init: HeadInit = "bias_init"
    """Hypernetwork head initialisation: the released HN_INIT_STRATEGY's ``bias_init`` / ``bias_init_v2``, or
    ``uniform``, ModuMorph's head scheme (not the released code's fallback, which draws the weight matrix)."""
    input_aggregation: Aggregation = "sum"
    """How per-limb input contributions combine (INPUT_AGGREGATION)."""
    terrain: bool = False
    """Concatenate φ(hfield) to the first hidden activation (VT, Obstacle)."""
    generation: Literal["per_robot", "per_sample"] = "per_robot"
    """Generate weights once per robot in a batch, or for every sample (the original)."""


def hyperdistill(task: str, **overrides: object) -> HyperDistillConfig:
    """The paper's student for a task: 2 × 256 on FT, 3 × 256 with terrain on VT/Obstacle.

    :param task: ``"ft"``, ``"vt"`` or ``"obstacle"``.
    :param overrides: any :class:`HyperDistillConfig` field.
    """
    check_task(task)
    base = HyperDistillConfig(layer_num=2 if task == "ft" else 3, terrain=task != "ft")
    return replace(base, **overrides)


class ContextEncoder(nn.Module):
    """Per-limb context embedding E (docs/networks.md §5.1), followed by dropout.

    ``"transformer"``: Linear 53 → 128, then one pre-LN layer (2 heads, FF 256) with padded limbs
    masked as keys, no positional embedding. ``"mlp"``: ReLU MLP 53 → 128 → 128 → 128 per limb.

    :param config: the student configuration.
    """

    def __init__(self, config: HyperDistillConfig) -> None:
        super().__init__()
        e = config.embed_dim
        if config.context_encoder == "transformer":
            self.embed: nn.Module = nn.Linear(CONTEXT_DIM, e)
            self.layer: PreLNEncoderLayer | None = PreLNEncoderLayer(e, config.context_heads, config.context_ff_dim)
        elif config.context_encoder == "mlp":
            self.embed = mlp([CONTEXT_DIM] + [e] * config.mlp_encoder_layers)
            self.layer = None
        else:
            raise ValueError(f"unknown context encoder '{config.context_encoder}'; use transformer or mlp")
        self.dropout = nn.Dropout(config.embedding_dropout)

    def forward(self, context: Tensor, padding_mask: Tensor) -> Tensor:
        """:param context: (R, 12, 53). :param padding_mask: (R, 12), True = padded. :return: (R, 12, 128)."""
        e = self.embed(context)
        if self.layer is not None:
            e = self.layer(e, padding_mask)
        return self.dropout(e)


@dataclass
class StudentWeights:
    """Generated weights of R robots' MLPs, collapsed to plain layers (docs/networks.md §5.4).

    ``layers[0]`` is the input layer (R, 204, 256) / (R, 256) with padded limbs' rows zero and the
    per-limb biases of real limbs summed; then the hidden layers; the last is the output layer
    (R, 256, 12·k) / (R, 12·k), per-limb blocks concatenated limb-major.
    """

    layers: list[tuple[Tensor, Tensor]]


class GeneratedMLP(nn.Module):
    """One robot's generated policy as a standalone plain MLP: 204 → 256 [+64] → … → 24.

    :param layers: (weight (in, out), bias (out)) per layer, input layer first.
    :param terrain_encoder: the student's φ (copied), concatenated after the first layer; None on FT.
    """

    def __init__(self, layers: list[tuple[Tensor, Tensor]], terrain_encoder: TerrainEncoder | None = None) -> None:
        super().__init__()
        self.layers = nn.ModuleList()
        for w, b in layers:
            linear = nn.Linear(w.shape[0], w.shape[1])
            with torch.no_grad():
                linear.weight.copy_(w.T)
                linear.bias.copy_(b)
            self.layers.append(linear)
        self.terrain_encoder = terrain_encoder

    def forward(self, state: Tensor, hfield: Tensor | None = None) -> Tensor:
        """:param state: (B, 204) normalised student state, limb-major 12 × 17.
        :param hfield: (B, 1410), required with a terrain encoder. :return: (B, 12·k) action means."""
        h = torch.relu(self.layers[0](state))
        if self.terrain_encoder is not None:
            if hfield is None:
                raise ValueError("this generated MLP has a terrain encoder and needs 'hfield'")
            h = torch.cat([h, self.terrain_encoder(hfield)], dim=-1)
        for layer in self.layers[1:-1]:
            h = torch.relu(layer(h))
        return self.layers[-1](h)


class HyperDistill(nn.Module):
    """The HyperDistill hypernetwork student (docs/networks.md §5), also the HN actor/critic of HN-RL (§6.2).

    :param config: the architecture.
    :param out_per_limb: 2 for the actor (action means), 1 for a critic (per-limb values).
    """

    def __init__(self, config: HyperDistillConfig, out_per_limb: int = ACTS_PER_LIMB) -> None:
        super().__init__()
        self.config = config
        self.out_per_limb = out_per_limb
        e, h = config.embed_dim, config.hidden_dim
        self.encoders = nn.ModuleList(ContextEncoder(config) for _ in range(1 if config.share_context_encoder else 3))
        self.terrain_encoder = TerrainEncoder() if config.terrain else None
        first_hidden_in = h + (TERRAIN_DIMS[-1] if config.terrain else 0)
        hidden_in = [first_hidden_in] + [h] * (config.layer_num - 2)
        self.input_head = HypernetHead(e, STATE_DIM, h, config.init, fan_in=MAX_LIMBS * STATE_DIM)
        self.hidden_heads = nn.ModuleList(HypernetHead(e, d, h, config.init, fan_in=d) for d in hidden_in)
        self.output_head = HypernetHead(e, h, out_per_limb, config.init, fan_in=h)

    def _embeddings(self, context: Tensor, padding_mask: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        if len(self.encoders) == 1:
            e = self.encoders[0](context, padding_mask)
            return e, e, e
        return tuple(enc(context, padding_mask) for enc in self.encoders)  # type: ignore[return-value]

    def _aggregation_scale(self, real: Tensor) -> Tensor:
        """(R, 12) real-limb indicator → (R,) factor applied to the summed input contributions."""
        n = real.sum(-1)
        scale = {
            "sum": torch.ones_like(n),
            "limb_num": 1.0 / n,
            "sqrt_limb_num": n.rsqrt(),
            "max_limb_num": torch.full_like(n, 1.0 / MAX_LIMBS),
        }
        if self.config.input_aggregation not in scale:
            raise ValueError(f"unknown input aggregation '{self.config.input_aggregation}'; use one of {list(scale)}")
        return scale[self.config.input_aggregation]

    def generate_weights(self, context: Tensor, padding_mask: Tensor) -> StudentWeights:
        """Generate R robots' MLP weights.

        :param context: (R, 12, 53). :param padding_mask: (R, 12), True = padded limb.
        """
        n_robots = context.shape[0]
        real = (~padding_mask).to(context.dtype)  # (R, 12)
        e_in, e_hid, e_out = self._embeddings(context, padding_mask)
        w_in, b_in = self.input_head(e_in)  # (R, 12, 17, 256), (R, 12, 256)
        scale = self._aggregation_scale(real)[:, None, None]
        w_in = (w_in * real[..., None, None]).reshape(n_robots, MAX_LIMBS * STATE_DIM, -1) * scale
        b_in = (b_in * real[..., None]).sum(1, keepdim=True) * scale
        layers = [(w_in, b_in[:, 0])]
        e_mean = (e_hid * real[..., None]).sum(1) / real.sum(1, keepdim=True)  # (R, 128)
        layers += [head(e_mean) for head in self.hidden_heads]
        w_out, b_out = self.output_head(e_out)  # (R, 12, 256, k), (R, 12, k)
        w_out = w_out.permute(0, 2, 1, 3).reshape(n_robots, self.config.hidden_dim, -1)
        layers.append((w_out, b_out.reshape(n_robots, -1)))
        return StudentWeights(layers)

    def _run(self, weights: StudentWeights, state: Tensor, terrain: Tensor | None) -> Tensor:
        """Apply R generated MLPs: state (R, n, 204), terrain (R, n, 64) → (R, n, 12·k)."""
        (w, b), *rest = weights.layers
        h = torch.relu(torch.baddbmm(b.unsqueeze(1), state, w))
        if terrain is not None:
            h = torch.cat([h, terrain], dim=-1)
        for w, b in rest[:-1]:
            h = torch.relu(torch.baddbmm(b.unsqueeze(1), h, w))
        w, b = rest[-1]
        return torch.baddbmm(b.unsqueeze(1), h, w)

    def forward(self, obs: Mapping[str, Tensor]) -> Tensor:
        """:param obs: batched observation dict (``proprioceptive`` (B, 624) or (B, 204), ``context``,
        masks, ``hfield`` with terrain). :return: (B, 12·k) limb-major; absent slots are 0."""
        name = type(self).__name__
        state = student_state(require(obs, "proprioceptive", name)).flatten(1)  # (B, 204)
        context = limb_view(require(obs, "context", name), CONTEXT_DIM, "context")  # (B, 12, 53)
        mask = require(obs, "obs_padding_mask", name)  # (B, 12)
        terrain = self.terrain_encoder(require(obs, "hfield", name)) if self.terrain_encoder is not None else None

        if self.config.generation == "per_sample":
            weights = self.generate_weights(context, mask)
            y = self._run(weights, state.unsqueeze(1), None if terrain is None else terrain.unsqueeze(1))[:, 0]
        else:
            groups = robot_groups(require(obs, "context", name), mask)
            weights = self.generate_weights(context[groups.first], mask[groups.first])
            y = self._run(weights, groups.group(state), None if terrain is None else groups.group(terrain))
            y = groups.ungroup(y)
        return mask_limb_outputs(y.reshape(len(y), MAX_LIMBS, self.out_per_limb), obs)

    @torch.no_grad()
    def generate(self, context: Tensor, obs_padding_mask: Tensor, act_padding_mask: Tensor) -> GeneratedMLP:
        """Build one robot's policy as a plain MLP, once per robot (docs/networks.md §5.4), dropout off.

        Output columns of absent actuators (``act_padding_mask``; padded limbs for a critic) are zero,
        so the MLP returns exactly what :meth:`forward` returns.

        :param context: (636,) or (12, 53) the robot's context.
        :param obs_padding_mask: (12,), True = padded limb.
        :param act_padding_mask: (24,), True = no actuator.
        """
        was_training = self.training
        self.eval()
        try:
            c = context.reshape(1, MAX_LIMBS, CONTEXT_DIM).float()
            m = obs_padding_mask.reshape(1, MAX_LIMBS).bool()
            weights = self.generate_weights(c, m)
        finally:
            self.train(was_training)
        layers = [(w[0], b[0]) for w, b in weights.layers]
        out_mask = act_padding_mask if self.out_per_limb == ACTS_PER_LIMB else obs_padding_mask
        out_mask = out_mask.reshape(-1).bool()
        w, b = layers[-1]
        layers[-1] = (w.masked_fill(out_mask[None, :], 0.0), b.masked_fill(out_mask, 0.0))
        terrain = copy.deepcopy(self.terrain_encoder) if self.terrain_encoder is not None else None
        return GeneratedMLP(layers, terrain).eval()
