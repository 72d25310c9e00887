"""Context features, masks, edges and adjacency against the original environment's recordings."""

from __future__ import annotations

from pathlib import Path

import mujoco
import numpy as np
import pytest
from conftest import needs_shared, train_robot_files

from unimal_gym.morphology import compile_robot, load
from unimal_gym.morphology.context import CONTEXT_DIM, MAX_LIMBS, context

pytestmark = needs_shared  # every test reads the original robots


@pytest.mark.parametrize("path", train_robot_files(), ids=lambda p: p.stem)
def test_context_equals_oracle(path: Path, ft_oracle) -> None:
    ours = context(path)
    rec = {k: ft_oracle[f"{path.stem}/reset/{k}"] for k in ours}
    assert ours["context"].shape == (MAX_LIMBS * CONTEXT_DIM,)
    np.testing.assert_allclose(ours["context"], rec["context"], rtol=0, atol=1e-6)
    for key in ("edges", "obs_padding_mask", "act_padding_mask", "adjacency_matrix"):
        assert ours[key].dtype == rec[key].dtype, key
        assert np.array_equal(ours[key], rec[key]), key


@pytest.mark.parametrize("path", train_robot_files(), ids=lambda p: p.stem)
def test_mujoco200_masses_equal_recorded_body_mass(path: Path, ft_oracle) -> None:
    """Decision 2: compiled body_mass equals the original's (proprioceptive column 27)."""
    model = compile_robot(path, z_offset=1.0)
    n = load(path).num_bodies
    recorded = ft_oracle[f"{path.stem}/reset/proprioceptive"].reshape(MAX_LIMBS, 52)[:n, 27]
    np.testing.assert_allclose(model.body_mass[1 : n + 1], recorded, rtol=0, atol=1e-12)


def test_modern_masses_differ() -> None:
    """Without the decision-2 inertials the lightest capsule weighs modern MuJoCo's value."""
    path = train_robot_files()[0]
    modern = compile_robot(path, mass_convention="modern")
    ours = compile_robot(path)
    assert not np.allclose(modern.body_mass, ours.body_mass)
    assert isinstance(modern, mujoco.MjModel)


def test_context_is_morphology_only(tmp_path: Path) -> None:
    """Context of a morphology object equals the context of its file."""
    path = train_robot_files()[3]
    a = context(path)
    b = context(load(path))
    for key in a:
        assert np.array_equal(a[key], b[key])
