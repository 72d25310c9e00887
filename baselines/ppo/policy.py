"""Our networks as a stable-baselines3 policy (the PPO stage's adapter): :class:`UnimalPolicy`.

SB3's PPO talks to its policy through ``forward`` (act), ``evaluate_actions`` (the loss),
``predict_values`` (bootstrapping) and ``_predict`` / ``get_distribution``. Here all of them go to
:class:`baselines.nets.ActorCritic`, whose :class:`~baselines.nets.MaskedGaussian` has the fixed std
0.9 (a frozen parameter, not learned) and leaves padded action slots out of log-probabilities and
entropy (docs/networks.md §3.8). SB3's own feature extractor, MLP extractor and action distribution are not
built; the observation dict goes to the networks as they are (``proprioceptive`` already normalised by
VecNormalize).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from gymnasium import spaces
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.type_aliases import PyTorchObs
from torch import Tensor

from ..nets import ACTION_STD, MaskedGaussian, build_actor_critic, to_torch


class UnimalPolicy(ActorCriticPolicy):
    """SB3 actor-critic policy running one of our networks on the Dict observation.

    :param observation_space: the env's Dict space (``proprioceptive``, ``context``, masks, [hfield]).
    :param action_space: Box (24,) in [−1, 1].
    :param lr_schedule: SB3's learning-rate schedule (the trainer sets the rate per iteration itself).
    :param arch: network name (:data:`baselines.nets.ARCHITECTURES`).
    :param task: ``"ft"``, ``"vt"`` or ``"obstacle"``.
    :param net: network size (:func:`baselines.nets.network_config`).
    :param action_std: the fixed Gaussian std.
    """

    def __init__(
        self,
        observation_space: spaces.Dict,
        action_space: spaces.Box,
        lr_schedule: Callable[[float], float],
        arch: str = "modumorph",
        task: str = "ft",
        net: str = "",
        action_std: float = ACTION_STD,
        **kwargs: Any,
    ) -> None:
        self.arch, self.task, self.net, self.action_std = arch, task, net, action_std
        # docs/networks.md §7: Adam eps 1e-5. fused: the whole update in one pass per tensor, not a Python loop
        # over them (ModuMorph 'small' on CPU: clip and step 4.1 -> 2.1 ms per update against foreach, itself 1.5 ms
        # less than the loop; benchmarks/adam_fused.py); the same update to the last bits.
        kwargs.setdefault("optimizer_kwargs", {"eps": 1e-5, "fused": True})
        super().__init__(observation_space, action_space, lr_schedule, **kwargs)

    def _build(self, lr_schedule: Callable[[float], float]) -> None:
        """Build our actor-critic instead of SB3's MLP extractor and heads; one Adam for both networks."""
        self.ac = build_actor_critic(self.arch, self.task, self.net, action_std=self.action_std)
        self.optimizer = self.optimizer_class(self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(arch=self.arch, task=self.task, net=self.net, action_std=self.action_std)
        return data

    def _obs(self, obs: PyTorchObs | Mapping[str, Tensor]) -> dict[str, Tensor]:
        """SB3 hands masks over as float (rollout buffer) or bool; the networks want bool masks."""
        return to_torch(obs, self.device)  # type: ignore[arg-type]

    def distribution(self, obs: PyTorchObs) -> MaskedGaussian:
        """π(·|obs): the fixed-std Gaussian over the 24 slots, masked slots excluded."""
        return self.ac.distribution(self._obs(obs))

    def forward(self, obs: PyTorchObs, deterministic: bool = False) -> tuple[Tensor, Tensor, Tensor]:
        """Act during rollouts. :return: actions (B, 24), values (B, 1), log π(actions) (B,)."""
        actions, log_prob, values = self.ac(self._obs(obs), deterministic)
        return actions, values.unsqueeze(-1), log_prob

    def evaluate_actions(self, obs: PyTorchObs, actions: Tensor) -> tuple[Tensor, Tensor, Tensor | None]:
        """For the PPO loss. :return: values (B, 1), log π(actions) (B,), entropy (B,)."""
        values, log_prob, entropy = self.ac.evaluate_actions(self._obs(obs), actions)
        return values.unsqueeze(-1), log_prob, entropy

    def predict_values(self, obs: PyTorchObs) -> Tensor:
        """:return: V(obs) (B, 1), the masked mean of per-limb values."""
        return self.ac.value(self._obs(obs)).unsqueeze(-1)

    def get_distribution(self, obs: PyTorchObs) -> MaskedGaussian:  # type: ignore[override]
        """π(·|obs) (our distribution class, not SB3's)."""
        return self.distribution(obs)

    def _predict(self, observation: PyTorchObs, deterministic: bool = False) -> Tensor:
        dist = self.distribution(observation)
        return dist.mode() if deterministic else dist.sample()


__all__ = ["UnimalPolicy"]
