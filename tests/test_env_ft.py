"""FT against the original environment's recordings: all 100 training robots, reset and 5-step rollouts."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import TRAIN_XML, needs_shared, oracle_robots

from unimal_gym.envs import UnimalEnv

pytestmark = needs_shared

ROBOTS = oracle_robots("ft_train_meta.json")
TOL = 1e-6  # docs/environment.md §6.3: with MuJoCo 2.0's capsule masses modern MuJoCo reproduces it to ~1e-7
MORPHOLOGY_KEYS = ("edges", "obs_padding_mask", "act_padding_mask")
FLOAT_KEYS = ("proprioceptive", "context", "adjacency_matrix", "hfield")
INFO_FLOATS = ("x_pos", "x_vel", "xy_pos_before", "xy_pos_after", "__reward__forward", "__reward__ctrl")
INFO_EXACT = ("__reward__energy", "__reward__stand", "mj_step_error", "timeout")


def check_obs(obs: dict[str, np.ndarray], rec: dict[str, np.ndarray], where: str) -> None:
    """Masks and edges exactly, float keys to TOL."""
    for key in MORPHOLOGY_KEYS:
        np.testing.assert_array_equal(obs[key], rec[key], err_msg=f"{where}: {key}")
    assert set(obs) == set(rec), where
    for key in FLOAT_KEYS:
        if key not in obs:
            continue
        np.testing.assert_allclose(obs[key], rec[key], rtol=0, atol=TOL, err_msg=f"{where}: {key}")


def recorded(oracle: np.lib.npyio.NpzFile, prefix: str, exclude: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """The recorded arrays under ``prefix`` (one level), by their last name."""
    names = [k[len(prefix) :] for k in oracle.files if k.startswith(prefix)]
    return {n: oracle[prefix + n] for n in names if "/" not in n and n not in exclude}


def replay(
    env: UnimalEnv, oracle: np.lib.npyio.NpzFile, name: str, options: dict | None = None, atol: float = TOL
) -> None:
    """Reset from the recorded state, compare; then both recorded rollouts, comparing every field.

    :param options: extra reset options (a recorded terrain or obstacle layout).
    """
    for action_name in ("zero", "rand"):
        prefix = f"{name}/{action_name}"
        state = {"qpos": oracle[f"{name}/reset/qpos"], "qvel": oracle[f"{name}/reset/qvel"]}
        obs, _ = env.reset(options={**(options or {}), **state})
        reset = recorded(oracle, f"{name}/reset/", exclude=("qpos", "qvel"))
        check_obs(obs, reset, f"{name} reset")
        action = oracle[f"{prefix}/action_padded"]
        for t in range(len(oracle[f"{prefix}/reward"])):
            obs, reward, terminated, truncated, info = env.step(action)
            where = f"{prefix} step {t}"
            np.testing.assert_allclose(env.data.qpos, oracle[f"{prefix}/qpos"][t], rtol=0, atol=atol, err_msg=where)
            np.testing.assert_allclose(env.data.qvel, oracle[f"{prefix}/qvel"][t], rtol=0, atol=atol, err_msg=where)
            np.testing.assert_allclose(env.data.ctrl, oracle[f"{prefix}/ctrl"][t], rtol=0, atol=0, err_msg=where)
            assert env.data.time == pytest.approx(oracle[f"{prefix}/time"][t], abs=1e-12), where
            assert reward == pytest.approx(oracle[f"{prefix}/reward"][t], abs=atol), where
            assert (terminated or truncated) == oracle[f"{prefix}/done"][t], where
            check_obs(obs, {k: v[t] for k, v in recorded(oracle, f"{prefix}/obs/").items()}, where)
            for key in INFO_FLOATS:
                np.testing.assert_allclose(info[key], oracle[f"{prefix}/info/{key}"][t], atol=atol, err_msg=where)
            for key in INFO_EXACT:
                assert info[key] == oracle[f"{prefix}/info/{key}"][t], f"{where}: {key}"
            assert info.get("terminate_on_fall", False) == oracle[f"{prefix}/info/terminate_on_fall"][t], where


@pytest.mark.parametrize("name", ROBOTS)
def test_ft_matches_original(name: str, ft_oracle: np.lib.npyio.NpzFile) -> None:
    env = UnimalEnv(robot=TRAIN_XML / f"{name}.xml")
    model = env.model
    replay(env, ft_oracle, name)
    assert env.model is model, "reset recompiled an unchanged model (docs/environment.md §1.3)"


def test_body_velocities_equal_jacobian_times_qvel() -> None:
    """The vectorised body-origin velocities equal mj_jacBody · qvel on stale kinematics (docs/environment.md §6.4)."""
    import mujoco

    env = UnimalEnv(robot=TRAIN_XML / f"{ROBOTS[13]}.xml")
    env.reset(seed=3)
    for _ in range(20):
        env.step(env.action_space.sample())
    model, data = env.model, env.data
    builder = env._current.observation
    linear, angular = builder.body_velocities(model, data)
    jacp, jacr = np.zeros((3, model.nv)), np.zeros((3, model.nv))
    for k, body in enumerate(builder.layout.body_ids):
        mujoco.mj_jacBody(model, data, jacp, jacr, body)
        np.testing.assert_allclose(linear[k], jacp @ data.qvel, atol=1e-12)
        np.testing.assert_allclose(angular[k], jacr @ data.qvel, atol=1e-12)
