"""Offscreen rendering with the original's cameras (needs EGL or OSMesa; skipped without either)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
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


@pytest.mark.slow
def test_rgb_array_rendering() -> None:
    backend = _gl_backend()
    if backend is None:
        pytest.skip("no offscreen OpenGL: neither MUJOCO_GL=egl nor MUJOCO_GL=osmesa can create a context here")
    env = {**os.environ, "MUJOCO_GL": backend}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(robot=str(ROBOT))], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0 and "rendered" in result.stdout, result.stderr[-2000:]


def _read_png(path) -> tuple[int, int, bytes]:
    """Width, height and the decoded scanlines of a PNG written by unimal_gym.media."""
    import struct
    import zlib

    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    idat = data.index(b"IDAT")
    (length,) = struct.unpack(">I", data[idat - 4 : idat])
    return width, height, zlib.decompress(data[idat + 4 : idat + 4 + length])


@pytest.mark.slow
def test_cli_render_png_and_video(tmp_path) -> None:
    backend = _gl_backend()
    if backend is None:
        pytest.skip("no offscreen OpenGL: neither MUJOCO_GL=egl nor MUJOCO_GL=osmesa can create a context here")
    env = {**os.environ, "MUJOCO_GL": backend}
    png = tmp_path / "robot.png"
    cmd = [sys.executable, "-m", "unimal_gym", "render", str(ROBOT), "-o", str(png), "--width", "96", "--height", "64"]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    width, height, rows = _read_png(png)
    assert (width, height) == (96, 64) and len(rows) == 64 * (1 + 96 * 3)
    pixels = np.frombuffer(rows, dtype=np.uint8).reshape(64, 1 + 96 * 3)[:, 1:]
    assert pixels.std() > 1.0, "blank image"

    pytest.importorskip("imageio_ffmpeg", reason="video needs the [video] extra")
    video = tmp_path / "rollout.mp4"
    cmd = [
        sys.executable,
        "-m",
        "unimal_gym",
        "render",
        str(ROBOT),
        "--video",
        "-o",
        str(video),
        "--steps",
        "20",
        "--width",
        "96",
        "--height",
        "64",
    ]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    import imageio.v2 as imageio

    frames = imageio.mimread(video)
    assert 2 <= len(frames) <= 21 and frames[0].shape == (64, 96, 3)


def test_png_writer_rejects_bad_frames(tmp_path) -> None:
    from unimal_gym.media import MediaError, write_png

    with pytest.raises(MediaError, match=r"\(H, W, 3\) uint8"):
        write_png(tmp_path / "x.png", np.zeros((4, 4), dtype=np.uint8))
