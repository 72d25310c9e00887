"""An exported student is checked when it loads: finite numbers, layers that form a network from the state
features (and height map) to the 24 action slots. Corrupted files are named errors, not silent nonsense."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from baselines.export import export_student  # noqa: E402
from baselines.nets import build_network  # noqa: E402
from unimal_gym.deploy import StudentFileError, StudentPolicy  # noqa: E402
from unimal_gym.envs import UnimalEnv  # noqa: E402
from unimal_gym.layout import PROPRIOCEPTIVE_DIM  # noqa: E402
from unimal_gym.normalization import ObservationNormalizer  # noqa: E402


def exported(task: str, tmp_path: Path) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(the file's arrays, one observation) of an untrained tiny student for unimal-train-000."""
    torch.manual_seed(0)
    student = build_network("hyperdistill", task, "tiny").eval()
    obs, _ = UnimalEnv(robot="unimal-train-000", task=task).reset(seed=0)
    norm = ObservationNormalizer(np.zeros(PROPRIOCEPTIVE_DIM), np.ones(PROPRIOCEPTIVE_DIM), 1.0)
    (path,) = export_student(student, obs, tmp_path / f"{task}.npz", norm, robot="unimal-train-000", onnx=False)
    with np.load(path) as npz:
        return {k: npz[k] for k in npz.files}, obs


@pytest.mark.parametrize("task", ["ft", "vt"])
def test_a_sound_file_loads_and_acts(task: str, tmp_path: Path) -> None:
    data, obs = exported(task, tmp_path)
    action = StudentPolicy(data, "ok.npz")(obs)
    assert action.shape == (24,) and np.isfinite(action).all()


@pytest.mark.parametrize("task", ["ft", "vt"])
def test_corrupted_files_are_named_errors(task: str, tmp_path: Path) -> None:
    data, _ = exported(task, tmp_path)
    names = sorted(k for k in data if k.endswith("_weight"))
    for name in names:
        stem = name.removesuffix("_weight")
        for value in (np.nan, np.inf):
            bad = dict(data)
            bad[name] = data[name].copy()
            bad[name][0, 0] = value
            with pytest.raises(StudentFileError, match=rf"bad\.npz: {stem} holds NaN or infinite values"):
                StudentPolicy(bad, "bad.npz")
        narrow = dict(data)
        narrow[name] = data[name][:, :-1]  # one output fewer than its bias
        with pytest.raises(StudentFileError, match=rf"bad\.npz: {stem}: weight .* do not form a layer"):
            StudentPolicy(narrow, "bad.npz")
        chopped = dict(data)
        chopped[name] = data[name][:-1]  # one input fewer than the layer before provides
        with pytest.raises(StudentFileError, match=rf"bad\.npz: {stem} has width"):
            StudentPolicy(chopped, "bad.npz")


@pytest.mark.parametrize("seed", [0, 1])
def test_damaged_files_are_refused_on_load_naming_the_file(seed: int, tmp_path: Path) -> None:
    """An exported file truncated, with one byte flipped, replaced by garbage, or missing: one named error (the
    content checksum catches damage that still parses); the sound file loads."""
    exported("ft", tmp_path)
    path = tmp_path / "ft.npz"
    StudentPolicy.load(path)
    raw = path.read_bytes()
    rng = np.random.default_rng(seed)
    flipped = bytearray(raw)
    for _ in range(3):  # three single-byte flips, each checked
        k = int(rng.integers(len(raw)))
        flipped = bytearray(raw)
        flipped[k] ^= 0x10
        (tmp_path / "bad.npz").write_bytes(bytes(flipped))
        with pytest.raises(StudentFileError, match=r"bad\.npz: "):
            StudentPolicy.load(tmp_path / "bad.npz")
    for content in (raw[: int(rng.integers(len(raw)))], bytes(rng.integers(0, 256, 100, dtype=np.uint8)), b""):
        (tmp_path / "bad.npz").write_bytes(content)
        with pytest.raises(StudentFileError, match=r"bad\.npz: cannot read an exported student"):
            StudentPolicy.load(tmp_path / "bad.npz")
    with pytest.raises(StudentFileError, match=r"missing\.npz: cannot read"):
        StudentPolicy.load(tmp_path / "missing.npz")


def test_an_edited_weight_is_caught_by_the_checksum(tmp_path: Path) -> None:
    data, _ = exported("ft", tmp_path)
    data["layer0_weight"] = data["layer0_weight"] * 1.01  # finite and well-formed: only the checksum can tell
    np.savez(tmp_path / "edited.npz", **data)
    with pytest.raises(StudentFileError, match=r"edited\.npz: its contents do not match their checksum"):
        StudentPolicy.load(tmp_path / "edited.npz")
    del data["content_sha256"]  # a file exported before checksums: loads
    np.savez(tmp_path / "old.npz", **data)
    StudentPolicy.load(tmp_path / "old.npz")
