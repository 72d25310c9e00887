"""Statistics of our design-space generators next to the released sets' (docs/design_space.md §6.1, §7, §8).

Applies the PD recipe (9 mutants per training robot, m ~ U{1,2,3} ops) to the 100 UNIMAL
training robots, once per seed, and generates random initial robots (§6.1). Prints our numbers
next to the spec's. Usage::

    PYTHONPATH=. python benchmarks/design_space_stats.py --train ORIGINAL_TRAIN_SET \
        [--seeds 0 1 2] [--random 150] [--fuzz 3000]
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from unimal_gym.morphology import Morphology, MutationError, from_xml, load, mutate, to_xml
from unimal_gym.morphology.mutate import OPERATORS, validity_failure
from unimal_gym.morphology.sample import Mutant, pd_robots, sample_random_robot
from unimal_gym.morphology.tree import MAX_DESIGN_LIMBS

PD_PER_PARENT = 9  # docs/design_space.md §7

# docs/design_space.md §7: the released train_mutate_1000 set.
SPEC_M = {1: 289, 2: 301, 3: 310}
SPEC_DELTA = {-6: 1, -4: 10, -3: 13, -2: 138, -1: 59, 0: 525, 1: 59, 2: 90, 3: 5}
SPEC_DELTA_BY_M = {
    1: {-2: 32, -1: 9, 0: 214, 1: 10, 2: 24},
    2: {-4: 1, -3: 4, -2: 43, -1: 25, 0: 170, 1: 23, 2: 33, 3: 2},
    3: {-6: 1, -4: 9, -3: 9, -2: 63, -1: 25, 0: 141, 1: 26, 2: 33, 3: 3},
}
SPEC_OPS = {
    "delete_limb": 295,
    "limb_params": 293,
    "density": 267,
    "joint_angle": 259,
    "dof": 240,
    "gear": 235,
    "grow_limb": 232,
}
SPEC_ALL_LIMBS = {2: 5, 3: 12, 4: 27, 5: 60, 6: 94, 7: 153, 8: 232, 9: 211, 10: 206}


def hist(counter: Counter, keys: Iterable[int]) -> str:
    return " ".join(f"{k:+d}:{counter.get(k, 0)}" for k in keys)


def new_limb_directions(mutants: list[Mutant], parents: dict[str, Morphology]) -> Counter:
    """Direction classes of limbs a mutant has and its parent had not (§8's comparison)."""
    out: Counter = Counter()
    for mutant in mutants:
        parent = parents[mutant.parent]
        for i, limb in mutant.robot.limbs.items():
            if i in parent.limbs:
                continue
            if limb.phi == 180:
                out["down"] += 1
            elif limb.phi == 135 and limb.theta in (0, 180):
                out["45down_inplane"] += 1
            else:
                out["other"] += 1
    return out


def pd_stats(parents: list[Morphology], seed: int) -> None:
    by_name = {p.name: p for p in parents}
    start = time.perf_counter()
    mutants = pd_robots(parents, PD_PER_PARENT, np.random.default_rng(seed))
    elapsed = time.perf_counter() - start
    n = len(mutants)
    print(f"\n=== PD recipe, seed {seed}: {n} mutants in {elapsed:.1f} s ({1000 * elapsed / n:.1f} ms per mutant)")

    ms = Counter(len(m.operations) for m in mutants)
    print(f"m = 1/2/3: ours {ms[1]}/{ms[2]}/{ms[3]}   spec {SPEC_M[1]}/{SPEC_M[2]}/{SPEC_M[3]}")
    ops = Counter(op.name for m in mutants for op in m.operations)
    print("op totals (ours / spec):")
    for name in OPERATORS:
        print(f"  {name:12s} {ops[name]:4d} / {SPEC_OPS[name]}")
    repeats = sum(len({op.name for op in m.operations}) < len(m.operations) for m in mutants)
    print(f"sequences repeating an op: ours {repeats}   spec 156 (about 163 expected)")

    delta = Counter(m.robot.num_limbs - by_name[m.parent].num_limbs for m in mutants)
    keys = range(-6, 4)
    print(f"Δlimbs ours: {hist(delta, keys)}")
    print(f"Δlimbs spec: {hist(Counter(SPEC_DELTA), keys)}")
    changed = 1 - delta[0] / n
    mean_abs = sum(abs(k) * v for k, v in delta.items()) / n
    print(f"share changing limb count: ours {100 * changed:.1f} %  spec 41.7 %")
    print(f"mean |Δlimbs|: ours {mean_abs:.2f}  spec 0.75")
    for m in (1, 2, 3):
        d = Counter(x.robot.num_limbs - by_name[x.parent].num_limbs for x in mutants if len(x.operations) == m)
        print(f"  m={m} ours: {hist(d, keys)}")
        print(f"  m={m} spec: {hist(Counter(SPEC_DELTA_BY_M[m]), keys)}")

    all_limbs = Counter([p.num_limbs for p in parents] + [m.robot.num_limbs for m in mutants])
    print("limb counts of parents + mutants (ours / spec):")
    print("  " + " ".join(f"{k}:{all_limbs[k]}/{SPEC_ALL_LIMBS[k]}" for k in range(2, 11)))
    print(
        f"mean limbs: parents {np.mean([p.num_limbs for p in parents]):.2f} (spec 8.07), "
        f"mutants {np.mean([m.robot.num_limbs for m in mutants]):.2f} (spec 7.89)"
    )
    ddof = Counter(m.robot.dof - by_name[m.parent].dof for m in mutants)
    print(
        f"ΔDoF range {min(ddof)}…{max(ddof)} (spec −8…+6), ΔDoF = 0: {ddof[0]} (spec 418); "
        f"mutant DoF mean {np.mean([m.robot.dof for m in mutants]):.2f} (spec 10.41, parents 10.70)"
    )

    print("single-op effects (ours | spec):")
    single = [m for m in mutants if len(m.operations) == 1]
    grow = Counter(
        m.robot.num_limbs - by_name[m.parent].num_limbs for m in single if m.operations[0].name == "grow_limb"
    )
    print(f"  grow_limb: +2 {grow[2]}, +1 {grow[1]}, 0 {grow[0]}   | +2 24, +1 10, 0 1")
    dele = Counter(
        by_name[m.parent].num_limbs - m.robot.num_limbs for m in single if m.operations[0].name == "delete_limb"
    )
    print(f"  delete_limb: −2 {dele[2]}, −1 {dele[1]}   | −2 32, −1 9")
    for name, spec in (("limb_params", "13 of 46"), ("gear", "3 of 38"), ("density", "1 of 51")):
        group = [m for m in single if m.operations[0].name == name]
        same = sum(to_xml(m.robot, excludes=False) == to_xml(by_name[m.parent], excludes=False) for m in group)
        print(f"  {name}: unchanged {same} of {len(group)}   | {spec}")
    redrawn = [m.operations[0].details for m in single if m.operations[0].name == "limb_params"]
    same_h = sum(d["height"] == d["old_height"] for d in redrawn)
    print(f"  limb_params drawing the old height again: {same_h} of {len(redrawn)} (B1 still moves btm_pos then)")
    scopes = Counter(
        m.operations[0].details["scope"] for m in single if m.operations[0].name in ("gear", "joint_angle", "dof")
    )
    print(f"  joint ops touching all / one unit: {scopes['all']} / {scopes['one']}")

    dirs = new_limb_directions(mutants, by_name)
    total = sum(dirs.values())
    print(
        f"newly grown limbs: {total} (spec 323); straight down {100 * dirs['down'] / total:.1f} % "
        f"(released 58 %, spec's port 65–71 %); in-plane 45°-down {100 * dirs['45down_inplane'] / total:.1f} % "
        f"(released 23 %, port 10–14 %); other {100 * dirs['other'] / total:.1f} %"
    )

    stale = sum(m.robot.torso_z > m.robot.head_height() for m in mutants)
    stale_parents = sum(p.torso_z > p.head_height() for p in parents)
    invalid = Counter(validity_failure(m.robot) for m in mutants)
    print(
        f"invariants: max limbs {max(m.robot.num_limbs for m in mutants)} (≤ 10); "
        f"stale head (B2) {stale + stale_parents} of {n + len(parents)} incl. parents (spec 74 of 1000); "
        f"validity at rest: {dict(invalid)} (spec: all COM y = 0, 1 non-sibling overlap; our 'contact' also "
        "counts sibling overlaps outside contact_pairs)"
    )


def random_stats(count: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    results = [sample_random_robot(rng, f"random-{i}") for i in range(count)]
    elapsed = time.perf_counter() - start
    nops = np.array([len(r.operations) for r in results])
    extra = Counter(r.robot.num_limbs - r.target for r in results)
    grows = [op for r in results for op in r.operations if op.name == "grow_limb"]
    attempts = sum(op.details["attempts"] for op in grows)
    successes = sum(op.applied for op in grows)
    symmetric = Counter(validity_failure(r.robot) for r in results)
    print(f"\n=== random initial robots (§6.1), seed {seed}: {count} robots in {elapsed:.1f} s")
    print(
        f"ops per robot: mean {nops.mean():.1f}, median {np.median(nops):.0f}, 90th pct {np.percentile(nops, 90):.0f}"
        "   | spec's port: mean 29, median 13, 90th pct 55"
    )
    print(
        f"final count n: {100 * extra[0] / count:.0f} %, n+1: {100 * extra[1] / count:.0f} %   | port 59 % / 41 %; "
        f"limb counts {dict(sorted(Counter(r.robot.num_limbs for r in results).items()))}"
    )
    print(f"grow_limb: {successes} successes in {attempts} attempts   | port about 1010 in 8060")
    print(f"validity of the final robots: {dict(symmetric)} (None = symmetric and no illegal contact)")
    print(f"time per robot: {1000 * elapsed / count:.0f} ms   | port about 2 s")


def fuzz(steps: int, parents: list[Morphology], seed: int) -> None:
    """Random single ops in chains of 20 from training and random robots; every result is written and re-read."""
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    outcomes: Counter = Counter()
    robot = parents[0]
    for step in range(steps):
        if step % 20 == 0:
            k = step // 20
            robot = parents[k % len(parents)] if k % 2 else sample_random_robot(rng, f"fuzz-{k}").robot
        try:
            child, ops = mutate(robot, 1, rng)
        except MutationError as e:  # a clean, named rejection
            outcomes[type(e).__name__] += 1
            continue
        op = ops[0]
        text = to_xml(child)
        if to_xml(from_xml(text, name=child.name)) != text or child.num_limbs > MAX_DESIGN_LIMBS:
            outcomes["BROKEN"] += 1
        elif op.name == "grow_limb" and op.applied and validity_failure(child) is not None:
            outcomes["INVALID_GROWTH"] += 1
        else:
            outcomes[f"{op.name}{'' if op.applied else ' (failed, unchanged)'}"] += 1
        robot = child
    elapsed = time.perf_counter() - start
    print(f"\n=== fuzz, seed {seed}: {steps} ops in {elapsed:.1f} s (written, re-read and compared each time)")
    for key, value in sorted(outcomes.items()):
        print(f"  {key:28s} {value}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--train", type=Path, required=True, help="the original 100 training robots: a folder with xml/ and metadata/"
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="one PD run per seed")
    parser.add_argument("--random", type=int, default=150, help="number of random initial robots")
    parser.add_argument("--fuzz", type=int, default=3000, help="number of fuzzed single ops (0 = skip)")
    args = parser.parse_args()
    parents = [load(p) for p in sorted((args.train / "xml").glob("*.xml"))]
    print(f"{len(parents)} training robots from {args.train.name}/")
    for seed in args.seeds:
        pd_stats(parents, seed)
    random_stats(args.random, args.seeds[0])
    if args.fuzz:
        fuzz(args.fuzz, parents, args.seeds[0])


if __name__ == "__main__":
    main()
