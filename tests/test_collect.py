"""Expert data (baselines.collect): content, storage, resume after SIGKILL, and refused folders."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from baselines.collect import COLLECT_PRESETS, DataError, collect
from baselines.common.agents import TeacherAgent as CheckpointAgent
from baselines.common.expert_data import ExpertData
from baselines.nets import to_torch
from baselines.nets.obs import student_state_index
from baselines.ppo import PRESETS, train

torch.set_num_threads(1)
SMOKE = replace(COLLECT_PRESETS["smoke"], steps=24)
ROOT = Path(__file__).resolve().parents[1]


def smoke_teacher(out: Path, seed: int = 1409) -> Path:
    """A few-second PPO teacher (tiny ModuMorph, in-process envs)."""
    train(replace(PRESETS["smoke"], vec_env="dummy", seed=seed), out, quiet=True)
    return out / "checkpoints" / "final.pt"


@pytest.fixture(scope="module")
def teacher(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return smoke_teacher(tmp_path_factory.mktemp("teacher") / "run")


@pytest.fixture(scope="module")
def data(teacher: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("data") / "d"
    collect(teacher, out, SMOKE, progress=None)
    return out


def shard_arrays(root: Path) -> dict[str, np.ndarray]:
    manifest = json.loads((root / "manifest.json").read_text())
    return {
        f"{name}/{f.stem}": np.load(f)
        for name in manifest["robots"]
        for f in sorted((root / "shards" / name).glob("*.npy"))
    }


def test_manifest_robots_and_counts(data: Path, teacher: Path) -> None:
    manifest = json.loads((data / "manifest.json").read_text())
    assert manifest["complete"] and manifest["task"] == "ft"
    assert manifest["teacher"]["path"] == str(teacher.resolve())
    names = manifest["robots"]
    assert names[:2] == ["unimal-train-000", "unimal-train-001"]  # the parents, then one PD mutant each
    assert [n.split("-mutate-")[0] for n in names[2:]] == names[:2]
    assert manifest["counts"] == {n: 48 for n in names} and manifest["transitions"] == 4 * 48
    assert all((data / "robots" / "xml" / f"{n}.xml").is_file() for n in names)
    rms = np.load(data / "obs_norm.npz")
    assert rms["obs_mean"].shape == (624,) and float(rms["clip_obs"]) == 10.0


def test_stored_observations_are_what_the_teacher_saw(data: Path, teacher: Path) -> None:
    """The teacher's mean on the stored normalised observation and the robot's context is the stored target."""
    agent = CheckpointAgent(teacher)
    manifest = json.loads((data / "manifest.json").read_text())
    dataset = ExpertData(data, per_robot=48)
    for k, name in enumerate(manifest["robots"]):
        shard = data / "shards" / name
        stored, act_mean, act = (np.load(shard / f"{k}.npy") for k in ("proprioceptive", "act_mean", "act"))
        assert stored.shape == (48, 204) and act_mean.shape == act.shape == (48, 24)
        robot = dict(np.load(shard / "robot.npz"))
        assert robot["proprioceptive_static"].shape == (624,)  # the robot's constant columns, once
        obs, target = dataset.batch(np.arange(48) + 48 * k)  # rebuilt: the 624 columns the teacher saw
        prop = obs["proprioceptive"].numpy()
        assert prop.shape == (48, 624) and prop.dtype == np.float32 and np.abs(prop).max() <= 10.0
        np.testing.assert_array_equal(prop[:, student_state_index()], stored)
        np.testing.assert_array_equal(target.numpy(), act_mean)
        with torch.no_grad():
            mean = agent.ac.actor(to_torch({k: v.numpy() for k, v in obs.items()})).numpy()
        np.testing.assert_allclose(mean, act_mean, atol=1e-5)
        assert not act[:, robot["act_padding_mask"]].any()  # padded slots never act
        noise = (act - act_mean)[:, ~robot["act_padding_mask"]]
        assert 0.6 < noise.std() < 1.2  # σ = 0.9 exploration
        assert json.loads((shard / "meta.json").read_text())["transitions"] == 48


def test_student_features_are_the_slice_of_the_full_data(data: Path, teacher: Path, tmp_path: Path) -> None:
    out = tmp_path / "student"
    collect(teacher, out, replace(SMOKE, features="student"), progress=None)
    name = "unimal-train-001"
    small = np.load(out / "shards" / name / "proprioceptive.npy")
    full = ExpertData(data, per_robot=48).batch(np.arange(48, 96))[0]["proprioceptive"].numpy()  # robot 1
    assert small.shape == (48, 204) and "proprioceptive_static" not in np.load(out / "shards" / name / "robot.npz")
    np.testing.assert_array_equal(small, full[:, student_state_index()])


@pytest.mark.slow
def test_sigkill_during_collection_resumes_exactly(data: Path, teacher: Path, tmp_path: Path) -> None:
    """Kill the CLI after its first shard; the resumed folder equals the uninterrupted collection exactly."""
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "baselines.collect", "--teacher", str(teacher), "--out", str(out)]
    cmd += ["--preset", "smoke", "--steps", "24"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        shards = out / "shards"
        if shards.is_dir() and any(not p.name.startswith(".") for p in shards.iterdir()):
            break
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = [p for p in (out / "shards").iterdir() if not p.name.startswith(".")]
    assert 1 <= len(finished) < 4, "the kill should land mid-collection"
    assert not json.loads((out / "manifest.json").read_text())["complete"]
    (out / "shards" / ".tmp-half-written").mkdir()  # as a kill during a shard write leaves it
    manifest = collect(teacher, out, SMOKE, progress=None)
    assert manifest["transitions"] == 4 * 48
    assert sorted(p.name for p in (out / "shards").iterdir()) == sorted(manifest["robots"])
    expected, resumed = shard_arrays(data), shard_arrays(out)
    assert expected.keys() == resumed.keys()
    for key, array in expected.items():
        np.testing.assert_array_equal(resumed[key], array, err_msg=key)


def test_folders_of_another_teacher_or_config_are_refused(data: Path, teacher: Path, tmp_path: Path) -> None:
    other = smoke_teacher(tmp_path / "other", seed=7)
    with pytest.raises(DataError, match="holds data of teacher"):
        collect(other, data, SMOKE, progress=None)
    with pytest.raises(DataError, match=r"another config.*steps"):
        collect(teacher, data, replace(SMOKE, steps=5), progress=None)
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "notes.txt").write_text("x")
    with pytest.raises(DataError, match=r"no manifest\.json"):
        collect(teacher, junk, SMOKE, progress=None)


def test_cli_reports_bad_input(tmp_path: Path) -> None:
    from baselines.collect import main

    assert main(["--teacher", str(tmp_path / "none.pt"), "--out", str(tmp_path / "d"), "--preset", "smoke"]) == 2


def _damages(file: Path, rng: np.random.Generator) -> dict[str, bytes | None]:
    """Ways a file can be damaged: truncated, one byte flipped, replaced by garbage, deleted (None)."""
    data = file.read_bytes()
    flipped = bytearray(data)
    flipped[int(rng.integers(len(data)))] ^= 0x40
    return {
        "truncated": data[: int(rng.integers(len(data)))],
        "flipped": bytes(flipped),
        "garbage": bytes(rng.integers(0, 256, 64, dtype=np.uint8)),
        "deleted": None,
    }


@pytest.mark.parametrize("seed", [0, 1])
def test_every_damaged_shard_file_is_named(data: Path, tmp_path: Path, seed: int) -> None:
    """Each file of a shard, damaged each way: the reader names that file (never a raw numpy or zip error),
    and deleting the shard makes the next collection redo the robot."""
    rng = np.random.default_rng(seed)
    manifest = json.loads((data / "manifest.json").read_text())
    name = manifest["robots"][int(rng.integers(len(manifest["robots"])))]
    files = sorted(p.name for p in (data / "shards" / name).iterdir())
    assert "meta.json" in files and json.loads((data / "shards" / name / "meta.json").read_text())["sha256"]
    for file_name in files:
        for how, content in _damages(data / "shards" / name / file_name, rng).items():
            copy = tmp_path / f"{file_name}-{how}"
            shutil.copytree(data, copy)
            target = copy / "shards" / name / file_name
            if content is None:
                target.unlink()
            else:
                target.write_bytes(content)
            with pytest.raises(DataError) as err:
                ExpertData(copy, per_robot=8)
            message = str(err.value)
            assert "\n" not in message and str(copy / "shards" / name) in message, (file_name, how, message)
            shutil.rmtree(copy)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"[]", "format None"),
        (b'"\xc3\x28"', "is broken: UnicodeDecodeError"),
        (b"[" * 100_000, "is broken: RecursionError|is broken: JSONDecodeError"),
        (b"{not json", "is broken: JSONDecodeError"),
    ],
)
def test_broken_manifest_is_named(data: Path, tmp_path: Path, teacher: Path, content: bytes, message: str) -> None:
    copy = tmp_path / "data"
    shutil.copytree(data, copy)
    (copy / "manifest.json").write_bytes(content)
    for read in (lambda: ExpertData(copy, per_robot=8), lambda: collect(teacher, copy, SMOKE, progress=None)):
        with pytest.raises(DataError, match=rf"{copy / 'manifest.json'}:? .*({message})"):
            read()


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("counts", {"x": "many"}, "'counts' must be an object of robot name: transitions"),
        ("counts", [], "'counts' must be"),
        ("task", "swim", "'task' must be one of ft, vt, obstacle"),
        ("complete", "yes", "'complete' must be true or false"),
        ("teacher", 3, "'teacher' must be an object"),
    ],
)
def test_manifest_fields_of_the_wrong_type_are_named(data: Path, tmp_path: Path, key: str, value, message: str) -> None:
    copy = tmp_path / "data"
    shutil.copytree(data, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest[key] = value
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DataError, match=message):
        ExpertData(copy, per_robot=8)


def test_a_deleted_damaged_shard_is_collected_again(data: Path, teacher: Path, tmp_path: Path) -> None:
    copy = tmp_path / "data"
    shutil.copytree(data, copy)
    name = json.loads((copy / "manifest.json").read_text())["robots"][0]
    (copy / "shards" / name / "act_mean.npy").write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(DataError, match=rf"act_mean.npy: .*delete {copy / 'shards' / name} and run the same"):
        collect(teacher, copy, SMOKE, progress=None)  # the end-of-collection check names it
    shutil.rmtree(copy / "shards" / name)
    collect(teacher, copy, SMOKE, progress=None)
    assert np.array_equal(
        np.load(copy / "shards" / name / "act_mean.npy"), np.load(data / "shards" / name / "act_mean.npy")
    )
