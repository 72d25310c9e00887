"""Building blocks shared by the networks: MLPs, the terrain encoder, the pre-LN transformer layer
(optionally with fixed attention), hypernetwork heads and per-limb application of generated weights."""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch
from torch import Tensor, nn

from unimal_gym.layout import HFIELD_DIM

TERRAIN_DIMS = (64, 64)  # docs/networks.md §2.3: EXT_HIDDEN_DIMS of csr.yaml / obstacle.yaml

HeadInit = Literal["bias_init", "bias_init_v2", "uniform"]


def mlp(dims: Sequence[int], final_activation: bool = True) -> nn.Sequential:
    """Linear layers dims[0] → dims[1] → … with ReLU after each (docs/networks.md §2.2).

    :param dims: layer widths, at least two.
    :param final_activation: keep the ReLU after the last layer.
    """
    layers: list[nn.Module] = []
    for i, (d_in, d_out) in enumerate(itertools.pairwise(dims)):
        layers.append(nn.Linear(d_in, d_out))
        if final_activation or i < len(dims) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class TerrainEncoder(nn.Module):
    """φ(hfield): a ReLU MLP 1410 → 64 → 64 with a ReLU after the last layer too (docs/networks.md §2.3).

    Shared by all limbs; never used for attention.
    """

    def __init__(self, dims: Sequence[int] = TERRAIN_DIMS) -> None:
        super().__init__()
        self.out_dim = dims[-1]
        self.net = mlp([HFIELD_DIM, *dims])

    def forward(self, hfield: Tensor) -> Tensor:
        """:param hfield: (B, 1410) raw relative heights. :return: (B, 64)."""
        return self.net(hfield)


