"""UnimalEnv's API: registration, robot resolution, multi-robot sampling, bad input, resets, terminations."""

from __future__ import annotations

import dataclasses
import re
import warnings

import gymnasium as gym
import numpy as np
import pytest
from conftest import TRAIN_XML, needs_shared, train_robot_files
from gymnasium.envs.registration import EnvSpec
from gymnasium.utils.env_checker import check_env

import unimal_gym  # noqa: F401  (registers the environments)
from unimal_gym.envs import InvalidActionError, InvalidStateError, RobotTooLargeError, UnimalEnv, UnknownRobotError
from unimal_gym.envs.robots import bundled_robot_dirs, check_robot_size
from unimal_gym.envs.terrain import ObstacleConfig, TerrainConfig
from unimal_gym.morphology import RobotFileError, load

FILES = train_robot_files()
ROBOT = TRAIN_XML / "floor-1409-5-4-01-13-42-51.xml"  # FILES[16], 8 limbs


@needs_shared
@pytest.mark.parametrize("env_id", ["Unimal-FT-v0", "Unimal-VT-v0", "Unimal-Obstacle-v0"])
def test_registered_and_passes_check_env(env_id: str) -> None:
    env = gym.make(env_id, robot=ROBOT)
    assert env.spec.max_episode_steps == 1000
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*infinity.*")  # unbounded Box spaces are intended
        check_env(env.unwrapped, skip_render_check=True)  # rendering: tests/test_env_render.py
    obs, _ = env.reset(seed=0)
    assert ("hfield" in obs) == (env_id != "Unimal-FT-v0")
    assert env.observation_space.contains(obs)


@needs_shared
@pytest.mark.parametrize("task", ["ft", "vt", "obstacle"])
def test_sb3_check_env(task: str) -> None:
    """stable-baselines3's checker passes; its only remark is the original's (12, 12) adjacency shape."""
    sb3 = pytest.importorskip("stable_baselines3.common.env_checker", reason="stable-baselines3 is not installed")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sb3.check_env(UnimalEnv(robot=ROBOT, task=task), warn=True)
    assert all("adjacency_matrix" in str(w.message) for w in caught), [str(w.message) for w in caught]


@needs_shared
def test_robot_as_morphology_name_and_path_agree() -> None:
    by_path = UnimalEnv(robot=ROBOT)
    by_morph = UnimalEnv(robot=load(ROBOT))
    by_name = UnimalEnv(robot=ROBOT.stem, robot_dirs=[TRAIN_XML.parent])
    obs = [e.reset(seed=5)[0]["proprioceptive"] for e in (by_path, by_morph, by_name)]
    np.testing.assert_array_equal(obs[0], obs[1])
    np.testing.assert_array_equal(obs[0], obs[2])


def test_bundled_robot_names_resolve() -> None:
    dirs = bundled_robot_dirs()
    if not dirs:
        pytest.skip("no bundled robot set (morphologies/) in this checkout")
    name = sorted((dirs[0] / "xml").glob("*.xml"))[0].stem
    assert UnimalEnv(robot=name).robot_name == name


@needs_shared
def test_unknown_name_lists_close_matches() -> None:
    with pytest.raises(UnknownRobotError, match="closest names: floor-1409-5-4-01-13-42-51") as err:
        UnimalEnv(robot="floor-1409-5-4-01-13-42-5", robot_dirs=[TRAIN_XML])
    assert isinstance(err.value, ValueError)


def test_unreadable_and_invalid_xml(tmp_path) -> None:
    with pytest.raises(RobotFileError, match="no such file"):
        UnimalEnv(robot=tmp_path / "missing.xml")
    bad = tmp_path / "bad.xml"
    bad.write_text("<mujoco><worldbody>")
    with pytest.raises(RobotFileError, match="malformed XML"):
        UnimalEnv(robot=bad)
    no_torso = tmp_path / "no_torso.xml"
    no_torso.write_text("<mujoco><worldbody/></mujoco>")
    with pytest.raises(RobotFileError, match="no torso"):
        UnimalEnv(robot=no_torso)


