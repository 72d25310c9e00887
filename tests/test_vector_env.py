"""The native vector env: per-env results bitwise equal to Gymnasium's SyncVectorEnv of ``gym.make`` envs.

The truth is Gymnasium's own ``SyncVectorEnv`` (its autoreset, seeding and info batching) around the
single environments that the oracle tests check; threads, blocks and the leaner step path must not
change one bit of any observation, reward, flag or info, in any autoreset mode, on any task.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

import unimal_gym  # noqa: F401
from unimal_gym.envs import InvalidActionError, UnimalVectorEnv
from unimal_gym.envs.vector import autoreset_mode_of
from unimal_gym.layout import ENV_IDS

ROBOTS = ["unimal-train-000", "unimal-train-001", "unimal-train-002"]


@pytest.fixture(autouse=True)
def gymnasium_time_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """``gym.make`` with Gymnasium's own ``TimeLimit``: importing rl_zoo3 (tests/test_rl_zoo.py) replaces it
    process-wide with one that adds ``info["TimeLimit.truncated"]``, which is RL Zoo's, not Gymnasium's."""
    original = gym.wrappers.TimeLimit
    while original.__name__ != "TimeLimit":
        original = original.__bases__[0]
    monkeypatch.setattr(gym.wrappers, "TimeLimit", original)


def assert_same(a: Any, b: Any, path: str = "") -> None:
    """Bitwise equality of nested dicts / arrays / object arrays, naming the first difference."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), f"{path}: keys {sorted(set(a) ^ set(b))}"
        for key in a:
            assert_same(a[key], b[key], f"{path}/{key}")
    elif isinstance(a, tuple):
        assert isinstance(b, tuple) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{path}({i})")
    elif isinstance(a, np.ndarray) and a.dtype == object:
        assert isinstance(b, np.ndarray) and b.dtype == object and a.shape == b.shape, path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{path}[{i}]")
    elif isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype, f"{path}: {a.dtype} vs {getattr(b, 'dtype', b)}"
        assert np.array_equal(a, b), f"{path}: values differ"
    else:
        assert type(a) is type(b) and a == b, f"{path}: {a!r} vs {b!r}"


def pair(task: str, mode: str, num_envs: int = 4, threads: int = 2, **kwargs: Any) -> tuple[gym.vector.VectorEnv, ...]:
    common = {"robots": ROBOTS, "max_episode_steps": 40, **kwargs}
    native = gym.make_vec(
        ENV_IDS[task],
        num_envs,
        vectorization_mode="vector_entry_point",
        autoreset_mode=mode,
        num_threads=threads,
        **common,
    )
    sync = gym.make_vec(
        ENV_IDS[task],
        num_envs,
        vectorization_mode="sync",
        vector_kwargs={"autoreset_mode": AutoresetMode[mode.upper()]},
        **common,
    )
    return native, sync


@pytest.mark.parametrize("task", ["ft", "vt", "obstacle"])
@pytest.mark.parametrize("mode", ["next_step", "same_step"])
def test_bitwise_equal_to_sync_vector_env_of_single_envs(task: str, mode: str) -> None:
    native, sync = pair(task, mode)
    assert isinstance(native.unwrapped, UnimalVectorEnv) and native.unwrapped.num_threads == 2
    assert native.single_observation_space == sync.single_observation_space
    assert native.observation_space == sync.observation_space and native.action_space == sync.action_space
    assert_same(native.reset(seed=11), sync.reset(seed=11))
    rng = np.random.default_rng(3)
    ended = 0
    for t in range(100):
        actions = rng.uniform(-1, 1, (4, 24)).astype(np.float32)
        got, want = native.step(actions), sync.step(actions)
        assert_same(got, want, f"step {t}")
        ended += int(np.sum(got[2] | got[3]))
    assert ended >= 8  # the 40-step limit (and falls) ended episodes: autoresets were compared too
    native.close()
    sync.close()


