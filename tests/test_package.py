"""Packaging promises: unimal_gym imports without torch, and the CLI entry point exists."""

from __future__ import annotations

import os
import subprocess
import sys


def test_unimal_gym_imports_without_torch() -> None:
    code = (
        "import sys, unimal_gym, unimal_gym.morphology, unimal_gym.cli\n"
        "import unimal_gym.morphology.mutate, unimal_gym.robot_sets, unimal_gym.morphology.variations\n"
        "assert 'torch' not in sys.modules, 'unimal_gym imported torch'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_module_entry_point_prints_help() -> None:
    proc = subprocess.run([sys.executable, "-m", "unimal_gym", "--help"], capture_output=True, text=True, check=True)
    for command in ("info", "validate", "generate", "mutate", "vary", "stats"):
        assert command in proc.stdout


def test_baselines_without_torch_says_how_to_install_it(tmp_path) -> None:
    # a stand-in "torch" package that fails to import, first on the path
    (tmp_path / "torch").mkdir()
    (tmp_path / "torch" / "__init__.py").write_text("raise ImportError('No module named torch')\n")
    proc = subprocess.run(
        [sys.executable, "-c", "import baselines"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
    )
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert "baselines needs PyTorch" in last and "pip install torch==2.13.0 --index-url" in last
    for command in ("baselines.flops", "baselines.hyperdistill"):  # a command line: that line alone, exit 2
        proc = subprocess.run(
            [sys.executable, "-m", command, "--help"],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(tmp_path)},
        )
        assert proc.returncode == 2 and proc.stderr.startswith("error: baselines needs PyTorch")
        assert proc.stderr.count("\n") == 1, proc.stderr
    # the rest of the [baselines] extra, stable-baselines3 here (blocked), is named the same way
    proc = subprocess.run(
        [sys.executable, "-c", "import sys; sys.modules['stable_baselines3'] = None; import baselines"],
        capture_output=True,
        text=True,
    )
    last = proc.stderr.strip().splitlines()[-1]
    assert proc.returncode != 0 and last.endswith(
        "baselines needs stable-baselines3, which is not installed. pip install 'unimal-gym[baselines]'"
    )
    # another package's command line that tries baselines and goes on without it still gets the ImportError
    (tmp_path / "userpkg").mkdir()
    (tmp_path / "userpkg" / "__init__.py").write_text("try:\n    import baselines\nexcept ImportError:\n    pass\n")
    (tmp_path / "userpkg" / "tool.py").write_text("print('ran')\n")
    proc = subprocess.run(
        [sys.executable, "-m", "userpkg.tool"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"},
    )
    assert proc.returncode == 0 and proc.stdout == "ran\n", proc.stderr


def test_info_and_validate_take_the_names_render_takes(capsys) -> None:
    from unimal_gym.cli import main

    assert main(["info", "unimal-train-000"]) == 0
    assert capsys.readouterr().out.startswith("robot unimal-train-000:")
    assert main(["validate", "test"]) == 0  # a bundled set's name
    assert capsys.readouterr().out.strip().endswith("100 valid, 0 invalid")
    assert main(["info", "unimal-train-999"]) == 2
    assert "closest names" in capsys.readouterr().err


def test_help_shows_each_presets_value_and_no_markup() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "baselines.ppo", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "[paper 32; laptop 16; smoke 2]" in " ".join(out.split())  # --n-envs
    assert "``" not in out and ":class:" not in out
    out = subprocess.run(
        [sys.executable, "-m", "unimal_gym", "generate", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "(default: robots)" in out and "(default: None)" not in out
