"""Environment speed: env steps/s with random actions, reset time, and raw MuJoCo speed on the same model.

For three original training robots (5, 8 and 11 limbs, those of the original's speed table) and three of our own
robots (the bundled ``train`` set's smallest, median and largest by limb count), on one core::

    python benchmarks/env_speed.py --robots-dir ORIGINAL_TRAIN_XML [--steps 5000] [--task ft]

"raw" is one ``mj_step(model, data, nstep=frame_skip)`` call on the env's own model and data,
replaying the env run's ctrl sequence from the same states, with no observation, reward or checks;
env / raw is the share of the env's step time spent in physics. Each robot is run twice:

* *steady*: ``terminate_on_fall=False``, so random actions make long episodes (VT/Obstacle still end
  at the corridor's edge) and the figure is the cost of a step;
* *with falls*: the default env, where random actions make a robot fall within ~20 steps. The first
  steps after a reset run with cold caches (on VT the reset compiled a new model), which the raw
  replay, resuming the next episode's state on a warm model, does not pay: that is the difference
  between the two ratios. ``incl.reset`` also counts the resets' own time.

Each speed is the best of ``--repeats`` runs (env and raw alternate), which filters out other load on
a shared machine, as ``timeit`` does; each env/raw is the median over the runs of that run's own
ratio. The first line says whether the compiled kernels (``unimal_gym.envs.ACCELERATED``) were used.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import mujoco
import numpy as np

from unimal_gym.envs import ACCELERATED, UnimalEnv
from unimal_gym.machine import machine_line
from unimal_gym.morphology import load

ROBOTS = ("floor-5506-3-10-01-14-19-06", "floor-1409-5-4-01-13-42-51", "floor-1409-15-4-01-15-28-42")
OWN_DIR = Path(__file__).resolve().parents[1] / "morphologies" / "train" / "xml"


def own_robots(folder: Path = OWN_DIR) -> list[Path]:
    """Our bundled robots with the fewest, the median and the most limbs (ties: first by name)."""
    files = sorted(folder.glob("*.xml"))
    by_limbs = sorted(files, key=lambda f: len(load(f).limbs))
    return [by_limbs[0], by_limbs[len(by_limbs) // 2], by_limbs[-1]]


def measure(path: Path, task: str, steps: int, resets: int, repeats: int = 3) -> dict[str, float]:
    """Both regimes, ``repeats`` times each: the best speeds and the median of each run's own ratio."""
    result: dict[str, float] = {}
    for regime, falls in (("steady", False), ("falls", True)):
        runs = [measure_once(path, task, steps, resets, falls) for _ in range(repeats)]
        for key in ("env", "env_with_resets", "raw"):
            result[f"{regime}_{key}"] = max(r[key] for r in runs)
        result[f"{regime}_ratio"] = float(np.median([r["env"] / r["raw"] for r in runs]))
        result[f"{regime}_episode"] = runs[0]["episode"]
        if falls:
            result["limbs"] = runs[0]["limbs"]
            result["reset_ms"] = min(r["reset_ms"] for r in runs)
    return result


def measure_once(path: Path, task: str, steps: int, resets: int, falls: bool = True) -> dict[str, float]:
    """Steps/s (with and without resets), mean episode length, mean reset time, raw env-steps/s.

    The raw loop replays exactly the env's work: when an episode ends, its ctrl sequence on its own
    model (VT compiles a new one per episode) from a full copy of its start ``MjData`` (so the same
    trajectory, contacts included: from qpos/qvel alone a chaotic rollout soon differs), untimed setup.
    """
    env = UnimalEnv(robot=path, task=task, terminate_on_fall=falls)
    actions = np.random.default_rng(0).uniform(-1, 1, (steps, 24)).astype(np.float32)
    env.reset(seed=0)
    episodes = 1
    stepping = resetting = raw_s = 0.0
    episode = (env.model, snapshot(env), [])
    for i, a in enumerate(actions):
        t0 = time.perf_counter()
        _, _, terminated, truncated, _ = env.step(a)
        stepping += time.perf_counter() - t0
        episode[2].append(env.data.ctrl.copy())
        if terminated or truncated or i == steps - 1:
            raw_s += replay(*episode, env.frame_skip)
        if (terminated or truncated) and i < steps - 1:
            t0 = time.perf_counter()
            env.reset()
            resetting += time.perf_counter() - t0
            episodes += 1
            episode = (env.model, snapshot(env), [])
    t0 = time.perf_counter()
    for _ in range(resets):
        env.reset()
    reset_s = (time.perf_counter() - t0) / resets
    return {
        "limbs": env._current.observation.layout.num_limbs,
        "episode": steps / episodes,  # mean steps per episode (the run's last one unfinished)
        "env": steps / stepping,
        "env_with_resets": steps / (stepping + resetting),
        "reset_ms": 1e3 * reset_s,
        "raw": steps / raw_s,
    }


def snapshot(env: UnimalEnv) -> mujoco.MjData:
    """A full copy of the env's current ``MjData``."""
    data = mujoco.MjData(env.model)
    mujoco.mj_copyData(data, env.model, env.data)
    return data


def replay(model: mujoco.MjModel, data: mujoco.MjData, ctrls: list[np.ndarray], frame_skip: int) -> float:
    """Seconds that ``mj_step(nstep=frame_skip)`` takes for ``ctrls``, continuing from ``data``."""
    total = 0.0
    for ctrl in ctrls:
        t0 = time.perf_counter()
        data.ctrl[:] = ctrl
        mujoco.mj_step(model, data, frame_skip)
        total += time.perf_counter() - t0
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--robots-dir", type=Path, required=True, help="folder with the original training robots' XML files"
    )
    parser.add_argument("--task", choices=("ft", "vt", "obstacle"), default="ft")
    parser.add_argument("--steps", type=int, default=5000, help="env steps per measurement")
    parser.add_argument("--resets", type=int, default=50, help="resets timed separately")
    parser.add_argument("--repeats", type=int, default=5, help="runs per robot (best speed, median ratio)")
    args = parser.parse_args()
    print(f"machine: {machine_line()}")
    print(
        f"task {args.task}, {args.steps} steps, frame_skip 4, best of {args.repeats} (ratios: median); "
        f"raw = mj_step(nstep=4) only, same model; compiled kernels: {ACCELERATED}"
    )
    print(f"{'':38} {'---------- steady ----------':>28} {'----------------- with falls -----------------':>47}")
    header = (
        f"{'robot':32} {'limbs':>5} {'env st/s':>9} {'raw st/s':>9} {'env/raw':>8} "
        f"{'env st/s':>9} {'env/raw':>8} {'ep.len':>6} {'incl.reset':>10} {'reset ms':>9}"
    )
    print(header)
    for path in [args.robots_dir / f"{name}.xml" for name in ROBOTS] + own_robots():
        r = measure(path, args.task, args.steps, args.resets, args.repeats)
        print(
            f"{path.stem:32} {r['limbs']:5d} {r['steady_env']:9.0f} {r['steady_raw']:9.0f} {r['steady_ratio']:8.2f} "
            f"{r['falls_env']:9.0f} {r['falls_ratio']:8.2f} {r['falls_episode']:6.0f} "
            f"{r['falls_env_with_resets']:10.0f} {r['reset_ms']:9.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
