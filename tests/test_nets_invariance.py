"""Invariance of every network to padded limbs' inputs, and to how a robot's limbs are stored.

Padded limbs: random values in the proprioceptive and context rows of padded limb slots change no
output of any actor or critic. Storage order: permuting a robot's limb slots (its proprioceptive and
context rows and masks together) permutes the HyperDistill student's generated policy and nothing
more (the order-invariance claim of the paper's §3.2); the transformers without positional
embedding are permutation-equivariant too; the multi-robot MLP is shown **not** to be.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from nets_data import (
    batch,
    morphology,
    network,
    one_torch_thread,  # noqa: F401  (autouse fixture)
)

from baselines.nets import ARCHITECTURES, GeneratedMLP, build_network, to_torch

TASKS = ("ft", "vt", "obstacle")
PERMUTATION = np.array([7, 2, 11, 0, 5, 9, 1, 4, 10, 3, 8, 6])  # new slot i stores old slot PERMUTATION[i]


def with_noisy_padding(obs: dict[str, np.ndarray], seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = dict(obs)
    for key, width in (("proprioceptive", 52), ("context", 53)):
        x = obs[key].reshape(len(obs[key]), 12, width).copy()
        pad = obs["obs_padding_mask"]
        x[pad] = rng.normal(0, 3, size=(pad.sum(), width))
        out[key] = x.reshape(len(x), -1)
    return out


def permute_limbs(obs: dict[str, np.ndarray], perm: np.ndarray) -> dict[str, np.ndarray]:
    """Store every robot's limbs in another order: new slot i holds old slot perm[i]."""
    out = dict(obs)
    b = len(obs["obs_padding_mask"])
    out["proprioceptive"] = obs["proprioceptive"].reshape(b, 12, 52)[:, perm].reshape(b, -1)
    out["context"] = obs["context"].reshape(b, 12, 53)[:, perm].reshape(b, -1)
    out["obs_padding_mask"] = obs["obs_padding_mask"][:, perm]
    out["act_padding_mask"] = obs["act_padding_mask"].reshape(b, 12, 2)[:, perm].reshape(b, -1)
    return out


def permute_outputs(y: torch.Tensor, perm: np.ndarray) -> torch.Tensor:
    b = len(y)
    return y.reshape(b, 12, -1)[:, perm].reshape(b, -1)


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_padded_limbs_inputs_change_nothing(arch: str, task: str) -> None:
    obs = batch(task)
    noisy = with_noisy_padding(obs)
    assert not np.allclose(noisy["proprioceptive"], obs["proprioceptive"])
    for out_per_limb in (2, 1) if task == "ft" else (2,):  # critics: same classes, other output mask
        net = network(arch, task, out_per_limb)
        with torch.no_grad():
            torch.testing.assert_close(net(to_torch(noisy)), net(to_torch(obs)), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("task", TASKS)
def test_student_generated_policy_does_not_depend_on_limb_storage_order(task: str) -> None:
    obs = batch(task, n_robots=3, per_robot=2)
    perm_obs = permute_limbs(obs, PERMUTATION)
    student = network("hyperdistill", task)
    for i in (0, 1, 2):  # the three robots
        mlp = student.generate(*morphology(obs, i))
        mlp_p = student.generate(*morphology(perm_obs, i))
        # The same network up to the order of its input rows (limb-major 12 × 17) and output columns.
        rows = torch.as_tensor((PERMUTATION[:, None] * 17 + np.arange(17)).reshape(-1))
        cols = torch.as_tensor((PERMUTATION[:, None] * 2 + np.arange(2)).reshape(-1))
        w_in, w_in_p = mlp.layers[0].weight, mlp_p.layers[0].weight  # (256, 204)
        torch.testing.assert_close(w_in_p, w_in[:, rows], rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(mlp_p.layers[0].bias, mlp.layers[0].bias, rtol=1e-5, atol=1e-5)
        for layer, layer_p in zip(mlp.layers[1:-1], mlp_p.layers[1:-1], strict=True):
            torch.testing.assert_close(layer_p.weight, layer.weight, rtol=1e-5, atol=1e-6)
            torch.testing.assert_close(layer_p.bias, layer.bias, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(mlp_p.layers[-1].weight, mlp.layers[-1].weight[cols], rtol=1e-5, atol=1e-6)
        assert isinstance(mlp, GeneratedMLP)
    with torch.no_grad():
        y, y_p = student(to_torch(obs)), student(to_torch(perm_obs))
    torch.testing.assert_close(y_p, permute_outputs(y, PERMUTATION), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("arch", ["modumorph", "tf", "modumorph-compressed", "tf-compressed"])
def test_transformers_without_positional_embedding_are_permutation_equivariant(arch: str) -> None:
    obs = batch("vt", n_robots=2, per_robot=2)
    net = network(arch, "vt")
    with torch.no_grad():
        y, y_p = net(to_torch(obs)), net(to_torch(permute_limbs(obs, PERMUTATION)))
    torch.testing.assert_close(y_p, permute_outputs(y, PERMUTATION), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("task", TASKS)
def test_multi_robot_mlp_is_not_invariant_to_limb_storage_order(task: str) -> None:
    obs = batch(task, n_robots=3, per_robot=2)
    net = build_network("mlp", task).eval()
    with torch.no_grad():
        y, y_p = net(to_torch(obs)), net(to_torch(permute_limbs(obs, PERMUTATION)))
    gap = (y_p - permute_outputs(y, PERMUTATION)).abs().max().item()
    assert gap > 1e-2, "the multi-robot MLP reads limbs by slot; reordering them must change its actions"
