"""Generating and describing robot sets (the project's ``morphologies/``).

A robot set is a folder in the benchmark's layout, ``xml/<name>.xml`` + ``metadata/<name>.json``.
:func:`generate_robot_set` makes one with our own generator: robot ``i`` of set ``label`` is drawn
from its own random stream ``numpy.random.default_rng([seed, crc32(label), i])``, so every robot
is reproducible on its own, the set is bit-identical whatever the number of worker processes, and
an interrupted run resumes where it stopped (robots already on disk are kept).

Each robot gets a target limb count so that the set has the original benchmark's train or test
histogram (docs/environment.md §8, :func:`limb_targets`); DERL's initial-population procedure runs up to that
count (docs/design_space.md §6.1), and the robot is kept only if :func:`acceptable` (exact count, at
most 16 DoF, torso no higher than any released robot, stands through a zero-action rollout with
no physics error, :mod:`unimal_gym.envs.rest`); otherwise the same stream draws again. A finished set is
checked for duplicates, inside it and against ``avoid``.
"""

from __future__ import annotations

import json
import os
import sys
import time
import zlib
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .atomic import atomic_write
from .envs.rest import rest_rollout
from .layout import MAX_JOINTS
from .morphology.errors import MorphologyError
from .morphology.mjcf import load, save, to_xml
from .morphology.sample import random_robot
from .morphology.tree import Morphology

# docs/environment.md §8: number of limbs excluding the torso (bodies − 1) in the original train and test sets.
TRAIN_LIMB_HISTOGRAM = {4: 1, 5: 5, 6: 8, 7: 16, 8: 28, 9: 26, 10: 16}
TEST_LIMB_HISTOGRAM = {5: 1, 6: 23, 7: 28, 8: 22, 9: 13, 10: 15}
LIMB_HISTOGRAMS = {"train": TRAIN_LIMB_HISTOGRAM, "test": TEST_LIMB_HISTOGRAM}
MAX_DRAWS = 500  # give up on a robot index after this many rejected draws
MAX_TORSO_Z = 1.39  # docs/design_space.md §10: highest torso of all 1202 released robots


@dataclass(frozen=True)
class SetSpec:
    """How one robot set is generated.

    :param label: set name, also the robot-name prefix (``unimal-<label>-000`` …).
    :param count: number of robots.
    :param seed: base seed.
    :param limb_histogram: target limb counts (torso excluded) and their weights.
    """

    label: str
    count: int
    seed: int
    limb_histogram: tuple[tuple[int, int], ...] = tuple(TRAIN_LIMB_HISTOGRAM.items())

    def robot_name(self, i: int) -> str:
        """Name of robot ``i``."""
        return f"unimal-{self.label}-{i:03d}"

    def rng(self, i: int) -> np.random.Generator:
        """The random stream of robot ``i``."""
        return np.random.default_rng([self.seed, zlib.crc32(self.label.encode()), i])


SPEC_FILE = "set.json"


def write_set_spec(spec: SetSpec, out: Path) -> None:
    """Record how a set is generated in ``out/set.json``; refuse to mix two specs in one folder.

    :raises MorphologyError: ``out`` already holds a set generated with another spec.
    """
    record = {
        "label": spec.label,
        "count": spec.count,
        "seed": spec.seed,
        "limb_histogram": {str(k): v for k, v in spec.limb_histogram},
        "stream": "numpy.random.default_rng([seed, zlib.crc32(label), i]) for robot i",
    }
    path = out / SPEC_FILE
    if path.is_file():
        old = json.loads(path.read_text())
        if {k: old.get(k) for k in ("label", "seed", "limb_histogram")} != {
            k: record[k] for k in ("label", "seed", "limb_histogram")
        }:
            raise MorphologyError(
                f"{path}: this folder holds a set generated with another spec ({old}); use a new --out"
            )
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(record, indent=2) + "\n"))


def read_set_spec(folder: str | os.PathLike[str]) -> SetSpec:
    """The :class:`SetSpec` recorded in a generated set's ``set.json``."""
    path = Path(folder) / SPEC_FILE
    try:
        rec = json.loads(path.read_text())
        hist = tuple((int(k), int(v)) for k, v in rec["limb_histogram"].items())
        return SetSpec(rec["label"], int(rec["count"]), int(rec["seed"]), hist)
    except (OSError, ValueError, KeyError) as e:
        raise MorphologyError(f"{path}: not a readable robot-set spec ({e})") from None


def _signature(robot: Morphology) -> str:
    """The robot's XML without its name: equal signatures mean the same robot."""
    return to_xml(robot, excludes=False)


def limb_targets(spec: SetSpec) -> list[int]:
    """The limb count of every robot of the set: the histogram scaled to ``spec.count``.

    Quotas use the largest-remainder rule, so a 100-robot set has exactly the histogram's counts;
    they are assigned to robot indices in an order shuffled by the set's seed.
    """
    counts = np.array([c for c, _ in spec.limb_histogram])
    weights = np.array([w for _, w in spec.limb_histogram], dtype=float)
    exact = weights / weights.sum() * spec.count
    quota = np.floor(exact).astype(int)
    for k in np.argsort(-(exact - quota), kind="stable")[: spec.count - quota.sum()]:
        quota[k] += 1
    targets = np.repeat(counts, quota)
    order = np.random.default_rng([spec.seed, zlib.crc32(spec.label.encode())]).permutation(spec.count)
    return [int(t) for t in targets[order]]