def test_disabled_autoreset_with_reset_mask_and_per_env_robots() -> None:
    native, sync = pair("ft", "disabled", num_envs=3)
    per_env = [{"robot": "unimal-train-002"}, None, {"robot": "unimal-train-000"}]
    got = native.reset(seed=[5, 6, 7], options={"per_env": per_env})
    assert got[1]["name"][[0, 2]].tolist() == ["unimal-train-002", "unimal-train-000"]
    for env, seed, opts in zip(sync.unwrapped.envs, [5, 6, 7], per_env, strict=True):  # what per_env means
        env.reset(seed=seed, options=opts)
    sync.unwrapped._autoreset_envs[:] = False
    rng = np.random.default_rng(0)
    for t in range(90):
        actions = rng.uniform(-1, 1, (3, 24)).astype(np.float32)
        got, want = native.step(actions), sync.step(actions)
        assert_same(got[1:], want[1:], f"step {t}")
        done = got[2] | got[3]
        if done.any():
            with pytest.raises(RuntimeError, match=r"reset them first"):
                native.step(actions)
            assert_same(native.reset(options={"reset_mask": done}), sync.reset(options={"reset_mask": done}))


def test_seeds_are_per_env_and_threads_change_nothing() -> None:
    def rollout(threads: int, seed: Any) -> list[np.ndarray]:
        env = UnimalVectorEnv(5, robots=ROBOTS, num_threads=threads, max_episode_steps=30)
        obs, _ = env.reset(seed=seed)
        out = [obs["proprioceptive"]]
        rng = np.random.default_rng(1)
        for _ in range(45):
            obs, reward, *_ = env.step(rng.uniform(-1, 1, (5, 24)))
            out += [obs["proprioceptive"], reward]
        env.close()
        return out

    one = rollout(1, 100)
    for a, b in zip(one, rollout(3, 100), strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(one, rollout(2, [100, 101, 102, 103, 104]), strict=True):  # int s: seed s + i
        np.testing.assert_array_equal(a, b)
    other = rollout(2, [100, 101, 102, 103, 999])
    assert np.array_equal(other[0][:4], one[0][:4]) and not np.array_equal(other[0][4], one[0][4])


def test_copy_false_returns_the_buffers_and_sb3_style_accessors() -> None:
    env = UnimalVectorEnv(2, robot="unimal-train-000", copy=False, max_episode_steps=3, autoreset_mode="same_step")
    obs, _ = env.reset(seed=0)
    assert obs["proprioceptive"] is env.buffers["proprioceptive"]
    for _ in range(3):
        env.step_all(np.zeros((2, 24)))
    assert env.truncations.tolist() == [True, True]
    final_obs, final_info = env.final_observations[0]
    assert final_obs["context"].shape == (12 * 53,) and final_info["name"] == "unimal-train-000"
    assert env.infos[0] == {"name": "unimal-train-000", "torso_height": env.infos[0]["torso_height"]}  # the reset's
    env.set_robot_weights([1.0])
    assert env.get_attr("task") == ("ft", "ft") and env.call("robot_name") == ("unimal-train-000",) * 2
    env.close()


def test_bad_input_is_one_clear_error() -> None:
    with pytest.raises(ValueError, match=r"num_envs=0; must be at least 1"):
        UnimalVectorEnv(0, robot="unimal-train-000")
    with pytest.raises(ValueError, match=r"num_threads=0"):
        UnimalVectorEnv(2, robot="unimal-train-000", num_threads=0)
    with pytest.raises(ValueError, match=r"autoreset_mode='later'; allowed: \['next_step', 'same_step', 'disabled'\]"):
        autoreset_mode_of("later")
    assert autoreset_mode_of("SameStep") is AutoresetMode.SAME_STEP
    env = UnimalVectorEnv(3, robots=ROBOTS, num_threads=2)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"actions has 2 rows; expected 3"):
        env.step(np.zeros((2, 24)))
    actions = np.zeros((3, 24))
    actions[2, 5] = np.nan  # in the second thread's block: the error still reaches the caller, naming the robot
    with pytest.raises(InvalidActionError, match=r"action for robot 'unimal-train-00\d' has NaN or inf at slots \[5\]"):
        env.step(actions)
    with pytest.raises(ValueError, match=r"seed is a list of 2; expected 3"):
        env.reset(seed=[1, 2])
    with pytest.raises(ValueError, match=r"options\['per_env'\] has 1 entries; expected 3"):
        env.reset(options={"per_env": [{}]})
    with pytest.raises(ValueError, match=r"reset_mask'\] must be a \(3,\) bool array"):
        env.reset(options={"reset_mask": np.ones(3, dtype=int)})
    env.close()