@needs_shared
def test_robot_size_limits() -> None:
    robot = load(next(f for f in FILES if load(f).num_limbs == 10))
    big = robot.copy()
    extra = dataclasses.replace(next(iter(big.limbs.values())), index=99, children=[])
    big.limbs[99] = extra
    with pytest.raises(RobotTooLargeError, match=r"12 bodies .* at most 11"):
        check_robot_size(big)
    many = robot.copy()
    for limb in many.limbs.values():
        if len(limb.joints) == 1:
            other = "y" if limb.joints[0].axis == "x" else "x"
            limb.joints = sorted(
                [limb.joints[0], dataclasses.replace(limb.joints[0], axis=other)], key=lambda j: j.axis
            )
    assert many.dof > 16
    with pytest.raises(RobotTooLargeError, match="at most MAX_JOINTS = 16"):
        UnimalEnv(robot=many)


@needs_shared
def test_bad_actions() -> None:
    env = UnimalEnv(robot=ROBOT)
    env.reset(seed=0)
    for shape in [(11,), (2, 12), (1, 24), (24, 1)]:  # 24 numbers of another shape too, on either path
        with pytest.raises(InvalidActionError, match=r"must have shape \(24,\) .*; got shape " + re.escape(str(shape))):
            env.step(np.zeros(shape))
    action = np.zeros(24)
    action[5] = np.nan
    with pytest.raises(InvalidActionError, match=r"NaN or inf at slots \[5\]"):
        env.step(action)
    action[5] = np.inf
    with pytest.raises(InvalidActionError):
        env.step(action)


@needs_shared
def test_out_of_range_actions_are_clamped_like_mujoco() -> None:
    env = UnimalEnv(robot=ROBOT)
    rng = np.random.default_rng(0)
    big = rng.uniform(-5, 5, 24)
    trajectories = []
    for action in (big, np.clip(big, -1, 1)):
        env.reset(seed=1)
        for _ in range(5):
            obs, *_ = env.step(action)
        trajectories.append(obs["proprioceptive"])
    np.testing.assert_array_equal(trajectories[0], trajectories[1])


