"""The README's code runs as written.

* Every ``python`` block runs, in a fresh interpreter in an empty folder, with the blocks before it in the same
  section (they build on each other). The deployment example reads ``students/unimal-train-000.npz``: the
  test writes that file first with the project's own exporter (an untrained student: what is checked is
  that the example's code runs, not what the student learned).
* Every ``python -m baselines.…`` and ``unimal-gym …`` command in a ``bash`` block parses with the real
  command line: each command's ``main`` runs until its arguments are parsed (argparse's own checks: the
  options exist and take those values), then stops before doing any work. Bracketed parts
  (``[--resume]``) are tried both with and without.
* The README's test command is exactly what CI runs (``.ci/run``).
"""

from __future__ import annotations

import argparse
import importlib
import itertools
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def blocks(language: str) -> list[tuple[str, str]]:
    """(section heading, code) of the README's fenced blocks in ``language``, in order."""
    out = []
    for match in BLOCK.finditer(README):
        if match.group(1) == language:
            heading = re.findall(r"^## (.+)$", README[: match.start()], flags=re.MULTILINE)
            out.append((heading[-1] if heading else "", match.group(2)))
    return out


def _write_student(folder: Path) -> None:
    """``students/unimal-train-000.npz``: an untrained tiny HyperDistill exported by the project's exporter."""
    torch = pytest.importorskip("torch")
    import numpy as np

    from baselines.export import export_student
    from baselines.nets import build_network
    from unimal_gym.envs import UnimalEnv
    from unimal_gym.layout import PROPRIOCEPTIVE_DIM
    from unimal_gym.normalization import ObservationNormalizer

    torch.manual_seed(0)
    student = build_network("hyperdistill", "ft", "tiny").eval()
    env = UnimalEnv(robot="unimal-train-000")
    obs, _ = env.reset(seed=0)
    norm = ObservationNormalizer(np.zeros(PROPRIOCEPTIVE_DIM), np.ones(PROPRIOCEPTIVE_DIM), 1.0)
    export_student(
        student,
        obs,
        folder / "students" / "unimal-train-000.npz",
        norm,
        robot="unimal-train-000",
        task="ft",
        onnx=False,
    )


@pytest.mark.slow
@pytest.mark.parametrize("section", sorted({s for s, _ in blocks("python")}))
def test_python_blocks_run_as_written(section: str, tmp_path: Path) -> None:
    code = "\n".join(c for s, c in blocks("python") if s == section)
    if "students/" in code:
        _write_student(tmp_path)
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"README section {section!r}:\n{result.stderr[-3000:]}"


class Parsed(Exception):
    """Raised instead of running a command once its arguments parsed."""


def commands() -> list[str]:
    """Each ``python -m baselines…`` / ``unimal-gym`` command of the bash blocks, comments removed."""
    found = []
    for _, code in blocks("bash"):
        for line in code.splitlines():
            line = line.split(" #", 1)[0].strip()
            for part in (p.strip() for p in line.split("&&")):
                if part.startswith(("python -m baselines", "unimal-gym ")):
                    found.append(part)
    return found


def variants(command: str) -> list[list[str]]:
    """The command's words, with each ``[optional part]`` left out and put in."""
    optional = re.findall(r"\[([^\]]+)\]", command)
    out = []
    for keep in itertools.product((False, True), repeat=len(optional)):
        text = command
        for part, on in zip(optional, keep, strict=True):
            text = text.replace(f"[{part}]", part if on else "")
        out.append(shlex.split(text))
    return out


def test_readme_commands_exist() -> None:
    found = commands()
    assert any(c.startswith("python -m baselines.hyperdistill") for c in found)
    assert any(c.startswith("unimal-gym download") for c in found)


@pytest.mark.parametrize("command", commands())
def test_bash_commands_parse(command: str, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("torch")
    real_parse = argparse.ArgumentParser.parse_args

    def parse_then_stop(self, args=None, namespace=None):
        real_parse(self, args, namespace)
        raise Parsed

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", parse_then_stop)
    for words in variants(command):
        if words[0] == "unimal-gym":
            module, argv = importlib.import_module("unimal_gym.cli"), words[1:]
        else:
            module, argv = (
                importlib.import_module(f"{words[2]}.__main__" if words[2] in PACKAGES else words[2]),
                words[3:],
            )
        with pytest.raises(Parsed):
            module.main(argv)


PACKAGES = {"baselines.hyperdistill", "baselines.ppo"}


def test_the_readme_test_command_is_what_ci_runs() -> None:
    (command,) = [c.strip() for _, c in blocks("bash") if "pytest" in c]
    ci = (ROOT / ".ci" / "run").read_text()
    assert command in ci.splitlines()
