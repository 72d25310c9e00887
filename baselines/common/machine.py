"""The machine a measurement was made on, for reports and benchmark headers.

Times depend on the CPU as much as on the code: the laptop teacher's PPO runs at ~1,030 env steps/s on one
2-core VM and ~710 on another (an AMD EPYC at 2.4 GHz without AVX-512). A time quoted without its machine
cannot be compared, so the pipeline's ``results.json`` and ``report.md`` and the benchmarks' headers carry
:func:`machine` / :func:`machine_line`.

``python -c "from baselines.common.machine import machine_line; print(machine_line())"``
"""

from __future__ import annotations

import importlib
import os
import platform
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


def machine(cpuinfo: Path = CPUINFO) -> dict[str, Any]:
    """What decides how fast this process runs the project's code.

    :param cpuinfo: where to read the CPU's description (tests pass a file).
    :return: ``cpu`` (model name), ``mhz`` (its clock as Linux reports it now; 0 when unknown), ``simd``
        (the widest vector instruction set, or ``""`` when unknown), ``cores`` (logical CPUs this process may
        use), ``gpu`` (CUDA device name or ``""``), and the ``python`` / ``torch`` /
        ``mujoco`` versions (``""`` for one not installed). Not torch's thread count: each stage sets its own
        (its config records it).
    """
    info = _cpuinfo(cpuinfo)
    flags = set((info.get("flags") or info.get("Features") or "").split())
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 0
    modules: dict[str, Any] = {}
    for name in ("torch", "mujoco"):  # torch: absent where only unimal_gym is installed (env benchmarks)
        try:
            modules[name] = importlib.import_module(name)
        except ImportError:
            modules[name] = None
    torch, mujoco = modules["torch"], modules["mujoco"]
    try:
        mhz = round(float(info.get("cpu MHz", "0")))
    except ValueError:
        mhz = 0
    return {
        "cpu": info.get("model name") or platform.processor() or platform.machine(),
        "mhz": mhz,
        "simd": next((flag for flag in SIMD_FLAGS if flag in flags), ""),
        "cores": cores,
        "gpu": torch.cuda.get_device_name(0) if torch and torch.cuda.is_available() else "",
        "python": platform.python_version(),
        "torch": torch.__version__ if torch else "",
        "mujoco": mujoco.__version__ if mujoco else "",
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


__all__ = ["machine", "machine_line"]
