"""VT and Obstacle against the original's recordings, and the terrain / obstacle generators' statistics."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import ORACLE, TRAIN_XML, needs_shared, oracle_robots
from test_env_ft import replay

from unimal_gym.envs import UnimalEnv
from unimal_gym.envs.hfield import HeightMap
from unimal_gym.envs.terrain import (
    TerrainConfig,
    TerrainLayout,
    _profile,
    generate_corridor,
    obstacles_from_mjcf,
    pad_heights,
    triangle_wave,
)

ROBOTS5 = oracle_robots("vt_train5_meta.json")


@pytest.fixture(scope="module")
def vt_oracle() -> np.lib.npyio.NpzFile:
    return np.load(ORACLE / "vt_train5.npz")


@pytest.fixture(scope="module")
def obstacle_oracle() -> np.lib.npyio.NpzFile:
    return np.load(ORACLE / "obstacle_train5.npz")


@needs_shared
@pytest.mark.parametrize("name", ROBOTS5)
def test_vt_matches_original(name: str, vt_oracle: np.lib.npyio.NpzFile) -> None:
    layout = TerrainLayout.from_mjcf(
        str(vt_oracle[f"{name}/xml"]), vt_oracle[f"{name}/terrain_hfield"], TerrainConfig()
    )
    env = UnimalEnv(robot=TRAIN_XML / f"{name}.xml", task="vt")
    replay(env, vt_oracle, name, {"terrain": layout})
    np.testing.assert_array_equal(env._arena.map.heights, vt_oracle[f"{name}/terrain_hfield"])


@needs_shared
@pytest.mark.parametrize("name", ROBOTS5)
def test_obstacle_matches_original(name: str, obstacle_oracle: np.lib.npyio.NpzFile) -> None:
    env = UnimalEnv(robot=TRAIN_XML / f"{name}.xml", task="obstacle")
    model = env.model
    replay(env, obstacle_oracle, name, {"obstacles": obstacles_from_mjcf(str(obstacle_oracle[f"{name}/xml"]))})
    # H rebuilt from the recorded boxes equals the recorded H (walls 4.0, boxes 3.0, gap −10)
    np.testing.assert_array_equal(env._arena.map.heights, obstacle_oracle[f"{name}/terrain_hfield"])
    assert env.model is model, "the obstacle course must be updated in place, not recompiled"


@needs_shared
@pytest.mark.parametrize("compiled", [False, None], ids=["numpy", "default"])
@pytest.mark.parametrize(("npz", "col_origin"), [("vt_train5.npz", 130), ("obstacle_train5.npz", 140)])
def test_hfield_probes(npz: str, col_origin: int, compiled: bool | None) -> None:
    """At all 48 recorded torso poses, the unrotated and rotated hfield and torso_height are the original's
    (with the numpy sampler, and with the default one: the compiled kernel where it is built)."""
    rec = np.load(ORACLE / npz)
    name = ROBOTS5[0]
    hmap = HeightMap(rec[f"{name}/terrain_hfield"], col_origin, compiled=compiled)
    for k, (qpos, xmat) in enumerate(zip(rec[f"{name}/probe/qpos"], rec[f"{name}/probe/torso_xmat"], strict=True)):
        x, y, z = qpos[:3]
        assert hmap.index(x, y) == tuple(rec[f"{name}/probe/hfield_idx"][k])
        unrotated, centre = hmap.observe(x, y, None)
        rotated, centre_rotated = hmap.observe(x, y, xmat[:2, 0])
        np.testing.assert_array_equal(unrotated, rec[f"{name}/probe/hfield_noRot"][k])
        np.testing.assert_array_equal(rotated, rec[f"{name}/probe/hfield_rot"][k])
        assert round(z - max(0.0, hmap.height(x, y)), 3) == rec[f"{name}/probe/torso_height"][k]
        assert centre == centre_rotated == hmap.height(x, y)


@needs_shared
def test_vt_probe_through_env(vt_oracle: np.lib.npyio.NpzFile) -> None:
    """The env's own hfield path (set_state at a probe pose, then reset-style and step-style sampling)."""
    name = ROBOTS5[0]
    env = UnimalEnv(robot=TRAIN_XML / f"{name}.xml", task="vt")
    env.reset(options={"terrain_hfield": vt_oracle[f"{name}/terrain_hfield"]})
    for k in (5, 17, 40):
        env.set_state(vt_oracle[f"{name}/probe/qpos"][k], np.zeros(env.model.nv))
        x, y, z = env.data.xpos[env._current.observation.torso_id].tolist()
        unrotated, ground = env._observation(False, x, y)
        rotated, ground_rotated = env._observation(True, x, y)
        np.testing.assert_array_equal(unrotated["hfield"], vt_oracle[f"{name}/probe/hfield_noRot"][k])
        np.testing.assert_array_equal(rotated["hfield"], vt_oracle[f"{name}/probe/hfield_rot"][k])
        assert ground == ground_rotated == env._arena.ground_height(x, y)
        assert round(z - ground, 3) == vt_oracle[f"{name}/probe/torso_height"][k]


