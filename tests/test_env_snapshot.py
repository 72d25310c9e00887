"""Env snapshots: ``UnimalEnv.snapshot()`` restored into another env goes on bit for bit alike.

The truth is the env that was never interrupted: both are stepped with the same actions through several
episode ends and resets, and every observation, reward, flag and info must be equal (``np.array_equal``,
no tolerance). A snapshot is plain numbers and arrays, so it survives a ``torch.save`` / ``weights_only``
round trip (how PPO checkpoints carry it).
"""

from __future__ import annotations

import io

import gymnasium as gym
import numpy as np
import pytest

import unimal_gym  # noqa: F401  (registers the environments)
from unimal_gym.envs import UnimalVectorEnv
from unimal_gym.envs.errors import InvalidStateError
from unimal_gym.layout import ENV_IDS

ROBOTS = ["unimal-train-000", "unimal-train-001", "unimal-train-002"]


def _same(a: tuple, b: tuple) -> bool:
    """Two ``step`` results equal bit for bit (observation keys, reward, flags, info values)."""
    (oa, ra, ta, ua, ia), (ob, rb, tb, ub, ib) = a, b
    same_obs = oa.keys() == ob.keys() and all(np.array_equal(oa[k], ob[k]) for k in oa)
    same_info = ia.keys() == ib.keys() and all(np.array_equal(ia[k], ib[k]) for k in ia)
    return same_obs and same_info and (ra, ta, ua) == (rb, tb, ub)


def _round_trip(snapshot: dict) -> dict:
    """Through torch's safe loader, as in a checkpoint (arrays as tensors and back)."""
    torch = pytest.importorskip("torch")
    from baselines.common.files import from_payload, to_payload

    buffer = io.BytesIO()
    torch.save(to_payload(snapshot), buffer)
    buffer.seek(0)
    return from_payload(torch.load(buffer, weights_only=True))


@pytest.mark.parametrize("task", ["ft", "vt", "obstacle"])
def test_a_restored_env_goes_on_bit_for_bit_through_resets(task: str) -> None:
    rng = np.random.default_rng(7)
    actions = rng.uniform(-1, 1, (400, 24))
    original = gym.make(ENV_IDS[task], robots=ROBOTS, max_episode_steps=60).unwrapped
    original.reset(seed=3)
    steps = 0
    for action in actions[:45]:  # into the first episode's middle, past a fall or two
        *_, terminated, truncated, _ = original.step(action)
        steps += 1
        if terminated or truncated or steps % 60 == 0:
            original.reset()
    snapshot = _round_trip(original.snapshot())
    copy = gym.make(ENV_IDS[task], robots=ROBOTS).unwrapped  # never reset: restore() compiles what it needs
    copy.restore(snapshot)
    ends = 0
    for t, action in enumerate(actions[45:], 45):
        a, b = original.step(action), copy.step(action)
        assert _same(a, b), f"{task}: step {t} differs"
        if a[2] or a[3] or (t + 1) % 60 == 0:  # ends (and, for long episodes, a forced new one) on both
            ends += 1
            ra, rb = original.reset(), copy.reset()
            assert all(np.array_equal(ra[0][k], rb[0][k]) for k in ra[0]) and ra[1] == rb[1]
    assert ends >= 4


def test_a_vector_env_snapshot_restores_every_sub_env() -> None:
    rng = np.random.default_rng(1)
    actions = rng.uniform(-1, 1, (120, 3, 24)).astype(np.float32)
    a = UnimalVectorEnv(3, robots=ROBOTS, task="vt", max_episode_steps=40, num_threads=2)
    b = UnimalVectorEnv(3, robots=ROBOTS, task="vt", max_episode_steps=40, num_threads=1)
    a.reset(seed=11)
    for action in actions[:30]:
        a.step(action)
    b.reset(seed=99)  # another history: all of it is replaced
    b.restore(_round_trip(a.snapshot()))
    for t, action in enumerate(actions[30:], 30):
        oa, ra, ta, ua, _ = a.step(action)
        ob, rb, tb, ub, _ = b.step(action)
        assert all(np.array_equal(oa[k], ob[k]) for k in oa), t
        assert np.array_equal(ra, rb) and np.array_equal(ta, tb) and np.array_equal(ua, ub), t
    a.close()
    b.close()


def test_snapshot_errors_name_what_is_wrong() -> None:
    env = gym.make("Unimal-FT-v0", robots=ROBOTS).unwrapped
    with pytest.raises(RuntimeError, match=r"snapshot\(\) needs an episode: call reset\(\) first"):
        env.snapshot()
    env.reset(seed=0, options={"robot": "unimal-train-000"})
    snapshot = env.snapshot()
    other = gym.make("Unimal-FT-v0", robots=["unimal-train-005"]).unwrapped
    with pytest.raises(InvalidStateError, match=r"^snapshot robot 'unimal-train-000' is not one of this env's robots"):
        other.restore(snapshot)
    with pytest.raises(InvalidStateError, match=r"snapshot lacks 'physics': not a UnimalEnv.snapshot\(\)"):
        env.restore({k: v for k, v in snapshot.items() if k != "physics"})
    with pytest.raises(
        InvalidStateError, match=r"snapshot physics for robot 'unimal-train-000' has shape \(\d+,\); its"
    ):
        env.restore({**snapshot, "physics": snapshot["physics"][:-1]})
    with pytest.raises(InvalidStateError, match=r"^snapshot xpos for robot 'unimal-train-000' holds NaN or inf"):
        env.restore({**snapshot, "xpos": snapshot["xpos"] * np.nan})
    with pytest.raises(InvalidStateError, match=r"^snapshot weights must be numbers: could not convert"):
        env.restore({**snapshot, "weights": "heavy"})
    with pytest.raises(InvalidStateError, match=r"^snapshot is broken: "):
        env.restore({**snapshot, "last_obs": 3})
    with pytest.raises(InvalidStateError, match=r"^snapshot generator state names 'Mersenne'"):
        env.restore({**snapshot, "rng": {**snapshot["rng"], "bit_generator": "Mersenne"}})
    terrain = gym.make("Unimal-VT-v0", robots=ROBOTS).unwrapped
    terrain.reset(seed=0)
    layout = terrain._arena.layout
    terrain.reset(options={"terrain": layout})
    with pytest.raises(RuntimeError, match=r"options\['terrain'\] \(a layout object\)"):
        terrain.snapshot()


def test_a_vt_snapshot_carries_the_grown_slot_capacity() -> None:
    """A replayed corridor beyond the generator's can grow VT's ground slots; later episodes are then stepped
    with more slots (another collision order), so a restored env takes the same capacity."""
    from unimal_gym.envs.terrain import Capacity

    original = gym.make("Unimal-VT-v0", robots=ROBOTS).unwrapped
    grown = original._arena.capacity
    original._arena.capacity = Capacity(grown.boxes + 3, grown.hfields + 2, grown.columns + 40)  # as a replay would
    original._arena.layout_version += 1
    original.reset(seed=4)
    actions = np.random.default_rng(2).uniform(-1, 1, (150, 24))
    for action in actions[:20]:
        original.step(action)
    copy = gym.make("Unimal-VT-v0", robots=ROBOTS).unwrapped
    copy.restore(original.snapshot())
    assert copy._arena.capacity == original._arena.capacity
    for t, action in enumerate(actions[20:], 20):
        a, b = original.step(action), copy.step(action)
        assert _same(a, b), t
        if a[2] or a[3]:
            original.reset()
            copy.reset()
