"""Our networks as a stable-baselines3 policy: :class:`UnimalPolicy` subclasses ``ActorCriticPolicy``.

SB3's PPO talks to its policy through ``forward`` (act), ``evaluate_actions`` (the loss),
``predict_values`` (bootstrapping) and ``_predict`` / ``get_distribution``. Here all of them go to
:class:`baselines.nets.ActorCritic`, whose :class:`~baselines.nets.MaskedGaussian` has the fixed std
0.9 (a frozen parameter, not learned) and leaves padded action slots out of log-probabilities and
entropy (MODELS.md §3.8). SB3's own feature extractor, MLP extractor and action distribution are not
built; the observation dict goes to the networks as they are (``proprioceptive`` already normalised by
VecNormalize).
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable, Mapping
from typing import Any

from gymnasium import spaces
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.type_aliases import PyTorchObs
from torch import Tensor, nn

from .config import MODELS, ConfigError
from .nets import (
    ActorCritic,
    HyperDistill,
    LimbTransformer,
    MultiRobotMLP,
    hyperdistill,
    metamorph,
    metamorph_compressed,
    modumorph,
    modumorph_compressed,
    multi_robot_mlp,
    to_torch,
)
from .nets.policy import ACTION_STD, MaskedGaussian

# model name → (network class, its paper config for a task)
_NETWORKS: dict[str, tuple[type[nn.Module], Callable[[str], Any]]] = {
    "modumorph": (LimbTransformer, modumorph),
    "tf": (LimbTransformer, metamorph),
    "modumorph-compressed": (LimbTransformer, modumorph_compressed),
    "tf-compressed": (LimbTransformer, metamorph_compressed),
    "mlp": (MultiRobotMLP, multi_robot_mlp),
    "hn": (HyperDistill, lambda task: hyperdistill(task, embedding_dropout=0.0)),  # HN-RL, MODELS.md §6.2
}

# Named sizes that keep each network's structure: 'tiny' for tests (seconds on a CPU), 'small' for the
# laptop preset (a 2-core CPU; the paper's ModuMorph costs ~4 ms per sample and update there).
_SIZES = {
    "tiny": {
        LimbTransformer: {"n_layers": 1, "n_heads": 1, "ff_dim": 16, "d_model": 8},
        MultiRobotMLP: {"hidden_dim": 16},
        HyperDistill: {"hidden_dim": 16, "embed_dim": 8, "context_heads": 1, "context_ff_dim": 16},
    },
    "small": {
        LimbTransformer: {"n_layers": 3, "ff_dim": 128, "d_model": 32},
        MultiRobotMLP: {},
        HyperDistill: {"hidden_dim": 128, "embed_dim": 32, "context_ff_dim": 64},
    },
}


def network_config(model: str, task: str, net: str = "") -> Any:
    """The network config of ``model`` on ``task`` with the overrides of ``net``.

    :param model: one of :data:`baselines.config.MODELS`.
    :param task: ``"ft"``, ``"vt"`` or ``"obstacle"``.
    :param net: ``""`` (the paper's), a named size (``"tiny"``, ``"small"``), or ``"field=value,..."``
        (a size may come first: ``"small,n_layers=2"``).
    :raises ConfigError: unknown model, field or value.
    """
    if model not in _NETWORKS:
        raise ConfigError(f"unknown model {model!r}; choose one of {', '.join(MODELS)}")
    cls, paper = _NETWORKS[model]
    config = paper(task)
    hints = typing.get_type_hints(type(config))
    overrides: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in net.split(","))):
        if item in _SIZES:
            overrides.update(_SIZES[item][cls])
            continue
        key, sep, text = item.partition("=")
        if not sep or key not in hints:
            allowed = ", ".join(sorted(hints))
            raise ConfigError(f"--net item {item!r}: expected field=value with a field of {cls.__name__}: {allowed}")
        hint = hints[key]
        try:
            if hint is bool:
                overrides[key] = text.lower() in ("1", "true", "yes")
            elif typing.get_origin(hint) is tuple:
                overrides[key] = tuple(int(v) for v in text.split(":") if v)
            elif hint in (int, float):
                overrides[key] = hint(text)
            else:
                overrides[key] = text
        except ValueError:
            raise ConfigError(f"--net item {item!r}: {text!r} is not a valid {hint}") from None
    return dataclasses.replace(config, **overrides)


def build_actor_critic(model: str, task: str, net: str = "", action_std: float = ACTION_STD) -> ActorCritic:
    """Actor and critic of the same architecture and size, no shared weights (MODELS.md §3.8, §6.2)."""
    cls = _NETWORKS[model][0] if model in _NETWORKS else None
    config = network_config(model, task, net)
    return ActorCritic(cls(config, 2), cls(config, 1), action_std)  # type: ignore[misc]


class UnimalPolicy(ActorCriticPolicy):
    """SB3 actor-critic policy running one of our networks on the Dict observation.

    :param observation_space: the env's Dict space (``proprioceptive``, ``context``, masks, [hfield]).
    :param action_space: Box (24,) in [−1, 1].
    :param lr_schedule: SB3's learning-rate schedule (the trainer sets the rate per iteration itself).
    :param model: network name (see :data:`baselines.config.MODELS`).
    :param task: ``"ft"``, ``"vt"`` or ``"obstacle"``.
    :param net: architecture overrides (see :func:`network_config`).
    :param action_std: the fixed Gaussian std.
    """

    def __init__(
        self,
        observation_space: spaces.Dict,
        action_space: spaces.Box,
        lr_schedule: Callable[[float], float],
        model: str = "modumorph",
        task: str = "ft",
        net: str = "",
        action_std: float = ACTION_STD,
        **kwargs: Any,
    ) -> None:
        self.model_name, self.task, self.net, self.action_std = model, task, net, action_std
        # MODELS.md §7: Adam eps 1e-5. foreach: one kernel per step for all tensors, not a Python loop over
        # them (1.5 ms less per update for ModuMorph 'small' on CPU, bitwise the same parameters).
        kwargs.setdefault("optimizer_kwargs", {"eps": 1e-5, "foreach": True})
        super().__init__(observation_space, action_space, lr_schedule, **kwargs)

    def _build(self, lr_schedule: Callable[[float], float]) -> None:
        """Build our actor-critic instead of SB3's MLP extractor and heads; one Adam for both networks."""
        self.ac = build_actor_critic(self.model_name, self.task, self.net, self.action_std)
        self.optimizer = self.optimizer_class(self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(model=self.model_name, task=self.task, net=self.net, action_std=self.action_std)
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


__all__ = ["UnimalPolicy", "build_actor_critic", "network_config"]
