"""Fixed-std Gaussian action distribution over the 24 action slots and the actor-critic wrapper.

docs/networks.md §3.8: π = N(μ, 0.9²) with a frozen, state-independent std; padded action slots contribute
nothing to log-probabilities or entropy; the value is the mean of per-limb values over real limbs.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager

import torch
from torch import Tensor, nn

from unimal_gym.layout import ACTION_DIM

ACTION_STD = 0.9  # docs/networks.md §3.8 (ACTION_STD, ACTION_STD_FIXED True)


class MaskedGaussian:
    """Diagonal Gaussian over 24 slots whose masked slots do not exist.

    :param mean: (B, 24) action means.
    :param std: (B, 24) or broadcastable standard deviations.
    :param act_padding_mask: (B, 24), True = no actuator in this slot.
    """

    def __init__(self, mean: Tensor, std: Tensor, act_padding_mask: Tensor) -> None:
        self.mean, self.std, self.mask = mean, std.expand_as(mean), act_padding_mask
        self.valid = (~act_padding_mask).to(mean.dtype)

    def log_prob(self, action: Tensor) -> Tensor:
        """:param action: (B, 24). :return: (B,) Σ over real slots of log N(a_j; μ_j, σ_j²)."""
        z = (action - self.mean) / self.std
        per_slot = -0.5 * z * z - self.std.log() - 0.5 * math.log(2 * math.pi)
        return (per_slot * self.valid).sum(-1)

    def entropy(self) -> Tensor:
        """:return: (B,) Σ over real slots of ½ log(2πe σ²). (MX averages over all 24 slots with masked
        ones set to 0, i.e. this divided by 24; the entropy coefficient is 0 in every run.)"""
        per_slot = 0.5 * math.log(2 * math.pi * math.e) + self.std.log()
        return (per_slot * self.valid).sum(-1)

    def sample(self) -> Tensor:
        """:return: (B, 24) a ~ π (no gradient), masked slots 0."""
        with torch.no_grad():
            return (self.mean + self.std * torch.randn_like(self.mean)) * self.valid

    def mode(self) -> Tensor:
        """:return: (B, 24) the mean (deterministic action)."""
        return self.mean


class ActorCritic(nn.Module):
    """An actor network (24 means) and a separate critic network (12 per-limb values), no shared weights.

    :param actor: maps the observation dict to (B, 24).
    :param critic: maps the observation dict to (B, 12) per-limb values.
    :param action_std: the fixed std (a frozen parameter, as in the original).
    """

    def __init__(self, actor: nn.Module, critic: nn.Module, action_std: float = ACTION_STD) -> None:
        super().__init__()
        self.actor, self.critic = actor, critic
        self.log_std = nn.Parameter(torch.full((1, ACTION_DIM), math.log(action_std)), requires_grad=False)

    @contextmanager
    def frozen_conditioning(self) -> Iterator[None]:
        """While the weights stay fixed (a rollout): networks that can (:class:`LimbTransformer`) compute
        each robot's context-only parts once and reuse them in gradient-free forwards; same outputs."""
        with ExitStack() as stack:
            for module in (self.actor, self.critic):
                if hasattr(module, "frozen_conditioning"):
                    stack.enter_context(module.frozen_conditioning())
            yield

    def distribution(self, obs: Mapping[str, Tensor]) -> MaskedGaussian:
        """:return: π(·|obs) over (B, 24)."""
        return MaskedGaussian(self.actor(obs), self.log_std.exp(), obs["act_padding_mask"])

    def value(self, obs: Mapping[str, Tensor]) -> Tensor:
        """:return: (B,) V = Σ_i (1 − m_i) v_i / Σ_i (1 − m_i)."""
        real = (~obs["obs_padding_mask"]).to(self.log_std.dtype)
        return (self.critic(obs) * real).sum(-1) / real.sum(-1)

    def forward(self, obs: Mapping[str, Tensor], deterministic: bool = False) -> tuple[Tensor, Tensor, Tensor]:
        """Act: :return: action (B, 24), its log-probability (B,), value (B,)."""
        dist = self.distribution(obs)
        action = dist.mode() if deterministic else dist.sample()
        return action, dist.log_prob(action), self.value(obs)

    def evaluate_actions(self, obs: Mapping[str, Tensor], action: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """For the PPO loss: :return: value (B,), log π(action) (B,), entropy (B,)."""
        dist = self.distribution(obs)
        return self.value(obs), dist.log_prob(action), dist.entropy()
