"""Environment speed: env steps/s with random actions, reset time, and raw MuJoCo speed on the same model.

For the three robots of the oracle's speed table (../shared/oracle/README.md) and three of our own
robots (the bundled ``train`` set's smallest, median and largest by limb count), on one core::

    python benchmarks/env_speed.py [--robots-dir ../shared/unimal/train/xml] [--steps 5000] [--task ft]

"raw" is ``mj_step`` × frame_skip on the env's own model and data, replaying the env run's ctrl
sequence from the same states, with no observation, reward or checks; the ratio env / raw is the
share of the env's step time spent in physics. "incl. resets" counts the resets of
episodes that end (falls) inside the run. Each speed is the best of ``--repeats`` runs (env and raw
alternate), which filters out other load on a shared machine, as ``timeit`` does; env/raw is the
median over the runs of each run's own ratio. The first line says whether the compiled kernels
(``unimal_gym.envs.ACCELERATED``) were in use.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import mujoco
import numpy as np

from unimal_gym.envs import ACCELERATED, UnimalEnv
from unimal_gym.morphology import load

ROBOTS = ("floor-5506-3-10-01-14-19-06", "floor-1409-5-4-01-13-42-51", "floor-1409-15-4-01-15-28-42")
DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared" / "unimal" / "train" / "xml"
OWN_DIR = Path(__file__).resolve().parents[1] / "morphologies" / "train" / "xml"


def own_robots(folder: Path = OWN_DIR) -> list[Path]:
    """Our bundled robots with the fewest, the median and the most limbs (ties: first by name)."""
    files = sorted(folder.glob("*.xml"))
    by_limbs = sorted(files, key=lambda f: len(load(f).limbs))
    return [by_limbs[0], by_limbs[len(by_limbs) // 2], by_limbs[-1]]


def measure(path: Path, task: str, steps: int, resets: int, repeats: int = 3) -> dict[str, float]:
    """Best of ``repeats`` runs of :func:`measure_once` for each speed; the ratio is the median of the
    runs' own env / raw ratios (env and raw measured back to back, so load on the machine hits both)."""
    runs = [measure_once(path, task, steps, resets) for _ in range(repeats)]
    best = {key: max(r[key] for r in runs) for key in ("env", "env_with_resets", "raw")}
    ratio = float(np.median([r["env"] / r["raw"] for r in runs]))
    return {**best, "ratio": ratio, "limbs": runs[0]["limbs"], "reset_ms": min(r["reset_ms"] for r in runs)}


def measure_once(path: Path, task: str, steps: int, resets: int) -> dict[str, float]:
    """Steps/s (with and without resets), mean reset time, and raw simulator env-steps/s.

    The raw loop replays exactly the env's work: the same ctrl sequence from the same start states
    (an episode that ended is restarted from the env's next reset state, untimed in both).
    """
    env = UnimalEnv(robot=path, task=task)
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, (steps, 24)).astype(np.float32)
    env.reset(seed=0)
    model, data = env.model, env.data
    starts = {0: (data.qpos.copy(), data.qvel.copy())}
    ctrls = np.empty((steps, model.nu))
    stepping = resetting = 0.0
    for i, a in enumerate(actions):
        t0 = time.perf_counter()
        _, _, terminated, truncated, _ = env.step(a)
        t1 = time.perf_counter()
        stepping += t1 - t0
        ctrls[i] = data.ctrl
        if terminated or truncated:
            env.reset()
            resetting += time.perf_counter() - t1
            starts[i + 1] = (data.qpos.copy(), data.qvel.copy())
    t0 = time.perf_counter()
    for _ in range(resets):
        env.reset()
    reset_s = (time.perf_counter() - t0) / resets

    raw_s = 0.0
    for i in range(steps):
        if i in starts:
            data.qpos[:], data.qvel[:] = starts[i]
            mujoco.mj_forward(model, data)
        t0 = time.perf_counter()
        data.ctrl[:] = ctrls[i]
        for _ in range(env.frame_skip):
            mujoco.mj_step(model, data)
        raw_s += time.perf_counter() - t0
    return {
        "limbs": env._current.observation.layout.num_limbs,
        "env": steps / stepping,
        "env_with_resets": steps / (stepping + resetting),
        "reset_ms": 1e3 * reset_s,
        "raw": steps / raw_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--robots-dir", type=Path, default=DEFAULT_DIR, help="folder with the original robots' XML")
    parser.add_argument("--task", choices=("ft", "vt", "obstacle"), default="ft")
    parser.add_argument("--steps", type=int, default=5000, help="env steps per measurement")
    parser.add_argument("--resets", type=int, default=50, help="resets timed separately")
    parser.add_argument("--repeats", type=int, default=5, help="runs per robot (best speed, median ratio)")
    args = parser.parse_args()
    print(
        f"task {args.task}, {args.steps} steps, frame_skip 4, best of {args.repeats} (ratio: median); "
        f"raw = mj_step only, same model; compiled kernels: {ACCELERATED}"
    )
    header = (
        f"{'robot':32} {'limbs':>5} {'env st/s':>9} {'incl.reset':>10} {'reset ms':>8} {'raw st/s':>9} {'env/raw':>7}"
    )
    print(header)
    for path in [args.robots_dir / f"{name}.xml" for name in ROBOTS] + own_robots():
        name = path.stem
        r = measure(path, args.task, args.steps, args.resets, args.repeats)
        print(
            f"{name:32} {r['limbs']:5d} {r['env']:9.0f} {r['env_with_resets']:10.0f} {r['reset_ms']:8.2f} "
            f"{r['raw']:9.0f} {r['ratio']:7.2f}"
        )


if __name__ == "__main__":
    main()
