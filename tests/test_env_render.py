"""Offscreen rendering with the original's cameras (needs EGL or OSMesa; skipped without either)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import TRAIN_XML, needs_shared

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


@needs_shared
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


@needs_shared
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


HEADLESS_SCRIPT = """
import os
import gymnasium as gym
import numpy as np
import unimal_gym
from gymnasium.wrappers import RecordVideo

env = gym.make("Unimal-FT-v0", robot="unimal-train-000", render_mode="depth_array", width=64, height=48)
env.reset(seed=0)
depth = env.render()
assert depth.shape == (48, 64) and depth.dtype == np.float32, (depth.shape, depth.dtype)
assert np.isfinite(depth).all() and depth.min() > 0 and depth.std() > 0, "not a depth image"
env.close()
env = gym.make("Unimal-FT-v0", robot="unimal-train-000", render_mode="rgb_array", width=64, height=48,
               max_episode_steps=20)
env = RecordVideo(env, {folder!r}, episode_trigger=lambda episode: True, disable_logger=True)
env.reset(seed=0)
done = False
while not done:
    _, _, terminated, truncated, _ = env.step(env.action_space.sample())
    done = terminated or truncated
env.close()
print("backend", os.environ.get("MUJOCO_GL"))
"""


@pytest.mark.slow
def test_headless_depth_array_and_record_video(tmp_path) -> None:
    """With no display and no MUJOCO_GL, the package picks an offscreen backend by itself; depth_array gives
    metres; Gymnasium's RecordVideo (moviepy, the [video] extra) writes an episode's video."""
    pytest.importorskip("moviepy")
    backend = _gl_backend()
    if backend is None:
        pytest.skip("no offscreen OpenGL: neither MUJOCO_GL=egl nor MUJOCO_GL=osmesa can create a context here")
    env = {
        k: v for k, v in os.environ.items() if k not in ("MUJOCO_GL", "DISPLAY", "WAYLAND_DISPLAY", "PYOPENGL_PLATFORM")
    }
    script = HEADLESS_SCRIPT.format(folder=str(tmp_path / "videos"))
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "backend egl" in result.stdout or "backend osmesa" in result.stdout
    videos = list((tmp_path / "videos").glob("*.mp4"))
    assert videos and videos[0].stat().st_size > 1000


def test_backend_choice_without_a_display() -> None:
    from unimal_gym.gl import choose_backend

    def libraries(*present: str):
        return lambda name: f"lib{name}.so" if name in present else None

    env: dict[str, str] = {}
    assert choose_backend(env, libraries("EGL", "OSMesa"), "linux") == "egl" and env["MUJOCO_GL"] == "egl"
    env = {}
    assert choose_backend(env, libraries("OSMesa"), "linux") == "osmesa"
    env = {}
    assert choose_backend(env, libraries(), "linux") is None and "MUJOCO_GL" not in env
    env = {"MUJOCO_GL": "glfw"}  # the user's choice stands
    assert choose_backend(env, libraries("EGL"), "linux") == "glfw"
    env = {"DISPLAY": ":0"}  # a display: MuJoCo's default
    assert choose_backend(env, libraries("EGL"), "linux") is None and "MUJOCO_GL" not in env
    env = {}
    assert choose_backend(env, libraries("EGL"), "darwin") is None
