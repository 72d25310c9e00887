"""The project's robot sets (morphologies/) and the set generator."""

from __future__ import annotations

from pathlib import Path

import mujoco
import numpy as np
import pytest
from lxml import etree

from unimal_gym.envs.rest import rest_rollout
from unimal_gym.morphology import MorphologyError, compile_robot, load, to_xml
from unimal_gym.morphology.mjcf import _build_tree
from unimal_gym.robot_sets import (
    SetSpec,
    generate_robot,
    generate_robot_set,
    read_set_spec,
    set_statistics,
)

MORPHOLOGIES = Path(__file__).resolve().parents[1] / "morphologies"
SETS = {name: MORPHOLOGIES / name for name in ("train", "test")}
# docs/environment.md §8: the original benchmark's sets, for comparison.
ORIGINAL = {
    "train": {"bodies_hist": {5: 1, 6: 5, 7: 8, 8: 16, 9: 28, 10: 26, 11: 16}, "dof_mean": 10.70},
    "test": {"bodies_hist": {6: 1, 7: 23, 8: 28, 9: 22, 10: 13, 11: 15}, "dof_mean": 9.95},
}


def _files(name: str) -> list[Path]:
    return sorted((SETS[name] / "xml").glob("*.xml"))


@pytest.mark.parametrize("name", sorted(SETS))
def test_set_has_100_robots_and_its_spec(name: str) -> None:
    spec = read_set_spec(SETS[name])
    assert spec.count == 100 and len(_files(name)) == 100
    assert [p.stem for p in _files(name)] == [spec.robot_name(i) for i in range(100)]
    assert len(list((SETS[name] / "metadata").glob("*.json"))) == 100


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SETS))
def test_set_regenerates_bit_identically(name: str) -> None:
    """The README's command and seed reproduce the files: checked on three robots of each set."""
    spec = read_set_spec(SETS[name])
    for i in (0, 1, 99):
        robot, _ = generate_robot(spec, i)
        assert to_xml(robot) == (SETS[name] / "xml" / f"{spec.robot_name(i)}.xml").read_text()


def test_train_and_test_are_disjoint() -> None:
    train = {to_xml(load(p), excludes=False) for p in _files("train")}
    test = {to_xml(load(p), excludes=False) for p in _files("test")}
    assert len(train) == 100 and len(test) == 100
    assert not train & test


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SETS))
def test_every_robot_is_valid_and_stands(name: str) -> None:
    for path in _files(name):
        robot = load(path)
        assert 1 <= robot.num_limbs <= 10 and robot.dof <= 16
        model = compile_robot(robot)
        tree = _build_tree(robot)
        raw = mujoco.MjModel.from_xml_string(etree.tostring(tree, encoding="unicode"))
        data = mujoco.MjData(raw)
        mujoco.mj_forward(raw, data)
        assert data.subtree_com[raw.body("torso/0").id][1] == 0.0, f"{path.name} is not symmetric"
        assert model.nbody == robot.num_bodies + 1
        report = rest_rollout(robot)
        assert report.ok, f"{path.name}: {report}"


@pytest.mark.parametrize("name", sorted(SETS))
def test_statistics_resemble_the_original(name: str) -> None:
    """Limb counts follow the original set's histogram (scaled to 100 robots); DoF come out close
    (docs/environment.md §8)."""
    stats = set_statistics(SETS[name])
    ref = ORIGINAL[name]["bodies_hist"]
    assert set(stats["bodies_hist"]) == set(ref)
    scale = 100 / sum(ref.values())  # the original test set has 102 robots
    assert all(abs(stats["bodies_hist"][k] - ref[k] * scale) < 1 for k in ref)
    dof_min, dof_mean, _, dof_max = stats["dof_min_mean_median_max"]
    assert abs(dof_mean - ORIGINAL[name]["dof_mean"]) < 1.0
    assert dof_min >= 2 and dof_max <= 16
    assert 0.3 <= stats["torso_z_min_median_max"][0] and stats["torso_z_min_median_max"][2] <= 1.39


def test_generation_resumes_and_is_worker_independent(tmp_path: Path) -> None:
    spec = SetSpec("unit", 3, 7, ((3, 1), (4, 1)))
    one = generate_robot_set(spec, tmp_path / "a", workers=1, progress=False)
    texts = [p.read_text() for p in one]
    one[1].unlink()  # an interrupted run: robot 1 missing
    generate_robot_set(spec, tmp_path / "a", workers=1, progress=False)
    assert [p.read_text() for p in one] == texts
    two = generate_robot_set(spec, tmp_path / "b", workers=2, progress=False)
    assert [p.read_text() for p in two] == texts
    with pytest.raises(MorphologyError, match="generated with another spec"):
        generate_robot_set(SetSpec("unit", 3, 8), tmp_path / "a", progress=False)


def test_duplicate_sets_are_refused(tmp_path: Path) -> None:
    spec = SetSpec("dup", 1, 3, ((3, 1),))
    generate_robot_set(spec, tmp_path / "a", progress=False)
    with pytest.raises(MorphologyError, match="same robot as"):
        generate_robot_set(spec, tmp_path / "b", avoid=[tmp_path / "a"], progress=False)


def _model_bytes(model: mujoco.MjModel) -> bytes:
    buffer = np.empty(mujoco.mj_sizeModel(model), dtype=np.uint8)
    mujoco.mj_saveModel(model, None, buffer)
    return buffer.tobytes()


def test_rest_check_simulates_the_ft_envs_model() -> None:
    """The rest check's model is the one the FT env compiles for the robot, byte for byte (MJB)."""
    from unimal_gym.envs import UnimalEnv
    from unimal_gym.envs.assembly import ft_model

    for path in _files("train")[:3]:
        robot = load(path)
        env = UnimalEnv(robot=robot, task="ft")
        assert _model_bytes(ft_model(robot)) == _model_bytes(env.model)


def test_rest_check_enforces_the_envs_buffer_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    """More contacts or constraint rows than the env allows is a physics error in the rest check too."""
    from unimal_gym.envs import rest

    robot = load(_files("train")[0])
    assert rest_rollout(robot, steps=25).physics_ok
    monkeypatch.setattr(rest, "MAX_CONTACTS", 0)
    assert not rest_rollout(robot, steps=25).physics_ok
    monkeypatch.undo()
    monkeypatch.setattr(rest, "MAX_CONSTRAINT_ROWS", 0)
    assert not rest_rollout(robot, steps=25).physics_ok


@pytest.mark.slow
def test_generated_robot_counts_follow_the_histogram() -> None:
    spec = SetSpec("hist", 4, 11, ((6, 1),))
    assert all(generate_robot(spec, i)[0].num_limbs == 6 for i in range(4))
    assert np.isfinite(rest_rollout(generate_robot(spec, 0)[0]).torso_height)
