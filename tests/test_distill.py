"""Distillation (baselines.distill): the loss, students, checkpoints, resume and refused inputs."""

from __future__ import annotations

import csv
import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from baselines.collect import COLLECT_PRESETS, DataError, collect
from baselines.common import expert_data
from baselines.common.agents import StudentAgent
from baselines.common.envs import robot_files
from baselines.common.expert_data import ExpertData
from baselines.common.files import DISTILL_CHECKPOINT, CheckpointError, file_sha256, read_artifact, save_artifact
from baselines.distill import DISTILL_PRESETS, STUDENTS, distill, kl_loss
from baselines.ppo import PRESETS, train

torch.set_num_threads(1)
SMOKE = replace(DISTILL_PRESETS["smoke"], evaluate=False)


def load_distill_checkpoint(path: Path) -> dict:
    return read_artifact(path, DISTILL_CHECKPOINT)


@pytest.fixture(scope="module")
def teacher(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("teacher") / "run"
    train(replace(PRESETS["smoke"], vec_env="dummy"), out, quiet=True)
    return out / "checkpoints" / "final.pt"


@pytest.fixture(scope="module")
def data(teacher: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("data") / "d"
    collect(teacher, out, COLLECT_PRESETS["smoke"], progress=None)
    return out


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_kl_loss_is_the_balanced_mean_matching_loss_over_valid_slots() -> None:
    student = torch.randn(3, 24, requires_grad=True)
    teacher = torch.randn(3, 24)
    mask = torch.zeros(3, 24, dtype=torch.bool)
    mask[0, :2] = mask[1, 10:] = True
    loss = kl_loss(student, teacher, mask)
    expected = np.mean([0.5 * ((student[b] - teacher[b])[~mask[b]] ** 2).mean().item() for b in range(3)])
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    loss.backward()
    assert not student.grad[mask].any() and student.grad[~mask].abs().sum() > 0


def test_robots_are_balanced_and_memory_mapped_reads_match(data: Path) -> None:
    full = ExpertData(data, per_robot=20)
    mapped = ExpertData(data, per_robot=20, memory_limit_gb=0)
    assert full.in_memory and not mapped.in_memory and len(full) == 4 * 20
    index = np.random.default_rng(0).permutation(len(full))[:37]
    (a, ta), (b, tb) = full.batch(index), mapped.batch(index)
    assert torch.equal(ta, tb) and all(torch.equal(a[k], b[k]) for k in a)
    robot = 2
    row = np.load(data / "shards" / full.names[robot] / "act_mean.npy")[5]
    np.testing.assert_array_equal(full.batch(np.array([robot * 20 + 5]))[1][0].numpy(), row)


def test_hyperdistill_learns_and_checkpoint_acts_like_the_student(data: Path, tmp_path: Path) -> None:
    config = replace(SMOKE, epochs=4, learning_rate=3e-3)
    final = distill(data, config, tmp_path / "run", progress=None)
    rows = read_csv(tmp_path / "run" / "progress.csv")
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4]
    assert float(rows[-1]["loss"]) < float(rows[0]["loss"])
    assert all(float(r["samples_per_s"]) > 0 for r in rows)
    agent = StudentAgent(final)  # the checkpoint round trip, acting through the generated MLP
    dataset = ExpertData(data, per_robot=32)
    obs, _ = dataset.batch(np.arange(8))  # robot 0, normalised observations
    agent.student.eval()
    with torch.no_grad():
        expected = agent.student(obs).numpy()
    raw = {k: v.numpy() for k, v in obs.items()}
    norm = agent.normalizer
    raw["proprioceptive"] = raw["proprioceptive"] * np.sqrt(norm.var + 1e-8) + norm.mean  # undo normalisation
    np.testing.assert_allclose(agent.act(raw, deterministic=True), expected, atol=1e-4)


@pytest.mark.parametrize("student", [s for s in STUDENTS if s != "hyperdistill"])
def test_every_student_distils(student: str, data: Path, tmp_path: Path) -> None:
    final = distill(data, replace(SMOKE, student=student, epochs=1), tmp_path / student, progress=None)
    assert load_distill_checkpoint(final)["config"]["student"] == student


def test_resume_after_interruption_equals_the_uninterrupted_run(data: Path, tmp_path: Path) -> None:
    config = replace(SMOKE, epochs=3)
    straight = distill(data, config, tmp_path / "straight", progress=None)
    split = tmp_path / "split"
    distill(data, config, split, stop_after=1, progress=None)
    with (split / "progress.csv").open("a") as f:  # a row written after the last checkpoint, then killed
        f.write("2,128,9.9,1,1,1\n")
    resumed = distill(data, config, split, resume=True, progress=None)
    a, b = load_distill_checkpoint(straight)["student"], load_distill_checkpoint(resumed)["student"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [int(r["epoch"]) for r in read_csv(split / "progress.csv")] == [1, 2, 3]


def test_adam_is_fused_and_a_run_resumes_with_the_adam_it_was_started_with(data: Path, tmp_path: Path) -> None:
    """New runs use fused Adam; a checkpoint of a run started before (its param group not fused) resumes unfused,
    so it continues as the code it was started with would have (the same update either way, to the last bits)."""
    config = replace(SMOKE, epochs=2)
    out = tmp_path / "run"
    first = distill(data, config, out, stop_after=1, progress=None)
    state = load_distill_checkpoint(first)
    assert state["optimizer"]["param_groups"][0]["fused"] is True
    for group in state["optimizer"]["param_groups"]:  # as written by a run started before fused Adam
        group["fused"] = None
    save_artifact(first, DISTILL_CHECKPOINT, state)
    final = distill(data, config, out, resume=True, progress=None)
    assert load_distill_checkpoint(final)["optimizer"]["param_groups"][0]["fused"] is None


def test_a_run_killed_while_it_writes_its_last_epoch_completes_on_resume(data: Path, tmp_path: Path) -> None:
    """``final.pt`` is written before the last epoch's checkpoint: a kill between them leaves the epoch before as
    the latest checkpoint, and the resume distils the last epoch again, to the same bytes."""
    config = replace(SMOKE, epochs=2)
    out = tmp_path / "run"
    final = distill(data, config, out, progress=None)
    whole, last = final.read_bytes(), out / "checkpoints" / "epoch_0002.pt"
    assert final.stat().st_mtime_ns <= last.stat().st_mtime_ns  # the step checkpoint last
    last.unlink()  # killed after final.pt, before epoch_0002.pt
    assert distill(data, config, out, resume=True, progress=None) == final
    assert final.read_bytes() == whole == last.read_bytes()


def test_bad_inputs_are_refused_before_training(data: Path, teacher: Path, tmp_path: Path) -> None:
    small = tmp_path / "small"
    collect(teacher, small, replace(COLLECT_PRESETS["smoke"], features="student"), progress=None)
    with pytest.raises(DataError, match="reads 52 proprioceptive features"):
        distill(small, replace(SMOKE, student="mlp"), tmp_path / "a", progress=None)
    distill(small, replace(SMOKE, epochs=1), tmp_path / "hd17", progress=None)  # HyperDistill fits 17 features

    broken = tmp_path / "broken"
    shutil.copytree(data, broken)
    name = json.loads((data / "manifest.json").read_text())["robots"][1]
    (broken / "shards" / name / "act_mean.npy").unlink()
    with pytest.raises(DataError, match=f"shards/{name}/act_mean.npy is missing"):
        distill(broken, SMOKE, tmp_path / "b", progress=None)

    distill(data, replace(SMOKE, epochs=1), tmp_path / "c", progress=None)
    with pytest.raises(CheckpointError, match="already holds"):
        distill(data, replace(SMOKE, epochs=1), tmp_path / "c", progress=None)
    with pytest.raises(CheckpointError, match="differs"):
        distill(data, replace(SMOKE, epochs=2, learning_rate=1.0), tmp_path / "c", resume=True, progress=None)
    with pytest.raises(DataError, match="no manifest"):
        distill(tmp_path, SMOKE, tmp_path / "d", progress=None)


def test_evaluation_curves_survive_a_kill_during_evaluation(data: Path, tmp_path: Path) -> None:
    """Evaluated every epoch on train and test robots; a run killed while evaluating redoes that evaluation once."""
    config = replace(DISTILL_PRESETS["smoke"], eval_every=1, epochs=2)
    out = tmp_path / "run"
    distill(data, config, out, stop_after=1, progress=None)
    (out / "eval" / "epoch_0001.json").unlink()  # killed after the CSV rows, before the JSON
    distill(data, config, out, resume=True, progress=None)
    rows = read_csv(out / "eval.csv")
    assert [(int(r["epoch"]), r["set"]) for r in rows] == [(1, "train"), (1, "test"), (2, "train"), (2, "test")]
    assert all(int(r["robots"]) == 1 for r in rows)
    report = json.loads((out / "eval" / "epoch_0002.json").read_text())
    assert {r["set"] for r in report["robots"]} == {"train", "test"}
    assert (out / "eval" / "epoch_0001.json").is_file()


def test_export_command_writes_a_student_per_robot_of_the_run(
    data: Path, teacher: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``python -m baselines.export RUN --out DIR``: one .npz per robot the run was distilled on, each acting
    like the distilled student on its robot; any artifact loads as an agent by the kind it names."""
    from baselines import export as export_module
    from baselines.common.agents import ExportedAgent, TeacherAgent, load_agent
    from baselines.common.rollouts import RobotJob, evaluate_robots
    from baselines.export import main
    from unimal_gym.deploy import StudentPolicy

    run = tmp_path / "run"
    distill(data, replace(SMOKE, epochs=1), run, progress=None)
    out = tmp_path / "students"
    assert main([str(run), "--out", str(out)]) == 0
    names = json.loads((data / "manifest.json").read_text())["robots"]
    assert sorted(p.stem for p in out.glob("*.npz")) == sorted(names)
    assert json.loads((out / "manifest.json").read_text())["robots"] == names

    student = load_agent(run)
    assert isinstance(student, StudentAgent) and isinstance(load_agent(teacher), TeacherAgent)
    env_obs = ExpertData(data, per_robot=4)
    robot = env_obs.names.index(names[0])
    obs, _ = env_obs.batch(np.arange(robot * 4, robot * 4 + 4))
    raw = {k: v.numpy().astype(np.float64) for k, v in obs.items()}
    norm = student.normalizer
    raw["proprioceptive"] = raw["proprioceptive"] * np.sqrt(norm.var + 1e-8) + norm.mean
    exported = load_agent(out / f"{names[0]}.npz")
    assert isinstance(exported, ExportedAgent)
    np.testing.assert_allclose(
        exported.act(raw, deterministic=True), student.act(raw, deterministic=True), rtol=0, atol=1e-5
    )
    StudentPolicy.load(out / f"{names[0]}.npz").check_robot({k: v[0] for k, v in raw.items()})
    xml = data / "robots" / "xml" / f"{names[0]}.xml"
    (result,) = evaluate_robots(out / f"{names[0]}.npz", [RobotJob("own", str(xml), 1, True, 0)], workers=1)
    assert "error" not in result and result["lengths"][0] >= 1

    # a set given by name; a non-HyperDistill student and a foreign file are one-line errors (exit 2)
    others = tmp_path / "others"
    others.mkdir()
    for xml in robot_files("test", 2):
        shutil.copy(xml, others / xml.name)
    assert main([str(run), "--out", str(tmp_path / "others-out"), "--robots", str(others)]) == 0
    assert sorted(p.stem for p in (tmp_path / "others-out").glob("*.npz")) == ["unimal-test-000", "unimal-test-001"]
    # the same student again into its folder: the new robots join the manifest; another student's is refused
    assert main([str(run), "--out", str(out), "--robots", str(others)]) == 0
    assert json.loads((out / "manifest.json").read_text())["robots"] == [*names, "unimal-test-000", "unimal-test-001"]
    later = tmp_path / "later"
    distill(data, replace(SMOKE, epochs=1, seed=1), later, progress=None)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    capsys.readouterr()
    assert main([str(later), "--out", str(out)]) == 2
    assert f"--out {out} holds students exported from {(run / 'checkpoints').resolve()}" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # nothing written
    assert main([str(later), "--out", str(others)]) == 2  # robot files, no export manifest
    assert "holds files but no export manifest" in capsys.readouterr().err
    # an export interrupted after its first student continues: the manifest already names the checkpoint
    (tmp_path / "cut").mkdir()
    (tmp_path / "cut" / ".write-probe-x").write_text("")  # a hidden leftover does not make the folder foreign
    calls = []
    real = export_module.StudentPolicy.load

    def stop_after_one(path: Path) -> StudentPolicy:
        calls.append(path)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(path)

    monkeypatch.setattr(export_module.StudentPolicy, "load", staticmethod(stop_after_one))
    with pytest.raises(KeyboardInterrupt):
        export_module.export_run(run, tmp_path / "cut")
    assert json.loads((tmp_path / "cut" / "manifest.json").read_text())["robots"] == names[:1]
    monkeypatch.undo()
    assert main([str(run), "--out", str(tmp_path / "cut")]) == 0
    assert json.loads((tmp_path / "cut" / "manifest.json").read_text())["robots"] == names
    mlp = tmp_path / "mlp"
    distill(data, replace(SMOKE, student="mlp", epochs=1), mlp, progress=None)
    capsys.readouterr()
    assert main([str(mlp), "--out", str(tmp_path / "x")]) == 2
    assert "only HyperDistill" in capsys.readouterr().err
    foreign = tmp_path / "foreign.pt"
    torch.save({"kind": "something-else"}, foreign)
    with pytest.raises(CheckpointError, match="names no known kind"):
        load_agent(foreign)


def test_exported_students_evaluate_on_their_own_robot_only(data: Path, tmp_path: Path, capsys) -> None:
    """An exported file names its task; on another robot the harness skips the robot with the reason; a
    distillation run evaluates and reports without a learning curve of PPO's kind."""
    from baselines.evaluate import EvalConfig, evaluate
    from baselines.evaluate import main as evaluate_main
    from baselines.export import main as export_main
    from baselines.export import onnx_available

    run = tmp_path / "run"
    distill(data, replace(SMOKE, epochs=1), run, progress=None)
    out = tmp_path / "students"
    assert export_main([str(run), "--out", str(out)]) == 0
    first = json.loads((data / "manifest.json").read_text())["robots"][0]
    npz = out / f"{first}.npz"
    assert str(np.load(npz)["task"]) == "ft"
    config = EvalConfig(episodes=1, workers=1, deterministic=True)
    summary = evaluate(str(npz), [str(data / "robots")], config, tmp_path / "eval")
    assert summary["robots"]["robots"] == 1 and summary["robots"]["skipped"] == 3
    skipped = [r for r in json.loads((tmp_path / "eval" / "results.json").read_text())["robots"] if "error" in r]
    assert all("RobotMismatchError" in r["error"] for r in skipped)
    others = tmp_path / "others"  # none of them the student's robot: the command line says nothing was measured
    others.mkdir()
    for xml in (data / "robots" / "xml").glob("*.xml"):
        if xml.stem != first:
            shutil.copy(xml, others / xml.name)
    capsys.readouterr()
    assert evaluate_main([str(npz), "--robots", str(others), "--episodes", "1", "--out", str(tmp_path / "e2")]) == 2
    assert capsys.readouterr().err.startswith(f"error: no robot of others could be evaluated with {npz}")
    assert (tmp_path / "e2" / "results.json").is_file()  # the reasons, kept
    assert evaluate(str(run), ["train"], replace(config, limit=1), tmp_path / "eval-run")["train"]["robots"] == 1
    if not onnx_available():
        capsys.readouterr()
        assert export_main([str(run), "--out", str(tmp_path / "onnx"), "--onnx"]) == 2
        assert "pip install 'unimal-gym[onnx]'" in capsys.readouterr().err
        assert not (tmp_path / "onnx").exists()


def test_distillation_evaluates_on_named_extra_sets(data: Path, tmp_path: Path, capsys) -> None:
    """--test-robots NAME=SET_OR_DIR adds evaluation sets to the distillation curves; a missing one is refused
    before anything is written."""
    from baselines.distill import main

    out = tmp_path / "run"
    args = ["--data", str(data), "--preset", "smoke", "--epochs", "1", "--evaluate"]
    assert main([*args, "--out", str(out), "--test-robots", "near=train"]) == 0
    rows = read_csv(out / "eval.csv")
    assert [r["set"] for r in rows] == ["train", "test", "near"]
    capsys.readouterr()
    assert main([*args, "--out", str(tmp_path / "x"), "--test-robots", f"gone={tmp_path}/none"]) == 2
    assert "no such folder" in capsys.readouterr().err and not (tmp_path / "x").exists()
    # without the test set, and with a limit per set: near's 3 robots, train's 1 (eval_limit 1 in smoke)
    limits = ["--eval-test", "", "--eval-limits", "near=3"]
    assert main([*args, "--out", str(tmp_path / "y"), "--test-robots", "near=train", *limits]) == 0
    rows = read_csv(tmp_path / "y" / "eval.csv")
    assert [(r["set"], r["robots"]) for r in rows] == [("train", "1"), ("near", "3")]
    for bad in ("near=-1", "near", "train=2", "near=1,near=2"):
        assert main([*args, "--out", str(tmp_path / "x"), "--eval-limits", bad]) == 2
        assert f"eval_limits item {bad.split(',')[-1]!r}: expected NAME=N" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_memory_mapped_distillation_reads_ahead_and_trains_the_same(data: Path, tmp_path: Path) -> None:
    """Memory-mapped data is read one batch ahead in a thread; the run equals the in-memory one exactly."""
    config = replace(SMOKE, epochs=2)
    loaded = distill(data, config, tmp_path / "memory", progress=None)
    mapped = distill(data, replace(config, memory_limit_gb=0.0), tmp_path / "mapped", progress=None)
    a, b = load_distill_checkpoint(loaded)["student"], load_distill_checkpoint(mapped)["student"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    losses = [[r["loss"] for r in read_csv(tmp_path / n / "progress.csv")] for n in ("memory", "mapped")]
    assert losses[0] == losses[1]


@pytest.mark.parametrize("damage", ["nan_target", "inf_state", "huge_state"])
def test_non_finite_or_out_of_range_numbers_never_reach_training(
    data: Path, tmp_path: Path, damage: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A shard edited by hand (or damaged) with NaN / inf / 3.4e38 is refused naming the shard, before a NaN
    student is trained and saved."""
    broken = tmp_path / "broken"
    shutil.copytree(data, broken)
    name = json.loads((data / "manifest.json").read_text())["robots"][1]
    file = broken / "shards" / name / ("act_mean.npy" if damage == "nan_target" else "proprioceptive.npy")
    values = np.load(file)
    values[3, 2] = {"nan_target": np.nan, "inf_state": np.inf, "huge_state": 3.4e38}[damage]
    np.save(file, values)
    with pytest.raises(DataError, match=rf"{file}: its contents do not match the checksum"):
        distill(broken, replace(SMOKE, epochs=1, memory_limit_gb=0.0), tmp_path / "run", progress=None)
    # sealed again (as a collector with a bug would write it): the numbers check still refuses it
    meta_file = file.parent / "meta.json"
    meta = json.loads(meta_file.read_text())
    meta["sha256"][file.name] = file_sha256(file)
    meta[expert_data.META_DIGEST] = expert_data._meta_digest(meta)
    meta_file.write_text(json.dumps(meta))
    with pytest.raises(DataError, match=rf"shards \['{name}'\] hold NaN, infinite or out-of-range values"):
        distill(broken, replace(SMOKE, epochs=1, memory_limit_gb=0.0), tmp_path / "run", progress=None)
    assert not list((tmp_path / "run" / "checkpoints").glob("*.pt"))
