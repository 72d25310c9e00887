"""ModuMorph (the teacher) and the standard MetaMorph-style transformer, full and compressed.

One class, :class:`LimbTransformer`, configured by :class:`TransformerConfig` (MODELS.md §3–4):

* ``hypernet`` generates each limb's input embedding (52 → 128) and decoder MLP from its context;
* ``fixed_attention`` takes queries and keys from a context embedding (attention depends only on
  the morphology), values from the state tokens;
* on VT/Obstacle the terrain embedding φ(hfield) is concatenated to every limb's final token
  ("late" fusion) before the decoder.

The presets :func:`modumorph`, :func:`metamorph`, :func:`modumorph_compressed` and
:func:`metamorph_compressed` give the paper's configurations per task.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal

import torch
from torch import Tensor, nn

from .layers import TERRAIN_DIMS, HypernetHead, LimbwiseLinear, PreLNEncoderLayer, RobotGroups, TerrainEncoder, mlp
from .obs import ACTS_PER_LIMB, CONTEXT_DIM, LIMB_OBS_DIM, MAX_LIMBS, TASKS, limb_view, mask_limb_outputs, require

DECODER_DIMS = {"ft": (), "vt": (64,), "obstacle": (64, 64)}  # MODELS.md §3.7: hidden decoder dims per task
EMBED_INIT = 0.1  # MODELS.md §3.2/§3.4 (EMBED_INIT, HN_EMBED_INIT): U(±0.1)
DECODER_INIT = 0.01  # MODELS.md §3.7 / §4.1: last decoder layer U(±0.01)


@dataclass(frozen=True)
class TransformerConfig:
    """Configuration of :class:`LimbTransformer` (MODELS.md §3–4)."""

    n_layers: int = 5
    """Encoder layers (NLAYERS)."""
    n_heads: int = 2
    """Attention heads (NHEAD)."""
    ff_dim: int = 1024
    """Feed-forward width (DIM_FEEDFORWARD)."""
    d_model: int = 128
    """Token width (LIMB_EMBED_SIZE)."""
    hypernet: bool = True
    """HN-generated limb embedding and decoder (ModuMorph); False: shared ones (MetaMorph)."""
    fixed_attention: bool = True
    """Queries and keys from the context embedding only (ModuMorph's FA)."""
    decoder_dims: tuple[int, ...] = ()
    """Hidden decoder widths: () FT, (64,) VT, (64, 64) Obstacle."""
    terrain: bool = False
    """Late-fuse φ(hfield) (VT, Obstacle)."""
    pos_embedding: Literal["none", "learnt"] = "none"
    """Positional embedding; the paper's teacher and baselines ran without (MODELS.md §3.3)."""
    embedding_dropout: float = 0.0
    """Dropout on the tokens after the embedding; 0 for the paper's runs."""
    dropout: float = 0.0
    """Dropout inside the encoder layers (DROPOUT)."""
    hn_context_layers: int = 1
    """128 → 128 layers of the HN context encoder (HN_CONTEXT_LAYER_NUM)."""
    attention_context_layers: int = 2
    """128 → 128 layers of the fixed-attention context encoder (LINEAR_CONTEXT_LAYER)."""


def _task_dims(task: str) -> dict[str, object]:
    if task not in TASKS:
        raise ValueError(f"unknown task '{task}'; expected one of {TASKS}")
    return {"decoder_dims": DECODER_DIMS[task], "terrain": task != "ft"}


def modumorph(task: str) -> TransformerConfig:
    """The teacher: 5 layers, 2 heads, FF 1024, HN embedding/decoder, fixed attention (MODELS.md §3)."""
    return TransformerConfig(**_task_dims(task))


def metamorph(task: str) -> TransformerConfig:
    """The standard transformer baseline: as ModuMorph without HN and FA (MODELS.md §4.1)."""
    return replace(modumorph(task), hypernet=False, fixed_attention=False)


def modumorph_compressed(task: str) -> TransformerConfig:
    """Compressed ModuMorph: 1 layer, 1 head, FF 128 on every task (MODELS.md §4.2, paper Table 2)."""
    return replace(modumorph(task), n_layers=1, n_heads=1, ff_dim=128)


def metamorph_compressed(task: str) -> TransformerConfig:
    """Compressed TF: 1 layer / FF 256 on FT, the repo's 2 layers / FF 128 on VT/Obstacle (MODELS.md §4.2)."""
    layers, ff = (1, 256) if task == "ft" else (2, 128)
    return replace(metamorph(task), n_layers=layers, n_heads=1, ff_dim=ff)


class LimbTransformer(nn.Module):
    """A limb-token transformer policy or value network: ModuMorph or MetaMorph (MODELS.md §3–4).

    :param config: the architecture.
    :param out_per_limb: outputs per limb: 2 for the actor (action means), 1 for the critic.
    """

    def __init__(self, config: TransformerConfig, out_per_limb: int = ACTS_PER_LIMB) -> None:
        super().__init__()
        self.config = config
        self.out_per_limb = out_per_limb
        d = config.d_model
        self.terrain_encoder = TerrainEncoder() if config.terrain else None
        decoder_dims = [d + (TERRAIN_DIMS[-1] if config.terrain else 0), *config.decoder_dims, out_per_limb]

        if config.hypernet:
            # MODELS.md §3.1: e_i = ReLU(W ReLU(W0 c_i)); conditions embedding and decoder heads.
            self.hn_context_encoder = mlp([CONTEXT_DIM] + [d] * (1 + config.hn_context_layers))
            nn.init.uniform_(self.hn_context_encoder[0].weight, -EMBED_INIT, EMBED_INIT)
            self.embed_head = HypernetHead(d, LIMB_OBS_DIM, d, init="uniform", bound=EMBED_INIT)
            self.decoder_heads = nn.ModuleList(
                HypernetHead(d, i, o, init="uniform", bound=DECODER_INIT) for i, o in itertools.pairwise(decoder_dims)
            )
            self.limbwise = LimbwiseLinear()
        else:
            self.limb_embed = nn.Linear(LIMB_OBS_DIM, d)
            nn.init.uniform_(self.limb_embed.weight, -EMBED_INIT, EMBED_INIT)
            self.decoder = mlp(decoder_dims, final_activation=False)
            nn.init.uniform_(self.decoder[-1].weight, -DECODER_INIT, DECODER_INIT)
            nn.init.zeros_(self.decoder[-1].bias)

        if config.fixed_attention:
            # MODELS.md §3.4: g_i, its own encoder, shared by every layer, never updated between layers.
            self.attention_context_encoder = mlp([CONTEXT_DIM] + [d] * (1 + config.attention_context_layers))
            nn.init.uniform_(self.attention_context_encoder[0].weight, -EMBED_INIT, EMBED_INIT)
        self.pos_embedding = nn.Parameter(torch.randn(MAX_LIMBS, d)) if config.pos_embedding == "learnt" else None
        self.embedding_dropout = nn.Dropout(config.embedding_dropout)
        self.layers = nn.ModuleList(
            PreLNEncoderLayer(d, config.n_heads, config.ff_dim, config.dropout, config.fixed_attention)
            for _ in range(config.n_layers)
        )

    def conditioning_modules(self) -> list[nn.Module]:
        """Modules that see only the context: precomputable per robot, not part of the inference
        network in the MODELS.md §11 accounting (HN, context encoders, the layers' ``norm_context``)."""
        mods: list[nn.Module] = []
        if self.config.hypernet:
            mods += [self.hn_context_encoder, self.embed_head, self.decoder_heads]
        if self.config.fixed_attention:
            mods += [self.attention_context_encoder, *(layer.norm_context for layer in self.layers)]
        return mods

    def _per_robot(self, groups: RobotGroups, x: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
        """Apply each robot's generated layer to its samples: x (B, 12, in), weight (R, 12, in, out),
        bias (R, 12, out) → (B, 12, out). The weights are never copied per sample."""
        grouped = groups.group(x.flatten(1)).unflatten(-1, (MAX_LIMBS, x.shape[-1]))  # (R, n, 12, in)
        y = self.limbwise(grouped, weight, bias)  # (R, n, 12, out)
        return groups.ungroup(y.flatten(2)).unflatten(-1, (MAX_LIMBS, weight.shape[-1]))

    def forward(self, obs: Mapping[str, Tensor]) -> Tensor:
        """:param obs: batched observation dict (``proprioceptive`` (B, 624), ``context`` (B, 636),
        masks, and ``hfield`` (B, 1410) with terrain).
        :return: (B, 12·out_per_limb) limb-major; slots of absent actuators / padded limbs are 0."""
        name = type(self).__name__
        x = limb_view(require(obs, "proprioceptive", name), LIMB_OBS_DIM, "proprioceptive")  # (B, 12, 52)
        mask = require(obs, "obs_padding_mask", name)  # (B, 12)
        c = None
        if self.config.hypernet or self.config.fixed_attention:
            c = limb_view(require(obs, "context", name), CONTEXT_DIM, "context")  # (B, 12, 53)

        groups = None
        if c is not None:
            # context-only computations once per robot in the batch (identical context and mask)
            groups = RobotGroups(torch.cat([c.flatten(1), mask.to(c.dtype)], dim=1))
            c = c[groups.first]  # (R, 12, 53)

        if self.config.hypernet:
            e = self.hn_context_encoder(c)  # (R, 12, d)
            z = self._per_robot(groups, x, *self.embed_head(e))
        else:
            z = self.limb_embed(x)
        z = z * math.sqrt(self.config.d_model)
        if self.pos_embedding is not None:
            z = z + self.pos_embedding
        z = self.embedding_dropout(z)

        g = self.attention_context_encoder(c)[groups.robot] if self.config.fixed_attention else None  # (B, 12, d)
        for layer in self.layers:
            z = layer(z, mask, g)

        if self.terrain_encoder is not None:
            t = self.terrain_encoder(require(obs, "hfield", name))  # (B, 64)
            z = torch.cat([z, t.unsqueeze(1).expand(-1, MAX_LIMBS, -1)], dim=-1)  # (B, 12, 192)

        if self.config.hypernet:
            for k, head in enumerate(self.decoder_heads):
                z = self._per_robot(groups, z, *head(e))
                if k < len(self.decoder_heads) - 1:
                    z = torch.relu(z)
        else:
            z = self.decoder(z)
        return mask_limb_outputs(z, obs)
