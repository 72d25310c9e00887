"""Every network of the paper by one name, with its paper configuration per task and its named sizes.

=========================  ==========================  ============================================
name                       network                     role in the paper
=========================  ==========================  ============================================
``modumorph``              :class:`LimbTransformer`    the teacher (universal ModuMorph)
``modumorph-compressed``   :class:`LimbTransformer`    small ModuMorph student
``tf``                     :class:`LimbTransformer`    MetaMorph's transformer (TF)
``tf-compressed``          :class:`LimbTransformer`    small TF student
``mlp``                    :class:`MultiRobotMLP`      multi-robot MLP student
``hyperdistill``           :class:`HyperDistill`       the HyperDistill student
``hn-rl``                  :class:`HyperDistill`       the hypernetwork trained by PPO (no dropout)
=========================  ==========================  ============================================

A network's size is ``""`` (the paper's), a named size of :data:`SIZES` (``"small"`` for the laptop
teachers and the laptop students on VT and Obstacle, ``"tiny"`` for tests), and/or ``"field=value"`` overrides of
its configuration dataclass, comma-separated (``"small,n_layers=2"``). Command lines take their choices from
:data:`ARCHITECTURES`.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .hyperdistill import HyperDistill, hyperdistill
from .mlp import MultiRobotMLP, multi_robot_mlp
from .policy import ACTION_STD, ActorCritic
from .transformer import LimbTransformer, metamorph, metamorph_compressed, modumorph, modumorph_compressed


class UnknownNetworkError(ValueError):
    """An architecture name or size that the registry does not know (the message lists the choices)."""


@dataclass(frozen=True)
class Architecture:
    """One registered network: its class, its paper configuration per task and how it is shown."""

    network: type[nn.Module]
    """The ``nn.Module`` class, built as ``network(config, out_per_limb)``."""
    paper_config: Callable[[str], Any]
    """Task → the paper's configuration dataclass."""
    label: str
    """Name in tables and reports."""


ARCHITECTURES: dict[str, Architecture] = {
    "modumorph": Architecture(LimbTransformer, modumorph, "ModuMorph"),
    "modumorph-compressed": Architecture(LimbTransformer, modumorph_compressed, "ModuMorph (compressed)"),
    "tf": Architecture(LimbTransformer, metamorph, "TF"),
    "tf-compressed": Architecture(LimbTransformer, metamorph_compressed, "TF (compressed)"),
    "mlp": Architecture(MultiRobotMLP, multi_robot_mlp, "Multi-robot MLP"),
    "hyperdistill": Architecture(HyperDistill, hyperdistill, "HyperDistill"),
    "hn-rl": Architecture(HyperDistill, lambda task: hyperdistill(task, embedding_dropout=0.0), "HN-RL"),
}
"""Name → :class:`Architecture`; the one list of networks every command offers."""

SIZES: dict[str, dict[type[nn.Module], dict[str, Any]]] = {
    "tiny": {
        LimbTransformer: {"n_layers": 1, "n_heads": 1, "ff_dim": 16, "d_model": 8},
        MultiRobotMLP: {"hidden_dim": 16},
        HyperDistill: {"hidden_dim": 16, "embed_dim": 8, "context_heads": 1, "context_ff_dim": 16},
    },
    "small": {
        LimbTransformer: {"n_layers": 3, "ff_dim": 128, "d_model": 32},
        MultiRobotMLP: {"hidden_dim": 128},
        HyperDistill: {"hidden_dim": 128, "embed_dim": 32, "context_ff_dim": 64},
    },
}
"""Named sizes: ``tiny`` (the smoke preset: seconds on a CPU) and
``small`` (the laptop preset's teachers and VT/Obstacle students: a 2-core CPU, where the paper's ModuMorph costs
~4 ms per sample and update).
They set widths and, for the transformers, ``n_layers``: at ``small`` and ``tiny`` a compressed variant therefore has
its full model's depth and differs from it only in the number of heads. At every size HyperDistill's generated MLP
and the multi-robot MLP have the same hidden layers, as in the
paper (its Table 2 compares them at 256), so the two students differ only in how they are conditioned."""


def architecture(arch: str) -> Architecture:
    """:raises UnknownNetworkError: ``arch`` is not in :data:`ARCHITECTURES`."""
    if arch not in ARCHITECTURES:
        raise UnknownNetworkError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[arch]


