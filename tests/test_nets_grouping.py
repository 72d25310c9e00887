"""The hypernetwork transformers (ModuMorph) generate their per-limb layers once per robot in a batch;
the result equals running every sample on its own (each a batch of one robot), in outputs and gradients."""

from __future__ import annotations

import copy

import pytest
import torch
from nets_data import batch, network, one_torch_thread  # noqa: F401  (autouse fixture)

from baselines.nets import to_torch
from baselines.nets.registry import ARCHITECTURES

CASES = [("modumorph", "ft"), ("modumorph-compressed", "ft"), ("modumorph", "vt"), ("tf", "ft")]


@pytest.mark.parametrize(("arch", "task"), CASES)
def test_batched_forward_equals_one_sample_at_a_time(arch: str, task: str) -> None:
    net = network(arch, task)
    obs = to_torch(batch(task, n_robots=3, per_robot=3))
    n = obs["proprioceptive"].shape[0]
    batched = net(obs)
    single = torch.cat([net({k: v[i : i + 1] for k, v in obs.items()}) for i in range(n)])
    torch.testing.assert_close(batched, single, rtol=0, atol=1e-5)

    weights = torch.linspace(-1, 1, batched.numel()).reshape(batched.shape)
    params = [p for p in net.parameters() if p.requires_grad]
    grads_batched = torch.autograd.grad((batched * weights).sum(), params, allow_unused=True)
    outs = [net({k: v[i : i + 1] for k, v in obs.items()}) for i in range(n)]
    loss_single = sum((o * weights[i : i + 1]).sum() for i, o in enumerate(outs))
    grads_single = torch.autograd.grad(loss_single, params, allow_unused=True)
    for gb, gs in zip(grads_batched, grads_single, strict=True):
        if gb is None or gs is None:
            assert gb is None and gs is None
            continue
        torch.testing.assert_close(gb, gs, rtol=1e-4, atol=1e-5)


def test_unique_rows_equals_torch_unique() -> None:
    from baselines.nets.layers import unique_rows

    g = torch.Generator().manual_seed(0)
    rows = torch.randn(16, 40, generator=g)
    rows[3] = rows[5]  # two robots with equal keys
    rows[8] = rows[7]
    rows[9, :5] = 0.0
    rows[10] = rows[9]
    rows[10, 2] = -0.0  # equal value, other bytes
    keys = rows[torch.randint(0, 16, (300,), generator=g)]
    expected = torch.unique(keys, dim=0, return_inverse=True)[1]
    assert torch.equal(unique_rows(keys), expected)
    assert torch.equal(unique_rows(keys[:8]), torch.unique(keys[:8], dim=0, return_inverse=True)[1])


def _per_robot_attention(net: torch.nn.Module, on: bool) -> None:
    for m in net.modules():
        if hasattr(m, "attention_per_robot"):
            m.attention_per_robot = on


@pytest.mark.parametrize(("arch", "task"), [("modumorph", "ft"), ("modumorph-compressed", "ft"), ("modumorph", "vt")])
def test_per_robot_fixed_attention_equals_per_sample_attention(arch: str, task: str) -> None:
    """Fixed attention's weights computed once per robot give nn.MultiheadAttention's outputs and
    gradients (to rounding). In float64: the two ways sum in different orders, and in float32 the
    gradients' rounding depends on the CPU's kernels (4.4e-6 × their size on one machine, 5.2e-5 on an
    AVX2-only AMD EPYC); in float64 it is ~1e-14, so the tolerance says "the same function" anywhere."""
    net = copy.deepcopy(network(arch, task)).double()  # a copy: the session's network stays float32
    obs = {
        k: v.double() if v.is_floating_point() else v for k, v in to_torch(batch(task, n_robots=3, per_robot=3)).items()
    }
    params = [p for p in net.parameters() if p.requires_grad]
    results = []
    try:
        for on in (False, True):
            _per_robot_attention(net, on)
            out = net(obs)
            weights = torch.linspace(-1, 1, out.numel()).reshape(out.shape)
            results.append((out, torch.autograd.grad((out * weights).sum(), params, allow_unused=True)))
    finally:
        _per_robot_attention(net, True)
    (plain, plain_grads), (per_robot, per_robot_grads) = results
    torch.testing.assert_close(per_robot, plain, rtol=0, atol=1e-10)
    for gp, gr in zip(plain_grads, per_robot_grads, strict=True):
        assert (gp is None) == (gr is None)
        if gp is not None:  # rounding grows with the gradient's size: a tolerance relative to it
            size = gp.abs().max().item()
            torch.testing.assert_close(gr, gp, rtol=1e-9, atol=1e-10 * max(size, 1e-3))


