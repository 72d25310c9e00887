"""Expert-data size per transition, stored (format 3) against dense (format 2), projected to the paper's
8M transitions (1000 robots × 8000), and the cost of reading compressed hfield rows.

``python benchmarks/expert_data_size.py [--data DIR ...] [--poses 2000] [--robot-limit 4]``

1. ``--data DIR``: a collected folder, measured file by file (what the teacher's gait showed of the terrain).
2. ``--poses N``: per task (VT, Obstacle) and robot, N torso poses drawn uniformly over the whole course
   (x along it, y across it inside the edge margin, heading within ±45°), each over a fresh episode's
   terrain, their hfield rows compressed as ``collect`` stores them — the terrain a walking teacher would
   see everywhere, whatever teacher is at hand.

Dense bytes per transition: observation 624 + target 24 + action 24 + hfield 1410 float32 (8,328 B).
Stored: 204 observation columns + 24 + 24 float32, the compressed hfield and its 8-byte offset.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from baselines.common.envs import make_robot_env, robot_files
from baselines.common.expert_data import CompressedRows, compress_rows
from unimal_gym.layout import ACTION_DIM, HFIELD_DIM, LIMB_OBS_DIM, MAX_LIMBS

PAPER_ROWS = 1000 * 8000
DENSE = 4 * (MAX_LIMBS * LIMB_OBS_DIM + 2 * ACTION_DIM + HFIELD_DIM)
STORED_FIXED = 4 * (MAX_LIMBS * 17 + 2 * ACTION_DIM) + 8  # + compressed hfield


def gib(bytes_per_row: float) -> float:
    """Paper-scale size in GiB."""
    return bytes_per_row * PAPER_ROWS / 2**30


def measure_folder(root: Path) -> None:
    """Bytes per transition of every stored file kind in a collected folder."""
    manifest = json.loads((root / "manifest.json").read_text())
    rows = sum(manifest["counts"].values())
    sizes: dict[str, int] = {}
    for shard in (root / "shards").iterdir():
        for f in shard.iterdir():
            sizes[f.name] = sizes.get(f.name, 0) + f.stat().st_size
    total = sum(sizes.values())
    print(f"{root} ({manifest['task']}, {rows:,} transitions, format {manifest['format']}):")
    for name, size in sorted(sizes.items()):
        print(f"  {name:22s} {size / rows:9.1f} B/transition")
    per_row = total / rows
    print(f"  total {per_row:.0f} B (dense {DENSE} B, {DENSE / per_row:.1f}x smaller); 8M: {gib(per_row):.1f} GiB")


def sample_poses(task: str, robots: list[Path], poses: int, seed: int) -> np.ndarray:
    """(len(robots) · poses, 1410) float32 hfield rows at uniformly drawn poses, a new episode per 100."""
    rng = np.random.default_rng(seed)
    out = []
    for i, xml in enumerate(robots):
        env = make_robot_env(task, xml)
        for k in range(poses):
            if k % 100 == 0:
                env.reset(seed=seed + 1000 * i + k)
                arena = env.unwrapped._arena
                c = arena.config
                x_max, y_max = 2 * c.size[0] - c.start_flat, c.size[1] - c.edge_margin
            psi = rng.uniform(-np.pi / 4, np.pi / 4)
            x, y = rng.uniform(-c.start_flat, x_max), rng.uniform(-y_max, y_max)
            row, _ = arena.hfield_observation(x, y, np.array([np.cos(psi), np.sin(psi)]))
            out.append(row.astype(np.float32))
        env.close()
    return np.stack(out)


def measure_poses(task: str, robots: list[Path], poses: int) -> None:
    """Compressed hfield bytes per row over the whole course and the time to read a batch of them."""
    rows = sample_poses(task, robots, poses, seed=0)
    t0 = time.perf_counter()
    data, offsets = compress_rows(rows)
    compress_us = (time.perf_counter() - t0) / len(rows) * 1e6
    per_row = len(data) / len(rows)
    stored = STORED_FIXED + per_row
    reader = CompressedRows(np.frombuffer(data, np.uint8), offsets, HFIELD_DIM, Path("sampled"))
    index = np.random.default_rng(1).integers(0, len(rows), 5120)
    out = np.empty((len(index), HFIELD_DIM), np.float32)
    t0 = time.perf_counter()
    reader.rows(np.sort(index), out)
    read_ms = (time.perf_counter() - t0) * 1e3
    assert np.array_equal(out, rows[np.sort(index)])
    print(
        f"{task}: {len(rows):,} poses on {len(robots)} robots | hfield {per_row:.0f} B/row compressed"
        f" (dense {4 * HFIELD_DIM}, {4 * HFIELD_DIM / per_row:.1f}x; {compress_us:.0f} us to compress)"
        f" | transition {stored:.0f} B vs dense {DENSE} B | 8M transitions: {gib(stored):.1f} GiB"
        f" (dense {gib(DENSE):.1f}) | reading 5120 random hfield rows: {read_ms:.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", action="append", default=[], help="collected folder(s) to measure")
    parser.add_argument("--poses", type=int, default=2000, help="poses per robot and task (0 = skip)")
    parser.add_argument("--robot-limit", type=int, default=4, help="first N bundled training robots")
    args = parser.parse_args()
    for root in args.data:
        measure_folder(Path(root))
    if args.poses:
        robots = robot_files("train", args.robot_limit)
        for task in ("vt", "obstacle"):
            measure_poses(task, robots, args.poses)


if __name__ == "__main__":
    main()
