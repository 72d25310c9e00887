"""The compiled step-path kernels (``unimal_gym/envs/_kernels.c``) against the numpy code they replace.

The kernels must give bitwise the same observation (same bytes: signed zeros included) as the numpy
paths, which the oracle tests check against the original's recordings; these tests compare the two
on rollouts of original and bundled robots and on random terrains and poses, and check the kernels'
input validation. They are skipped where the extension was not built (no C compiler at install).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import TRAIN_XML, needs_shared

from unimal_gym.envs import InvalidActionError, UnimalEnv, kernels
from unimal_gym.envs.hfield import HeightMap
from unimal_gym.envs.observation import AgentObservation
from unimal_gym.envs.terrain import ObstacleConfig, ObstacleCourse, TerrainConfig, generate_corridor, pad_heights
from unimal_gym.layout import HFIELD_DIM

OWN_XML = Path(__file__).resolve().parents[1] / "morphologies" / "train" / "xml"

built = pytest.mark.skipif(kernels._compiled is None, reason="compiled kernels not built (no C compiler)")
in_use = pytest.mark.skipif(
    kernels.kernels is None, reason="the envs do not use the compiled kernels (not built, or UNIMAL_GYM_PURE_NUMPY=1)"
)


def same_bytes(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@built
@pytest.mark.parametrize(
    "robot",
    [
        pytest.param(TRAIN_XML / "floor-5506-3-10-01-14-19-06.xml", marks=needs_shared),
        pytest.param(TRAIN_XML / "floor-1409-15-4-01-15-28-42.xml", marks=needs_shared),
        OWN_XML / "unimal-train-000.xml",
        OWN_XML / "unimal-train-086.xml",
    ],
    ids=lambda p: p.stem,
)
def test_proprioceptive_kernel_equals_numpy(robot: Path) -> None:
    """Along a random rollout (and at negative x, where numpy's 0·x is −0.0) the bytes are the same."""
    env = UnimalEnv(robot=robot)
    env.reset(seed=1)
    model, data = env.model, env.data
    compiled, plain = AgentObservation(model, compiled=True), AgentObservation(model, compiled=False)
    rng = np.random.default_rng(2)
    checked = 0
    for step in range(60):
        _, _, terminated, truncated, _ = env.step(rng.uniform(-1, 1, 24))
        if step == 30:  # move the robot to negative x, keep its velocities
            qpos = data.qpos.copy()
            qpos[0] = -3.25
            env.set_state(qpos, data.qvel.copy())
        a = compiled.proprioceptive(model, data)
        b = plain.proprioceptive(model, data)
        assert same_bytes(a, b), f"step {step}: max |diff| {np.abs(a - b).max()}"
        assert not np.shares_memory(a, compiled.proprioceptive(model, data)), "each call returns a new array"
        checked += 1
        if terminated or truncated:
            env.reset()
    assert checked == 60


@built
def test_proprioceptive_kernel_follows_a_new_data() -> None:
    """A builder used with another MjData rebinds (the kernel reads the data it was last given)."""
    import mujoco

    env = UnimalEnv(robot=OWN_XML / "unimal-train-005.xml")
    env.reset(seed=0)
    model = env.model
    builder = AgentObservation(model, compiled=True)
    other = mujoco.MjData(model)
    other.qpos[:] = env.data.qpos
    other.qpos[0] += 1.0
    mujoco.mj_forward(model, other)
    first = builder.proprioceptive(model, env.data)
    second = builder.proprioceptive(model, other)
    assert same_bytes(second, AgentObservation(model, compiled=False).proprioceptive(model, other))
    assert not same_bytes(first, second)


@built
@pytest.mark.parametrize("seed", range(3))
def test_hfield_kernel_equals_numpy(seed: int) -> None:
    """Random corridors, poses all over them (edges and beyond included), yaws at the rounding ties, and
    the unrotated grid (reset observations)."""
    config = TerrainConfig()
    rng = np.random.default_rng(seed)
    heights = pad_heights(generate_corridor(config, rng).heights, config)
    compiled = HeightMap(heights, 130, compiled=True)
    plain = HeightMap(heights, 130, compiled=False)
    yaws = np.concatenate([rng.uniform(-np.pi, np.pi, 200), np.arange(-8, 9) * np.pi / 8])
    for k, yaw in enumerate(yaws):
        x, y = rng.uniform(-20.0, 110.0), rng.uniform(-25.0, 25.0)
        heading = np.array([np.cos(yaw), np.sin(yaw)])
        for h in (heading, None):
            (a, centre_a), (b, centre_b) = compiled.observe(x, y, h), plain.observe(x, y, h)
            assert a.shape == (HFIELD_DIM,)
            assert same_bytes(a, b), f"pose {k} (x={x}, y={y}, yaw={yaw}, {h}): max |diff| {np.abs(a - b).max()}"
            # the centre height each returns equals a fresh lookup
            assert type(centre_a) is type(centre_b) is float
            lookup = float(heights[plain.index(x, y)])
            assert centre_a == centre_b == compiled.height(x, y) == plain.height(x, y) == lookup


@built
def test_obstacle_hfield_kernel_equals_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Obstacle course's boxes are in the map for both samplers (the numpy one reads a padded copy of H,
    made when the map is built): the same samples and centre heights on, beside and beyond every box."""
    monkeypatch.setattr(kernels, "kernels", None)  # the arena's map samples with numpy
    arena = ObstacleCourse(ObstacleConfig())
    arena.new_episode(np.random.default_rng(0), {})
    plain = arena.map
    assert plain._sampler is None and len(arena.obstacles) > 40
    compiled = HeightMap(plain.heights, plain.col_origin, compiled=True)
    for x, y, half_length, half_width in arena.obstacles:
        for px, py in ((x, y), (x + half_length + 0.3, y), (x, y - half_width - 0.3), (x - 2.0, y)):
            for heading in (None, np.array([0.6, 0.8])):
                (a, centre_a), (b, centre_b) = compiled.observe(px, py, heading), plain.observe(px, py, heading)
                assert same_bytes(a, b) and centre_a == centre_b
        assert plain.observe(x, y, None)[1] == 3.0  # ObstacleConfig.obs_height


@built
def test_kernels_reject_bad_inputs() -> None:
    _kernels = kernels._compiled
    heights = np.arange(30000.0).reshape(100, 300)
    sampler = HeightMap(heights, 50, compiled=True)._sampler
    out = np.empty(HFIELD_DIM)
    # far outside the array: the cell is clipped to the corner (99, 299), samples as numpy's
    assert sampler(out, 1e300, -1e300, 0.6, 0.8) == heights[99, 299]
    plain, centre = HeightMap(heights, 50, compiled=False).observe(1e300, -1e300, np.array([0.6, 0.8]))
    assert same_bytes(out, plain)
    assert centre == heights[99, 299]
    with pytest.raises(ValueError, match="must be finite"):
        sampler(out, float("nan"), 0.0, 1.0, 0.0)
    with pytest.raises(ValueError, match="must have 1410 items"):
        sampler(np.empty(10), 0.0, 0.0, 1.0, 0.0)
    with pytest.raises(TypeError, match="float64"):
        sampler(np.empty(HFIELD_DIM, dtype=np.float32), 0.0, 0.0, 1.0, 0.0)
    with pytest.raises(ValueError, match="rows, 7"):
        _kernels.HfieldSampler(np.zeros(100), np.zeros((2, 4)), 7, 0, 0, 10.0)
    with pytest.raises(TypeError, match="C-contiguous"):
        _kernels.HfieldSampler(np.zeros((10, 20)).T, np.zeros((2, 4)), 10, 0, 0, 10.0)

    views = {"cvel": np.zeros(6), "xpos": np.zeros(3), "xquat": np.zeros(4)}
    joints = {name: np.zeros(1) for name in ("qpos", "qvel", "range_lo", "range_span")}
    _kernels.Proprioceptive(**views, com=np.zeros(3), **joints, slots=[30])  # one limb, one joint: fine
    with pytest.raises(ValueError, match="cvel must have 6 items"):
        _kernels.Proprioceptive(**{**views, "cvel": np.zeros(5)}, com=np.zeros(3), **joints, slots=[30])
    with pytest.raises(ValueError, match="outside the observation"):
        _kernels.Proprioceptive(**views, com=np.zeros(3), **joints, slots=[51])
    with pytest.raises(TypeError, match="C-contiguous"):
        _kernels.Proprioceptive(**{**views, "xquat": np.zeros(8)[::2]}, com=np.zeros(3), **joints, slots=[30])
    kernel = _kernels.Proprioceptive(**views, com=np.zeros(3), **joints, slots=[30])
    with pytest.raises(ValueError, match="at least 52"):
        kernel(np.zeros(40))
    read_only = np.zeros(52)
    read_only.setflags(write=False)
    with pytest.raises(TypeError, match="writable"):
        kernel(read_only)


def test_compiled_true_without_the_extension_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kernels, "_compiled", None)
    with pytest.raises(RuntimeError, match="compiled kernels are not built"):
        HeightMap(np.zeros((100, 300)), 50, compiled=True)
    assert kernels.require(False) is None


def test_pure_numpy_switch() -> None:
    """UNIMAL_GYM_PURE_NUMPY=1 turns the kernels off for the process; observations do not change."""
    script = (
        "import numpy as np; from unimal_gym.envs import UnimalEnv, ACCELERATED; "
        f"env = UnimalEnv(robot={str(OWN_XML / 'unimal-train-003.xml')!r}, task='vt'); env.reset(seed=4); "
        "obs = env.step(np.full(24, 0.3))[0]; "
        "print(ACCELERATED, obs['proprioceptive'].tobytes().hex(), obs['hfield'].tobytes().hex())"
    )
    outputs = {}
    for flag in ("1", "0"):
        env = {**os.environ, "UNIMAL_GYM_PURE_NUMPY": flag}
        run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
        outputs[flag] = run.stdout.split()
    assert outputs["1"][0] == "False"
    assert outputs["0"][0] == str(kernels._compiled is not None)
    assert outputs["1"][1:] == outputs["0"][1:]


@built
def test_abs_sum_equals_numpy() -> None:
    """The energy term's Σ|qfrc_actuator[1:]| sums in numpy's pairwise order: the same float, every length."""
    rng = np.random.default_rng(7)
    for n in [*range(0, 140), 255, 256, 257, 1000]:
        for _ in range(20):
            a = rng.standard_normal(n) * 10.0 ** rng.uniform(-8, 8, n)
            assert kernels._compiled.abs_sum(a) == kernels.numpy_abs_sum(a), n
    with pytest.raises(TypeError, match="float64"):
        kernels._compiled.abs_sum(np.zeros(4, dtype=np.float32))


@in_use
def test_ctrl_setter_equals_numpy_and_defers_anything_else() -> None:
    """The one-call action check + ctrl write: same ctrl as numpy's take; any other input is left to numpy."""
    env = UnimalEnv(robot=OWN_XML / "unimal-train-086.xml")
    env.reset(seed=0)
    views, actuated = env._current.views, env._current.observation.actuated
    rng = np.random.default_rng(3)
    for dtype in (np.float64, np.float32):
        action = (rng.uniform(-2, 2, 24)).astype(dtype)
        assert views.set_ctrl(action) == 0
        np.testing.assert_array_equal(env.data.ctrl, np.asarray(action, dtype=np.float64)[actuated])
    before = env.data.ctrl.copy()
    padded = int(np.flatnonzero(env.step(np.zeros(24))[0]["act_padding_mask"])[0])
    env.data.ctrl[:] = before
    nan_in_padding = np.zeros(24)
    nan_in_padding[padded] = np.nan
    for action, status in [
        ([0.1] * 24, 1),  # a list
        (np.zeros(23), 1),
        (np.zeros(24, dtype=np.int64), 1),
        (np.zeros(48)[::2], 1),  # not contiguous
        (np.zeros((2, 12)), 1),  # 24 numbers of another shape: numpy refuses them
        (np.zeros((1, 24), dtype=np.float32), 1),
        (np.full(24, np.inf, dtype=np.float32), 2),
        (nan_in_padding, 2),  # NaN in a padded slot is still an error, as on the numpy path
    ]:
        assert views.set_ctrl(action) == status
        np.testing.assert_array_equal(env.data.ctrl, before)  # nothing written
    with pytest.raises(InvalidActionError, match=rf"NaN or inf at slots \[{padded}\]"):
        env.step(nan_in_padding)
    env.step([0.1] * 24)  # a list goes through numpy
    np.testing.assert_array_equal(env.data.ctrl, np.full(len(actuated), 0.1))
