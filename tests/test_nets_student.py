"""The HyperDistill student as a real small MLP: ``generate`` equals the hypernetwork forward pass to
1e-5 (docs/networks.md §5.4), and per-robot weight generation equals the original's per-sample generation."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from nets_data import (
    batch,
    morphology,
    network,
    one_torch_thread,  # noqa: F401  (autouse fixture)
)

from baselines.nets import HyperDistill, hyperdistill, student_state, to_torch
from baselines.nets.layers import RobotGroups

TASKS = ("ft", "vt", "obstacle")


def trained_like(task: str, **overrides: object) -> HyperDistill:
    """A student with parameters moved off the bias-init (where every robot gets the same MLP)."""
    torch.manual_seed(0)
    student = HyperDistill(hyperdistill(task, **overrides))
    with torch.no_grad():
        for p in student.parameters():
            p.add_(0.01 * torch.randn_like(p))
    return student.eval()


@pytest.mark.parametrize("task", TASKS)
def test_generated_mlp_equals_hypernetwork_forward(task: str) -> None:
    obs = batch(task, n_robots=3, per_robot=4)
    student = network("hyperdistill", task)
    t = to_torch(obs)
    with torch.no_grad():
        expected = student(t)
        for i in range(3):  # one MLP per robot, applied to all of that robot's samples
            rows = slice(i, None, 3)
            mlp = student.generate(*morphology(obs, i))
            hfield = t["hfield"][rows] if task != "ft" else None
            got = mlp(student_state(t["proprioceptive"][rows]).flatten(1), hfield)
            torch.testing.assert_close(got, expected[rows], rtol=0, atol=1e-5)
            widths = [layer.in_features for layer in mlp.layers]
            assert widths == ([204, 256, 256] if task == "ft" else [204, 320, 256, 256])
            assert (got[:, t["act_padding_mask"][i]] == 0).all()


@pytest.mark.parametrize("encoder", ["transformer", "mlp"])
def test_per_robot_generation_equals_per_sample_generation(encoder: str) -> None:
    obs = to_torch(batch("vt", n_robots=4, per_robot=5))
    student = trained_like("vt", context_encoder=encoder)
    naive = HyperDistill(replace(student.config, generation="per_sample"))
    naive.load_state_dict(student.state_dict())
    naive.eval()
    student.zero_grad()
    y = student(obs)
    y.square().sum().backward()
    grads = {n: p.grad.clone() for n, p in student.named_parameters()}
    y_naive = naive(obs)
    y_naive.square().sum().backward()
    torch.testing.assert_close(y, y_naive, rtol=1e-5, atol=1e-5)
    for n, p in naive.named_parameters():  # same gradients, up to float32 summation order
        assert (grads[n] - p.grad).norm() <= 1e-4 * p.grad.norm() + 1e-6, n


def test_robot_groups_round_trip() -> None:
    keys = torch.tensor([[1.0], [2.0], [1.0], [3.0], [2.0], [1.0]])
    groups = RobotGroups(keys)
    assert len(groups.first) == 3 and groups.size == 3
    x = torch.arange(12.0).reshape(6, 2)
    grouped = groups.group(x)
    assert grouped.shape == (3, 3, 2)
    torch.testing.assert_close(groups.ungroup(grouped), x)
    assert torch.equal(keys[groups.first].flatten(), torch.tensor([1.0, 2.0, 3.0]))