@needs_shared
@pytest.mark.parametrize("task", ["vt", "obstacle"])
def test_ground_comes_with_the_hfield_sample(task: str) -> None:
    """The ground height the hfield sample returns is the clipped H cell under the torso, on the corridor,
    on obstacles and walls, and beyond the edges (gap, −10 in H, reads 0), whatever was sampled before."""
    env = UnimalEnv(robot=TRAIN_XML / f"{ROBOTS5[0]}.xml", task=task)
    env.reset(seed=1)
    arena, rng = env._arena, np.random.default_rng(0)
    points = [(x, y) for x, y in zip(rng.uniform(-20, 110, 300), rng.uniform(-30, 30, 300), strict=True)]
    points += [(float(x), float(y)) for x, y, _, _ in arena.obstacles] if task == "obstacle" else []
    grounds = set()
    for k, (x, y) in enumerate(points):
        heading = None if k % 2 else np.array([np.cos(k), np.sin(k)])
        values, ground = arena.hfield_observation(x, y, heading)
        assert values.shape == (1410,)
        arena.hfield_observation(-x, -y, None)  # another sample in between changes nothing
        assert ground == arena.ground_height(x, y) == max(0.0, float(arena.map.heights[arena.map.index(x, y)]))
        grounds.add(ground)
    assert 0.0 in grounds and 1.0 in grounds
    top = 3.0 if task == "obstacle" else max(grounds)  # a box; a hill, step or rubble
    assert top in grounds and top > 1.0


@needs_shared
@pytest.mark.parametrize("task", ["ft", "vt"])
def test_step_torso_height_is_measured_from_the_steps_sample(task: str) -> None:
    """info["torso_height"] on reset and steps is the torso's z above the ground under it, rounded to 1 mm."""
    env = UnimalEnv(robot=TRAIN_XML / f"{ROBOTS5[0]}.xml", task=task, terminate_on_fall=False)
    _, info = env.reset(seed=3)
    env.action_space.seed(3)
    views = env._current.views
    for _ in range(30):
        x, y, z = views.torso_pos.tolist()
        assert info["torso_height"] == round(z - env._arena.ground_height(x, y), 3)
        _, _, _, _, info = env.step(env.action_space.sample())


@needs_shared
def test_recorded_profiles_are_the_generators(vt_oracle: np.lib.npyio.NpzFile) -> None:
    """Every hill, step and rubble segment of the recorded terrain is one our generator can draw."""
    name = ROBOTS5[0]
    config = TerrainConfig()
    layout = TerrainLayout.from_mjcf(str(vt_oracle[f"{name}/xml"]), vt_oracle[f"{name}/terrain_hfield"], config)
    kinds = set()
    for seg in layout.segments:
        if seg.profile is None:
            continue
        rows, ncol = seg.profile.shape
        rise = seg.profile - 1.0
        if seg.half_length in (12.0, 16.0):
            kinds.add("steps")
            np.testing.assert_allclose(rise, _profile("steps", rows, ncol, config, np.random.default_rng()), atol=1e-9)
        elif np.all(rise == rise[0]):
            kinds.add("curve_slope")
            peak = round(rise.max() / np.sin(np.linspace(0, np.pi, ncol)).max(), 1)
            np.testing.assert_allclose(
                rise[0], np.round(peak * np.sin(np.linspace(0, np.pi, ncol)) + 1, 3) - 1, atol=1e-9
            )
        else:
            kinds.add("rugged_square")
            for row in rise:
                candidates = [
                    np.round(np.minimum(triangle_wave(np.linspace(0, f * np.pi, ncol)) + 1, c) + 1, 3) - 1
                    for f in config.rugged_frequencies
                    for c in (0.2, 0.3)
                ]
                assert any(np.allclose(row, cand, atol=1e-9) for cand in candidates)
    assert kinds == {"steps", "curve_slope", "rugged_square"}


