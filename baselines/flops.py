"""Parameters and FLOPs at inference, counted by walking the built networks (docs/networks.md §11).

Usage: ``python -m baselines.flops --task ft|vt|obstacle`` prints the paper's Table 1 for a task.

Counting runs one forward pass of a batch of one observation with hooks on the modules that make up
the inference network and records what each one computes. Conventions (docs/networks.md §11.1):

* a linear map in → out costs ``2·in·out`` FLOPs per row it is applied to; a per-limb map is applied
  to all 12 limb slots, padded or not; biases, norms, activations and softmax cost nothing;
* attention costs ``2·L²·d`` for QKᵀ and ``2·L²·d`` for A·V per layer (L = 12), plus its projections;
* parameters are those the network needs at inference for one robot: the weights of every module
  that runs per step, plus every *generated* tensor (per-limb generated layers count 12 times);
  hypernetworks, context encoders and the fixed-attention ``norm_context`` only see the context
  (``conditioning_modules()``) and are not counted;
* ``precomputed_attention=True`` treats fixed attention as precomputed from the context: the Q/K
  projections (and their parameters) and QKᵀ are not counted. The paper's compressed-ModuMorph row
  only matches this way, while its full-ModuMorph row counts them; the table reproduces both.

HyperDistill is counted on the MLP it generates for a robot (:meth:`HyperDistill.generate`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from unimal_gym.arguments import ArgumentParser
from unimal_gym.layout import CONTEXT_DIM, HFIELD_DIM, LIMB_OBS_DIM, MAX_LIMBS, TASKS

from .nets import (
    HyperDistill,
    LimbTransformer,
    LimbwiseLinear,
    MultiRobotMLP,
    hyperdistill,
    metamorph_compressed,
    modumorph,
    modumorph_compressed,
    multi_robot_mlp,
)
from .nets.obs import student_state


@dataclass(frozen=True)
class Cost:
    """Inference cost of one network for one sample."""

    params: int
    flops: int


def _rows(x: Tensor, width: int) -> int:
    return x.numel() // width


def count(
    network: nn.Module,
    inputs: tuple[object, ...],
    *,
    precomputed_attention: bool = False,
) -> Cost:
    """Count parameters and FLOPs of ``network(*inputs)`` for a batch of one (docs/networks.md §11.1).

    :param network: the module; context-only submodules listed by its ``conditioning_modules()``
        (when it has that method) are skipped together with their children.
    :param inputs: positional arguments of one forward pass with batch size 1.
    :param precomputed_attention: do not count Q/K projections and QKᵀ of fixed-attention layers.
    """
    skipped: set[int] = set()
    conditioning = getattr(network, "conditioning_modules", lambda: [])()
    for mod in conditioning:
        skipped.update(id(m) for m in mod.modules())
    fixed_attention = {id(m.attn): m.norm_context is not None for m in network.modules() if hasattr(m, "norm_context")}
    params: dict[int, int] = {}
    flops = [0]
    handles = []

    def on_linear(mod: nn.Linear, args: tuple[Tensor, ...], _out: Tensor) -> None:
        params[id(mod)] = sum(p.numel() for p in mod.parameters())
        flops[0] += 2 * mod.in_features * mod.out_features * _rows(args[0], mod.in_features)

    def on_norm(mod: nn.LayerNorm, _args: tuple[Tensor, ...], _out: Tensor) -> None:
        params[id(mod)] = sum(p.numel() for p in mod.parameters())

    def on_limbwise(mod: LimbwiseLinear, args: tuple[Tensor, ...], _out: Tensor) -> None:
        _x, weight, bias = args  # (1, 12, in), (1, 12, in, out), (1, 12, out)
        params[id(mod)] = params.get(id(mod), 0) + weight[0].numel() + bias[0].numel()
        flops[0] += 2 * weight[0].numel()

    def on_attention(mod: nn.MultiheadAttention, args: tuple[Tensor, ...], _out: object) -> None:
        query = args[0]  # (1, L, d)
        length, d = query.shape[-2], mod.embed_dim
        skip_qk = precomputed_attention and fixed_attention.get(id(mod), False)
        projections = 1 if skip_qk else 3  # V only, or Q, K and V
        params[id(mod)] = projections * (d * d + d) + d * d + d  # in-projection(s) + out-projection
        flops[0] += (projections + 1) * 2 * length * d * d  # in- and out-projections
        flops[0] += (1 if skip_qk else 2) * 2 * length * length * d  # [QKᵀ] and A·V

    for mod in network.modules():
        if id(mod) in skipped:
            continue
        if isinstance(mod, nn.MultiheadAttention):
            skipped.update(id(m) for m in mod.modules() if m is not mod)  # its out_proj is counted above
            handles.append(mod.register_forward_hook(on_attention))
        elif isinstance(mod, nn.Linear):
            handles.append(mod.register_forward_hook(on_linear))
        elif isinstance(mod, nn.LayerNorm):
            handles.append(mod.register_forward_hook(on_norm))
        elif isinstance(mod, LimbwiseLinear):
            handles.append(mod.register_forward_hook(on_limbwise))
    was_training = network.training
    # per-robot fixed attention skips nn.MultiheadAttention's forward (and its hook): count the plain form
    per_robot = {m: m.attention_per_robot for m in network.modules() if hasattr(m, "attention_per_robot")}
    try:
        for m in per_robot:
            m.attention_per_robot = False
        with torch.no_grad():
            network.eval()(*inputs)
    finally:
        network.train(was_training)
        for m, flag in per_robot.items():
            m.attention_per_robot = flag
        for h in handles:
            h.remove()
    return Cost(sum(params.values()), flops[0])


def example_observation(task: str, num_limbs: int = 6, seed: int = 0) -> dict[str, Tensor]:
    """A batch of one random observation with ``num_limbs`` real limbs (counting depends only on shapes)."""
    g = torch.Generator().manual_seed(seed)
    mask = torch.arange(MAX_LIMBS) >= num_limbs
    act_mask = mask.repeat_interleave(2)
    act_mask[:2] = True  # the torso has no joints
    obs = {
        "proprioceptive": torch.randn(1, MAX_LIMBS * LIMB_OBS_DIM, generator=g),
        "context": torch.randn(1, MAX_LIMBS * CONTEXT_DIM, generator=g),
        "obs_padding_mask": mask[None],
        "act_padding_mask": act_mask[None],
    }
    if task != "ft":
        obs["hfield"] = torch.randn(1, HFIELD_DIM, generator=g)
    return obs


def table(task: str) -> dict[str, Cost]:
    """The rows of the paper's Table 1 for one task, computed from freshly built actors."""
    obs = example_observation(task)
    student = HyperDistill(hyperdistill(task))
    generated = student.generate(obs["context"][0], obs["obs_padding_mask"][0], obs["act_padding_mask"][0])
    student_inputs = (student_state(obs["proprioceptive"]).flatten(1), obs.get("hfield"))
    return {
        "ModuMorph (oracle)": count(LimbTransformer(modumorph(task)), (obs,)),
        "TF (compressed)": count(LimbTransformer(metamorph_compressed(task)), (obs,)),
        "ModuMorph (compressed)": count(
            LimbTransformer(modumorph_compressed(task)), (obs,), precomputed_attention=True
        ),
        "Multi-robot MLP": count(MultiRobotMLP(multi_robot_mlp(task)), (obs,)),
        "HyperDistill": count(generated, student_inputs),
    }


def millions(n: int) -> str:
    """The paper's format: 1,733,784 → ``1.73M``."""
    return f"{n / 1e6:.2f}M"


def format_table(rows: Mapping[str, Cost], reference: str = "HyperDistill") -> str:
    """A text table with absolute numbers and ratios to ``reference``."""
    ref = rows[reference]
    lines = [
        f"{'method':<24} {'params':>12} {'':>6} {'× ' + reference:>15} {'FLOPs':>12} {'':>7} {'× ' + reference:>15}"
    ]
    for name, c in rows.items():
        lines.append(
            f"{name:<24} {c.params:>12,} {millions(c.params):>6} {c.params / ref.params:>15.1f}"
            f" {c.flops:>12,} {millions(c.flops):>7} {c.flops / ref.flops:>15.1f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Command line: print the table for ``--task``."""
    parser = ArgumentParser(prog="python -m baselines.flops", description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=TASKS, default="ft", help="task (default: ft)")
    args = parser.parse_args(argv)
    print(f"Inference parameters and FLOPs per control step, {args.task.upper()} (docs/networks.md §11 conventions)")
    print(format_table(table(args.task)))


if __name__ == "__main__":
    main()