SKIP_CASES = [("modumorph", "ft"), ("modumorph-compressed", "ft"), ("modumorph", "obstacle")]


@pytest.mark.parametrize(("arch", "task"), SKIP_CASES)
def test_skipping_padded_limbs_gives_the_same_outputs_and_gradients(arch: str, task: str) -> None:
    """The encoder layers run on the real limbs' tokens only: the same function as computing all 12 slots (a
    padded limb is attended to with weight exactly 0). Equal to rounding, in float64: a matrix product's
    rounding may depend on its row count (on one machine: float32 outputs bitwise equal, float64 within 1 ulp),
    and the weight gradients sum fewer zero rows, in another order."""
    net = copy.deepcopy(network(arch, task)).double()
    obs = {
        k: v.double() if v.is_floating_point() else v for k, v in to_torch(batch(task, n_robots=3, per_robot=3)).items()
    }
    assert obs["obs_padding_mask"].any() and not obs["obs_padding_mask"].all()  # some limbs padded, some real
    params = [p for p in net.parameters() if p.requires_grad]
    results = []
    for padded in (True, False):
        net.padded_limbs = padded
        out = net(obs)
        weights = torch.linspace(-1, 1, out.numel()).reshape(out.shape)
        results.append((out, torch.autograd.grad((out * weights).sum(), params)))
    (full, full_grads), (real, real_grads) = results
    torch.testing.assert_close(real, full, rtol=1e-12, atol=1e-14)
    for gf, gr in zip(full_grads, real_grads, strict=True):
        torch.testing.assert_close(gr, gf, rtol=1e-12, atol=1e-14 * max(gf.abs().max().item(), 1e-3))


@pytest.mark.parametrize(("arch", "task"), CASES)
def test_frozen_conditioning_gives_bitwise_equal_outputs(arch: str, task: str) -> None:
    """The rollout cache of per-robot network parts changes no bit of the outputs, also when the batch's
    robots change between calls."""
    net = network(arch, task)
    obs = to_torch(batch(task, n_robots=3, per_robot=3))
    n = obs["proprioceptive"].shape[0]
    parts = [{k: v[idx] for k, v in obs.items()} for idx in (slice(0, n), slice(0, 4), slice(2, 7), slice(0, n))]
    with torch.inference_mode():
        expected = [net(p) for p in parts]
        with net.frozen_conditioning():
            cached = [net(p) for p in parts]
            cached += [net(p) for p in parts]  # second pass: all hits
    for e, c in zip(expected + expected, cached, strict=True):
        assert torch.equal(e, c)


@pytest.mark.parametrize(
    ("arch", "task"), [(a, "ft") for a in ARCHITECTURES] + [("modumorph", "vt"), ("hyperdistill", "obstacle")]
)
def test_gradients_on_two_threads_are_the_same_in_every_run(arch: str, task: str) -> None:
    """With two torch threads (the laptop teacher's), every network's gradients are bitwise the same every time:
    the per-robot parts gathered to the samples must not sum their gradients with atomics, whose order
    varies between runs (two equal PPO runs then drifted apart, and a resume was not a continuation)."""
    net = network(arch, task)
    obs = to_torch(batch(task, n_robots=4, per_robot=32))
    params = [p for p in net.parameters() if p.requires_grad]
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        runs = []
        for _ in range(3):
            torch.manual_seed(0)  # the same dropout masks, if any
            out = net(obs)
            weights = torch.linspace(-1, 1, out.numel()).reshape(out.shape)
            runs.append(torch.autograd.grad((out * weights).sum(), params, allow_unused=True))
    finally:
        torch.set_num_threads(before)
    for grads in runs[1:]:
        for g0, g in zip(runs[0], grads, strict=True):
            assert (g0 is None and g is None) or torch.equal(g0, g)
