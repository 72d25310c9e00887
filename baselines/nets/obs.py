"""The observation dict as the networks see it: tensor conversion, per-limb views, the student's features.

Every network takes the batched observation dict of the environment (docs/environment.md §3.1, docs/networks.md §1)
as torch tensors, with ``proprioceptive`` already normalised (VecNormalize) and everything else raw:

=====================  ============  =====================================================
key                    shape         content
=====================  ============  =====================================================
``proprioceptive``     (B, 624)      12 limbs × 52 features, limb-major, zero-padded
``context``            (B, 636)      12 limbs × 53 morphology features, zero-padded
``obs_padding_mask``   (B, 12)       True = padded limb slot
``act_padding_mask``   (B, 24)       True = no actuator in this action slot
``hfield``             (B, 1410)     VT and Obstacle only: relative terrain heights
=====================  ============  =====================================================

``edges`` and ``adjacency_matrix`` may be present; no network here uses them.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from torch import Tensor

from unimal_gym.layout import ACTS_PER_LIMB, LIMB_OBS_DIM, MAX_LIMBS

STATE_FEATURES = (*range(13), 30, 31, 41, 42)  # docs/networks.md §1: xpos, xvelp, xvelr, xquat, qpos/qvel of both slots
STATE_DIM = len(STATE_FEATURES)  # 17, the HyperDistill student's per-limb input (paper §3.3 variant)

__all__ = [
    "STATE_DIM",
    "STATE_FEATURES",
    "ObservationError",
    "limb_view",
    "mask_limb_outputs",
    "require",
    "student_state",
    "student_state_index",
    "to_torch",
]

_BOOL_KEYS = ("obs_padding_mask", "act_padding_mask")


class ObservationError(ValueError):
    """An observation dict lacks a key a network needs or has a wrong width."""


def to_torch(obs: Mapping[str, np.ndarray | Tensor], device: torch.device | str | None = None) -> dict[str, Tensor]:
    """Convert an observation dict (one observation or a batch) into batched torch tensors.

    Masks become ``bool`` (any nonzero value is True), everything else ``float32``. A single
    observation ((624,), (12,), …) gets a leading batch dimension of 1.

    :param obs: the environment's observation dict, numpy arrays or tensors.
    :param device: where to put the tensors.
    :return: a new dict with the same keys; e.g. ``proprioceptive`` (B, 624), ``obs_padding_mask`` (B, 12).
    """
    single = np.ndim(obs["obs_padding_mask"]) == 1
    out: dict[str, Tensor] = {}
    for key, value in obs.items():
        t = torch.as_tensor(np.asarray(value) if not isinstance(value, Tensor) else value, device=device)
        t = t.bool() if key in _BOOL_KEYS else t.float()
        out[key] = t.unsqueeze(0) if single else t
    return out


def limb_view(x: Tensor, per_limb: int, key: str) -> Tensor:
    """Reshape a flat limb-major batch (B, 12·F) into (B, 12, F), checking the width.

    :param x: (B, 12·per_limb).
    :param per_limb: F, features per limb.
    :param key: the observation key, for the error message.
    """
    if x.shape[-1] != MAX_LIMBS * per_limb:
        raise ObservationError(f"observation '{key}' has width {x.shape[-1]}, expected {MAX_LIMBS} × {per_limb}")
    return x.reshape(*x.shape[:-1], MAX_LIMBS, per_limb)


def student_state_index() -> np.ndarray:
    """Indices of the student's 204 inputs in the 624-wide ``proprioceptive`` vector, limb-major (204,)."""
    return (np.arange(MAX_LIMBS)[:, None] * LIMB_OBS_DIM + np.array(STATE_FEATURES)[None, :]).reshape(-1)


def student_state(proprioceptive: Tensor) -> Tensor:
    """The HyperDistill student's per-limb state (docs/networks.md §1, ``--no_context_in_state``).

    :param proprioceptive: (B, 624) full 52-feature observation, or (B, 204) already reduced to the
        17 state features per limb (as the original stores it with ``--no_context_in_state``).
    :return: (B, 12, 17).
    """
    width = proprioceptive.shape[-1]
    if width == MAX_LIMBS * STATE_DIM:
        return limb_view(proprioceptive, STATE_DIM, "proprioceptive")
    full = limb_view(proprioceptive, LIMB_OBS_DIM, "proprioceptive")
    return full[..., list(STATE_FEATURES)]


def require(obs: Mapping[str, Tensor], key: str, network: str) -> Tensor:
    """Fetch ``obs[key]`` or raise :class:`ObservationError` naming the network that needs it."""
    if key not in obs:
        raise ObservationError(f"{network} needs observation key '{key}'; got keys {sorted(obs)}")
    return obs[key]


def mask_limb_outputs(out: Tensor, obs: Mapping[str, Tensor]) -> Tensor:
    """Flatten per-limb outputs limb-major and zero the slots that belong to nothing.

    With 2 outputs per limb (actor means) the zeroed slots are those with ``act_padding_mask``; with 1
    (critic values) those of padded limbs. Nothing downstream reads these slots, so zeroing them only
    makes "padded inputs change nothing" hold for the whole output.

    :param out: (B, 12, k) per-limb outputs, k = 2 or 1.
    :param obs: the observation dict (needs the masks).
    :return: (B, 12·k).
    """
    flat = out.reshape(out.shape[0], -1)
    mask = obs["act_padding_mask"] if out.shape[-1] == ACTS_PER_LIMB else obs["obs_padding_mask"]
    if mask.shape[-1] != flat.shape[-1]:
        raise ObservationError(f"no mask fits {out.shape[-1]} outputs per limb (expected 1 or {ACTS_PER_LIMB})")
    return flat.masked_fill(mask, 0.0)
