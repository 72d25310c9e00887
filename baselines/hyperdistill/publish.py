"""A finished pipeline run reduced to what can be shared and committed: its report, tables, logs and settings.

``python -m baselines.hyperdistill.publish RUN DEST``

A run folder of ``python -m baselines.hyperdistill`` holds checkpoints, expert data and generated robots
(hundreds of MB at the ``laptop`` preset). ``DEST`` gets the files that say what the run did and found
(0.5–1.1 MB at the ``laptop`` preset), laid out as ``benchmarks/results/laptop/<task>/seed<N>/``::

    DEST/pipeline.json                                  the run's settings
    DEST/report.md, results.json, *.png                 its report (RUN/report/)
    DEST/teacher/config.json, progress.csv, robots.csv  the teacher's settings and training log
    DEST/hn-rl/config.json, progress.csv, robots.csv    the same of HN-RL, where the run trained it
    DEST/students/<run>/config.json, progress.csv, eval.csv
                                                        each distillation's settings and logs

Paths in the copied text files name no folder of the machine that made them: RUN (as given now and as the
run's report wrote it, should it have moved since) becomes ``OUT``, and a teacher given with ``--teacher``
from outside it ``TEACHER`` (its PPO run folder, whose logs are copied, or the checkpoint file itself). Other
paths given on the command line (a ``--robots`` folder, say) are kept as given.

``python -m baselines.hyperdistill.seeds`` reads a published folder as it reads a run folder, so a new
teacher seed can be combined with published ones. ``DEST`` must be new or empty; it appears whole or not at
all (written beside it, then renamed).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from unimal_gym.arguments import ArgumentParser

from ..common.config import UserError, run_cli
from ..common.files import read_json
from ..common.lock import writable_folder

PPO_FILES = ("config.json", "progress.csv", "robots.csv")  # of the teacher and HN-RL
STUDENT_FILES = ("config.json", "progress.csv", "eval.csv")
TEXT_SUFFIXES = (".json", ".csv", ".md")


class PublishError(UserError, ValueError):
    """A run that cannot be published: unfinished, or a destination that is not new or empty."""


def _finished_results(run: Path) -> dict[str, Any]:
    """``RUN/report/results.json``. :raises PublishError: not a finished pipeline run."""
    for path in (run / "pipeline.json", run / "report" / "results.json"):
        if not path.is_file():
            raise PublishError(f"{run} is not a finished pipeline run ({path.relative_to(run)} is missing)")
    path = run / "report" / "results.json"
    results = read_json(path, PublishError)
    if not isinstance(results, dict) or not isinstance(results.get("teacher"), str):
        raise PublishError(f"{path} names no teacher checkpoint: not a pipeline report")
    return results


def teacher_folder(run: Path, checkpoint: str) -> Path | None:
    """The PPO run folder of a checkpoint the report wrote as ``<folder>/checkpoints/<file>``, looked for in
    RUN where RUN has moved since; None for a checkpoint file given outside a PPO run (no logs to share)."""
    path = Path(checkpoint)
    if path.parent.name != "checkpoints":
        return None
    folder = path.parent.parent
    if not folder.is_dir() and (run / folder.name).is_dir():  # a run folder moved since its report
        return run / folder.name
    return folder


def _forms(path: Path) -> set[str]:
    """How a path may appear in a run's files: as given, absolute, and with links resolved."""
    return {str(path), str(path.absolute()), str(path.resolve())}


LINK_DEPTH = 2
"""How deep in RUN links are followed for :func:`_linked`: ``RUN/data-…`` and ``RUN/students/…``."""


def _linked(run: Path) -> dict[str, str]:
    """Every form of the targets of the links in RUN (down to :data:`LINK_DEPTH`) → ``OUT/<the link's place>``.

    A link to a folder inside RUN itself maps its target to the target's own place (``OUT/<where it is>``, however
    the link names it: through another name of RUN too), not to the link's: naming it after the link would rename
    the folder's own mentions."""
    places: dict[str, str] = {}
    inside = run.resolve()
    level = [run]
    for _ in range(LINK_DEPTH):
        below = []
        for folder in level:
            for path in sorted(folder.iterdir()) if folder.is_dir() else ():
                if path.is_symlink():
                    literal = Path(os.readlink(path))
                    target = literal if literal.is_absolute() else path.parent / literal
                    resolved = target.resolve()
                    where = resolved.relative_to(inside) if resolved.is_relative_to(inside) else path.relative_to(run)
                    places |= {form: f"OUT/{where.as_posix()}" for form in _forms(target) | _forms(resolved)}
                elif path.is_dir():
                    below.append(path)
        level = below
    return places


def _renames(run: Path, results: dict[str, Any]) -> list[tuple[re.Pattern[str], str]]:
    """Patterns of the run's folder (as given now and as the report wrote it), of the folders linked into it
    (:func:`_linked`) and of an outside teacher, with their placeholders, longest first (a run inside an
    outside teacher's folder stays ``OUT``).

    A path matches only as a whole path: an absolute one anywhere it is not part of a longer name, a relative
    one (``--out out``) only where a path inside it follows (``out/teacher-…``; not ``layout/`` or a bare word
    ``out``). A teacher inside RUN is ``OUT/teacher-…``; one outside is ``TEACHER`` (its PPO run folder, or
    the checkpoint file itself where it lies outside any).
    """
    places = {form: "OUT" for form in _forms(run) | {str(results.get("out") or run)}}
    checkpoint = Path(results["teacher"])
    folder = teacher_folder(run, results["teacher"])
    outside = folder if folder is not None else checkpoint
    if not outside.resolve().is_relative_to(run.resolve()):
        written = checkpoint.parent.parent if folder is not None else checkpoint  # as the report wrote it
        places |= {form: "TEACHER" for form in _forms(outside) | {str(written)} if form not in places}
    places |= {form: place for form, place in _linked(run).items() if form not in places}
    patterns = []
    for form in sorted(places, key=len, reverse=True):
        if form in ("", ".", "..", "/") or Path(form).anchor == form:  # never a bare root or the current folder
            continue
        end = r"(?=/|\.(?!\w)|[^\w.\-]|$)" if Path(form).is_absolute() else "(?=/)"
        patterns.append((re.compile(rf"(?<![\w.\-/~]){re.escape(form)}{end}"), places[form]))
    return patterns


