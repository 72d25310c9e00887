"""The end-to-end pipeline (python -m baselines.hyperdistill) on its smoke preset: report, caching, bad input."""

from __future__ import annotations

import csv
import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from baselines.common.config import ConfigError
from baselines.common.files import (
    CONTENT_KEY,
    DISTILL_CHECKPOINT,
    PPO_CHECKPOINT,
    CheckpointError,
    read_artifact,
    save_artifact,
)
from baselines.hyperdistill import PipelineConfig, pipeline, pipeline_preset, publish, run_pipeline, seeds
from baselines.hyperdistill.__main__ import main
from baselines.ppo import PPOConfig
from baselines.ppo.config import MACHINE_FIELDS
from unimal_gym.machine import machine, machine_line

torch.set_num_threads(1)
pytestmark = pytest.mark.slow  # every test here runs the smoke pipeline (≈ 7–12 s each)


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    out = tmp_path_factory.mktemp("pipeline") / "run"
    lines: list[str] = []
    run_pipeline(pipeline_preset("smoke"), out, log=lines.append)
    return out, lines


def _evaluations(out: Path) -> dict[str, Path]:
    """The pipeline's cached evaluation files of the teacher and the zero-action policy."""
    return {label: next((out / "eval").glob(f"{label}-*.json")) for label in ("teacher", "zero")}


def test_smoke_pipeline_writes_the_report(smoke_run: tuple[Path, list[str]]) -> None:
    out, lines = smoke_run
    report = (out / "report" / "report.md").read_text()
    for row in ("| Teacher (ModuMorph, PPO) |", "| HyperDistill |", "| Multi-robot MLP |", "ModuMorph (oracle)"):
        assert row in report
    assert (
        "1 episode per robot, episodes cut at 100 steps (not the benchmark's 1000)," in report
    )  # smoke: quick episodes
    assert (
        max(n for r in json.loads(next((out / "eval").glob("zero-*.json")).read_text())["robots"] for n in r["lengths"])
        == 100
    )
    results = json.loads((out / "report" / "results.json").read_text())
    assert results["done_before_s"] == {}  # every stage ran in this run
    # where the times were measured (the clock in MHz may move between readings on a machine that scales it)
    here = {k: v for k, v in machine().items() if k != "mhz"}
    assert {k: v for k, v in results["machine"].items() if k != "mhz"} == here
    assert f"Machine of this run's stages and latencies: {machine_line(results['machine'])}." in report
    marker = json.loads(next(out.glob("teacher-*/.done")).read_text())["machine"]
    assert marker.startswith(here["cpu"]) and f"Python {here['python']}" in marker
    assert set(results["summary"]) == {"teacher", "hyperdistill", "mlp", "zero", "random"}
    assert all(set(s) == {"train", "near", "far"} for s in results["summary"].values())
    assert results["distill_samples_per_s"]["hyperdistill"] > 0
    assert set(results["latency_s"]) == {"teacher", "hyperdistill", "mlp"}
    assert (out / "report" / "curves.png").is_file() and (out / "report" / "returns.png").is_file()
    assert (out / "report" / "teacher_curve.png").is_file()  # the PPO run's training return
    assert any(line.startswith("== teacher: PPO") for line in lines)
    # ratios to the teacher only where it beats zero action by two standard errors (the gate), else "n/a"
    sets = results["sets"]
    for key in ("train", "near", "far"):
        per_robot = {
            label: [r["return_mean"] for r in json.loads(path.read_text())["robots"] if r["set"] == key]
            for label, path in _evaluations(out).items()
        }
        diff = np.array(per_robot["teacher"]) - np.array(per_robot["zero"])
        passed = diff.mean() > 2 * diff.std(ddof=1) / np.sqrt(len(diff))
        assert sets[key]["gate"]["passed"] == passed and sets[key]["gate"]["robots"] == len(diff)
        assert bool(sets[key]["students"]) == passed  # comparisons only where the gate passed
        assert ("untestable on this set" in report) or passed
    for label in ("Teacher (ModuMorph, PPO)", "HyperDistill", "Multi-robot MLP", "Zero action", "Random actions"):
        cells = next(r for r in report.splitlines() if r.startswith(f"| {label} |")).split(" | ")
        for cell, key in zip(cells[4:7], ("train", "near", "far"), strict=True):
            assert (cell == "n/a") == (not sets[key]["gate"]["passed"]), (label, key, cell)


