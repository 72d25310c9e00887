"""VT and Obstacle against the original's recordings, and the terrain / obstacle generators' statistics."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest
from conftest import ORACLE, TRAIN_XML, needs_shared, oracle_robots
from test_env_ft import replay

from unimal_gym.envs import UnimalEnv
from unimal_gym.envs.hfield import HeightMap
from unimal_gym.envs.terrain import (
    Capacity,
    ObstacleConfig,
    ObstacleCourse,
    TerrainConfig,
    TerrainCorridor,
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
            profile, _ = _profile("steps", rows, ncol, config, np.random.default_rng())
            np.testing.assert_allclose(rise, profile - 1.0, atol=1e-9)
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
    used = a.geom_dataid[a.geom_type == mujoco.mjtGeom.mjGEOM_HFIELD]  # the heightfields the ground geoms use
    assert np.array_equal(used, b.geom_dataid[b.geom_type == mujoco.mjtGeom.mjGEOM_HFIELD]) and len(used) > 0
    for k in used:
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


# ---------------------------------------------------------------------------------------------- in-place corridors
def _compiled_vt_env(robot: str, **kwargs: object) -> UnimalEnv:
    """A VT env whose arena compiles every corridor into a model of its own (the reference of the in-place one)."""
    env = UnimalEnv(robot=robot, task="vt", **kwargs)
    env._arena = TerrainCorridor(env._arena.config, in_place=False)
    return env


def _same_reset(a: tuple, b: tuple, where: str) -> None:
    (obs_a, info_a), (obs_b, info_b) = a, b
    for key in obs_a:
        np.testing.assert_array_equal(obs_a[key], obs_b[key], err_msg=f"{where}: {key}")
    assert info_a == info_b, where


def _same_step(a: tuple, b: tuple, where: str) -> None:
    (obs_a, *rest_a), (obs_b, *rest_b) = a, b
    for key in obs_a:
        np.testing.assert_array_equal(obs_a[key], obs_b[key], err_msg=f"{where}: {key}")
    info_a, info_b = rest_a[-1], rest_b[-1]
    assert rest_a[:-1] == rest_b[:-1], where
    assert info_a.keys() == info_b.keys(), where
    for key in info_a:
        assert np.array_equal(info_a[key], info_b[key]), f"{where}: info {key}"


@pytest.mark.parametrize("robot", ["unimal-train-000", "unimal-train-007"])
def test_in_place_corridors_step_bitwise_like_compiled_ones(robot: str) -> None:
    """A corridor written into the robot's one model steps exactly as the model compiled for it: the robot is
    dropped over every segment of three corridors (boxes, hills, steps, rubble) and driven by random actions."""
    in_place, compiled = UnimalEnv(robot=robot, task="vt"), _compiled_vt_env(robot)
    assert in_place._arena.in_place and not compiled._arena.in_place
    rng = np.random.default_rng(0)
    kinds = set()
    for seed in range(3):
        _same_reset(in_place.reset(seed=seed), compiled.reset(seed=seed), f"seed {seed}")
        layout = in_place._arena.layout
        qpos0 = in_place.data.qpos.copy()
        for seg in layout.segments:
            kinds.add("box" if seg.profile is None else float(seg.profile.max()))
            qpos = qpos0.copy()
            qpos[0], qpos[2] = seg.x, qpos0[2] + 1.0
            options = {"terrain": layout, "qpos": qpos}
            _same_reset(in_place.reset(options=options), compiled.reset(options=options), f"x {seg.x}")
            for t in range(40):
                action = rng.uniform(-1, 1, 24)
                _same_step(in_place.step(action), compiled.step(action), f"seed {seed}, x {seg.x}, step {t}")
    assert len(kinds) >= 4  # boxes and heightfields of several heights were stood on


def test_in_place_slots_hold_what_the_compiler_derives() -> None:
    """Every number the slot model holds for the corridor's ground equals what MuJoCo compiles from its XML."""
    in_place, compiled = UnimalEnv(robot="unimal-train-003", task="vt"), _compiled_vt_env("unimal-train-003")
    for seed in range(4):
        in_place.reset(seed=seed)
        compiled.reset(seed=seed)
        a, b = in_place.model, compiled.model
        segments = in_place._arena.layout.segments
        for k, seg in enumerate(segments):
            ref, slot = b.geom(f"floor/{k}").id, a.geom(f"floor/{k}").id
            if seg.profile is not None:
                h_a, h_b = a.geom_dataid[slot], b.geom_dataid[ref]
                np.testing.assert_array_equal(a.hfield_size[h_a], b.hfield_size[h_b])
                assert (a.hfield_nrow[h_a], a.hfield_ncol[h_a]) == (b.hfield_nrow[h_b], b.hfield_ncol[h_b])
                n = a.hfield_nrow[h_a] * a.hfield_ncol[h_a]
                data_a = a.hfield_data[a.hfield_adr[h_a] : a.hfield_adr[h_a] + n]
                np.testing.assert_array_equal(data_a, b.hfield_data[b.hfield_adr[h_b] : b.hfield_adr[h_b] + n])
            for field in (
                "geom_pos",
                "geom_size",
                "geom_rbound",
                "geom_aabb",
                "geom_type",
                "geom_matid",
                "geom_bodyid",
            ):
                np.testing.assert_array_equal(getattr(a, field)[slot], getattr(b, field)[ref], err_msg=field)
        for k in range(len(segments), in_place._arena.capacity.slots):  # the rest are parked far below
            assert a.geom_pos[a.geom(f"floor/{k}").id][2] == -100.0


