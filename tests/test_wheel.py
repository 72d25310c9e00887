"""The built wheel stands on its own: installed into a fresh virtual environment and imported from another
folder, it finds its bundled robot sets (package data, not the checkout's ``morphologies/``) and ships the
checksum manifest of the published robots and the license."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import textwrap
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _copy_source(dest: Path) -> Path:
    """The repository's tracked layout without build outputs, so the build never writes into the checkout."""
    ignore = shutil.ignore_patterns(".git", "build", "dist", "*.egg-info", "__pycache__", "*.so", "runs", "out")
    return Path(shutil.copytree(ROOT, dest, ignore=ignore))


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``pip wheel`` of a copy of the source tree, without build isolation (no network)."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = _copy_source(tmp / "src")
    out = tmp / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out), str(source)],
        check=True,
    )
    (built,) = out.glob("unimal_gym-*.whl")
    return built


def test_wheel_ships_the_bundled_robot_sets_and_license(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    for split in ("train", "test"):
        shipped = {n for n in names if n.startswith(f"unimal_gym/morphologies/{split}/xml/") and n.endswith(".xml")}
        in_repo = {f.name for f in (ROOT / "morphologies" / split / "xml").glob("*.xml")}
        assert {Path(n).name for n in shipped} == in_repo and in_repo
        assert f"unimal_gym/morphologies/{split}/set.json" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "unimal_gym/manifests/hyperdistill-18c0516.sha256" in names  # what `unimal-gym download` checks against


def test_wheel_in_a_fresh_venv_makes_an_env_by_bundled_name(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--target", str(site), str(wheel)],
        check=True,
    )
    # The runtime dependencies (mujoco, gymnasium, numpy, lxml) come from this interpreter's site-packages,
    # added as a plain path: its .pth files (the editable install of the checkout) are not processed.
    deps = sysconfig.get_paths()["purelib"]
    code = textwrap.dedent(
        f"""
        import gymnasium as gym
        import unimal_gym
        from pathlib import Path
        from unimal_gym.envs.robots import find_robot_file
        site = Path({str(site)!r}).resolve()
        assert Path(unimal_gym.__file__).resolve().is_relative_to(site), unimal_gym.__file__
        assert find_robot_file("unimal-train-000").resolve().is_relative_to(site)
        env = gym.make("Unimal-FT-v0", robot="unimal-train-000")
        obs, _ = env.reset(seed=0)
        obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        print("ok", obs["proprioceptive"].shape, float(reward))
        """
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = subprocess.run(
        [str(python), "-c", code],
        cwd=elsewhere,
        env={"PYTHONPATH": deps, "PATH": "/usr/bin:/bin", "MUJOCO_GL": "egl"},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok")
