"""The hypernetwork transformers (ModuMorph) generate their per-limb layers once per robot in a batch;
the result equals running every sample on its own (each a batch of one robot), in outputs and gradients."""

from __future__ import annotations

import pytest
import torch
from nets_data import batch, network, one_torch_thread  # noqa: F401  (autouse fixture)

from baselines.nets import to_torch

CASES = [("modumorph", "ft"), ("modumorph_compressed", "ft"), ("modumorph", "vt"), ("transformer", "ft")]


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