def test_corridor_capacity_holds_every_generated_corridor_and_grows_for_replays() -> None:
    config = TerrainConfig()
    capacity = Capacity.of(config)
    assert (capacity.boxes, capacity.hfields) == (30, 10)  # 1 + 10 + ⌈(320 + 60) / 20⌉; 10 = ⌊1040 / 100⌋
    most = 0
    for seed in range(300):
        layout = generate_corridor(config, np.random.default_rng(seed))
        assert capacity.holds(layout)
        most = max(most, len(layout.segments))
    assert most <= 20  # drawn: at most 20 segments in 5000 seeds
    # a replayed H with a 2-column bump every 5 columns: 200 heightfields, more than the generator ever draws
    heights = np.ones((config.rows, config.cols))
    heights[:, 60::5] = heights[:, 61::5] = 1.2
    padded = pad_heights(heights, config)
    env, reference = UnimalEnv(robot="unimal-train-000", task="vt"), _compiled_vt_env("unimal-train-000")
    env.reset(seed=0)
    version = env._arena.layout_version
    qpos = env.data.qpos.copy()
    qpos[0] = 20.0
    options = {"terrain_hfield": padded, "qpos": qpos}
    _same_reset(env.reset(options=options), reference.reset(options=options), "reset")
    assert env._arena.layout_version == version + 1 and env._arena.capacity.hfields > 100  # recompiled, once
    # the robot stands on several 0.2-0.3 m ground pieces at once: their contacts come in another order than
    # the XML path's (its world body's BVH order, here slot order), so the solver's sums differ in the last bits
    rng = np.random.default_rng(1)
    for t in range(30):
        action = rng.uniform(-1, 1, 24)
        (obs, reward, *flags, _), (obs_ref, reward_ref, *flags_ref, _) = env.step(action), reference.step(action)
        np.testing.assert_allclose(obs["proprioceptive"], obs_ref["proprioceptive"], rtol=0, atol=1e-9, err_msg=f"{t}")
        assert abs(reward - reward_ref) < 1e-9 and flags == flags_ref


def test_seeds_draw_the_corridors_and_courses_they_always_drew() -> None:
    """A seed's VT corridor (H) and Obstacle course (H with boxes, and the boxes) are the v0 generator's: these
    digests were written by the code before the in-place rewrite (a corridor compiled per episode), and a reset
    of an arena that already held another course rewrites it to the same numbers."""
    import hashlib

    def digest(a: np.ndarray) -> str:
        return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()[:16]

    corridors = {0: "ab850a6581a79004", 1: "5713d8a23d128397", 2: "a3e03499740d71a4"}
    for seed, expected in corridors.items():
        assert digest(generate_corridor(TerrainConfig(), np.random.default_rng(seed)).heights) == expected
    courses = {
        0: ("25dfa6f3a1d5f36a", "3e127f39b5849997"),
        1: ("6df62f5e5fec9e53", "6f78b9885e258bb9"),
        2: ("29756526ee20c2b9", "fb5aa883c1d64ad7"),
    }
    arena = ObstacleCourse(ObstacleConfig())
    for seed in (2, 0, 1, 2):  # each course written over the previous one
        arena.new_episode(np.random.default_rng(seed), {})
        assert (digest(arena.map.heights), digest(arena.obstacles)) == courses[seed]
