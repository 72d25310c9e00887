"""PyTorch baselines of *Distilling Morphology-Conditioned Hypernetworks for Efficient Universal
Morphology Control* (ICML 2024): teachers trained by PPO, students distilled from their expert data.

The package reads top-down; no stage imports another stage:

==========================  ===================================================================
layer                       modules
==========================  ===================================================================
composition                 ``hyperdistill`` (the end-to-end pipeline: runs the stages in order)
stages (side by side)       ``ppo`` (teacher), ``collect`` (expert data), ``distill`` (students),
                            ``evaluate`` (reports), ``export`` (per-robot ``.npz`` students);
                            ``flops`` (Table 1) is a tool on the networks alone
lower layer                 ``common``: configs and command lines, files and artifacts, run
                            directories, robot sets / envs / worker pools, agents from any
                            artifact, the evaluation harness, the expert-data format, latency
networks                    ``nets``: the paper's networks and their registry (one name each)
==========================  ===================================================================

The observation and action layout, the tasks and the observation normaliser come from
:mod:`unimal_gym.layout` and :mod:`unimal_gym.normalization`, shared with the torch-free runtime.
"""

import sys as _sys

try:  # the baselines need torch; the environments (unimal_gym) do not
    import torch as _torch  # noqa: F401
except ImportError as _error:  # pragma: no cover - exercised in a subprocess by tests/test_package.py
    _missing = (
        "baselines needs PyTorch, which is not installed. CPU: pip install torch==2.13.0 --index-url "
        "https://download.pytorch.org/whl/cpu && pip install 'unimal-gym[baselines]' (GPU: install the torch "
        "build for your CUDA from pytorch.org first)"
    )
    _argv = getattr(_sys, "orig_argv", [])
    _module = _argv[_argv.index("-m") + 1] if "-m" in _argv[:-1] else ""
    if _sys.argv[:1] == ["-m"] and _module.split(".")[0] == "baselines":  # `python -m baselines.…`: one line, exit 2
        print(f"error: {_missing}", file=_sys.stderr)
        raise SystemExit(2) from None
    raise ImportError(_missing) from _error
