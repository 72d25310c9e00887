"""The ``unimal-gym`` command (also ``python -m unimal_gym``).

Every user error (missing file, malformed XML, not a UNIMAL robot, …) prints one line
``unimal-gym: error: <file>: <problem>`` and exits with status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import gl  # noqa: F401  (first: MUJOCO_GL on a headless machine, before MuJoCo is imported)
from .arguments import ArgumentParser
from .envs.assembly import CAMERAS, ft_model
from .envs.robots import folder_robot_files, resolve_robot, robot_file, robot_set_folder
from .morphology import Morphology, MorphologyError, compile_robot, load, save, to_xml
from .morphology.mutate import mutate
from .morphology.variations import variants
from .robot_sets import LIMB_HISTOGRAMS, SetSpec, generate_robot_set, set_statistics


def _robot_files(specs: Sequence[str]) -> list[Path]:
    """XML files of robot specs, as ``render`` and the environments take them: a file, a folder (a set's
    ``xml/`` folder or the set itself), a bundled set's name (``train``, ``test``) or a robot's name.

    :raises MorphologyError: a folder without robot files, or a name no robot folder has.
    """
    out: list[Path] = []
    for spec in specs:
        folder = robot_set_folder(spec)
        if folder is not None:
            found = folder_robot_files(folder)
            if not found:
                raise MorphologyError(f"{spec}: folder holds no robot XML files")
            out += found
        else:
            out.append(robot_file(spec))
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
    """Check each file exactly as the environments will: read it, check the layout holds it, compile its
    FT model. Every file is checked (a bad one does not stop the others); exit status 1 if any failed."""
    files = _robot_files(args.paths)
    failed = 0
    for path in files:
        try:
            morph = resolve_robot(path)
            ft_model(morph)
        except MorphologyError as e:
            failed += 1
            print(f"FAIL {e}")
        else:
            print(f"ok   {path}: {morph.num_limbs} limbs, {morph.dof} DoF")
    print(f"{len(files) - failed} valid, {failed} invalid")
    return 1 if failed else 0


def _cmd_generate(args: argparse.Namespace) -> int:
    if args.limbs is not None and not 1 <= args.limbs <= 10:
        raise MorphologyError(f"--limbs {args.limbs}: a UNIMAL robot has 1 to 10 limbs")
    hist = ((args.limbs, 1),) if args.limbs else tuple(LIMB_HISTOGRAMS[args.histogram].items())
    spec = SetSpec(args.label, args.count, args.seed, hist)
    paths = generate_robot_set(spec, args.out, workers=args.workers, avoid=args.avoid)
    for path in paths:
        print(describe(load(path)) if not args.quiet else path)
    print(f"{len(paths)} robots in {args.out}/xml (metadata in {args.out}/metadata)")
    return 0


def _check_unwritten(robots: Sequence[Morphology], out: str) -> None:
    """None of ``robots`` would replace another robot of the same name in the set folder ``out`` (an earlier run
    with another seed): checked for all before the first is written.

    :raises MorphologyError: naming the first such file.
    """
    for robot in robots:
        path = Path(out) / "xml" / f"{robot.name}.xml"
        if path.is_file() and path.read_text() != to_xml(robot):
            raise MorphologyError(f"{path} holds another robot of this name (another --seed?); pass a new --out")


def _cmd_mutate(args: argparse.Namespace) -> int:
    robot = load(robot_file(args.robot))
    rng = np.random.default_rng(args.seed)
    children = []
    for k in range(args.count):
        m = args.n if args.n is not None else int(rng.integers(1, 4))  # paper App. B.1: m ~ U{1,2,3}
        child, ops = mutate(robot, m, rng)
        child.name = "-".join([robot.name, "mutate", str(k), *(op.name for op in ops)])
        children.append((child, ops))
    _check_unwritten([child for child, _ in children], args.out)
    for child, ops in children:
        path = save(child, args.out)
        print(f"{path}: {', '.join(op.name + ('' if op.applied else ' (no change)') for op in ops)}")
    return 0


def _cmd_vary(args: argparse.Namespace) -> int:
    robot = load(robot_file(args.robot))
    varied = list(variants(robot, np.random.default_rng(args.seed), args.dynamics, args.kinematics))
    _check_unwritten(varied, args.out)
    for v in varied:
        print(save(v, args.out))
    return 0


def _cmd_stats(args: argparse.Namespace) -> int:
    for folder in args.folders:
        stats = set_statistics(folder)  # a folder without robots is an error before anything is printed for it
        print(f"{folder}:")
        for key, value in stats.items():
            print(f"  {key}: {value}")
    return 0


def _cmd_render(args: argparse.Namespace) -> int:
    from .envs import UnimalEnv
    from .media import MediaError, write_png, write_video

    output = args.output or ("robot.mp4" if args.video else "robot.png")
    suffix = Path(output).suffix.lower()
    if not args.video and suffix != ".png":  # a PNG under another name misleads
        raise MorphologyError(f"{output}: an image is written as PNG; name it .png (or pass --video for .mp4)")
    if args.video and suffix != ".mp4":
        raise MorphologyError(f"{output}: a video is written as MP4; name it .mp4")
    env = UnimalEnv(
        robot=args.robot,
        task=args.task,
        render_mode="rgb_array",
        width=args.width,
        height=args.height,
        camera_name=args.camera,
    )
    try:
        env.reset(seed=args.seed)
        if args.video:
            rng = np.random.default_rng(args.seed)
            frames = [env.render()]
            for _ in range(args.steps):
                _, _, terminated, truncated, _ = env.step(rng.uniform(-1.0, 1.0, env.action_space.shape))
                frames.append(env.render())
                if terminated or truncated:
                    break
            path = write_video(output, frames, fps=round(1 / env.dt))
            print(f"{path}: {len(frames)} frames of random actions ({args.task}, camera {env.camera_name})")
        else:
            path = write_png(output, env.render())
            print(f"{path}: {args.width}x{args.height} ({args.task}, camera {env.camera_name})")
    except MediaError as e:
        raise MorphologyError(str(e)) from None
    finally:
        env.close()
    return 0


def _cmd_download(args: argparse.Namespace) -> int:
    from .published import download

    installed = download(args.source, args.origin, args.sets, progress=print)
    names = ", ".join(f"{args.source}/{s}" for s in installed)
    print(f'ready: {names} (e.g. robots="{args.source}/{next(iter(installed))}")')
    return 0


def _integer(lo: int, hi: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number in [lo, hi] (hi None: no upper bound); anything else is a usage error."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < lo or (hi is not None and value > hi):
            allowed = f"{lo} to {hi}" if hi is not None else f"at least {lo}"
            raise argparse.ArgumentTypeError(f"{value} is not allowed: {allowed}")
        return value

    return parse


SEED = _integer(0, 2**32 - 1)
MAX_IMAGE = 8192  # pixels per side of an offscreen image


class _DefaultsFormatter(argparse.HelpFormatter):
    """Help that ends each option with its default, where it has a real one the text does not already give."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if "default" in text or action.default in (None, False, [], "") or action.default is argparse.SUPPRESS:
            return text
        return f"{text} (default: %(default)s)"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``unimal-gym``."""
    parser = ArgumentParser(prog="unimal-gym", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, **kwargs: Any) -> argparse.ArgumentParser:
        return sub.add_parser(name, formatter_class=_DefaultsFormatter, **kwargs)

    p = command("info", help="describe robots: limb tree, DoF, masses")
    p.add_argument("robots", nargs="+", help="robot XML files, robot names, robot-set folders or set names")
    p.set_defaults(func=_cmd_info)
    p = command("validate", help="check robot files exactly as the environments will (exit status 1 if any fails)")
    p.add_argument("paths", nargs="+", help="robot XML files, robot names, robot-set folders or set names")
    p.set_defaults(func=_cmd_validate)

    p = command("generate", help="generate random robots that stand (our robot-set generator)")
    p.add_argument("--count", type=_integer(1), default=3, help="number of robots")
    p.add_argument("--seed", type=SEED, default=0, help="base seed; robot i uses its own stream")
    p.add_argument("--label", default="random", help="set label; robots are named unimal-<label>-<i>")
    p.add_argument("--limbs", type=_integer(1, 10), help="limb count of every robot (default: drawn from --histogram)")
    p.add_argument(
        "--histogram",
        choices=sorted(LIMB_HISTOGRAMS),
        default="train",
        help="limb-count distribution of the original benchmark's train or test set (docs/environment.md §8)",
    )
    p.add_argument("--avoid", nargs="*", default=[], help="robot-set folders that must share no robot with this one")
    p.add_argument("--out", default="robots", help="output folder (xml/ + metadata/); resumes if it exists")
    p.add_argument("--workers", type=_integer(1), default=1, help="worker processes")
    p.add_argument("--quiet", action="store_true", help="print only the file paths")
    p.set_defaults(func=_cmd_generate)

    p = command("mutate", help="PD-style mutants of a robot (m ~ U{1,2,3} operators each)")
    p.add_argument("robot", help="a robot: its XML file or its name (unimal-train-000)")
    p.add_argument("--count", type=_integer(1), default=9, help="number of mutants (the paper uses 9)")
    p.add_argument("-n", type=_integer(1, 10), help="operators per mutant, 1 to 10 (default: drawn from {1, 2, 3})")
    p.add_argument("--seed", type=SEED, default=0, help="seed of the mutations")
    p.add_argument("--out", default="mutants", help="output folder (xml/ + metadata/)")
    p.set_defaults(func=_cmd_mutate)

    p = command("vary", help="MetaMorph-style dynamics and kinematics variants of a robot")
    p.add_argument("robot", help="a robot: its XML file or its name (unimal-train-000)")
    p.add_argument("--dynamics", type=_integer(0), default=16, help="dynamics variants (MetaMorph: 16)")
    p.add_argument("--kinematics", type=_integer(0), default=8, help="kinematics variants (MetaMorph: 8)")
    p.add_argument("--seed", type=SEED, default=0, help="seed of the variations")
    p.add_argument("--out", default="variants", help="output folder (xml/ + metadata/)")
    p.set_defaults(func=_cmd_vary)

    p = command("render", help="a picture of a robot in its task (or a short video of random actions)")
    p.add_argument("robot", help="robot XML file or robot name")
    p.add_argument("-o", "--output", default=None, help="output file: .png (default robot.png), .mp4 with --video")
    p.add_argument("--video", action="store_true", help="record a rollout of random actions instead")
    p.add_argument("--steps", type=_integer(1), default=150, help="control steps in the video (50 per second)")
    p.add_argument("--task", choices=("ft", "vt", "obstacle"), default="ft", help="the task's arena")
    p.add_argument(
        "--camera", choices=CAMERAS, metavar="CAMERA", help=f"one of {', '.join(CAMERAS)} (default: the task's view)"
    )
    p.add_argument("--width", type=_integer(1, MAX_IMAGE), default=640, help="image width (pixels)")
    p.add_argument("--height", type=_integer(1, MAX_IMAGE), default=480, help="image height (pixels)")
    p.add_argument("--seed", type=SEED, default=0, help="reset seed (and the video's random actions)")
    p.set_defaults(func=_cmd_render)

    p = command(
        "download",
        help="fetch a published robot collection into the cache, checked (hyperdistill, unimal-100)",
        description="Fetch a published robot collection into the cache ($UNIMAL_GYM_CACHE, else ~/.cache/unimal-gym), "
        'check every file, and make its sets usable as SOURCE/SET (robots="hyperdistill/test").',
    )
    p.add_argument("source", choices=("hyperdistill", "unimal-100"), help="which collection")
    p.add_argument(
        "--from",
        dest="origin",
        metavar="PATH_OR_URL",
        help="an archive (zip or tar), an extracted folder or a URL to read instead of the default URL "
        "(required for unimal-100: unimals_100.zip from MetaMorph's README)",
    )
    p.add_argument("--sets", nargs="+", help="only these sets (default: all of the collection's)")
    p.set_defaults(func=_cmd_download)

    p = command("stats", help="statistics of robot sets (limb and DoF histograms, ...)")
    p.add_argument("folders", nargs="+", help="robot-set folders (with xml/ inside)")
    p.set_defaults(func=_cmd_stats)
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
    except OSError as e:  # an output folder that cannot be made or written in: name it, no traceback
        print(f"unimal-gym: error: {_os_error(e)}", file=sys.stderr)
        return 2


def _os_error(e: OSError) -> str:
    """One line for a file-system error: the path, what went wrong, and for a file standing where a folder is
    needed (``--out`` naming a file), that."""
    what = e.strerror or str(e)
    if isinstance(e, (FileExistsError, NotADirectoryError)):
        what += " (a file stands where a folder is needed)"
    return f"{e.filename}: {what}" if e.filename is not None else what


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