def test_stages_are_cached_and_a_changed_stage_reruns_alone(smoke_run: tuple[Path, list[str]]) -> None:
    out, _ = smoke_run
    lines: list[str] = []
    run_pipeline(pipeline_preset("smoke"), out, log=lines.append)
    assert [line for line in lines if line.startswith("==")] == [f"== report: {out / 'report' / 'report.md'}"]
    # a report rewritten from cached stages says how long they took when they ran (not 0.0)
    results = json.loads((out / "report" / "results.json").read_text())
    before = results["done_before_s"]
    assert set(before) == {"teacher", "data", "near", "distill hyperdistill", "distill mlp", "evaluation"}
    assert all(isinstance(v, float) and v > 0 for v in before.values()), before
    assert results["timings_s"]["teacher"] == 0.0 and results["timings_s"]["total"] < sum(before.values())
    assert (
        "Stages done before this run, as long as they took in the run that did them (s): teacher "
        in (out / "report" / "report.md").read_text()
    )
    config = pipeline_preset("smoke")
    lines.clear()
    run_pipeline(replace(config, students=("hyperdistill", "tf-compressed")), out, log=lines.append)
    stages = [line.split(" in ")[0] for line in lines if line.startswith("==")]
    assert stages == [
        "== distilling tf-compressed (seed 0)",
        "== evaluating tf-compressed on train, near, far, 1 episode per robot",
        f"== report: {out / 'report' / 'report.md'}",
    ]
    before = json.loads((out / "report" / "results.json").read_text())["done_before_s"]
    assert "distill hyperdistill" in before and "distill tf-compressed" not in before
    (data,) = out.glob("data-*")  # a marker written before the times were recorded
    marker = (data / ".done").read_text()
    (data / ".done").write_text('{"stage": "data"}\n')
    try:
        run_pipeline(config, out, log=lines.append)
    finally:
        (data / ".done").write_text(marker)
    assert json.loads((out / "report" / "results.json").read_text())["done_before_s"]["data"] is None
    assert ", data not recorded," in (out / "report" / "report.md").read_text()


def test_teacher_of_another_task_is_refused(smoke_run: tuple[Path, list[str]], tmp_path: Path) -> None:
    out, _ = smoke_run
    teacher = next(out.glob("teacher-*"))
    with pytest.raises(CheckpointError, match="is a ft policy"):
        run_pipeline(pipeline_preset("smoke", "vt"), tmp_path / "vt", teacher=teacher, log=lambda _: None)
    assert main(["--preset", "nope", "--out", str(tmp_path / "x")]) == 2