ABSOLUTE_PATH = re.compile(r"(?<![\w.:/~\-])/[\w.\-=+@,%~]+(?:/[\w.\-=+@,%~]+)*")
"""An absolute path in text (not a URL's ``//host/…``, not the ``/s`` of ``samples/s``); it ends at a space or a
character paths rarely hold (quotes, brackets, ``:``, ``;``)."""


def machine_paths(text: str) -> list[str]:
    """The absolute paths in ``text`` that exist on this machine, in order of appearance, each once.

    A path that does not exist as matched (cut at a space, as in ``/home/me/my runs/x``) is reported as its
    deepest existing folder two or more levels below ``/`` (``/home/me``): a published file should name none.
    """
    found: dict[str, None] = {}
    for match in ABSOLUTE_PATH.finditer(text):
        path = Path(match.group())
        while len(path.parts) > 2 and not os.path.lexists(path):
            path = path.parent
        cut = str(path) != match.group()
        # a cut path stops two levels down (/home/me, not /home); "/" alone is never a finding
        if os.path.lexists(path) and len(path.parts) > 1 and (len(path.parts) > 2 or not cut):
            found[str(path)] = None
    return list(found)


def _copy(source: Path, target: Path, renames: list[tuple[re.Pattern[str], str]]) -> list[str]:
    """Copy one file; in text files, every path of ``renames`` becomes its placeholder.

    :return: the paths of this machine the copy still names (:func:`machine_paths`)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.suffix not in TEXT_SUFFIXES:
        shutil.copyfile(source, target)
        return []
    text = source.read_bytes().decode()  # bytes: CSV rows end in \r\n, kept as written
    for pattern, placeholder in renames:
        text = pattern.sub(placeholder, text)
    target.write_bytes(text.encode())
    return machine_paths(text)


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr)


def _check_destination(dest: Path) -> None:
    """:raises PublishError: ``dest`` is not a new or empty folder of its own name."""
    if dest.name in ("", ".", "..") or dest.is_symlink():
        raise PublishError(f"{dest}: name a new folder to publish into (not '.', '..' or a link)")
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise PublishError(f"{dest} exists and is not an empty folder; publish into a new one")


def publish(run: Path, dest: Path, note: Callable[[str], None] = _to_stderr) -> list[Path]:
    """Copy the shareable files of the finished pipeline run ``run`` into the new folder ``dest``.

    :param note: receives one line per published file that still names a path of this machine (a
        ``--robots`` folder given on the command line, say), naming the file and the paths.
    :return: the files written, relative to ``dest``.
    :raises PublishError: ``run`` is not a finished run, ``dest`` is not a new or empty folder, or a file could
        not be read or written (nothing is left behind then).
    :raises CheckpointError: ``dest``'s parent folder cannot be created or written in.
    """
    results = _finished_results(run)
    _check_destination(dest)
    if dest.resolve().is_relative_to(run.resolve()):
        raise PublishError(f"{dest} lies inside the run {run}; publish into a folder outside it")
    renames = _renames(run, results)
    files: dict[str, Path] = {"pipeline.json": run / "pipeline.json"}
    for path in sorted((run / "report").iterdir()):
        if path.is_file() and path.suffix in (".md", ".json", ".png"):
            files[path.name] = path
    ppo = {"teacher": teacher_folder(run, results["teacher"])}
    ppo |= {label: teacher_folder(run, str(c)) for label, c in (results.get("learnt") or {}).items()}
    for label, folder in ppo.items():
        if folder is not None:
            files |= {f"{label}/{name}": folder / name for name in PPO_FILES if (folder / name).is_file()}
    for runs in (results.get("runs") or {}).values():
        for student in runs:  # "students/<name>", relative to RUN
            for name in STUDENT_FILES:
                if (run / student / name).is_file():
                    files[f"{student}/{name}"] = run / student / name
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=writable_folder(dest.parent)))
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.chmod(staging, 0o777 & ~umask)  # mkdtemp's folder is private; a published one is not
        kept = {relative: _copy(source, staging / relative, renames) for relative, source in files.items()}
        if dest.exists():
            dest.rmdir()  # empty, checked above
        staging.rename(dest)
    except (OSError, UnicodeDecodeError) as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise PublishError(f"cannot publish {run} into {dest}: {exc}") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    for relative, paths in kept.items():
        if paths:
            note(f"note: {dest / relative} names {', '.join(paths)} of this machine (kept as given)")
    return [Path(r) for r in files]


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m baselines.hyperdistill.publish RUN DEST``."""
    parser = ArgumentParser(prog="python -m baselines.hyperdistill.publish", description=__doc__.splitlines()[0])
    parser.add_argument("run", help="the output folder of a finished python -m baselines.hyperdistill")
    parser.add_argument("dest", help="a new (or empty) folder for the shareable files")
    args = parser.parse_args(argv)

    def body() -> int:
        written = publish(Path(args.run), Path(args.dest))
        size = sum((Path(args.dest) / f).stat().st_size for f in written)
        print(f"{args.dest}: {len(written)} files, {size / 1e3:.0f} kB")
        return 0

    return run_cli(body)


if __name__ == "__main__":
    sys.exit(main())
