"""Export of one robot's student and the numpy-only runtime (``unimal_gym.deploy``).

The runtime, given the raw environment observation, returns the torch student's action to 1e-5; it
imports without torch; the file round-trips; a wrong file or robot raises a named error.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from conftest import TRAIN_XML, needs_shared
from nets_data import (
    morphology,
    network,
    normalisation,
    normalised,
    one_torch_thread,  # noqa: F401  (autouse fixture)
    raw_batch,
    robots,
)

import unimal_gym  # noqa: F401
from baselines.export import export_student, student_arrays
from baselines.nets import HyperDistill, to_torch
from unimal_gym.deploy import RobotMismatchError, StudentFileError, StudentPolicy, arrays_digest
from unimal_gym.normalization import ObservationNormalizer

pytestmark = needs_shared  # every test exports from the oracle's observations


def one_robot(obs: dict[str, np.ndarray], i: int, n_robots: int) -> dict[str, np.ndarray]:
    return {k: v[i::n_robots] for k, v in obs.items()}


def export(task: str, tmp_path: Path, robot_index: int = 0) -> tuple[HyperDistill, Path, dict[str, np.ndarray]]:
    student = network("hyperdistill", task)
    raw = one_robot(raw_batch(task, n_robots=3, per_robot=6), robot_index, 3)
    norm = ObservationNormalizer(*normalisation(task))
    name = robots(task)[robot_index]
    files = export_student(student, {k: v[0] for k, v in raw.items()}, tmp_path / name, norm, robot=name)
    assert files[0] == tmp_path / f"{name}.npz"
    return student, files[0], raw


@pytest.mark.parametrize("task", ["ft", "vt", "obstacle"])
def test_runtime_matches_torch_student_from_raw_observations(task: str, tmp_path: Path) -> None:
    student, path, raw = export(task, tmp_path)
    policy = StudentPolicy.load(path)
    assert policy.uses_terrain == (task != "ft")
    with torch.no_grad():
        expected = student(to_torch(normalised(raw, task))).numpy()
    batched = policy(raw)
    assert batched.shape == (6, 24) and batched.dtype == np.float32
    np.testing.assert_allclose(batched, expected, rtol=0, atol=1e-5)
    for i in range(6):  # one observation at a time, as in a control loop
        np.testing.assert_allclose(policy({k: v[i] for k, v in raw.items()}), expected[i], rtol=0, atol=1e-5)
    assert (batched[:, raw["act_padding_mask"][0]] == 0).all()


def test_exported_file_round_trips(tmp_path: Path) -> None:
    student, path, raw = export("vt", tmp_path)
    with np.load(path) as npz:
        stored = {k: npz[k] for k in npz.files}
    norm = ObservationNormalizer(*normalisation("vt"))
    robot_obs = {k: v[0] for k, v in raw.items()}
    generated = student.generate(*morphology(raw, 0))
    fresh = student_arrays(generated, robot_obs, norm, robot=robots("vt")[0])
    assert str(stored.pop("content_sha256")) == arrays_digest(fresh)  # the checksum of everything else
    assert sorted(stored) == sorted(fresh)
    for key, value in fresh.items():
        np.testing.assert_array_equal(stored[key], value, err_msg=key)
    assert np.array_equal(StudentPolicy.load(path)(raw), StudentPolicy(stored)(raw))


def test_runtime_imports_and_acts_without_torch(tmp_path: Path) -> None:
    _, path, raw = export("ft", tmp_path)
    np.savez(tmp_path / "obs.npz", **{k: v[0] for k, v in raw.items()})
    code = (
        "import sys\n"
        "sys.modules['torch'] = None  # any attempt to import torch fails\n"
        "import numpy as np\n"
        "from unimal_gym.deploy import StudentPolicy\n"
        f"policy = StudentPolicy.load({str(path)!r})\n"
        f"obs = dict(np.load({str(tmp_path / 'obs.npz')!r}))\n"
        "assert policy(obs).shape == (24,)\n"
        "assert sys.modules['torch'] is None\n"
        "assert not any(m.startswith(('torch.', 'baselines')) for m in sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_wrong_file_or_robot_raises_named_errors(tmp_path: Path) -> None:
    _, path, raw = export("ft", tmp_path)
    policy = StudentPolicy.load(path)
    policy.check_robot({k: v[0] for k, v in raw.items()})
    other = one_robot(raw_batch("ft", n_robots=3, per_robot=1), 1, 3)
    with pytest.raises(RobotMismatchError):
        policy.check_robot({k: v[0] for k, v in other.items()})
    np.savez(tmp_path / "not_a_student.npz", x=np.zeros(3))
    with pytest.raises(StudentFileError, match="missing"):
        StudentPolicy.load(tmp_path / "not_a_student.npz")
    with pytest.raises(StudentFileError, match="cannot read"):
        StudentPolicy.load(tmp_path / "absent.npz")


def test_exported_student_drives_the_environment(tmp_path: Path) -> None:
    student, path, _ = export("ft", tmp_path)
    policy = StudentPolicy.load(path)
    env = gym.make("Unimal-FT-v0", robot=str(TRAIN_XML / f"{robots('ft')[0]}.xml"))
    obs, _ = env.reset(seed=0)
    policy.check_robot(obs)
    for _ in range(3):
        action = policy(obs)
        with torch.no_grad():
            expected = student(to_torch(normalised({k: v[None] for k, v in obs.items()}, "ft")))[0].numpy()
        np.testing.assert_allclose(action, expected, rtol=0, atol=1e-5)
        obs, _, terminated, truncated, _ = env.step(action)
        assert not (terminated or truncated)
    env.close()


@pytest.mark.parametrize("task", ["ft", "vt"])
def test_onnx_export_matches_when_onnx_is_installed(task: str, tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    pytest.importorskip("onnxscript")
    ort = pytest.importorskip("onnxruntime")
    student = network("hyperdistill", task)
    raw = one_robot(raw_batch(task, n_robots=3, per_robot=4), 0, 3)
    norm = ObservationNormalizer(*normalisation(task))
    files = export_student(student, {k: v[0] for k, v in raw.items()}, tmp_path / "s.npz", norm, onnx=True)
    session = ort.InferenceSession(str(files[1]))
    feeds = {k: raw[k].astype(np.float32) for k in ("proprioceptive", "hfield") if k in raw}
    (action,) = session.run(["action"], feeds)
    np.testing.assert_allclose(action, StudentPolicy.load(files[0])(raw), rtol=0, atol=1e-4)
