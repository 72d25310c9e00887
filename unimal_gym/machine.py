"""The machine a measurement was made on, for reports and benchmark headers.

Times depend on the CPU as much as on the code: the laptop teacher's PPO runs at ~1,030 env steps/s on one
2-core VM and ~710 on another (an AMD EPYC at 2.4 GHz without AVX-512). A time quoted without its machine
cannot be compared, so the pipeline's ``results.json`` and ``report.md`` and the benchmarks' headers carry
:func:`machine` / :func:`machine_line`.

The module needs only the standard library: it lives in the torch-free package so that the environment
benchmarks, which run without torch, print the same line as the baselines' reports. torch and MuJoCo are
described when they are installed.

``python -c "from unimal_gym.machine import machine_line; print(machine_line())"``
"""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

CPUINFO = Path("/proc/cpuinfo")
"""Linux's CPU description (model name and instruction-set flags); elsewhere :mod:`platform` says less."""
SIMD_FLAGS = ("avx512f", "avx2", "avx", "sse4_2", "asimd")
"""Vector instruction sets in the order reported: the first one the CPU has (``asimd``: ARM's NEON)."""


def _cpuinfo(path: Path = CPUINFO) -> dict[str, str]:
    """The first processor's ``key: value`` lines of ``/proc/cpuinfo`` ({} where there is none)."""
    try:
        text = path.read_text()
    except OSError:
        return {}
    info: dict[str, str] = {}
    for line in text.split("\n\n", 1)[0].splitlines():
        key, sep, value = line.partition(":")
        if sep:
            info.setdefault(key.strip(), value.strip())
    return info


def available_cpus() -> int:
    """The logical CPUs this process may run on: its affinity mask where the platform has one (Linux), else
    all of the machine's (macOS, Windows)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _version(distribution: str) -> str:
    """The installed version of ``distribution`` (``""`` where it is not installed), without importing it."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return ""


def machine(cpuinfo: Path = CPUINFO) -> dict[str, Any]:
    """What decides how fast this process runs the project's code.

    Imports nothing: versions come from the installed distributions' metadata, and the GPU is asked for only
    where this process has already imported torch (the baselines have; an env benchmark has not, and needs no
    2-second torch import to print its header).

    :param cpuinfo: where to read the CPU's description (tests pass a file).
    :return: ``cpu`` (model name), ``mhz`` (its clock as Linux reports it now; 0 when unknown), ``simd``
        (the widest vector instruction set, or ``""`` when unknown), ``cores`` (logical CPUs this process may
        use), ``gpu`` (CUDA device name, or ``""`` for none or torch not imported), and the ``python`` /
        ``torch`` / ``mujoco`` versions (``""`` for one not installed). Not torch's thread count: each stage
        sets its own (its config records it).
    """
    info = _cpuinfo(cpuinfo)
    flags = set((info.get("flags") or info.get("Features") or "").split())
    torch = sys.modules.get("torch")
    try:
        mhz = round(float(info.get("cpu MHz", "0")))
    except ValueError:
        mhz = 0
    return {
        "cpu": info.get("model name") or platform.processor() or platform.machine(),
        "mhz": mhz,
        "simd": next((flag for flag in SIMD_FLAGS if flag in flags), ""),
        "cores": available_cpus(),
        "gpu": torch.cuda.get_device_name(0) if torch is not None and torch.cuda.is_available() else "",
        "python": platform.python_version(),
        "torch": _version("torch"),
        "mujoco": _version("mujoco"),
    }


def machine_line(info: dict[str, Any] | None = None) -> str:
    """:func:`machine` (or ``info``) as one line, e.g. ``AMD EPYC (2445 MHz, avx2), 2 cores, torch 2.13.0+cpu, mujoco
    4.0.0, Python 3.11.7``."""
    m = info if info is not None else machine()
    simd = ", ".join(filter(None, (f"{m['mhz']} MHz" if m["mhz"] else "", m["simd"])))
    simd = f" ({simd})" if simd else ""
    gpu = f", GPU {m['gpu']}" if m["gpu"] else ""
    torch = f", torch {m['torch']}" if m["torch"] else ""
    return f"{m['cpu']}{simd}, {m['cores']} cores{gpu}{torch}, mujoco {m['mujoco']}, Python {m['python']}"


__all__ = ["available_cpus", "machine", "machine_line"]
