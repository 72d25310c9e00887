"""Steps/s of N envs: the native vector env against one env, Gymnasium's and SB3's vector envs, side by side.

``python benchmarks/vector_env.py --task ft --envs 16 --steps 200 --rounds 5``

Every way of running envs steps the same ``--envs`` environments of the same robots (the first ``--robots``
of the bundled training set; each env draws one at every reset) with uniform random actions, fall
termination and the 1000-step limit on; every robot's model is compiled before timing. The ways, measured
in turn within each round (the order rotates between rounds; the first round is a warm-up and is not
reported):

* ``one env``: one ``gym.make`` env stepped ``envs × steps`` times (resets included): the reference;
* ``native``: ``gym.make_vec(..., vectorization_mode="vector_entry_point")`` (threads: one per CPU);
* ``native 1 thread``: the same on one thread (what the leaner step path alone gives);
* ``gymnasium sync``: Gymnasium's ``SyncVectorEnv`` of ``gym.make`` envs;
* ``sb3 native``: :class:`baselines.common.vec_env.NativeVecEnv` (SB3's VecEnv API, network keys only);
* ``sb3 subproc``: SB3's ``SubprocVecEnv`` of the training envs (``baselines.common.envs.make_env``);
* ``sb3 dummy``: SB3's ``DummyVecEnv`` of the same;
* ``physics``, ``physics 1 thread``: the native vector env's physics phase alone (``mj_step`` + ``mj_comVel`` of
  every env on its threads; no actions, observations or resets, so robots lie where they fell): how MuJoCo
  scales over threads on this machine.

Prints steps/s per way (median over rounds, with min–max), the per-round ratios of ``native`` to ``one env``
and ``sb3 native`` to ``sb3 subproc`` (median, min–max), and the **ceiling** of ``native / one env`` on this
machine: ``native 1 thread`` times its physics phase (the share ``p`` of its step time; the rest of a step
runs in the calling thread), so with the physics sped up by the measured scaling ``s`` the step can at best
run ``1 / ((1 − p) + p / s)`` times faster than on one thread; and the same for a vector env with no more
serial work per env step than one env does (the physics then ``p`` × one env's steps/s / native 1 thread's
of one env's step): what any threaded implementation can reach here.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

import unimal_gym
from unimal_gym.layout import ENV_IDS
from unimal_gym.machine import available_cpus, machine_line

Stepper = Callable[[int], float]  # steps → seconds


def one_env(task: str, robots: list[str], seed: int) -> tuple[Stepper, Callable[[], None]]:
    env = gym.make(ENV_IDS[task], robots=robots)
    for path in robots:  # compile every robot's model before timing
        env.reset(options={"robot": Path(path).stem})
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)

    def run(steps: int) -> float:
        actions = rng.uniform(-1, 1, (steps, 24)).astype(np.float32)
        t0 = time.perf_counter()
        for a in actions:
            _, _, terminated, truncated, _ = env.step(a)
            if terminated or truncated:
                env.reset()
        return time.perf_counter() - t0

    return run, env.close


PHYSICS_SECONDS: list[float] = []  # seconds in the physics phase of the timed native vector env, per run


def gym_vector(
    task: str, robots: list[str], n: int, seed: int, mode: str, timed: bool = False, **kwargs: Any
) -> tuple[Stepper, Callable[[], None]]:
    """A Gymnasium vector env; ``timed``: the native one, its physics phase timed into :data:`PHYSICS_SECONDS`
    (``UnimalVectorEnv._run`` runs only the physics while stepping; resets run outside it)."""
    envs = gym.make_vec(ENV_IDS[task], n, vectorization_mode=mode, robots=robots, **kwargs)
    for path in robots:
        envs.reset(options={"robot": Path(path).stem})
    envs.reset(seed=seed)
    stepper = _random_steps(envs.step, n, seed)
    if not timed:
        return stepper, envs.close
    vector, spent = envs.unwrapped, [0.0]
    run_on_threads = vector._run

    def timed_run(indices: Any, work: Callable[[int], None]) -> None:
        t0 = time.perf_counter()
        run_on_threads(indices, work)
        spent[0] += time.perf_counter() - t0

    vector._run = timed_run

    def run(steps: int) -> float:
        spent[0] = 0.0
        seconds = stepper(steps)
        PHYSICS_SECONDS.append(spent[0] / seconds)
        return seconds

    return run, envs.close


def sb3_vector(task: str, robots: list[str], n: int, seed: int, kind: str) -> tuple[Stepper, Callable[[], None]]:
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

    from baselines.common.envs import make_env
    from baselines.common.vec_env import NativeVecEnv

    if kind == "native":
        venv: Any = NativeVecEnv(task, robots, n)
    elif kind == "subproc":
        venv = SubprocVecEnv([partial(make_env, task, robots)] * n)
    else:
        venv = DummyVecEnv([partial(make_env, task, robots)] * n)
    for path in robots:
        venv.set_options({"robot": Path(path).stem})
        venv.reset()
    venv.seed(seed)
    venv.reset()
    return _random_steps(venv.step, n, seed), venv.close


def physics_only(task: str, robots: list[str], n: int, seed: int, **kwargs: Any) -> tuple[Stepper, Callable[[], None]]:
    """The physics phase of a native vector env's step (``UnimalVectorEnv._run`` of every env's ``_physics``)."""
    envs = gym.make_vec(ENV_IDS[task], n, vectorization_mode="vector_entry_point", robots=robots, **kwargs)
    envs.reset(seed=seed)
    vector = envs.unwrapped

    def physics(i: int) -> None:
        vector.envs[i]._physics()

    def run(steps: int) -> float:
        everyone = range(n)
        t0 = time.perf_counter()
        for _ in range(steps):
            vector._run(everyone, physics)
        return time.perf_counter() - t0

    return run, envs.close


def _random_steps(step: Callable[[np.ndarray], Any], n: int, seed: int) -> Stepper:
    """A stepper calling ``step`` with uniform random (n, 24) float32 actions, drawn before the clock starts."""
    rng = np.random.default_rng(seed)

    def run(steps: int) -> float:
        actions = rng.uniform(-1, 1, (steps, n, 24)).astype(np.float32)
        t0 = time.perf_counter()
        for a in actions:
            step(a)
        return time.perf_counter() - t0

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="ft", choices=sorted(ENV_IDS))
    parser.add_argument("--envs", type=int, default=16)
    parser.add_argument("--robots", type=int, default=16, help="the first N robots of the bundled train set")
    parser.add_argument("--steps", type=int, default=200, help="vector steps per round (one env: envs × steps)")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds (after one warm-up round)")
    parser.add_argument("--skip", action="append", default=[], help="leave a way out (e.g. 'sb3 dummy')")
    args = parser.parse_args()
    if min(args.envs, args.robots, args.steps, args.rounds) < 1:
        parser.error("--envs, --robots, --steps and --rounds must be at least 1")

    from unimal_gym.envs.robots import bundled_robot_dirs, folder_robot_files

    train = next(d for d in bundled_robot_dirs() if d.name == "train")
    robots = [str(p) for p in folder_robot_files(train)[: args.robots]]
    n, task = args.envs, args.task
    makers: dict[str, Callable[[], tuple[Stepper, Callable[[], None]]]] = {
        "one env": partial(one_env, task, robots, 0),
        "native": partial(gym_vector, task, robots, n, 0, "vector_entry_point"),
        "native 1 thread": partial(gym_vector, task, robots, n, 0, "vector_entry_point", True, num_threads=1),
        "gymnasium sync": partial(gym_vector, task, robots, n, 0, "sync"),
        "sb3 native": partial(sb3_vector, task, robots, n, 0, "native"),
        "sb3 subproc": partial(sb3_vector, task, robots, n, 0, "subproc"),
        "sb3 dummy": partial(sb3_vector, task, robots, n, 0, "dummy"),
        "physics": partial(physics_only, task, robots, n, 0),
        "physics 1 thread": partial(physics_only, task, robots, n, 0, num_threads=1),
    }
    for name in args.skip:
        makers.pop(name, None)
    ways = {name: make() for name, make in makers.items()}
    rates: dict[str, list[float]] = {name: [] for name in ways}
    names = list(ways)
    try:
        for r in range(args.rounds + 1):
            order = names[r % len(names) :] + names[: r % len(names)]
            for name in order:
                run, _ = ways[name]
                steps = n * args.steps if name == "one env" else args.steps
                seconds = run(steps)
                if r > 0:
                    rates[name].append(n * args.steps / seconds)
            print(f"round {r}{' (warm-up)' if r == 0 else ''} done", flush=True)
    finally:
        for _, close in ways.values():
            close()

    print(
        f"# benchmarks/vector_env.py --task {task} --envs {n} --robots {args.robots} --steps {args.steps} "
        f"--rounds {args.rounds}; {available_cpus()} CPUs ({os.cpu_count()} in the machine), "
        f"{machine_line()}, unimal_gym {unimal_gym.__version__}, "
        f"compiled kernels {unimal_gym.envs.ACCELERATED}"
    )
    print(f"{'way':<18} {'steps/s (median)':>17} {'min':>8} {'max':>8}")
    for name, values in rates.items():
        print(f"{name:<18} {np.median(values):>17,.0f} {min(values):>8,.0f} {max(values):>8,.0f}")
    for a, b in (
        ("native", "one env"),
        ("native", "sb3 subproc"),
        ("sb3 native", "sb3 subproc"),
        ("sb3 native", "sb3 dummy"),
        ("native", "native 1 thread"),
        ("physics", "physics 1 thread"),
    ):
        if a in rates and b in rates:
            ratio = np.array(rates[a]) / np.array(rates[b])
            print(f"ratio {a} / {b}: {np.median(ratio):.2f} (rounds {ratio.min():.2f}–{ratio.max():.2f})")
    if {"one env", "native 1 thread", "physics", "physics 1 thread"} <= set(rates):
        share = np.array(PHYSICS_SECONDS[1:])  # the warm-up round's is left out, as its rate is
        scaling = np.array(rates["physics"]) / np.array(rates["physics 1 thread"])
        best = 1 / ((1 - share) + share / scaling)
        ceiling = best * np.array(rates["native 1 thread"]) / np.array(rates["one env"])
        # the same with no more serial work per env step than one env does: its step time, the same physics
        physics = share * np.array(rates["one env"]) / np.array(rates["native 1 thread"])  # of one env's step
        lean = 1 / ((1 - physics) + physics / scaling)
        print(
            f"physics share of a native step on 1 thread: {np.median(share):.2f} (rounds {share.min():.2f}–"
            f"{share.max():.2f}); with it {np.median(scaling):.2f}× faster on {available_cpus()} threads, a step can "
            f"be at most {np.median(best):.2f}× native 1 thread: ceiling of native / one env on this machine "
            f"{np.median(ceiling):.2f} (rounds {ceiling.min():.2f}–{ceiling.max():.2f}); with no more serial work "
            f"per env step than one env's own (physics {np.median(physics):.2f} of its step): "
            f"{np.median(lean):.2f} (rounds {lean.min():.2f}–{lean.max():.2f})"
        )


if __name__ == "__main__":
    main()
