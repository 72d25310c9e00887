"""The ``unimal-gym`` command (also ``python -m unimal_gym``).

Every user error (missing file, malformed XML, not a UNIMAL robot, …) prints one line
``unimal-gym: error: <file>: <problem>`` and exits with status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from .morphology import Morphology, MorphologyError, compile_robot, load


def _robot_files(paths: Sequence[str]) -> list[Path]:
    """Expand folders (a robot set's ``xml/`` folder or the set itself) into XML files."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted((p / "xml").glob("*.xml")) if (p / "xml").is_dir() else sorted(p.glob("*.xml"))
            if not found:
                raise MorphologyError(f"{p}: folder holds no robot XML files")
            out += found
        else:
            out.append(p)
    return out


def describe(morph: Morphology) -> str:
    """Human-readable summary: tree of limbs with direction, length, joints and masses."""
    model = compile_robot(morph)
    mass = {model.body(i).name: float(model.body_mass[i]) for i in range(1, model.nbody)}
    lines = [
        f"robot {morph.name}: {morph.num_limbs} limbs ({morph.num_bodies} bodies), {morph.dof} DoF, "
        f"total mass {sum(mass.values()):.3f} kg",
        f"  torso/0  z={morph.torso_z}  density={morph.torso_density:g}  mass={mass['torso/0']:.3f}",
    ]
    depth = {-1: 0}
    for limb in morph.iter_limbs():
        depth[limb.index] = depth[limb.parent] + 1
        joints = ", ".join(f"{j.axis}[{j.range[0]:g},{j.range[1]:g}] gear {j.gear:g}" for j in limb.joints)
        pair = morph.mirror_of(limb.index)
        lines.append(
            f"  {'  ' * depth[limb.index]}{limb.name}  at {limb.site}  θ={limb.theta} φ={limb.phi} "
            f"h={limb.height}  mass={mass[limb.name]:.3f}  joints: {joints}"
            + (f"  (mirror of limb/{pair})" if pair is not None else "")
        )
    lines.append(f"  symmetric pairs: {morph.symmetric_pairs}  limb density: {morph.limb_density:g}")
    return "\n".join(lines)


def _cmd_info(args: argparse.Namespace) -> int:
    for path in _robot_files(args.robots):
        print(describe(load(path)))
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    files = _robot_files(args.paths)
    failed = 0
    for path in files:
        try:
            morph = load(path)
            compile_robot(morph)
        except MorphologyError as e:
            failed += 1
            print(f"FAIL {e}")
        else:
            print(f"ok   {path}: {morph.num_limbs} limbs, {morph.dof} DoF")
    print(f"{len(files) - failed} valid, {failed} invalid")
    return 1 if failed else 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``unimal-gym``."""
    parser = argparse.ArgumentParser(prog="unimal-gym", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("info", help="describe robots: limb tree, DoF, masses")
    p.add_argument("robots", nargs="+", help="robot XML files or robot-set folders")
    p.set_defaults(func=_cmd_info)
    p = sub.add_parser("validate", help="check that robot files parse and compile")
    p.add_argument("paths", nargs="+", help="robot XML files or robot-set folders")
    p.set_defaults(func=_cmd_validate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except MorphologyError as e:
        print(f"unimal-gym: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