def test_a_moved_run_folder_keeps_every_stage(
    smoke_run: tuple[Path, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out, _ = smoke_run
    moved = tmp_path / "moved"
    shutil.copytree(out, moved, symlinks=True)
    lines: list[str] = []
    run_pipeline(pipeline_preset("smoke"), moved, log=lines.append)  # the near set's path changed with OUT
    assert [line for line in lines if line.startswith("==")] == [f"== report: {moved / 'report' / 'report.md'}"]
    # evaluations cached before their keys left OUT's path out are found under the old name, and renamed
    old = tmp_path / "old"
    shutil.copytree(out, old, symlinks=True)
    shutil.rmtree(old / "eval")
    monkeypatch.setattr(pipeline, "_portable", lambda text, out: text)  # keys with the absolute near path
    run_pipeline(pipeline_preset("smoke"), old, log=lines.append)
    monkeypatch.undo()
    lines.clear()
    run_pipeline(pipeline_preset("smoke"), old, log=lines.append)
    evaluated = {line.split(" on ")[0].split()[-1] for line in lines if line.startswith("== evaluating")}
    assert not evaluated & {"teacher", "zero", "random"}, lines
    assert all(len(list((old / "eval").glob(f"{label}-*.json"))) == 1 for label in ("teacher", "zero", "random"))


def test_an_unfinished_student_resumes_in_a_moved_run_folder(smoke_run: tuple[Path, list[str]], tmp_path: Path) -> None:
    """A student interrupted after its first epoch, then OUT moved: its saved config names the near set (a curve
    set here) by its old path; the pipeline points it at the moved near set and the student continues (it was
    refused before)."""
    out, _ = smoke_run
    config = replace(pipeline_preset("smoke"), curve_sets=("near",))
    first, moved = tmp_path / "first", tmp_path / "moved"
    shutil.copytree(out, first, symlinks=True)
    run_pipeline(config, first, log=lambda _: None)  # students with curves on near
    shutil.copytree(first, moved, symlinks=True)
    folder = next(f for f in (moved / "students").glob("mlp-*") if "near=" in (f / "config.json").read_text())
    for name in (".done", "checkpoints/final.pt", "checkpoints/epoch_0002.pt"):
        (folder / name).unlink()
    saved = json.loads((folder / "config.json").read_text())
    assert f"{first}/" in saved["eval_sets"]  # the old OUT's near set
    lines: list[str] = []
    run_pipeline(config, moved, log=lines.append)
    assert any("into mlp" in line and "epochs 1→2" in line for line in lines)
    assert json.loads((folder / "config.json").read_text()) == {
        **saved,
        "eval_sets": saved["eval_sets"].replace(f"{first}/", f"{moved}/"),
    }
    # anything else that differs is still refused, with the file left as it was
    (folder / ".done").unlink()
    (folder / "checkpoints" / "final.pt").unlink()
    changed = json.loads((folder / "config.json").read_text())
    changed["eval_sets"] = changed["eval_sets"].replace(f"{moved}/", f"{first}/") + "x"
    (folder / "config.json").write_text(json.dumps(changed))
    with pytest.raises(CheckpointError, match="differs"):
        run_pipeline(config, moved, log=lambda _: None)
    assert json.loads((folder / "config.json").read_text()) == changed


def test_an_interrupted_stage_resumes(smoke_run: tuple[Path, list[str]]) -> None:
    """A student stage killed after its first epoch (no marker, no final checkpoint) continues from there."""
    out, _ = smoke_run
    folder = next((out / "students").glob("mlp-*"))
    for name in (".done", "checkpoints/final.pt", "checkpoints/epoch_0002.pt"):
        (folder / name).unlink()
    lines: list[str] = []
    run_pipeline(pipeline_preset("smoke"), out, log=lines.append)
    assert any("into mlp" in line and "epochs 1→2" in line for line in lines)
    rows = (folder / "progress.csv").read_text().splitlines()[1:]
    assert [int(r.split(",")[0]) for r in rows] == [1, 2]
    assert (folder / ".done").is_file()


def test_students_run_at_once_in_worker_processes_are_the_students_of_one_after_another(
    smoke_run: tuple[Path, list[str]], tmp_path: Path
) -> None:
    """``jobs=2``: the two students distil side by side, each in a worker process, and come out as they did one
    after another in this process: the same weights, the same per-robot returns."""
    out, _ = smoke_run
    copy = tmp_path / "run"
    shutil.copytree(out, copy, symlinks=True)
    shutil.rmtree(copy / "students")
    for path in (copy / "eval").glob("*.json"):
        if path.name.split("-")[0] in ("hyperdistill", "mlp"):
            path.unlink()
    lines: list[str] = []
    run_pipeline(replace(pipeline_preset("smoke"), jobs=2), copy, log=lines.append)
    assert sum("started in worker process" in line for line in lines) == 2
    assert any(line.startswith("[1] [epoch") for line in lines) and any(line.startswith("[2] [epoch") for line in lines)
    students = sorted(p.name for p in (copy / "students").iterdir())
    assert [s.split("-")[0] for s in students] == ["hyperdistill", "mlp"]
    for name in students:
        a, b = (
            read_artifact(run / "students" / name / "checkpoints" / "final.pt", DISTILL_CHECKPOINT)
            for run in (out, copy)
        )
        assert a["student"].keys() == b["student"].keys()
        assert all(torch.equal(a["student"][k], b["student"][k]) for k in a["student"])
    for label in ("hyperdistill", "mlp"):  # (the files' keys differ: a checkpoint records its wall time too)
        (new,) = (copy / "eval").glob(f"{label}-*.json")
        # (other tests may add a seed-1 student to the shared run: the seed-0 one is among its evaluations)
        before = [json.loads(p.read_text())["robots"] for p in (out / "eval").glob(f"{label}-*.json")]
        assert json.loads(new.read_text())["robots"] in before


def test_near_unseen_robots_are_new_mutants_of_the_training_robots(smoke_run: tuple[Path, list[str]]) -> None:
    """One fresh mutant per training robot, none equal to a parent or a PD robot of the expert data, each
    one the environment accepts, reproducible from the near seed."""
    from baselines.hyperdistill.pipeline import make_near_set
    from unimal_gym.envs.robots import check_robot_size
    from unimal_gym.morphology import load, to_xml

    out, _ = smoke_run
    near = sorted(next(out.glob("near-*")).glob("xml/*.xml"))
    parents = ["unimal-train-000", "unimal-train-001", "unimal-train-002"]
    assert [f.stem for f in near] == [f"near-{p}-0" for p in parents]
    data = next(out.glob("data-*"))
    taken = {to_xml(load(f), excludes=False) for f in (data / "robots" / "xml").glob("*.xml")}
    texts = [to_xml(load(f), excludes=False) for f in near]
    assert not taken & set(texts) and len(set(texts)) == len(texts)
    for f in near:
        check_robot_size(load(f))
    again = make_near_set(pipeline_preset("smoke"), data, out / "near-again")
    assert [f.read_bytes() for f in again] == [f.read_bytes() for f in near]


def test_robot_sets_on_the_command_line(smoke_run: tuple[Path, list[str]], tmp_path: Path, capsys) -> None:
    out, _ = smoke_run
    teacher = next(out.glob("teacher-*"))
    capsys.readouterr()
    assert main(["--preset", "smoke", "--out", str(tmp_path / "a"), "--test-robots", "=test"]) == 2
    assert "expected NAME=SET_OR_DIR" in capsys.readouterr().err
    assert main(["--preset", "smoke", "--out", str(tmp_path / "a"), "--test-robots", "far=test", "far=train"]) == 2
    assert "given twice" in capsys.readouterr().err
    assert main(["--preset", "smoke", "--out", str(tmp_path / "b"), "--test-robots", f"x={tmp_path}/none"]) == 2
    assert "no such folder" in capsys.readouterr().err
    assert main(["--preset", "smoke", "--out", str(tmp_path / "c"), "--teacher", str(teacher), "--robots", "test"]) == 2
    assert "contradicts the teacher" in capsys.readouterr().err
    assert (
        main(["--preset", "smoke", "--out", str(tmp_path / "d"), "--teacher", str(teacher), "--teacher-seed", "3"]) == 2
    )
    assert "cannot be combined with --teacher" in capsys.readouterr().err
    assert main(["--preset", "smoke", "--out", str(tmp_path / "e"), "--curve-sets", "near", "nope"]) == 2
    assert "curve sets ['nope']: each must be one of this run's evaluation sets" in capsys.readouterr().err
    assert not any((tmp_path / n).exists() for n in "abcde")
    # test sets without far: the preset's curve set far is dropped, as is near without a near set
    assert (
        main(
            [
                "--preset",
                "smoke",
                "--out",
                str(tmp_path / "f"),
                "--teacher",
                str(teacher),
                "--test-robots",
                "other=test",
                "--near-per-robot",
                "0",
            ]
        )
        == 0
    )
    saved = json.loads((tmp_path / "f" / "pipeline.json").read_text())
    assert saved["curve_sets"] == [] and saved["test_sets"] == [["other", "test"]]
    # with --teacher and no --robots, the run uses the robots the teacher was trained on
    config = pipeline_preset("smoke").with_training_set("test", 2)
    assert config.collect.robots == config.distill.eval_train == "test" and config.collect.robot_limit == 2
    laptop = pipeline_preset("laptop").with_training_set("train", 5)  # its curves follow the teacher's robots
    assert laptop.distill.eval_train_limit == 5
    assert laptop.distill.eval_limit == pipeline_preset("laptop").distill.eval_limit


def test_several_student_seeds_are_reported_across_seeds(smoke_run: tuple[Path, list[str]]) -> None:
    """--seeds 2: the cached seed is reused, one more is distilled; the report gives mean ± s.e. across seeds."""
    out, _ = smoke_run
    lines: list[str] = []
    run_pipeline(replace(pipeline_preset("smoke"), students=("mlp",), seeds=2), out, log=lines.append)
    assert [line.split(" in ")[0] for line in lines if line.startswith("== distilling")] == [
        "== distilling mlp (seed 1)"
    ]
    results = json.loads((out / "report" / "results.json").read_text())
    train = results["summary"]["mlp"]["train"]
    per_seed = train["seed_means"]
    assert train["seeds"] == 2 and train["mean"] == pytest.approx(np.mean(per_seed))
    assert train["se"] == pytest.approx(np.std(per_seed, ddof=1) / np.sqrt(2))
    evaluated = {json.loads(p.read_text())["summary"]["train"]["mean"] for p in (out / "eval").glob("mlp-*.json")}
    evaluated |= {
        json.loads(p.read_text())["summary"]["train"]["mean"] for p in (out / "students").glob("mlp-*/eval/*.json")
    }
    assert set(per_seed) <= evaluated  # each seed's mean is that seed's own evaluation
    assert "across 2 distillation seeds" in (out / "report" / "report.md").read_text()
    main(["--preset", "smoke", "--out", str(out), "--students", "mlp", "--seeds", "2"])  # the CLI option: all cached


def test_the_collection_noise_and_the_students_size_are_options(
    smoke_run: tuple[Path, list[str]], tmp_path: Path, capsys
) -> None:
    out, _ = smoke_run
    teacher = next(out.glob("teacher-*"))
    argv = ["--preset", "smoke", "--teacher", str(teacher), "--students", "mlp", "--epochs", "1"]
    assert main([*argv, "--out", str(tmp_path / "bad"), "--collect-std", "0"]) == 2
    assert "action_std=0.0 is not allowed: 0 < action_std" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()
    assert main([*argv, "--out", str(tmp_path / "bad"), "--student-net", "huge"]) == 2
    assert "net='huge'" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()
    argv += ["--student-net", "tiny,hidden_dim=16"]
    assert main([*argv, "--out", str(tmp_path / "run"), "--collect-std", "0.5"]) == 0
    saved = json.loads((tmp_path / "run" / "pipeline.json").read_text())
    assert saved["collect"]["action_std"] == 0.5 and pipeline_preset("smoke").collect.action_std == 0.9
    (data,) = (tmp_path / "run").glob("data-*")
    assert json.loads((data / "manifest.json").read_text())["config"]["action_std"] == 0.5
    assert data.name not in {d.name for d in out.glob("data-*")}  # not the preset's data under another name
    assert "σ = 0.5" in (tmp_path / "run" / "report" / "report.md").read_text()
    assert saved["distill"]["net"] == "tiny,hidden_dim=16"


def test_hn_rl_is_an_optional_stage_compared_like_a_student(smoke_run: tuple[Path, list[str]], tmp_path: Path) -> None:
    out, _ = smoke_run
    lines: list[str] = []
    run_pipeline(replace(pipeline_preset("smoke"), hn_rl=True), out, log=lines.append)
    assert any(line.startswith("== HN-RL: PPO") for line in lines)
    hn = next(out.glob("hn-rl-*"))
    assert json.loads((hn / "config.json").read_text())["arch"] == "hn-rl" and (hn / ".done").is_file()
    results = json.loads((out / "report" / "results.json").read_text())
    assert "hn-rl" in results["summary"] and "hn-rl" in results["costs"]
    assert "| HN-RL |" in (out / "report" / "report.md").read_text()
    for entry in results["sets"].values():
        assert ("hn-rl" in entry["students"]) == entry["gate"]["passed"]
    assert results["learnt"] == {"hn-rl": str(hn / "checkpoints" / "final.pt")}
    written = {p.as_posix() for p in publish.publish(out, tmp_path / "pub")}  # its training log is shared too
    assert {"hn-rl/config.json", "hn-rl/progress.csv", "teacher/progress.csv"} <= written
    assert (tmp_path / "pub" / "hn-rl" / "progress.csv").read_bytes() == (hn / "progress.csv").read_bytes()


def test_students_evaluated_during_distillation_are_still_evaluated_on_every_set(
    smoke_run: tuple[Path, list[str]],
) -> None:
    """The students' curves cover train and the curve sets, on the robots of the final evaluation: with every
    set among them the last one is the final evaluation; with far alone the report evaluates the students on
    train, near and far itself."""
    out, _ = smoke_run
    config = pipeline_preset("smoke")
    config = replace(config, distill=replace(config.distill, evaluate=True, eval_every=1), curve_sets=("near", "far"))
    lines: list[str] = []
    run_pipeline(config, out, log=lines.append)
    assert not any(line.startswith("== evaluating hyperdistill") for line in lines)  # its last curve point
    results = json.loads((out / "report" / "results.json").read_text())
    assert results["curve_sets"] == ["train", "near", "far"]
    final = json.loads(next((out / "eval").glob("teacher-*.json")).read_text())["robots"]
    for student in ("hyperdistill", "mlp"):
        (run,) = results["runs"][student]
        rows = list(csv.DictReader((out / run / "eval.csv").open()))
        assert [(r["epoch"], r["set"]) for r in rows] == [(e, s) for e in "12" for s in ("train", "near", "far")]
        curve = json.loads((out / run / "eval" / "epoch_0002.json").read_text())["robots"]
        assert [(r["set"], r["robot"]) for r in curve] == [(r["set"], r["robot"]) for r in final]
        assert results["summary"][student]["near"]["mean"] == pytest.approx(float(rows[-2]["mean"]))

    config = replace(config, curve_sets=("far",))
    lines.clear()
    run_pipeline(config, out, log=lines.append)
    assert any(line.startswith("== evaluating hyperdistill on train, near, far") for line in lines)
    results = json.loads((out / "report" / "results.json").read_text())
    assert all(set(results["summary"][s]) == {"train", "near", "far"} for s in ("hyperdistill", "mlp"))
    assert results["curve_sets"] == ["train", "far"]
    with pytest.raises(ConfigError, match=r"curve sets \['nope', 'far'\]"):
        run_pipeline(replace(config, curve_sets=("nope", "far", "far")), out, log=lines.append)
    with pytest.raises(ConfigError, match=r"curve sets \['near'\]: .* \(far\)"):
        replace(config, near_per_robot=0, curve_sets=("near",)).validate()


def test_the_train_set_is_exactly_the_teachers_robots(tmp_path: Path) -> None:
    """With fewer training robots than the evaluation limit, train holds the teacher's robots only (the
    others are unseen) and near one mutant of each; test sets keep the evaluation limit."""
    config = pipeline_preset("smoke").with_training_set("train", 2)
    run_pipeline(config, tmp_path / "run", log=lambda _: None)
    results = json.loads((tmp_path / "run" / "report" / "results.json").read_text())
    robots = {name: s["robots"] for name, s in results["summary"]["teacher"].items()}
    assert robots == {"train": 2, "near": 2, "far": config.distill.eval_limit} and config.distill.eval_limit == 3


@pytest.fixture(scope="module")
def two_teacher_seeds(tmp_path_factory: pytest.TempPathFactory) -> tuple[PipelineConfig, Path, Path]:
    """Two smoke runs (train and near sets, 2-point distillation curves) with teacher seeds 0 and 7."""
    config = replace(pipeline_preset("smoke"), test_sets=(), curve_sets=("near",))  # train and near are enough
    config = replace(config, distill=replace(config.distill, evaluate=True, eval_every=1))  # curves of 2 points
    root = tmp_path_factory.mktemp("seeds")  # (the shared smoke run is changed by other tests)
    first, second = root / "seed1", root / "seed2"
    run_pipeline(config, first, log=lambda _: None)
    run_pipeline(replace(config, teacher=replace(config.teacher, seed=7)), second, log=lambda _: None)
    return config, first, second


def test_runs_with_other_teacher_seeds_combine_into_one_table(
    two_teacher_seeds: tuple[PipelineConfig, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """baselines.hyperdistill.seeds: each cell is the mean over runs of the runs' own means, the gate is
    counted per run, and runs that differ in more than the teacher's seed are refused."""
    config, first, second = two_teacher_seeds
    seeds.write([first, second], tmp_path / "across")
    combined = json.loads((tmp_path / "across" / "results.json").read_text())
    own = [json.loads((run / "report" / "results.json").read_text()) for run in (first, second)]
    assert combined["teacher_seeds"] == [config.teacher.seed, 7]
    for label in ("teacher", "hyperdistill", "zero"):
        for set_name, cell in combined["summary"][label].items():
            means = [r["summary"][label][set_name]["mean"] for r in own]
            np.testing.assert_allclose(cell["run_means"], means, rtol=1e-12)
            assert cell["mean"] == pytest.approx(np.mean(means))
            assert cell["se"] == pytest.approx(np.std(means, ddof=1) / np.sqrt(2))
    for set_name, entry in combined["sets"].items():
        if entry["gate"] is not None:
            assert entry["gate"]["passed_runs"] == sum(bool(r["sets"][set_name]["gate"]["passed"]) for r in own)
    assert "Across 2 teacher seeds (FT)" in (tmp_path / "across" / "report.md").read_text()
    # the students' curves: mean ± s.e. across the runs' distillations, epoch by epoch
    for student in ("hyperdistill", "mlp"):
        for set_name in ("train", "near"):
            rows = [
                [
                    float(r["mean"])
                    for r in csv.DictReader((run / r_["runs"][student][0] / "eval.csv").open())
                    if r["set"] == set_name
                ]
                for run, r_ in zip((first, second), own, strict=True)
            ]
            curve = combined["curves"][student][set_name]
            assert curve["epochs"] == [1, 2]
            np.testing.assert_allclose(curve["mean"], np.mean(rows, axis=0), rtol=1e-12)
            np.testing.assert_allclose(curve["se"], np.std(rows, axis=0, ddof=1) / np.sqrt(2), rtol=1e-12)
    assert (tmp_path / "across" / "student_curves.png").stat().st_size > 0
    # --out: an earlier table is updated; a run's own report (or any other folder with files) is refused, untouched
    seeds.write([second, first], tmp_path / "across")
    assert json.loads((tmp_path / "across" / "results.json").read_text())["teacher_seeds"] == [7, config.teacher.seed]
    report = {p.name: p.read_bytes() for p in (first / "report").iterdir()}
    with pytest.raises(seeds.SeedsError, match=r"report holds curves.png, .*not an earlier table across seeds"):
        seeds.write([first, second], first / "report")
    assert {p.name: p.read_bytes() for p in (first / "report").iterdir()} == report
    with pytest.raises(seeds.SeedsError, match=r"holds .*pipeline.json"):
        seeds.write([first, second], second)

    with pytest.raises(seeds.SeedsError, match="distilled the same teacher: each run needs its own"):
        seeds.write([first, first], tmp_path / "x")
    assert len(json.loads((first / "report" / "results.json").read_text())["teacher_sha256"]) == 64
    # one seed twice, two teachers (a rerun elsewhere is another draw): told apart by checksum, else by logs
    again = tmp_path / "again"
    shutil.copytree(second, again)
    saved = json.loads((again / "pipeline.json").read_text())
    saved["teacher"]["seed"] = config.teacher.seed
    (again / "pipeline.json").write_text(json.dumps(saved))
    seeds.write([first, again], tmp_path / "rerun")
    assert "A seed appears more than once" in (tmp_path / "rerun" / "report.md").read_text()
    results = json.loads((again / "report" / "results.json").read_text())
    del results["teacher_sha256"]  # as written before the checksum was recorded: the training logs differ
    (again / "report" / "results.json").write_text(json.dumps(results))
    assert seeds.same_teacher(seeds.load_run(first), seeds.load_run(again)) is False
    assert seeds.same_teacher(seeds.load_run(again), seeds.load_run(second)) is True  # same log (timings aside)
    results["teacher"] = str(tmp_path / "elsewhere.pt")  # a bare checkpoint: no log either
    (again / "report" / "results.json").write_text(json.dumps(results))
    with pytest.raises(seeds.SeedsError, match=r"repeat and .* record neither a teacher checksum nor a training log"):
        seeds.write([first, again], tmp_path / "x")
    other = tmp_path / "other"
    shutil.copytree(second, other)
    saved = json.loads((other / "pipeline.json").read_text())
    saved["teacher"]["seed"], saved["distill"]["epochs"] = 11, 99
    (other / "pipeline.json").write_text(json.dumps(saved))
    with pytest.raises(seeds.SeedsError, match=r"in \['distill'\], not only in the teacher's seed"):
        seeds.write([first, other], tmp_path / "x")
    # where and how a run was computed does not matter: --jobs (absent in runs made before it), Ray, threads
    saved["distill"]["epochs"] = config.distill.epochs
    saved.pop("jobs", None)
    saved["executor"], saved["teacher"]["torch_threads"], saved["distill"]["eval_workers"] = "ray", 8, 16
    (other / "pipeline.json").write_text(json.dumps(saved))
    seeds.write([first, other], tmp_path / "machines")
    assert json.loads((tmp_path / "machines" / "results.json").read_text())["teacher_seeds"] == [
        config.teacher.seed,
        11,
    ]
    assert seeds.main([str(first), str(tmp_path), "--out", str(tmp_path / "x")]) == 2
    assert "is neither a finished pipeline run nor a published one" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    (other / "pipeline.json").write_text("[1, 2]")
    with pytest.raises(seeds.SeedsError, match=r"other/pipeline.json names no teacher configuration"):
        seeds.load_run(other)
    (other / "pipeline.json").write_bytes(b"\xff\xfe")
    with pytest.raises(seeds.SeedsError, match=r"other/pipeline.json is broken: .*codec can't decode"):
        seeds.load_run(other)


def test_a_given_teacher_is_recorded_with_its_own_configuration(
    two_teacher_seeds: tuple[PipelineConfig, Path, Path], tmp_path: Path
) -> None:
    """--teacher: pipeline.json names the teacher's own PPO settings (its seed 7, not the preset's 0), so a run
    around a teacher trained elsewhere combines with seeds like one that trained it; a bad record is refused."""
    config, first, second = two_teacher_seeds
    (teacher,) = second.glob("teacher-*")
    run_pipeline(config, tmp_path / "given", teacher=teacher, log=lambda _: None)
    saved = json.loads((tmp_path / "given" / "pipeline.json").read_text())
    recorded = json.loads((teacher / "config.json").read_text())
    assert saved["teacher"] == PPOConfig.from_dict(recorded).to_dict() and saved["teacher"]["seed"] == 7
    assert saved == json.loads((second / "pipeline.json").read_text())  # as if this run had trained it
    combined = seeds.combine([seeds.load_run(first), seeds.load_run(tmp_path / "given")])
    assert combined["teacher_seeds"] == [config.teacher.seed, 7]
    with pytest.raises(seeds.SeedsError, match="distilled the same teacher"):  # its own run's teacher, twice
        seeds.write([second, tmp_path / "given"], tmp_path / "twice")
    state = read_artifact(teacher / "checkpoints" / "final.pt", PPO_CHECKPOINT)
    payload = {k: v for k, v in state.items() if k not in ("kind", "format", CONTENT_KEY)}
    save_artifact(tmp_path / "bad.pt", PPO_CHECKPOINT, {**payload, "config": {**state["config"], "n_envs": 0}})
    with pytest.raises(CheckpointError, match=r"bad.pt: its recorded PPO configuration is not valid \(n_envs=0"):
        run_pipeline(config, tmp_path / "bad", teacher=tmp_path / "bad.pt")
    assert not (tmp_path / "bad").exists()


def test_hn_rl_around_a_given_teacher_runs_with_the_presets_machine_settings(
    two_teacher_seeds: tuple[PipelineConfig, Path, Path], tmp_path: Path
) -> None:
    """--hn-rl --teacher: HN-RL takes the teacher's robots, seed and budget, but the device, threads, env runner
    and checkpoint/log intervals of the preset it runs under (a teacher trained on a GPU machine on 8 threads
    must not make a laptop's HN-RL ask for CUDA and 8 threads)."""
    config, _, second = two_teacher_seeds
    (run,) = second.glob("teacher-*")
    state = read_artifact(run / "checkpoints" / "final.pt", PPO_CHECKPOINT)
    payload = {k: v for k, v in state.items() if k not in ("kind", "format", CONTENT_KEY)}
    elsewhere = {
        "device": "cuda",
        "torch_threads": 8,
        "rollout_threads": 4,
        "vec_env": "subproc",
        "checkpoint_every": 5,
        "log_every": 9,
    }
    assert set(elsewhere) == set(MACHINE_FIELDS)
    assert all(getattr(config.teacher, k) != v for k, v in elsewhere.items())  # every field differs from the preset
    save_artifact(tmp_path / "gpu.pt", PPO_CHECKPOINT, {**payload, "config": {**state["config"], **elsewhere}})
    run_pipeline(replace(config, hn_rl=True), tmp_path / "run", teacher=tmp_path / "gpu.pt", log=lambda _: None)
    (hn,) = (tmp_path / "run").glob("hn-rl-*")
    used = json.loads((hn / "config.json").read_text())
    for name in MACHINE_FIELDS:
        assert used[name] == getattr(config.teacher, name), name  # the preset's (cpu-capable "auto", 1 thread)
    science = {k: v for k, v in state["config"].items() if k not in (*MACHINE_FIELDS, "arch")}
    assert {k: used[k] for k in science} == science and used["arch"] == "hn-rl" and used["seed"] == 7
    assert json.loads((tmp_path / "run" / "pipeline.json").read_text())["teacher"]["device"] == "cuda"  # the record


def test_a_published_run_holds_its_report_and_logs_and_combines_like_the_run(
    two_teacher_seeds: tuple[PipelineConfig, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """baselines.hyperdistill.publish: the shareable files only, no path of this machine in them, and
    baselines.hyperdistill.seeds gives the same table from published folders as from the runs."""
    _, first, second = two_teacher_seeds
    pub = [tmp_path / "pub" / "seed1", tmp_path / "pub" / "seed2"]
    for run, dest in zip((first, second), pub, strict=True):
        written = publish.publish(run, dest)
        assert sorted(p.as_posix() for p in written) == sorted(
            p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()
        )
        results = json.loads((run / "report" / "results.json").read_text())
        teacher = Path(results["teacher"]).parent.parent
        expected = {"pipeline.json", "report.md", "results.json", "teacher/config.json", "teacher/progress.csv"}
        students = [s for runs in results["runs"].values() for s in runs]
        expected |= {f"{s}/{name}" for s in students for name in ("config.json", "eval.csv")}
        assert expected <= {p.as_posix() for p in written}
        assert not any(p.suffix in (".pt", ".npz", ".xml") for p in written)  # no checkpoints, data or robots
        assert (dest / "teacher" / "progress.csv").read_bytes() == (teacher / "progress.csv").read_bytes()
        for path in dest.rglob("*"):
            if path.suffix in (".json", ".csv", ".md"):
                assert str(first.parent) not in path.read_text(), path
        published = json.loads((dest / "results.json").read_text())
        assert (published["teacher"], published["out"]) == (f"OUT/{teacher.name}/checkpoints/final.pt", "OUT")
        assert {k: v for k, v in published.items() if k not in ("teacher", "out")} == {
            k: v for k, v in results.items() if k not in ("teacher", "out")
        }
    seeds.write([first, second], tmp_path / "from-runs")
    seeds.write(pub, tmp_path / "from-published")
    from_runs, from_pub = (
        json.loads((tmp_path / d / "results.json").read_text()) for d in ("from-runs", "from-published")
    )
    assert from_runs.pop("runs") != from_pub.pop("runs")
    assert from_runs == from_pub
    for run, dest in zip((first, second), pub, strict=True):  # the teachers' training logs (curves)
        assert seeds.load_run(dest)["teacher_log"].read_bytes() == seeds.load_run(run)["teacher_log"].read_bytes()

    # a mixed pair: a new run beside a published one
    seeds.write([pub[0], second], tmp_path / "mixed")
    assert json.loads((tmp_path / "mixed" / "results.json").read_text())["summary"] == from_runs["summary"]

    # a run moved since its report, with a teacher trained outside it (--teacher): OUT and TEACHER, and no
    # path of either place left in any file
    moved = tmp_path / "moved"
    shutil.copytree(first, moved / "run")
    teacher = next((moved / "run").glob("teacher-*")).rename(moved / "my-teacher")
    saved = json.loads((moved / "run" / "report" / "results.json").read_text())
    saved["teacher"] = str(teacher / "checkpoints" / "final.pt")
    (moved / "run" / "report" / "results.json").write_text(json.dumps(saved))
    written = publish.publish(moved / "run", moved / "pub")
    assert json.loads((moved / "pub" / "results.json").read_text())["teacher"] == "TEACHER/checkpoints/final.pt"
    assert {"teacher/config.json", "teacher/progress.csv"} <= {p.as_posix() for p in written}
    for path in written:
        if path.suffix in (".json", ".csv", ".md"):
            text = (moved / "pub" / path).read_text()
            assert str(first) not in text and str(moved) not in text, path

    # refused: a destination in use, an unfinished run; nothing is written
    assert publish.main([str(first), str(pub[0])]) == 2
    assert "is not an empty folder" in capsys.readouterr().err
    assert publish.main([str(tmp_path / "pub"), str(tmp_path / "new")]) == 2
    assert "is not a finished pipeline run (pipeline.json is missing)" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()
    assert sorted(p.name for p in (tmp_path / "pub").iterdir()) == ["seed1", "seed2"]  # no staging folder left
