"""Packaging promises: unimal_gym imports without torch, and the CLI entry point exists."""

from __future__ import annotations

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
