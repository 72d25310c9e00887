"""Every network builds and runs forward/backward on real observations of all three tasks; the Gaussian
head ignores padded action slots; sizes as built match docs/networks.md's verified counts."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from nets_data import (
    batch,
    morphology,
    network,
    one_torch_thread,  # noqa: F401  (autouse fixture)
)

from baselines.nets import (
    ARCHITECTURES,
    ActorCritic,
    HyperDistill,
    LimbTransformer,
    MaskedGaussian,
    ObservationError,
    build_actor_critic,
    build_network,
    hyperdistill,
    modumorph,
    to_torch,
)

TASKS = ("ft", "vt", "obstacle")


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_forward_backward_on_real_observations(arch: str, task: str) -> None:
    torch.manual_seed(0)
    obs = to_torch(batch(task, n_robots=2, per_robot=2))
    ac = ActorCritic(network(arch, task, 2), network(arch, task, 1))
    ac.train()
    action, log_prob, value = ac(obs)
    assert action.shape == (4, 24) and log_prob.shape == (4,) and value.shape == (4,)
    mean = ac.actor(obs)
    assert torch.isfinite(mean).all() and torch.isfinite(value).all()
    assert (mean[obs["act_padding_mask"]] == 0).all() and (action[obs["act_padding_mask"]] == 0).all()
    v, lp, ent = ac.evaluate_actions(obs, action)
    (lp.mean() + v.square().mean() + 0.01 * ent.mean()).backward()
    no_grad = [n for n, p in ac.named_parameters() if p.requires_grad and (p.grad is None or not p.grad.any())]
    assert no_grad == [], f"parameters without gradient: {no_grad}"
    assert not ac.log_std.requires_grad
    ac.zero_grad(set_to_none=True)
    ac.eval()


def test_gaussian_ignores_padded_slots() -> None:
    g = torch.Generator().manual_seed(0)
    mean, action = torch.randn(4, 24, generator=g), torch.randn(4, 24, generator=g)
    mask = torch.zeros(4, 24, dtype=torch.bool)
    mask[:, :2] = True
    mask[1, 10:] = True
    std = torch.full((1, 24), 0.9)
    dist = MaskedGaussian(mean, std, mask)
    other = action.clone()
    other[mask] += 5.0
    assert torch.equal(dist.log_prob(action), dist.log_prob(other))
    reference = torch.distributions.Normal(mean, 0.9)
    expected = (reference.log_prob(action) * ~mask).sum(-1)
    torch.testing.assert_close(dist.log_prob(action), expected)
    torch.testing.assert_close(dist.entropy(), (reference.entropy() * ~mask).sum(-1))
    assert dist.entropy()[1] == pytest.approx(8 * (0.5 * math.log(2 * math.pi * math.e) + math.log(0.9)))


def test_value_is_mean_over_real_limbs() -> None:
    obs = to_torch(batch("ft"))
    ac = build_actor_critic("mlp", "ft")
    per_limb = ac.critic(obs)
    real = ~obs["obs_padding_mask"]
    expected = torch.stack([per_limb[i][real[i]].mean() for i in range(len(per_limb))])
    torch.testing.assert_close(ac.value(obs), expected)


def test_sizes_as_built_match_the_original() -> None:
    # docs/networks.md §3.9 (MX actor 2,629,380 incl. the unused limb_embed 52·128+128 and decoder 128·2+2) and §5.6.
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(LimbTransformer(modumorph("ft"))) == 2_629_380 - 6_784 - 258
    assert count(HyperDistill(hyperdistill("ft"))) == 9_566_082
    assert count(HyperDistill(hyperdistill("vt"))) == 20_261_250


def test_bias_init_gives_every_robot_the_same_network() -> None:
    torch.manual_seed(0)
    student = HyperDistill(hyperdistill("ft")).eval()
    obs = batch("ft", n_robots=3, per_robot=1)
    mlps = [student.generate(*morphology(obs, i)) for i in range(3)]
    torch.testing.assert_close(mlps[0].layers[1].weight, mlps[2].layers[1].weight)
    assert not mlps[0].layers[1].bias.any()
    std = student.input_head.weight.bias.std().item()
    assert std == pytest.approx(1 / math.sqrt(204), rel=0.05)


def test_context_dropout_only_in_train_mode() -> None:
    torch.manual_seed(0)
    obs = to_torch(batch("ft"))
    student = HyperDistill(hyperdistill("ft", init="bias_init_v2"))
    with torch.no_grad():
        for p in student.parameters():
            p.add_(0.05 * torch.randn_like(p))
        student.eval()
        assert torch.equal(student(obs), student(obs))
        student.train()
        assert not torch.equal(student(obs), student(obs))


def test_missing_or_malformed_keys_raise_named_errors() -> None:
    obs = to_torch(batch("vt"))
    net = build_network("modumorph", "vt")
    with pytest.raises(ObservationError, match="hfield"):
        net({k: v for k, v in obs.items() if k != "hfield"})
    with pytest.raises(ObservationError, match="width 600"):
        net(dict(obs, proprioceptive=obs["proprioceptive"][:, :600]))
    with pytest.raises(ValueError, match="unknown architecture"):
        build_network("gnn", "ft")


def test_student_reads_the_reduced_observation_too() -> None:
    from baselines.nets import student_state_index

    obs = batch("ft")
    student = HyperDistill(hyperdistill("ft")).eval()
    reduced = dict(obs, proprioceptive=obs["proprioceptive"][:, student_state_index()])
    with torch.no_grad():
        torch.testing.assert_close(student(to_torch(reduced)), student(to_torch(obs)))
    assert np.array_equal(student_state_index()[:17], [*range(13), 30, 31, 41, 42])


@pytest.mark.parametrize("net", ["", "small", "tiny"])
@pytest.mark.parametrize("task", ["ft", "vt", "obstacle"])
def test_hyperdistill_and_the_multi_robot_mlp_have_the_same_hidden_layers(net: str, task: str) -> None:
    """The two students are comparable at every named size: same widths and depth, same terrain input."""
    from baselines.nets import network_config

    hd, mlp = network_config("hyperdistill", task, net), network_config("mlp", task, net)
    assert (hd.hidden_dim, hd.layer_num, hd.terrain) == (mlp.hidden_dim, mlp.layer_num, mlp.terrain)
