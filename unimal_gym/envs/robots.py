"""Resolving ``robot=...`` / ``robots=[...]``: a file, a folder, a robot name or a Morphology.

A **name** (``"unimal-train-000"``, with or without ``.xml``) is looked up in the robot folders, in
this order:

1. the folders passed as ``robot_dirs`` to the environment;
2. the folders in the environment variable ``UNIMAL_GYM_ROBOT_PATH`` (``os.pathsep``-separated);
3. the project's bundled robot sets, ``morphologies/train`` and ``morphologies/test`` (installed as
   package data or in a source checkout).

``<source>/<set>/<name>`` names a robot of a downloaded published set (``hyperdistill/train/NAME``,
:mod:`unimal_gym.published`). A **set** is a folder, a bundled set's name (``"train"``, ``"test"``) or a
published set (``"hyperdistill/test"``, ``"unimal-100/train"``). A robot folder is either a folder of
XML files or a robot-set folder holding ``xml/``.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from ..morphology import Morphology, load
from ..morphology.checks import check_layout
from ..published import SOURCES, published_set
from .errors import UnknownRobotError

RobotSpec = Morphology | str | os.PathLike[str]
ROBOT_PATH_ENV = "UNIMAL_GYM_ROBOT_PATH"
BUNDLED_SETS = ("train", "test")

_PACKAGE = Path(__file__).resolve().parents[1]


def bundled_robot_dirs() -> list[Path]:
    """The project's own robot sets that exist on this machine (package data, then the checkout)."""
    roots = (_PACKAGE / "morphologies", _PACKAGE.parent / "morphologies")
    return [root / s for root in roots for s in BUNDLED_SETS if (root / s).is_dir()]


def robot_set_folder(spec: str | os.PathLike[str]) -> Path | None:
    """The folder a robot-set spec names: an existing folder, a bundled set's name (``train``, ``test``) or
    a downloaded published set (``hyperdistill/test``, :mod:`unimal_gym.published`); ``None`` when it is
    none of these (it may still name a single robot).

    :raises UnknownRobotError: a published set that is not downloaded.
    """
    path = Path(spec)
    if path.is_dir():
        return path
    bundled = next((d for d in bundled_robot_dirs() if d.name == str(spec)), None)
    return bundled if bundled is not None else published_set(str(spec))


def robot_file(spec: str | os.PathLike[str], robot_dirs: Iterable[str | os.PathLike[str]] = ()) -> Path:
    """The XML file of one robot spec: a path to a file, a robot name in the robot folders, or
    ``<source>/<set>/<name>`` of a downloaded published set (``hyperdistill/train/floor-1409-…``).

    :raises UnknownRobotError: a name that no folder has.
    """
    path = Path(spec)
    parts = Path(str(spec)).parts
    if not path.exists() and len(parts) == 3 and parts[0] in SOURCES:
        folder = published_set("/".join(parts[:2]))
        assert folder is not None
        return find_robot_file(parts[2], [folder], search_path=False)
    if path.suffix == ".xml" or path.exists() or os.sep in str(spec):
        return path
    return find_robot_file(str(spec), robot_dirs)


def robot_search_path(robot_dirs: Iterable[str | os.PathLike[str]] = ()) -> list[Path]:
    """Folders searched for robot names, in order (see the module docstring)."""
    env = [p for p in os.environ.get(ROBOT_PATH_ENV, "").split(os.pathsep) if p]
    return [Path(p) for p in (*robot_dirs, *env)] + bundled_robot_dirs()


def _xml_dir(folder: Path) -> Path:
    return folder / "xml" if (folder / "xml").is_dir() else folder


def folder_robot_files(folder: str | os.PathLike[str]) -> list[Path]:
    """The robot XML files of a folder (or of its ``xml/`` subfolder), sorted by name."""
    return sorted(_xml_dir(Path(folder)).glob("*.xml"))


def find_robot_file(name: str, robot_dirs: Iterable[str | os.PathLike[str]] = (), search_path: bool = True) -> Path:
    """The XML file of a robot name.

    :param search_path: also search ``$UNIMAL_GYM_ROBOT_PATH`` and the bundled sets (False: only ``robot_dirs``).
    :raises UnknownRobotError: no folder has it; the message lists the closest names.
    """
    stem = name[:-4] if name.endswith(".xml") else name
    folders = robot_search_path(robot_dirs) if search_path else [Path(d) for d in robot_dirs]
    for folder in folders:
        cand = _xml_dir(folder) / f"{stem}.xml"
        if cand.is_file():
            return cand
    known = sorted({p.stem for folder in folders for p in folder_robot_files(folder)})
    close = difflib.get_close_matches(stem, known, n=5, cutoff=0.5)
    where = ", ".join(str(f) for f in folders) or "(no robot folders found)"
    hint = f"closest names: {', '.join(close)}" if close else f"{len(known)} robots known, none close"
    raise UnknownRobotError(
        f"unknown robot {stem!r}: not a file and not found in {where}; {hint}. "
        f"Pass a path to a UNIMAL XML file, a Morphology, or add a folder with robot_dirs=[...] "
        f"or ${ROBOT_PATH_ENV}."
    )


def check_robot_size(robot: Morphology) -> None:
    """Reject robots the padded observation cannot hold (docs/environment.md §3.5).

    :raises RobotTooLargeError: more than 11 bodies (torso included) or more than 16 hinges.
    """
    check_layout(robot)


def resolve_robot(spec: RobotSpec, robot_dirs: Iterable[str | os.PathLike[str]] = ()) -> Morphology:
    """One robot from a Morphology, a path to its XML file, or a name in the robot folders.

    :raises UnknownRobotError: a name that no folder has.
    :raises RobotFileError: an unreadable or invalid robot file.
    :raises RobotTooLargeError: more than 11 bodies or 16 joints.
    """
    if isinstance(spec, Morphology):
        robot = spec
    else:
        robot = load(robot_file(spec, robot_dirs))
    check_robot_size(robot)
    return robot


def resolve_robots(
    specs: RobotSpec | Sequence[RobotSpec], robot_dirs: Iterable[str | os.PathLike[str]] = ()
) -> list[Morphology]:
    """Robots from a list of specs; a folder or a bundled set's name (``"train"``, ``"test"``) expands to
    all of its robots (sorted by file name).

    :raises UnknownRobotError: a name no folder has, or a folder without robot files.
    """
    if isinstance(specs, (str, os.PathLike, Morphology)):
        specs = [specs]
    robots: list[Morphology] = []
    for spec in specs:
        folder = None if isinstance(spec, Morphology) else robot_set_folder(spec)
        if folder is not None:
            files = folder_robot_files(folder)
            if not files:
                raise UnknownRobotError(
                    f"robot folder {str(spec)!r} has no .xml files (nor an xml/ subfolder with any)"
                )
            robots.extend(resolve_robot(f) for f in files)
        else:
            robots.append(resolve_robot(spec, robot_dirs))
    if not robots:
        raise UnknownRobotError("robots=[] names no robot; give at least one name, path, folder or Morphology")
    return robots
