"""baselines.hyperdistill.publish on hand-made run folders: which paths become OUT / TEACHER, and which stay.

(A real pipeline run published and read back by ``seeds``: tests/test_pipeline.py.)"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from baselines.common.files import CheckpointError
from baselines.hyperdistill import publish as publish_module
from baselines.hyperdistill.publish import PublishError, publish

REPORT = "Teacher `{t}`; near = `out/near-1`; see layout/out/x, out.csv, my-out/x and the word out.\n"


def _run(root: Path, teacher: str, out: str | None = None) -> Path:
    """A finished run folder ``root/out`` whose teacher checkpoint path is written as ``teacher`` (and the
    run folder as ``out``, where it is given)."""
    run = root / "out"
    (run / "report").mkdir(parents=True)
    (run / "pipeline.json").write_text(json.dumps({"task": "ft", "note": "out"}))
    results = {"teacher": teacher, "runs": {"mlp": ["students/mlp-1"]}, "summary": {}}
    if out is not None:
        results["out"] = out
    (run / "report" / "results.json").write_text(json.dumps(results))
    (run / "report" / "report.md").write_text(REPORT.format(t=teacher))
    (run / "report" / "plot.png").write_bytes(b"\x89PNG out/ bytes kept")
    (run / "students" / "mlp-1" / "checkpoints").mkdir(parents=True)
    (run / "students" / "mlp-1" / "eval.csv").write_bytes(b"epoch,set\r\n1,near=out/near-1\r\n")
    (run / "students" / "mlp-1" / "checkpoints" / "final.pt").write_bytes(b"x")
    return run


def test_the_run_folder_given_relative_becomes_out_only_as_a_whole_path(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    run = _run(tmp_path, "out/teacher-a/checkpoints/final.pt")
    (run / "teacher-a").mkdir()
    (run / "teacher-a" / "progress.csv").write_bytes(b"iteration\r\n1\r\n")
    written = publish(Path("out"), Path("pub"))
    assert sorted(p.as_posix() for p in written) == [
        "pipeline.json", "plot.png", "report.md", "results.json", "students/mlp-1/eval.csv", "teacher/progress.csv",
    ]  # fmt: skip
    pub = tmp_path / "pub"
    assert (pub / "report.md").read_text() == REPORT.format(t="OUT/teacher-a/checkpoints/final.pt").replace(
        "`out/near-1`", "`OUT/near-1`"
    )  # layout/out, out.csv, my-out and the word "out" are not the run's folder
    assert json.loads((pub / "pipeline.json").read_text()) == {"task": "ft", "note": "out"}
    assert (pub / "students" / "mlp-1" / "eval.csv").read_bytes() == b"epoch,set\r\n1,near=OUT/near-1\r\n"
    assert (pub / "plot.png").read_bytes() == b"\x89PNG out/ bytes kept"  # binary files are copied as they are
    assert (pub / "teacher" / "progress.csv").read_bytes() == b"iteration\r\n1\r\n"


def test_an_absolute_run_folder_and_an_outside_teacher_become_out_and_teacher(tmp_path: Path) -> None:
    teacher = tmp_path / "teachers" / "t1"
    (teacher / "checkpoints").mkdir(parents=True)
    (teacher / "config.json").write_text(json.dumps({"robots": str(tmp_path / "teachers" / "t10")}))
    run = _run(tmp_path, str(teacher / "checkpoints" / "final.pt"))
    md = run / "report" / "report.md"
    md.write_text(md.read_text() + f"near at {run}/near-2 and {run}.\n")
    publish(run, tmp_path / "pub")
    text = (tmp_path / "pub" / "report.md").read_text()
    assert text.startswith("Teacher `TEACHER/checkpoints/final.pt`;") and text.endswith("near at OUT/near-2 and OUT.\n")
    assert json.loads((tmp_path / "pub" / "results.json").read_text())["teacher"] == "TEACHER/checkpoints/final.pt"
    # a longer name that starts with the teacher's folder is another folder
    robots = json.loads((tmp_path / "pub" / "teacher" / "config.json").read_text())["robots"]
    assert robots == str(tmp_path / "teachers" / "t10")


def test_an_unfinished_run_or_a_used_destination_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    run = _run(tmp_path, "x/checkpoints/final.pt")
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "mine.txt").write_text("keep")
    with pytest.raises(PublishError, match=r"used exists and is not an empty folder; publish into a new one"):
        publish(run, tmp_path / "used")
    assert [p.name for p in (tmp_path / "used").iterdir()] == ["mine.txt"]
    with pytest.raises(CheckpointError, match=r"mine.txt is a file, not a folder"):  # DEST's parent
        publish(run, tmp_path / "used" / "mine.txt" / "pub")
    with pytest.raises(PublishError, match=r"pub lies inside the run .*; publish into a folder outside it"):
        publish(run, run / "report" / "pub")
    assert not (run / "report" / "pub").exists()
    (run / "report" / "results.json").write_text("{")
    with pytest.raises(PublishError, match=r"results.json is broken"):
        publish(run, tmp_path / "new")
    (run / "pipeline.json").unlink()
    with pytest.raises(PublishError, match=r"is not a finished pipeline run \(pipeline.json is missing\)"):
        publish(run, tmp_path / "new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "used"]


def test_a_run_moved_since_its_report_names_neither_place(tmp_path: Path) -> None:
    old = tmp_path / "old" / "out"
    run = _run(tmp_path, f"{old}/teacher-a/checkpoints/final.pt", out=str(old))
    (run / "teacher-a").mkdir()
    (run / "teacher-a" / "config.json").write_text("{}")
    md = run / "report" / "report.md"
    md.write_text(md.read_text() + f"near = `{old}/near-1`; now {run}/near-1\n")
    written = publish(run, tmp_path / "pub")
    text = (tmp_path / "pub" / "report.md").read_text()
    assert text.startswith("Teacher `OUT/teacher-a/checkpoints/final.pt`;") and text.endswith(
        "near = `OUT/near-1`; now OUT/near-1\n"
    )
    assert Path("teacher/config.json") in written  # the teacher's logs are found in the moved run


def test_a_bare_checkpoint_file_as_teacher_becomes_teacher_and_no_slash_is_touched(tmp_path: Path) -> None:
    model = tmp_path / "models" / "t.pt"
    run = _run(tmp_path, str(model))
    md = run / "report" / "report.md"
    md.write_text(md.read_text() + "returns a / b, and ./config.json\n")
    (tmp_path / "config.json").write_text("{}")  # beside the run: not the teacher's
    written = publish(run, tmp_path / "pub")
    text = (tmp_path / "pub" / "report.md").read_text()
    assert text.startswith("Teacher `TEACHER`;") and text.endswith("returns a / b, and ./config.json\n")
    assert not any(p.parts[0] == "teacher" for p in written)  # no PPO run folder, no logs


def test_publishing_is_all_or_nothing_and_the_folder_is_not_private(tmp_path: Path, monkeypatch) -> None:
    run = _run(tmp_path, "x/checkpoints/final.pt")
    (tmp_path / "empty").mkdir()
    publish(run, tmp_path / "empty")  # an existing empty folder is filled
    mode = stat.S_IMODE((tmp_path / "empty").stat().st_mode)
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o777 & ~umask
    calls = []

    def copy_then_fail(source: Path, target: Path, renames: list) -> None:
        calls.append(source)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        copy(source, target, renames)

    copy = publish_module._copy
    monkeypatch.setattr(publish_module, "_copy", copy_then_fail)
    with pytest.raises(PublishError, match=r"cannot publish .* into .*new: \[Errno 28\] No space left on device"):
        publish(run, tmp_path / "new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "out"]  # no staging folder, no new


@pytest.mark.parametrize("dest", [".", ".."])
def test_the_current_or_parent_folder_is_not_a_destination(tmp_path: Path, monkeypatch, dest: str) -> None:
    run = _run(tmp_path, "x/checkpoints/final.pt")
    monkeypatch.chdir(tmp_path / "out" / "report")
    with pytest.raises(PublishError, match=r"name a new folder to publish into"):
        publish(run, Path(dest))


def test_a_report_that_names_no_teacher_is_refused(tmp_path: Path) -> None:
    run = _run(tmp_path, "x/checkpoints/final.pt")
    (run / "report" / "results.json").write_text("[]")
    with pytest.raises(PublishError, match=r"results.json names no teacher checkpoint: not a pipeline report"):
        publish(run, tmp_path / "pub")


def test_folders_linked_into_the_run_are_named_by_their_place_in_it_and_leftover_paths_are_reported(
    tmp_path: Path,
) -> None:
    """A student or a near-unseen set linked in from another run (as an experiment reusing that run's students)
    is ``OUT/<its place>``, not the other run's folder; a path of this machine that stays is reported."""
    other = tmp_path / "other"
    (other / "students" / "hd-0").mkdir(parents=True)
    (other / "near-7").mkdir()
    run = _run(tmp_path, "x/checkpoints/final.pt")
    robots = tmp_path / "my-robots"
    robots.mkdir()
    (other / "students" / "hd-0" / "config.json").write_text(
        json.dumps({"eval_sets": f"near={other}/near-7", "out": f"{other}/students/hd-0", "robots": str(robots)})
    )
    os.symlink(other / "students" / "hd-0", run / "students" / "hd-0")
    os.symlink(os.path.relpath(other / "near-7", run), run / "near-7")  # a relative link
    results = json.loads((run / "report" / "results.json").read_text())
    results["runs"]["hyperdistill"] = ["students/hd-0"]
    (run / "report" / "results.json").write_text(json.dumps(results))
    notes: list[str] = []
    publish(run, tmp_path / "pub", note=notes.append)
    config = json.loads((tmp_path / "pub" / "students" / "hd-0" / "config.json").read_text())
    assert config == {"eval_sets": "near=OUT/near-7", "out": "OUT/students/hd-0", "robots": str(robots)}
    assert notes == [f"note: {tmp_path / 'pub' / 'students' / 'hd-0' / 'config.json'} names {robots} of this machine "
                     "(kept as given)"]  # fmt: skip


def test_a_link_to_a_folder_inside_the_run_renames_neither_folder_after_the_other(tmp_path: Path) -> None:
    """A link from one place in RUN to another (a student reused under a second name, absolute or relative):
    each folder keeps its own name, ``OUT/<its place>``."""
    run = _run(tmp_path, "x/checkpoints/final.pt")
    alias = tmp_path / "alias"  # another name of the run folder
    alias.symlink_to(run)
    (run / "students" / "mlp-2").symlink_to("mlp-1")
    (run / "students" / "mlp-3").symlink_to(run / "students" / "mlp-1")
    (run / "students" / "mlp-4").symlink_to(alias / "students" / "mlp-1")
    (run / "report" / "report.md").write_text(
        f"{run}/students/mlp-1/eval.csv, {run}/students/mlp-2 and {run}/students/mlp-3/eval.csv; "
        f"{alias}/students/mlp-1\n"
    )
    notes: list[str] = []
    publish(run, tmp_path / "pub", note=notes.append)
    assert (tmp_path / "pub" / "report.md").read_text() == (
        "OUT/students/mlp-1/eval.csv, OUT/students/mlp-2 and OUT/students/mlp-3/eval.csv; OUT/students/mlp-1\n"
    )
    assert notes == []


def test_machine_paths_finds_existing_absolute_paths_only(tmp_path: Path) -> None:
    (tmp_path / "a b").mkdir()
    text = (
        f"{tmp_path}/x.pt and {tmp_path}; 1,200 samples/s, https://github.com{tmp_path} OUT{tmp_path} "
        f"~{tmp_path} {tmp_path}/nope {tmp_path}"
    )
    assert publish_module.machine_paths(text) == [str(tmp_path)]  # each once; /nope is not there
    odd = tmp_path / "x=1+y@z,%"
    odd.mkdir()
    assert publish_module.machine_paths(f"({odd}/f.pt) /") == [str(odd)]  # characters paths may hold
    cut = f"'{tmp_path}/a b/run.pt' /tmp/surely-not-here-3f9c"  # a space: the deepest folder that exists
    assert publish_module.machine_paths(cut) == [str(tmp_path)]