def test_corridor_statistics() -> None:
    """docs/environment.md §2.3 over 200 seeds: 3–7 obstacle segments (mean ≈ 4.6), end at x = 107, first
    obstacle at 5–9 m."""
    config = TerrainConfig()
    counts, firsts = [], []
    for seed in range(200):
        layout = generate_corridor(config, np.random.default_rng(seed))
        last = layout.segments[-1]
        assert last.x + last.half_length == pytest.approx(107.0)
        assert layout.heights.shape == (400, 1100)
        assert pad_heights(layout.heights, config).shape == (600, 1300)
        hills = [s for s in layout.segments if s.profile is not None]
        counts.append(len(hills))
        firsts.append(hills[0].x - hills[0].half_length)
        for a, b in zip(layout.segments, layout.segments[1:], strict=False):
            assert a.x + a.half_length == pytest.approx(b.x - b.half_length)
        assert layout.heights.min() >= 1.0 and layout.heights.max() <= 2.2
    assert 3 <= min(counts) and max(counts) <= 7
    assert 4.3 <= np.mean(counts) <= 4.9
    assert 5.0 <= min(firsts) and max(firsts) <= 9.0


@needs_shared
def test_obstacle_statistics() -> None:
    """docs/environment.md §2.4: boxes inside the corridor, x ≥ 3.5, non-overlapping, nearly all 50 placed,
    ~3 % coverage."""
    env = UnimalEnv(robot=TRAIN_XML / f"{ROBOTS5[0]}.xml", task="obstacle")
    placed = []
    for seed in range(20):
        env.reset(seed=seed)
        boxes = env._arena.obstacles
        placed.append(len(boxes))
        x, y, bl, bw = boxes.T
        assert np.all(x - bl >= 3.0 - 1e-9) and np.all(x + bl <= 91.0 + 1e-9) and np.all(np.abs(y) + bw <= 20 + 1e-9)
        assert x.min() >= 3.5
        heights = env._arena.map.heights
        coverage = np.mean(heights[110:-110, 110:-110] == 3.0)
        assert 0.015 < coverage < 0.05
        z = env.model.body_pos[env.model.body("obstacle/0").id :][: len(boxes), 2]
        np.testing.assert_allclose(z, 3.1)
    assert np.mean(placed) > 48


@needs_shared
def test_unmirrored_rubble_option() -> None:
    """mirror_rugged=False writes the rows flipped, so physics and observation agree in y."""
    name = ROBOTS5[0]
    mirrored = UnimalEnv(robot=TRAIN_XML / f"{name}.xml", task="vt")
    fixed = UnimalEnv(robot=TRAIN_XML / f"{name}.xml", task="vt", terrain=TerrainConfig(mirror_rugged=False))
    mirrored.reset(seed=4)
    fixed.reset(seed=4)
    a, b = mirrored.model, fixed.model
    assert a.nhfield == b.nhfield > 0
    for k in range(a.nhfield):
        adr, n = a.hfield_adr[k], a.hfield_nrow[k] * a.hfield_ncol[k]
        rows = a.hfield_data[adr : adr + n].reshape(a.hfield_nrow[k], -1)
        np.testing.assert_array_equal(rows[::-1], b.hfield_data[adr : adr + n].reshape(rows.shape))


def test_generated_heights_are_rounded_profiles() -> None:
    """H holds every segment's profile rounded to 3 decimals (docs/environment.md §2.3), flat ground at exactly 1.0."""
    from unimal_gym.envs.terrain import cells

    config = TerrainConfig()
    for seed in range(5):
        layout = generate_corridor(config, np.random.default_rng(seed))
        np.testing.assert_array_equal(layout.heights, np.round(layout.heights, 3))
        for seg in layout.segments:
            start = cells(seg.x - seg.half_length + config.start_flat)
            block = layout.heights[:, start : start + cells(2 * seg.half_length)]
            expected = 1.0 if seg.profile is None else np.round(seg.profile, 3)
            np.testing.assert_array_equal(block, np.broadcast_to(expected, block.shape))
