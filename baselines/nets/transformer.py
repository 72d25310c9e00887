"""ModuMorph (the teacher) and the standard MetaMorph-style transformer, full and compressed.

One class, :class:`LimbTransformer`, configured by :class:`TransformerConfig` (docs/networks.md §3–4):

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
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Literal

import torch
from torch import Tensor, nn

from unimal_gym.layout import ACTS_PER_LIMB, CONTEXT_DIM, LIMB_OBS_DIM, MAX_LIMBS, check_task

from .layers import (
    TERRAIN_DIMS,
    HypernetHead,
    LimbwiseLinear,
    PreLNEncoderLayer,
    RobotGroups,
    TerrainEncoder,
    mlp,
    robot_groups,
)
from .obs import limb_view, mask_limb_outputs, require

DECODER_DIMS = {"ft": (), "vt": (64,), "obstacle": (64, 64)}  # docs/networks.md §3.7: hidden decoder dims per task
EMBED_INIT = 0.1  # docs/networks.md §3.2/§3.4 (EMBED_INIT, HN_EMBED_INIT): U(±0.1)
DECODER_INIT = 0.01  # docs/networks.md §3.7 / §4.1: last decoder layer U(±0.01)
CACHE_SIZE = 16  # robot sets kept by LimbTransformer.frozen_conditioning (consecutive rollout steps share one)


@dataclass(frozen=True)
class TransformerConfig:
    """Configuration of :class:`LimbTransformer` (docs/networks.md §3–4)."""

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
    """Positional embedding; the paper's teacher and baselines ran without (docs/networks.md §3.3)."""
    embedding_dropout: float = 0.0
    """Dropout on the tokens after the embedding; 0 for the paper's runs."""
    dropout: float = 0.0
    """Dropout inside the encoder layers (DROPOUT)."""
    hn_context_layers: int = 1
    """128 → 128 layers of the HN context encoder (HN_CONTEXT_LAYER_NUM)."""
    attention_context_layers: int = 2
    """128 → 128 layers of the fixed-attention context encoder (LINEAR_CONTEXT_LAYER)."""


def _task_dims(task: str) -> dict[str, object]:
    check_task(task)
    return {"decoder_dims": DECODER_DIMS[task], "terrain": task != "ft"}


def modumorph(task: str) -> TransformerConfig:
    """The teacher: 5 layers, 2 heads, FF 1024, HN embedding/decoder, fixed attention (docs/networks.md §3)."""
    return TransformerConfig(**_task_dims(task))


def metamorph(task: str) -> TransformerConfig:
    """The standard transformer baseline: as ModuMorph without HN and FA (docs/networks.md §4.1)."""
    return replace(modumorph(task), hypernet=False, fixed_attention=False)


def modumorph_compressed(task: str) -> TransformerConfig:
    """Compressed ModuMorph: 1 layer, 1 head, FF 128 on every task (docs/networks.md §4.2, paper Table 2)."""
    return replace(modumorph(task), n_layers=1, n_heads=1, ff_dim=128)


def metamorph_compressed(task: str) -> TransformerConfig:
    """Compressed TF: 1 layer / FF 256 on FT, the repo's 2 layers / FF 128 on VT/Obstacle (docs/networks.md §4.2)."""
    layers, ff = (1, 256) if task == "ft" else (2, 128)
    return replace(metamorph(task), n_layers=layers, n_heads=1, ff_dim=ff)