class PreLNEncoderLayer(nn.Module):
    """One pre-LN transformer encoder layer, batch-first (docs/networks.md §2.1).

    ``x ← x + MHA(q, k, v = LN1(x))`` with ``q = k = LN1(x)``, or ``q = k = LN_ctx(ctx)`` with fixed
    attention; then ``x ← x + W2 ReLU(W1 LN2(x))``. Padded limbs are excluded as keys.

    :param d_model: token width d.
    :param n_heads: attention heads.
    :param ff_dim: feed-forward width.
    :param dropout: dropout in attention and feed-forward (0 in every configuration of the paper).
    :param fixed_attention: build ``norm_context`` and take queries and keys from the context embedding.
    """

    def __init__(self, d_model: int, n_heads: int, ff_dim: int, dropout: float = 0.0, fixed_attention: bool = False):
        super().__init__()
        self.fixed_attention = fixed_attention
        self.norm1 = nn.LayerNorm(d_model)
        self.attn = nn.MultiheadAttention(d_model, n_heads, dropout=dropout, batch_first=True)
        self.norm2 = nn.LayerNorm(d_model)
        self.linear1 = nn.Linear(d_model, ff_dim)
        self.linear2 = nn.Linear(ff_dim, d_model)
        self.dropout = nn.Dropout(dropout)
        self.norm_context = nn.LayerNorm(d_model) if fixed_attention else None

    def context_attention(self, context: Tensor, padding_mask: Tensor) -> Tensor:
        """Fixed attention's weights, which depend on the context only: computed once per robot.

        :param context: (R, 12, d) context embeddings of R robots. :param padding_mask: (R, 12).
        :return: (R, heads, 12, 12) softmax(q kᵀ / √d_head) over the real keys, with q = k's input
            ``norm_context(context)`` projected by the attention's own query and key weights.
        """
        if self.norm_context is None:
            raise ValueError("context_attention needs a fixed-attention layer")
        qk = self.norm_context(context)
        heads, d = self.attn.num_heads, qk.shape[-1]
        w_q, w_k, _ = self.attn.in_proj_weight.chunk(3)
        b_q, b_k, _ = self.attn.in_proj_bias.chunk(3)
        q = nn.functional.linear(qk, w_q, b_q).unflatten(-1, (heads, d // heads)).transpose(1, 2)
        k = nn.functional.linear(qk, w_k, b_k).unflatten(-1, (heads, d // heads)).transpose(1, 2)
        scores = (q * (d // heads) ** -0.5) @ k.transpose(-1, -2)  # (R, heads, 12, 12)
        return torch.softmax(scores.masked_fill(padding_mask[:, None, None, :], float("-inf")), dim=-1)

    def forward(self, x: Tensor, padding_mask: Tensor, context: Tensor | None = None) -> Tensor:
        """:param x: (B, 12, d) tokens. :param padding_mask: (B, 12), True = padded.
        :param context: (B, 12, d) context embedding, required with fixed attention.
        :return: (B, 12, d)."""
        u = self.norm1(x)
        if self.norm_context is not None:
            if context is None:
                raise ValueError("a fixed-attention layer needs the context embedding")
            qk = self.norm_context(context)
        else:
            qk = u
        a, _ = self.attn(qk, qk, u, key_padding_mask=padding_mask, need_weights=False)
        x = x + self.dropout(a)
        f = self.linear2(self.dropout(torch.relu(self.linear1(self.norm2(x)))))
        return x + self.dropout(f)

    def forward_real(self, t: Tensor, attention: Tensor, real: Tensor | None) -> Tensor:
        """The layer with given attention weights on the real limbs' tokens only: at those limbs, the values
        of :meth:`forward` with fixed attention. A padded limb is never attended to, so its token changes
        nothing and need not be computed (on robots of 9 limbs in 12 slots, a quarter of the work).

        :param t: (N, d) the tokens of a (B, 12) batch's real limbs, at the flat positions ``real``; or,
            with ``real=None``, (B·12, d) every slot's token, padded limbs included.
        :param attention: (B, heads, 12, 12) fixed attention's weights (:meth:`context_attention` of each
            sample's robot).
        :param real: (N,) int64, the flat positions (sample · 12 + limb) of the real limbs, or None.
        :return: (N, d), or (B·12, d).
        """
        heads, d = self.attn.num_heads, t.shape[-1]
        batch, slots = attention.shape[0], attention.shape[-1]
        _, _, w_v = self.attn.in_proj_weight.chunk(3)
        _, _, b_v = self.attn.in_proj_bias.chunk(3)
        v = nn.functional.linear(self.norm1(t), w_v, b_v)  # (N, d)
        if real is not None:  # padded limbs' values: 0, and weighted by 0
            v = v.new_zeros(batch * slots, d).index_copy(0, real, v)
        v = v.unflatten(0, (batch, slots)).unflatten(-1, (heads, d // heads)).transpose(1, 2)  # (B, h, 12, dh)
        p = nn.functional.dropout(attention, self.attn.dropout, self.training)
        a = (p @ v).transpose(1, 2).flatten(2).flatten(0, 1)  # (B·12, d)
        if real is not None:
            a = a.index_select(0, real)
        t = t + self.dropout(self.attn.out_proj(a))
        f = self.linear2(self.dropout(torch.relu(self.linear1(self.norm2(t)))))
        return t + self.dropout(f)


class HypernetHead(nn.Module):
    """A hypernetwork head: from an embedding e, generate a linear layer's weight (in, out) and bias (out).

    ``W = reshape(A e + a, (in, out))`` (row = input unit) and ``b = B e + b0`` (docs/networks.md §5.2, §3.2).

    Initialisations (``A`` and ``B`` are always 0 so that every limb and robot starts alike):

    * ``"bias_init"`` (HyperDistill default, Beck et al. 2023): ``a ~ N(0, 1/fan_in)``, ``b0 = 0``;
    * ``"bias_init_v2"``: ``a, b0 ~ U(±√(1/fan_in))``;
    * ``"uniform"`` (ModuMorph's embedding and decoder heads): ``a ~ U(±bound)``, ``b0 = 0``.

    :param embed_dim: width of e.
    :param in_dim: generated layer's input width.
    :param out_dim: generated layer's output width.
    :param init: one of the initialisations above.
    :param fan_in: the ``init_dim`` of the bias-init schemes.
    :param bound: the bound of ``"uniform"``.
    """

    def __init__(
        self,
        embed_dim: int,
        in_dim: int,
        out_dim: int,
        init: HeadInit = "bias_init",
        fan_in: int | None = None,
        bound: float = 0.1,
    ) -> None:
        super().__init__()
        self.in_dim, self.out_dim = in_dim, out_dim
        self.weight = nn.Linear(embed_dim, in_dim * out_dim)
        self.bias = nn.Linear(embed_dim, out_dim)
        nn.init.zeros_(self.weight.weight)
        nn.init.zeros_(self.bias.weight)
        nn.init.zeros_(self.bias.bias)
        scale = 1.0 / math.sqrt(fan_in if fan_in is not None else in_dim)
        if init == "bias_init":
            nn.init.normal_(self.weight.bias, 0.0, scale)
        elif init == "bias_init_v2":
            nn.init.uniform_(self.weight.bias, -scale, scale)
            nn.init.uniform_(self.bias.bias, -scale, scale)
        elif init == "uniform":
            nn.init.uniform_(self.weight.bias, -bound, bound)
        else:
            raise ValueError(f"unknown hypernetwork head init '{init}'; use bias_init, bias_init_v2 or uniform")

    def forward(self, e: Tensor) -> tuple[Tensor, Tensor]:
        """:param e: (..., embed_dim). :return: weight (..., in, out) and bias (..., out)."""
        w = self.weight(e).reshape(*e.shape[:-1], self.in_dim, self.out_dim)
        return w, self.bias(e)


class LimbwiseLinear(nn.Module):
    """Apply a generated linear layer per limb: ``y_l = x_l W_l + b_l`` (no parameters of its own).

    Kept as a module so that the FLOPs walker (``baselines.flops``) sees generated layers.
    """

    def forward(self, x: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
        """Per sample, or per robot for grouped samples.

        :param x: (B, 12, in), or (R, n, 12, in) for n samples of each of R robots.
        :param weight: (B, 12, in, out), or (R, 12, in, out).
        :param bias: (B, 12, out), or (R, 12, out).
        :return: (B, 12, out), or (R, n, 12, out)."""
        if x.dim() == 4:
            return torch.einsum("rnli,rlio->rnlo", x, weight) + bias.unsqueeze(1)
        return torch.einsum("bli,blio->blo", x, weight) + bias


@functools.cache
def _probe(width: int) -> np.ndarray:
    """A fixed random projection for :func:`unique_rows` (its own generator: no global RNG is drawn)."""
    return np.random.default_rng(width).uniform(0.5, 1.5, width).astype(np.float32)


def unique_rows(keys: Tensor) -> Tensor:
    """``torch.unique(keys, dim=0, return_inverse=True)[1]``, exactly, but fast on CPU batches.

    ``torch.unique(dim=0)`` sorts the (B, D) rows with a row-by-row comparison (3 ms for 512 × 648 on
    one core). Here the rows are first bucketed by a fixed random projection (``np.unique`` on B
    numbers); every row is checked to equal its bucket's first row exactly (else the plain call is
    used), and ``torch.unique`` then runs on one row per bucket only, so the labels, their order and
    the treatment of equal values are those of ``torch.unique`` (0.25 ms for 512 × 648).

    :param keys: (B, D) rows.
    :return: (B,) int64, the index of every row's value among the sorted distinct rows.
    """
    if keys.device.type != "cpu" or keys.dim() != 2 or keys.dtype != torch.float32 or len(keys) < 32:
        return torch.unique(keys, dim=0, return_inverse=True)[1]
    rows = keys.detach().numpy()
    _, first, bucket = np.unique(rows @ _probe(rows.shape[1]), return_index=True, return_inverse=True)
    bucket = bucket.reshape(-1)
    if not np.array_equal(rows[first][bucket], rows):  # two different rows in one bucket: stay exact
        return torch.unique(keys, dim=0, return_inverse=True)[1]
    _, inverse = torch.unique(keys[torch.from_numpy(first)], dim=0, return_inverse=True)
    return inverse[torch.from_numpy(bucket)]


class RobotGroups:
    """Samples of a batch grouped by robot (identical context and padding mask), padded per group.

    :param keys: (B, D) one row per sample; equal rows are the same robot.
    """

    def __init__(self, keys: Tensor) -> None:
        inverse = unique_rows(keys)
        n_robots = int(inverse.max()) + 1
        order = torch.argsort(inverse, stable=True)
        counts = torch.bincount(inverse, minlength=n_robots)
        starts = torch.cumsum(counts, 0) - counts
        slot = torch.empty_like(inverse)
        slot[order] = torch.arange(len(inverse), device=keys.device) - starts[inverse[order]]
        self.robot, self.slot = inverse, slot  # (B,), (B,): group and position of every sample
        self.first = order[starts]  # (R,): one sample of each robot
        self.size = int(counts.max())

    def group(self, x: Tensor) -> Tensor:
        """(B, F) → (R, max group size, F), zero-padded."""
        out = x.new_zeros(len(self.first), self.size, x.shape[-1])
        return out.index_put((self.robot, self.slot), x)

    def ungroup(self, y: Tensor) -> Tensor:
        """(R, max group size, F) → (B, F) in the batch's order."""
        return y[self.robot, self.slot]


def robot_groups(context: Tensor, mask: Tensor) -> RobotGroups:
    """:class:`RobotGroups` of a batch by context (B, 636) or (B, 12, 53) and padding mask (B, 12)."""
    return RobotGroups(torch.cat([context.flatten(1), mask.to(context.dtype)], dim=1))
