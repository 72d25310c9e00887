"""ModuMorph with padded limbs skipped vs computed: the PPO update and the rollout step, side by side.

``python benchmarks/padded_limbs.py [--task ft] [--preset laptop] [--net NET] [--rounds 15]``

A robot has at most 12 limbs and the networks see 12 slots; the encoder layers of
:class:`baselines.nets.LimbTransformer` (with per-robot fixed attention, as in every ModuMorph run) compute only
the real limbs' tokens, since a padded limb is never attended to. ``padded_limbs = True`` computes all 12
slots, as before. This script measures both on the preset teacher's robots, network and minibatch:

1. observations: the preset's ``n_envs`` envs (VecNormalize on) stepped with uniform random actions for
   ``n_steps`` steps, the shape of one PPO rollout;
2. **update**: one minibatch of ``batch_size`` samples: actor and critic forward, a PPO-shaped loss,
   backward, gradient clipping and the Adam step (ms per minibatch);
3. **rollout step**: actor and critic on one step's ``n_envs`` observations under ``inference_mode`` with
   the per-robot conditioning cached and the preset's ``rollout_threads``, as in a rollout (ms per step).

Both forms run on the same network, alternating minibatch by minibatch within every round (the order
swaps between rounds), so a drift of the machine's speed falls on both. Prints, per measurement, the
median over rounds with min-max, and the median of the per-round ratios (padded / real-only). Before
timing it checks that both forms give the same outputs (exactly) and gradients (to rounding).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np
import torch

from baselines.common.envs import robot_files
from baselines.common.threads import torch_threads
from baselines.hyperdistill.config import pipeline_preset
from baselines.nets import ActorCritic, LimbTransformer, build_actor_critic, to_torch
from baselines.ppo import make_vec_env
from unimal_gym.layout import MAX_LIMBS, TASKS
from unimal_gym.machine import machine_line


def rollout_observations(config, steps: int) -> list[dict[str, np.ndarray]]:
    """``steps`` observation dicts of the config's VecEnv under uniform random actions (normalised)."""
    venv = make_vec_env(config, robot_files(config.robots, config.robot_limit))
    rng = np.random.default_rng(0)
    obs = [venv.reset()]
    for _ in range(steps - 1):
        obs.append(venv.step(rng.uniform(-1, 1, (config.n_envs, 24)).astype(np.float32))[0])
    venv.close()
    return obs


def set_padded(ac: ActorCritic, on: bool) -> None:
    """Switch both networks between computing padded limbs (True) and skipping them (False)."""
    for net in (ac.actor, ac.critic):
        if isinstance(net, LimbTransformer):
            net.padded_limbs = on


def update(ac: ActorCritic, optimizer: torch.optim.Optimizer, obs: dict[str, torch.Tensor], actions) -> None:
    """One PPO-shaped minibatch step: clipped surrogate on fixed advantages, value MSE, entropy."""
    value, log_prob, entropy = ac.evaluate_actions(obs, actions)
    ratio = torch.exp(log_prob - log_prob.detach())
    adv = torch.linspace(-1, 1, len(ratio))
    loss = -torch.min(ratio * adv, ratio.clamp(0.8, 1.2) * adv).mean() + 0.5 * value.square().mean()
    loss = loss - 0.01 * entropy.mean()
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(ac.parameters(), 0.5)
    optimizer.step()


def same_function(ac: ActorCritic, obs: dict[str, torch.Tensor]) -> tuple[float, float]:
    """Max |difference| of the outputs, and max relative difference of the gradients, between the forms."""
    results = []
    for on in (True, False):
        set_padded(ac, on)
        out = torch.cat([ac.actor(obs), ac.critic(obs)], 1)
        grads = torch.autograd.grad(out.square().sum(), [p for p in ac.parameters() if p.requires_grad])
        results.append((out.detach(), grads))
    (a, ga), (b, gb) = results
    rel = max(float((x - y).abs().max() / x.abs().max().clamp_min(1e-30)) for x, y in zip(ga, gb, strict=True))
    return float((a - b).abs().max()), rel


