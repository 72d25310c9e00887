"""Policy and value networks of the paper, each a plain ``nn.Module`` on the batched observation dict.

* :class:`LimbTransformer`: ModuMorph (the teacher) and the MetaMorph transformer, full or compressed;
* :class:`HyperDistill`: the hypernetwork student (and HN-RL's actor/critic), :meth:`HyperDistill.generate`
  turning it into one robot's :class:`GeneratedMLP`;
* :class:`MultiRobotMLP`: the multi-robot MLP baseline;
* :class:`ActorCritic` with the fixed-std :class:`MaskedGaussian`.

``build_network(arch, task)`` / ``build_actor_critic(arch, task)`` build any of them by name.
"""

from .hyperdistill import GeneratedMLP, HyperDistill, HyperDistillConfig, hyperdistill
from .layers import HypernetHead, LimbwiseLinear, PreLNEncoderLayer, TerrainEncoder
from .mlp import MLPConfig, MultiRobotMLP, multi_robot_mlp
from .obs import ObservationError, student_state, student_state_index, to_torch
from .policy import ARCHITECTURES, ActorCritic, MaskedGaussian, build_actor_critic, build_network
from .transformer import (
    LimbTransformer,
    TransformerConfig,
    metamorph,
    metamorph_compressed,
    modumorph,
    modumorph_compressed,
)

__all__ = [
    "ARCHITECTURES",
    "ActorCritic",
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
    "build_actor_critic",
    "build_network",
    "hyperdistill",
    "metamorph",
    "metamorph_compressed",
    "modumorph",
    "modumorph_compressed",
    "multi_robot_mlp",
    "student_state",
    "student_state_index",
    "to_torch",
]