def network_config(arch: str, task: str, net: str = "") -> Any:
    """The configuration of ``arch`` on ``task`` at size ``net``.

    :param arch: a name of :data:`ARCHITECTURES`.
    :param task: ``"ft"``, ``"vt"`` or ``"obstacle"``.
    :param net: ``""`` (the paper's), a size of :data:`SIZES`, and/or ``"field=value,..."`` overrides.
    :raises UnknownNetworkError: unknown architecture, size, field or value.
    """
    spec = architecture(arch)
    config = spec.paper_config(task)
    hints = typing.get_type_hints(type(config))
    overrides: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in net.split(","))):
        if item in SIZES:
            overrides.update(SIZES[item][spec.network])
            continue
        key, sep, text = item.partition("=")
        if not sep or key not in hints:
            raise UnknownNetworkError(
                f"network size item {item!r}: expected a size ({', '.join(SIZES)}) or field=value with a field of "
                f"{type(config).__name__}: {', '.join(sorted(hints))}"
            )
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
            raise UnknownNetworkError(f"network size item {item!r}: {text!r} is not a valid {hint}") from None
        _check_size(item, overrides[key], getattr(config, key))
    return dataclasses.replace(config, **overrides)


def _check_size(item: str, value: Any, default: Any) -> None:
    """Sizes are counts: whole numbers ≥ 1 (≥ 0 where the paper's value is 0); rates are finite and ≥ 0.

    :raises UnknownNetworkError: a value outside that.
    """
    values = value if isinstance(value, tuple) else (value,)
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            continue
        if isinstance(v, int):
            low = 0 if default == 0 else 1
            if v < low:
                raise UnknownNetworkError(f"network size item {item!r}: {v} is not allowed: at least {low}")
        elif not (math.isfinite(v) and v >= 0):
            raise UnknownNetworkError(f"network size item {item!r}: {v} is not allowed: a finite number ≥ 0")


def build_network(arch: str, task: str, net: str = "", *, out_per_limb: int = 2, **overrides: Any) -> nn.Module:
    """One network by name.

    :param arch: a name of :data:`ARCHITECTURES`.
    :param task: ``"ft"``, ``"vt"`` or ``"obstacle"``.
    :param net: size (see :func:`network_config`).
    :param out_per_limb: 2 for an actor (24 action means), 1 for a critic (12 per-limb values).
    :param overrides: configuration fields set after the size (e.g. ``embedding_dropout``).
    :raises UnknownNetworkError: unknown name or size, a size whose parts do not fit together, or a network of
        more than :data:`MAX_NETWORK_NUMBERS` parameters and buffers (measured on torch's ``meta`` device, where
        nothing is allocated, before the network is built).
    """
    config = dataclasses.replace(network_config(arch, task, net), **overrides)
    cls = architecture(arch).network
    with torch.device("meta"):
        numbers = count_numbers(_construct(cls, config, out_per_limb, f"{arch} at size {net or 'paper'!r}"))
    if numbers > MAX_NETWORK_NUMBERS:
        raise UnknownNetworkError(
            f"{arch} at size {net or 'paper'!r} has {numbers:,} parameters; at most {MAX_NETWORK_NUMBERS:,} are "
            "allowed (the paper's largest network, HyperDistill on VT, has 20.3M)"
        )
    return _construct(cls, config, out_per_limb, f"{arch} at size {net or 'paper'!r}")


def check_network(arch: str, task: str, net: str = "", **overrides: Any) -> None:
    """Check that :func:`build_network` would build this network, building it on torch's ``meta`` device only
    (no memory, no random numbers drawn): what a configuration's ``validate`` calls.

    :raises UnknownNetworkError: see :func:`build_network`.
    """
    with torch.device("meta"):
        build_network(arch, task, net, **overrides)


def _construct(cls: type[nn.Module], config: Any, out_per_limb: int, what: str) -> nn.Module:
    try:
        return cls(config, out_per_limb)  # type: ignore[call-arg]
    except (AssertionError, ValueError, RuntimeError) as exc:  # sizes that do not fit together, e.g. heads
        raise UnknownNetworkError(f"{what} cannot be built: {str(exc) or type(exc).__name__}") from None


MAX_NETWORK_NUMBERS = 200_000_000
"""The most parameters and buffers one network may have (800 MB in float32; the paper's largest has 20.3M), so a
size typed by mistake or read from an untrusted checkpoint (ModuMorph with ``d_model=6000``: 2.9G per network) is
refused, not allocated."""


def count_numbers(module: nn.Module) -> int:
    """Parameters and buffers of a module (it may live on the ``meta`` device)."""
    return sum(t.numel() for t in module.parameters()) + sum(t.numel() for t in module.buffers())


def build_actor_critic(arch: str, task: str, net: str = "", *, action_std: float = ACTION_STD) -> ActorCritic:
    """Actor and critic of the same architecture and size, no shared weights (docs/networks.md §3.8, §6.2)."""
    actor, critic = build_network(arch, task, net, out_per_limb=2), build_network(arch, task, net, out_per_limb=1)
    return ActorCritic(actor, critic, action_std)


__all__ = [
    "ARCHITECTURES",
    "MAX_NETWORK_NUMBERS",
    "SIZES",
    "Architecture",
    "UnknownNetworkError",
    "architecture",
    "build_actor_critic",
    "build_network",
    "check_network",
    "count_numbers",
    "network_config",
]