def acceptable(robot: Morphology, target: int) -> bool:
    """A drawn robot is kept if it has the target limb count, fits the environments' limits
    (at most 16 DoF, docs/environment.md §3.5), starts no higher than any released robot (torso z ≤ 1.39,
    docs/design_space.md §10) and stands through a zero-action rollout without a physics error."""
    return (
        robot.num_limbs == target
        and robot.dof <= MAX_JOINTS
        and robot.torso_z <= MAX_TORSO_Z
        and rest_rollout(robot).ok
    )


def generate_robot(spec: SetSpec, i: int) -> tuple[Morphology, int]:
    """Robot ``i`` of ``spec`` and how many draws it took (see the module docstring)."""
    rng = spec.rng(i)
    target = limb_targets(spec)[i]
    for draw in range(1, MAX_DRAWS + 1):
        robot = random_robot(rng, name=spec.robot_name(i), target_limbs=target)
        if acceptable(robot, target):
            return robot, draw
    raise MorphologyError(f"{spec.robot_name(i)}: no valid robot with {target} limbs in {MAX_DRAWS} draws")


def _generate_one(args: tuple[SetSpec, int]) -> tuple[int, Morphology]:
    spec, i = args
    return i, generate_robot(spec, i)[0]


def generate_robot_set(
    spec: SetSpec,
    out: str | os.PathLike[str],
    workers: int = 1,
    avoid: Sequence[str | os.PathLike[str]] = (),
    progress: bool = True,
) -> list[Path]:
    """Generate ``spec.count`` robots into ``out`` (``xml/`` + ``metadata/``), resuming if interrupted.

    Each robot is written atomically as soon as it is made; robots already on disk are kept.

    :param workers: worker processes (the result does not depend on it).
    :param avoid: other robot-set folders that must share no robot with this one (e.g. the
        training set when generating the test set).
    :raises MorphologyError: a robot repeats an earlier one or one in ``avoid`` (pick another seed).
    :return: the XML paths, in robot order.
    """
    out = Path(out)
    write_set_spec(spec, out)
    paths = [out / "xml" / f"{spec.robot_name(i)}.xml" for i in range(spec.count)]
    todo = [i for i, p in enumerate(paths) if not p.is_file()]
    start = time.monotonic()
    executor = ProcessPoolExecutor(workers) if workers > 1 else None
    try:
        jobs = [(spec, i) for i in todo]
        results = executor.map(_generate_one, jobs) if executor else map(_generate_one, jobs)
        for k, (i, robot) in enumerate(results, 1):
            save(robot, out)
            if progress:
                rate = (time.monotonic() - start) / k
                print(f"[{spec.label}] robot {i + 1}/{spec.count} written ({rate:.1f} s/robot)", file=sys.stderr)
    finally:
        if executor:
            executor.shutdown(cancel_futures=True)
    owners: dict[str, Path] = {}
    for path in [p for folder in avoid for p in sorted((Path(folder) / "xml").glob("*.xml"))] + paths:
        sig = _signature(load(path))
        if sig in owners:
            raise MorphologyError(f"{path}: same robot as {owners[sig]}; generate with another seed")
        owners[sig] = path
    return paths


def set_statistics(folder: str | os.PathLike[str]) -> dict[str, object]:
    """Summary statistics of a robot set (the quantities of docs/environment.md §8 and docs/design_space.md §10)."""
    robots = [load(p) for p in sorted((Path(folder) / "xml").glob("*.xml"))]
    if not robots:
        raise MorphologyError(f"{folder}: no robots in {folder}/xml")
    bodies = [r.num_bodies for r in robots]
    dofs = [r.dof for r in robots]
    limbs = [limb for r in robots for limb in r.limbs.values()]
    return {
        "robots": len(robots),
        "bodies_hist": dict(sorted(Counter(bodies).items())),
        "bodies_min_mean_max": (min(bodies), float(np.mean(bodies)), max(bodies)),
        "dof_hist": dict(sorted(Counter(dofs).items())),
        "dof_min_mean_median_max": (min(dofs), float(np.mean(dofs)), float(np.median(dofs)), max(dofs)),
        "two_hinge_limbs_per_robot": float(
            np.mean([sum(len(limb.joints) == 2 for limb in r.limbs.values()) for r in robots])
        ),
        "pairs_per_robot": float(np.mean([len(r.symmetric_pairs) for r in robots])),
        "torso_z_min_median_max": (
            min(r.torso_z for r in robots),
            float(np.median([r.torso_z for r in robots])),
            max(r.torso_z for r in robots),
        ),
        "height_hist": dict(sorted(Counter(limb.height for limb in limbs).items())),
        "joint_sets": dict(sorted(Counter(limb.joint_set for limb in limbs).items())),
        "gears": dict(sorted(Counter(j.gear for limb in limbs for j in limb.joints).items())),
        "attach_sites": dict(
            sorted(
                Counter(limb.site.split("/")[1] if limb.site.startswith("limb/") else "torso" for limb in limbs).items()
            )
        ),
    }
