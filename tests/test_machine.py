"""unimal_gym.machine: the machine line of reports and benchmark headers, from /proc/cpuinfo, without torch."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import torch

from unimal_gym.machine import machine, machine_line

INTEL = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz
cpu MHz\t\t: 2899.968
flags\t\t: fpu sse4_2 avx avx2 fma avx512f avx512dq

processor\t: 1
model name\t: Another CPU
cpu MHz\t\t: 1000.000
flags\t\t: fpu
"""
ARM = """processor\t: 0
BogoMIPS\t: 50.00
Features\t: fp asimd evtstrm aes crc32
CPU implementer\t: 0x41
"""


def test_the_first_processor_names_the_cpu_and_its_widest_vector_set(tmp_path: Path) -> None:
    (tmp_path / "intel").write_text(INTEL)
    m = machine(tmp_path / "intel")
    assert (m["cpu"], m["mhz"], m["simd"]) == ("Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz", 2900, "avx512f")
    assert m["torch"] == torch.__version__
    assert m["python"] == platform.python_version() and m["mujoco"] and m["cores"] >= 1
    line = machine_line(m)
    assert line.startswith("Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz (2900 MHz, avx512f), ")
    assert f", torch {torch.__version__}, mujoco " in line and "GPU" not in line


def test_without_a_model_name_or_a_cpuinfo_it_says_what_platform_knows(tmp_path: Path) -> None:
    (tmp_path / "arm").write_text(ARM)
    arm = machine(tmp_path / "arm")
    assert arm["cpu"] == (platform.processor() or platform.machine()) and arm["simd"] == "asimd" and arm["mhz"] == 0
    none = machine(tmp_path / "absent")
    assert (none["cpu"], none["simd"], none["mhz"]) == (arm["cpu"], "", 0)
    assert machine_line(none).startswith(f"{none['cpu']}, {none['cores']} cores, torch ")
    assert machine_line({**none, "torch": "", "gpu": "H200"}) == (
        f"{none['cpu']}, {none['cores']} cores, GPU H200, mujoco {none['mujoco']}, Python {none['python']}"
    )


def test_the_line_needs_no_torch_and_imports_nothing_heavy(tmp_path: Path) -> None:
    # the env benchmarks print this line where torch is not installed: a stand-in torch that fails to import
    (tmp_path / "torch").mkdir()
    marker = tmp_path / "torch-import-attempted"  # a failed import leaves no trace in sys.modules; this does
    (tmp_path / "torch" / "__init__.py").write_text(
        f"open({str(marker)!r}, 'w').close()\nraise ImportError('No module named torch')\n"
    )
    code = (
        "import json, sys\n"
        "from unimal_gym.machine import machine, machine_line\n"
        "machine_line()\n"
        "assert not {'torch', 'mujoco'} & set(sys.modules), sorted({'torch', 'mujoco'} & set(sys.modules))\n"
        "print(json.dumps(machine()))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert not marker.exists(), "machine_line() tried to import torch"
    child, here = json.loads(proc.stdout), machine()
    assert child["gpu"] == ""  # not asked without torch imported
    for key in ("cpu", "simd", "cores", "python", "torch", "mujoco"):  # versions from metadata, not imports
        assert child[key] == here[key], key