@needs_shared
def test_physics_error_truncates_without_teleport(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # MuJoCo appends its warning to ./MUJOCO_LOG.TXT
    env = UnimalEnv(robot=ROBOT)
    env.reset(seed=0)
    env.step(np.zeros(24))
    qvel = env.data.qvel.copy()
    qvel[8] = 1e11  # beyond MuJoCo's velocity bound: bad qvel, and MuJoCo resets the state
    env.set_state(env.data.qpos.copy(), qvel)
    qpos_before = env.data.qpos.copy()
    obs, reward, terminated, truncated, info = env.step(np.zeros(24))
    assert truncated and not terminated and reward == 0.0
    assert "BADQVEL" in info["mj_step_error"] and info["timeout"]
    np.testing.assert_array_equal(env.data.qpos, qpos_before)
    assert env.observation_space.contains(obs)


@needs_shared
def test_contact_buffer_limit_is_a_physics_error() -> None:
    env = UnimalEnv(robot=ROBOT, max_contacts=0)
    env.reset(seed=0)
    for _ in range(50):
        *_, truncated, info = env.step(np.zeros(24))
        if truncated:
            break
    assert truncated and "max_contacts=0" in info["mj_step_error"]


@needs_shared
@pytest.mark.parametrize("limit", ["contacts", "rows"])
def test_buffer_limit_exceeded_in_a_middle_substep_is_caught(limit: str) -> None:
    """The limits hold per substep: a step whose largest ncon / nefc is in a substep before the last is
    an error when the limit lies between that and the last substep's count (found by replaying)."""
    import mujoco

    env = UnimalEnv(robot=ROBOT, task="vt")
    env.reset(seed=5)
    model, data = env.model, env.data
    rng = np.random.default_rng(0)
    found = None
    for _ in range(400):
        action = rng.uniform(-1, 1, 24)
        probe = mujoco.MjData(model)
        mujoco.mj_copyData(probe, model, data)
        probe.ctrl[:] = action[env._current.observation.actuated]
        counts = []
        for _ in range(env.frame_skip):
            mujoco.mj_step(model, probe)
            counts.append(probe.ncon if limit == "contacts" else probe.nefc)
        if max(counts[:-1]) > counts[-1]:
            found = (data.qpos.copy(), data.qvel.copy(), action, max(counts[:-1]) - 1)
            break
        *_, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            env.reset()
    assert found is not None, "no step with its largest count in a middle substep"
    qpos, qvel, action, threshold = found
    kwargs = {"max_contacts": threshold} if limit == "contacts" else {"max_constraint_rows": threshold}
    strict = UnimalEnv(robot=ROBOT, task="vt", **kwargs)
    strict.reset(seed=5)  # the same terrain
    strict.reset(options={"qpos": qpos, "qvel": qvel, "terrain_hfield": env._arena.map.heights})
    *_, truncated, info = strict.step(action)
    assert truncated and f"={threshold}" in info["mj_step_error"]
    np.testing.assert_array_equal(strict.data.qpos, qpos)  # the pre-step state, restored


@needs_shared
def test_bad_state() -> None:
    env = UnimalEnv(robot=ROBOT)
    env.reset(seed=0)
    with pytest.raises(InvalidStateError, match=rf"qpos .* must be {env.model.nq} finite numbers; got shape \(3,\)"):
        env.set_state(np.zeros(3), np.zeros(env.model.nv))
    qvel = np.zeros(env.model.nv)
    qvel[[1, 4]] = np.nan, np.inf
    with pytest.raises(InvalidStateError, match=r"qvel .* finite numbers; got NaN or inf at \[1, 4\]$"):
        env.reset(options={"qpos": env.model.qpos0, "qvel": qvel})


@needs_shared
def test_reset_noise_seed_and_no_recompile() -> None:
    env = UnimalEnv(robot=ROBOT)
    model = env.model
    a, _ = env.reset(seed=7)
    qpos = env.data.qpos.copy()
    b, _ = env.reset(seed=7)
    np.testing.assert_array_equal(a["proprioceptive"], b["proprioceptive"])
    assert env.model is model
    assert np.linalg.norm(qpos[3:7]) == pytest.approx(1.0, abs=1e-15)
    noise = np.delete(qpos - model.qpos0, [3, 4, 5, 6])
    assert np.all(np.abs(noise) <= 0.005) and np.any(noise != 0)
    assert np.all(np.abs(env.data.qvel) <= 0.005)


@needs_shared
def test_reset_from_state_has_no_noise() -> None:
    env = UnimalEnv(robot=ROBOT)
    env.reset(options={"qpos": env.model.qpos0, "qvel": np.zeros(env.model.nv)})
    np.testing.assert_array_equal(env.data.qpos, env.model.qpos0)


@needs_shared
def test_fall_termination() -> None:
    """A fall threshold above the torso ends the episode at once, unless terminate_on_fall=False."""
    env = UnimalEnv(robot=ROBOT, stand_height_ratio=10.0)
    env.reset(seed=0)
    *_, terminated, truncated, info = env.step(np.zeros(24))
    assert terminated and not truncated and info["terminate_on_fall"]
    assert info["torso_height"] <= env._current.fall_threshold
    env = UnimalEnv(robot=ROBOT, stand_height_ratio=10.0, terminate_on_fall=False)
    env.reset(seed=0)
    assert not env.step(np.zeros(24))[2]


@needs_shared
def test_edge_termination_vt() -> None:
    env = UnimalEnv(robot=ROBOT, task="vt")
    env.reset(seed=0)
    qpos = env.data.qpos.copy()
    qpos[1] = 19.2
    env.set_state(qpos, np.zeros(env.model.nv))
    *_, terminated, _, info = env.step(np.zeros(24))
    assert terminated and info["terminate_on_edge"]


@needs_shared
def test_multi_robot_sampling_weights_and_cache() -> None:
    names = [f.stem for f in FILES[:3]]
    env = UnimalEnv(robots=FILES[:3])
    assert env.robot_names == names
    seen, models = set(), {}
    for seed in range(30):
        _, info = env.reset(seed=seed)
        seen.add(info["name"])
        models.setdefault(info["name"], env.model)
        assert env.model is models[info["name"]], "one compiled model per robot, reused"
        assert env.step(env.action_space.sample())[4]["name"] == info["name"]
    assert seen == set(names)
    env.set_robot_weights({names[1]: 1.0})
    assert {env.reset()[1]["name"] for _ in range(10)} == {names[1]}
    env.set_robot_weights([1, 0, 0])
    assert {env.reset()[1]["name"] for _ in range(10)} == {names[0]}
    assert env.reset(options={"robot": names[2]})[1]["name"] == names[2]
    for bad in ([1, 2], [-1, 1, 1], [0, 0, 0], {"nobody": 1.0}):
        with pytest.raises(ValueError):
            env.set_robot_weights(bad)


@needs_shared
def test_robots_from_a_folder() -> None:
    env = UnimalEnv(robots=[TRAIN_XML])
    assert len(env.robot_names) == 100


@needs_shared
def test_constructor_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="task="):
        UnimalEnv(robot=ROBOT, task="maze")
    with pytest.raises(ValueError, match="not both"):
        UnimalEnv(robot=ROBOT, robots="train")
    with pytest.raises(ValueError, match="render_mode"):
        UnimalEnv(robot=ROBOT, render_mode="human")
    with pytest.raises(ValueError, match="camera_name"):
        UnimalEnv(robot=ROBOT, camera_name="nowhere")


