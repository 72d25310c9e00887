"""Policy and value networks of the paper, each a plain ``nn.Module`` on the batched observation dict.

* :class:`LimbTransformer`: ModuMorph (the teacher) and the MetaMorph transformer, full or compressed;
* :class:`HyperDistill`: the hypernetwork student (and HN-RL's actor/critic), :meth:`HyperDistill.generate`
  turning it into one robot's :class:`GeneratedMLP`;
* :class:`MultiRobotMLP`: the multi-robot MLP baseline;
* :class:`ActorCritic` with the fixed-std :class:`MaskedGaussian`.

``build_network(arch, task, net)`` / ``build_actor_critic(arch, task, net)`` build any of them by one name
(:data:`ARCHITECTURES` in :mod:`.registry`), at the paper's size or a named smaller one.
"""

from .hyperdistill import GeneratedMLP, HyperDistill, HyperDistillConfig, hyperdistill
from .layers import HypernetHead, LimbwiseLinear, PreLNEncoderLayer, TerrainEncoder
from .mlp import MLPConfig, MultiRobotMLP, multi_robot_mlp
from .obs import ObservationError, student_state, student_state_index, to_torch
from .policy import ACTION_STD, ActorCritic, MaskedGaussian
from .registry import (
    ARCHITECTURES,
    SIZES,
    Architecture,
    UnknownNetworkError,
    architecture,
    build_actor_critic,
    build_network,
    network_config,
)
from .transformer import (
    LimbTransformer,
    TransformerConfig,
    metamorph,
    metamorph_compressed,
    modumorph,
    modumorph_compressed,
)

__all__ = [
    "ACTION_STD",
    "ARCHITECTURES",
    "SIZES",
    "ActorCritic",
    "Architecture",
    "GeneratedMLP",
    "HyperDistill",
    "HyperDistillConfig",
    "HypernetHead",
    "LimbTransformer",
    "LimbwiseLinear",
    "MLPConfig",
    "MaskedGaussian",
    "MultiRobotMLP",
    "ObservationError",
    "PreLNEncoderLayer",
    "TerrainEncoder",
    "TransformerConfig",
    "UnknownNetworkError",
    "architecture",
    "build_actor_critic",
    "build_network",
    "hyperdistill",
    "metamorph",
    "metamorph_compressed",
    "modumorph",
    "modumorph_compressed",
    "multi_robot_mlp",
    "network_config",
    "student_state",
    "student_state_index",
    "to_torch",
]
