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

Paths in the copied text files name no folder of the machine that made them: RUN becomes ``OUT`` and a
teacher trained outside it (``--teacher``) ``TEACHER`` (its run folder). Other paths given on the command
line (a ``--robots`` folder, say) are kept as given.

``python -m baselines.hyperdistill.seeds`` reads a published folder as it reads a run folder, so a new
teacher seed can be combined with published ones. ``DEST`` must be new or empty; it appears whole or not at
all (written beside it, then renamed).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from ..common.config import UserError, run_cli
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
    try:
        return json.loads((run / "report" / "results.json").read_text())
    except json.JSONDecodeError as exc:
        raise PublishError(f"{run / 'report' / 'results.json'} is broken: {exc}") from None


def _ppo_folder(run: Path, checkpoint: str) -> Path:
    """The PPO run folder of ``<folder>/checkpoints/final.pt`` as the report wrote it (in RUN if RUN moved)."""
    folder = Path(checkpoint).parent.parent
    if not folder.is_dir() and (run / folder.name).is_dir():  # a run folder moved since its report
        return run / folder.name
    return folder


def _renames(run: Path, teacher_dir: Path) -> list[tuple[re.Pattern[str], str]]:
    """Patterns of the run's and an outside teacher's folder in text, and their placeholders; longest first,
    so that a teacher inside RUN becomes ``OUT/...``. A folder matches only as a whole path: its absolute
    form anywhere it is not part of a longer name, the form given on the command line (``--out out``) only
    where a path inside it follows (``out/teacher-…``; not ``layout/`` or a bare word ``out``)."""
    folders = [(run, "OUT")]
    if not teacher_dir.resolve().is_relative_to(run.resolve()):
        folders.append((teacher_dir, "TEACHER"))
    patterns: dict[str, tuple[str, str]] = {}
    for folder, placeholder in folders:
        whole = str(folder.resolve())
        patterns[whole] = (rf"(?<![\w.\-/~]){re.escape(whole)}(?=/|\.(?!\w)|[^\w.\-]|$)", placeholder)
        given = str(folder)
        if given not in patterns and given not in ("", "."):
            patterns[given] = (rf"(?<![\w.\-/~]){re.escape(given)}(?=/)", placeholder)
    return [(re.compile(patterns[k][0]), patterns[k][1]) for k in sorted(patterns, key=len, reverse=True)]


def _copy(source: Path, target: Path, renames: list[tuple[re.Pattern[str], str]]) -> None:
    """Copy one file; in text files, every path of ``renames`` becomes its placeholder."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.suffix not in TEXT_SUFFIXES:
        shutil.copyfile(source, target)
        return
    text = source.read_bytes().decode()  # bytes: CSV rows end in \r\n, kept as written
    for pattern, placeholder in renames:
        text = pattern.sub(placeholder, text)
    target.write_bytes(text.encode())


def publish(run: Path, dest: Path) -> list[Path]:
    """Copy the shareable files of the finished pipeline run ``run`` into the new folder ``dest``.

    :return: the files written, relative to ``dest``.
    :raises PublishError: ``run`` is not a finished run, or ``dest`` exists and is not an empty folder.
    :raises CheckpointError: ``dest``'s parent folder cannot be created or written in.
    """
    results = _finished_results(run)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise PublishError(f"{dest} exists and is not an empty folder; publish into a new one")
    teacher_dir = _ppo_folder(run, results["teacher"])
    renames = _renames(run, teacher_dir)
    files: dict[str, Path] = {"pipeline.json": run / "pipeline.json"}
    for path in sorted((run / "report").iterdir()):
        if path.is_file() and path.suffix in (".md", ".json", ".png"):
            files[path.name] = path
    ppo = {"teacher": teacher_dir} | {label: _ppo_folder(run, c) for label, c in results.get("learnt", {}).items()}
    for label, folder in ppo.items():
        files |= {f"{label}/{name}": folder / name for name in PPO_FILES if (folder / name).is_file()}
    for runs in results.get("runs", {}).values():
        for student in runs:  # "students/<name>", relative to RUN
            for name in STUDENT_FILES:
                if (run / student / name).is_file():
                    files[f"{student}/{name}"] = run / student / name
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=writable_folder(dest.parent)))
    try:
        for relative, source in files.items():
            _copy(source, staging / relative, renames)
        if dest.exists():
            dest.rmdir()  # empty, checked above
        staging.rename(dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return [Path(r) for r in files]


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m baselines.hyperdistill.publish RUN DEST``."""
    parser = argparse.ArgumentParser(
        prog="python -m baselines.hyperdistill.publish", description=__doc__.splitlines()[0]
    )
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
