"""Offscreen rendering with the original's cameras (needs EGL or OSMesa; skipped without either)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import TRAIN_XML

ROBOT = TRAIN_XML / "floor-1409-5-4-01-13-42-51.xml"
SCRIPT = """
import numpy as np
from unimal_gym.envs import UnimalEnv
for task, camera in (("ft", None), ("vt", "top_down"), ("obstacle", "patrol_view")):
    env = UnimalEnv(robot={robot!r}, task=task, render_mode="rgb_array", width=160, height=120, camera_name=camera)
    env.reset(seed=0)
    first = env.render()
    env.step(np.zeros(24))
    env.reset(seed=1)
    image = env.render()
    assert image.shape == (120, 160, 3) and image.dtype == np.uint8, (task, image.shape, image.dtype)
    assert image.std() > 1.0 and first.std() > 1.0, (task, "blank image")
    env.close()
print("rendered")
"""


def _gl_backend() -> str | None:
    """The first of egl, osmesa with which MuJoCo can open an offscreen context in a fresh process."""
    probe = "import mujoco; mujoco.Renderer(mujoco.MjModel.from_xml_string('<mujoco/>'), 8, 8)"
    for backend in ("egl", "osmesa"):
        env = {**os.environ, "MUJOCO_GL": backend}
        if subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, timeout=60).returncode == 0:
            return backend
    return None


def test_rgb_array_rendering() -> None:
    backend = _gl_backend()
    if backend is None:
        pytest.skip("no offscreen OpenGL: neither MUJOCO_GL=egl nor MUJOCO_GL=osmesa can create a context here")
    env = {**os.environ, "MUJOCO_GL": backend}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(robot=str(ROBOT))], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0 and "rendered" in result.stdout, result.stderr[-2000:]