@needs_shared
def test_copy_and_pickle_are_clear_errors() -> None:
    """Copies would leave the step path's views on the old MjData: refused with a way out."""
    import copy
    import pickle

    env = UnimalEnv(robot=ROBOT)
    env.reset(seed=0)
    with pytest.raises(TypeError, match=r"robot '.*' cannot be copied.*reset\(options="):
        copy.deepcopy(env)
    with pytest.raises(TypeError, match=r"robot '.*' cannot be pickled"):
        pickle.dumps(env)


@pytest.mark.parametrize(
    ("env_id", "kwargs", "attr"),
    [
        ("Unimal-VT-v0", {"terrain": TerrainConfig(mirror_rugged=False, step_height=0.25)}, "terrain"),
        ("Unimal-Obstacle-v0", {"obstacles": ObstacleConfig(float_gap=0.0, num_obstacles=20)}, "obstacles"),
    ],
)
def test_env_kwargs_round_trip_through_envspec_json(env_id: str, kwargs: dict, attr: str) -> None:
    """Dataset tools rebuild an env from ``env.spec.to_json()``: a config keyword comes back as a dict of its
    fields (tuples as lists) and must make the same env."""
    env = gym.make(env_id, robot="unimal-train-000", **kwargs)
    rebuilt = gym.make(EnvSpec.from_json(env.spec.to_json()))
    arena, again_arena = env.unwrapped._arena, rebuilt.unwrapped._arena
    assert again_arena.config == arena.config
    assert getattr(again_arena, "obstacle_config", None) == getattr(arena, "obstacle_config", None)
    first, again = env.reset(seed=4)[0], rebuilt.reset(seed=4)[0]
    for key in first:
        np.testing.assert_array_equal(first[key], again[key])
    with pytest.raises(ValueError, match=rf"{attr}: \w+Config has no field 'nope'"):
        gym.make(env_id, robot="unimal-train-000", **{attr: {"nope": 1}})


def test_an_env_made_by_id_alone_uses_the_bundled_training_set() -> None:
    """Tools that make envs from an id (RL Zoo, check scripts, EnvSpec) need no robot keyword."""
    env = gym.make("Unimal-FT-v0")
    names = env.unwrapped.robot_names
    assert len(names) == 100 and names[0] == "unimal-train-000"
    env.reset(seed=0)
    env.close()