class LimbTransformer(nn.Module):
    """A limb-token transformer policy or value network: ModuMorph or MetaMorph (docs/networks.md §3–4).

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
            # docs/networks.md §3.1: e_i = ReLU(W ReLU(W0 c_i)); conditions embedding and decoder heads.
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
            # docs/networks.md §3.4: g_i, its own encoder, shared by every layer, never updated between layers.
            self.attention_context_encoder = mlp([CONTEXT_DIM] + [d] * (1 + config.attention_context_layers))
            nn.init.uniform_(self.attention_context_encoder[0].weight, -EMBED_INIT, EMBED_INIT)
        self.pos_embedding = nn.Parameter(torch.randn(MAX_LIMBS, d)) if config.pos_embedding == "learnt" else None
        self.embedding_dropout = nn.Dropout(config.embedding_dropout)
        self.layers = nn.ModuleList(
            PreLNEncoderLayer(d, config.n_heads, config.ff_dim, config.dropout, config.fixed_attention)
            for _ in range(config.n_layers)
        )
        self._cache: dict[bytes, list[Tensor]] | None = None  # see frozen_conditioning
        self.attention_per_robot = True
        """Fixed attention's weights once per robot (:meth:`PreLNEncoderLayer.context_attention`); False:
        per sample through ``nn.MultiheadAttention`` (the same values to rounding; ``baselines.flops``
        counts that form)."""
        self.padded_limbs = False
        """Run the encoder layers on padded limbs' tokens too (with per-robot fixed attention), as before they
        were skipped: the same function to rounding, slower (PPO update of the laptop FT teacher 1.09×, paper-size
        ModuMorph 1.27×: benchmarks/results/padded_limbs.txt)."""

    def conditioning_modules(self) -> list[nn.Module]:
        """Modules that see only the context: precomputable per robot, not part of the inference
        network in the docs/networks.md §11 accounting (HN, context encoders, the layers' ``norm_context``)."""
        mods: list[nn.Module] = []
        if self.config.hypernet:
            mods += [self.hn_context_encoder, self.embed_head, self.decoder_heads]
        if self.config.fixed_attention:
            mods += [self.attention_context_encoder, *(layer.norm_context for layer in self.layers)]
        return mods

    def _conditioning_of(self, c: Tensor, mask: Tensor) -> list[Tensor]:
        """Everything that depends on the context only, for R robots' contexts c (R, 12, 53) and masks
        (R, 12): [e, embedding weight, embedding bias, decoder weight and bias per layer...,
        fixed-attention weights per layer (or the attention context embedding)] (hypernetwork parts
        only with ``hypernet``, the attention parts only with ``fixed_attention``)."""
        out: list[Tensor] = []
        if self.config.hypernet:
            e = self.hn_context_encoder(c)  # (R, 12, d)
            out += [e, *self.embed_head(e)]
            for head in self.decoder_heads:
                out += head(e)
        if self.config.fixed_attention:
            g = self.attention_context_encoder(c)  # (R, 12, d)
            out += self._attention(g, mask) if self.attention_per_robot else [g]
        return out

    def _attention(self, g: Tensor, mask: Tensor) -> list[Tensor]:
        """Every layer's fixed-attention weights (R, heads, 12, 12) from R robots' context embeddings."""
        return [layer.context_attention(g, mask) for layer in self.layers]

    def _cached_conditioning(self, c: Tensor, mask: Tensor, groups: RobotGroups) -> list[Tensor] | None:
        """:meth:`_conditioning_of` the batch's robots (in ``groups`` order) from the cache of
        :meth:`frozen_conditioning`; None when no cache is open or gradients are needed.

        The cache is keyed by the batch's whole set of robots, not by robot: a robot's generated
        weights are then computed in exactly the same batch of robots as without the cache, which
        keeps the results bitwise equal (a matrix product's rounding may depend on its row count). In
        a rollout the set changes only when an episode ends, so nearly every step is a hit.

        :param c: (B, 12, 53) contexts. :param mask: (B, 12) padding masks."""
        cache = self._cache
        if cache is None or torch.is_grad_enabled() or c.device.type != "cpu":
            return None
        robots = c[groups.first]
        key = robots.numpy().tobytes() + mask[groups.first].numpy().tobytes()
        hit = cache.get(key)
        if hit is None:
            if len(cache) >= CACHE_SIZE:
                cache.clear()
            hit = cache[key] = self._conditioning_of(robots, mask[groups.first])
        return hit

    @contextmanager
    def frozen_conditioning(self) -> Iterator[None]:
        """While the parameters stay fixed (a rollout), compute the context-only parts of a batch's
        robots once and reuse them in gradient-free forwards. The cache is dropped on exit."""
        self._cache = {}
        try:
            yield
        finally:
            self._cache = None

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

        groups = cached = None
        if c is not None:
            # context-only computations once per robot in the batch (identical context and mask)
            groups = robot_groups(require(obs, "context", name), mask)
            cached = self._cached_conditioning(c, mask, groups)  # None unless in frozen_conditioning
            c = c[groups.first]  # (R, 12, 53)

        # (with gradients, the per-robot parts are computed where they are used, in this order: the
        # order of the backward pass's gradient sums, hence of the results' rounding, stays the same)
        if self.config.hypernet:
            if cached is None:
                e = self.hn_context_encoder(c)  # (R, 12, d)
                z = self._per_robot(groups, x, *self.embed_head(e))
            else:
                z = self._per_robot(groups, x, *cached[1:3])
        else:
            z = self.limb_embed(x)
        z = z * math.sqrt(self.config.d_model)
        if self.pos_embedding is not None:
            z = z + self.pos_embedding
        z = self.embedding_dropout(z)

        if self.config.fixed_attention and self.attention_per_robot:
            # attention weights depend on the context only: once per robot, then gathered per sample
            # (index_select, not w[robot]: the indexing's backward adds the repeated rows with atomics on
            # several CPU threads, in a varying order, so two equal runs would differ in the last bits)
            n = len(self.layers)
            weights = (
                self._attention(self.attention_context_encoder(c), mask[groups.first])
                if cached is None
                else cached[-n:]
            )
            # the layers on the real limbs' tokens only (padded ones are never attended to), then back into
            # the 12 slots with zeros at padded limbs, whose outputs are zeroed at the end
            real = None if self.padded_limbs else (~mask).flatten().nonzero().squeeze(1)  # (N,) flat positions
            t = z.flatten(0, 1) if real is None else z.flatten(0, 1).index_select(0, real)  # (N, d)
            for layer, w in zip(self.layers, weights, strict=True):
                t = layer.forward_real(t, w.index_select(0, groups.robot), real)
            if real is not None:
                t = t.new_zeros(z.shape[0] * MAX_LIMBS, t.shape[-1]).index_copy(0, real, t)
            z = t.unflatten(0, (-1, MAX_LIMBS))
        else:
            g = None
            if self.config.fixed_attention:
                g = self.attention_context_encoder(c) if cached is None else cached[-1]
                g = g.index_select(0, groups.robot)  # (B, 12, d)
            for layer in self.layers:
                z = layer(z, mask, g)

        if self.terrain_encoder is not None:
            t = self.terrain_encoder(require(obs, "hfield", name))  # (B, 64)
            z = torch.cat([z, t.unsqueeze(1).expand(-1, MAX_LIMBS, -1)], dim=-1)  # (B, 12, 192)

        if self.config.hypernet:
            for k, head in enumerate(self.decoder_heads):
                weight, bias = head(e) if cached is None else cached[3 + 2 * k : 5 + 2 * k]
                z = self._per_robot(groups, z, weight, bias)
                if k < len(self.decoder_heads) - 1:
                    z = torch.relu(z)
        else:
            z = self.decoder(z)
        return mask_limb_outputs(z, obs)