def measure(task: str, preset: str, net: str | None, rounds: int, per_round: int) -> dict:
    """Per form: ms per update minibatch and per rollout step, one value per round."""
    config = pipeline_preset(preset, task).teacher
    if net is not None:
        config = replace(config, net=net)
    torch.manual_seed(0)
    if config.torch_threads:
        torch.set_num_threads(config.torch_threads)
    steps = rollout_observations(config, config.n_steps)
    flat = {k: np.concatenate([s[k] for s in steps]) for k in steps[0]}
    n = len(flat["obs_padding_mask"])
    fill = float((1 - flat["obs_padding_mask"]).mean())
    rng = np.random.default_rng(1)
    batches = [
        to_torch({k: v[idx] for k, v in flat.items()})
        for idx in (rng.permutation(n)[: config.batch_size] for _ in range(per_round))
    ]
    actions = [torch.as_tensor(rng.uniform(-1, 1, (config.batch_size, 24)), dtype=torch.float32) for _ in batches]
    step_obs = [to_torch(s) for s in steps[:per_round]]
    ac = build_actor_critic(config.arch, task, config.net)
    optimizer = torch.optim.Adam(ac.parameters(), lr=1e-4, eps=1e-5, foreach=True)
    check = same_function(ac, batches[0])

    times: dict[str, dict[bool, list[float]]] = {"update": {True: [], False: []}, "rollout step": {True: [], False: []}}
    for r in range(rounds + 1):  # round 0: warm-up
        order = (True, False) if r % 2 else (False, True)
        spent = {key: {True: 0.0, False: 0.0} for key in times}
        for obs, act in zip(batches, actions, strict=True):
            for on in order:
                set_padded(ac, on)
                t = time.perf_counter()
                update(ac, optimizer, obs, act)
                spent["update"][on] += time.perf_counter() - t
        with torch.inference_mode(), ac.frozen_conditioning(), torch_threads(config.rollout_threads):
            for obs in step_obs:
                for on in order:
                    set_padded(ac, on)
                    t = time.perf_counter()
                    ac(obs)
                    spent["rollout step"][on] += time.perf_counter() - t
        if r:
            for key in times:
                for on in (True, False):
                    times[key][on].append(1000 * spent[key][on] / per_round)
    set_padded(ac, False)
    return {"config": config, "fill": fill, "check": check, "times": times}


def main(argv: list[str] | None = None) -> None:
    """Command line: measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=TASKS, default="ft", help="task (default: ft)")
    parser.add_argument("--preset", choices=("smoke", "laptop", "paper"), default="laptop", help="teacher preset")
    parser.add_argument("--net", default=None, help="network size instead of the preset's ('' = the paper's)")
    parser.add_argument("--rounds", type=int, default=15, help="timed rounds (default: 15)")
    parser.add_argument("--per-round", type=int, default=8, help="minibatches and rollout steps per round")
    args = parser.parse_args(argv)
    result = measure(args.task, args.preset, args.net, args.rounds, args.per_round)
    config = result["config"]
    print(machine_line())
    print(
        f"{args.task.upper()}, {args.preset} teacher: {config.arch} net={config.net!r}, {config.n_envs} envs, "
        f"minibatch {config.batch_size}, torch threads {config.torch_threads} (rollouts {config.rollout_threads}); "
        f"real limbs fill "
        f"{result['fill']:.3f} of the {MAX_LIMBS} slots"
    )
    diff, rel = result["check"]
    print(f"same function: outputs max |diff| {diff:.2g}, gradients max relative diff {rel:.2g}")
    print(f"{'ms per':<14} {'padded computed':>22} {'padded skipped':>22} {'ratio (median, min-max)':>26}")
    for key, by_form in result["times"].items():
        padded, real = np.array(by_form[True]), np.array(by_form[False])
        ratio = padded / real
        cells = [f"{np.median(x):.2f} [{x.min():.2f}, {x.max():.2f}]" for x in (padded, real)]
        print(
            f"{key:<14} {cells[0]:>22} {cells[1]:>22} "
            f"{f'{np.median(ratio):.3f} [{ratio.min():.3f}, {ratio.max():.3f}]':>26}"
        )


if __name__ == "__main__":
    main()
