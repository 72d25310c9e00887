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

import importlib.util as _util
import sys as _sys

_EXTRA = {
    "stable_baselines3": "stable-baselines3",
    "matplotlib": "matplotlib",
    "tensorboard": "tensorboard",
    "tqdm": "tqdm",
}
"""The ``[baselines]`` extra's packages besides torch (module → pip name)."""


def _absent(module: str) -> bool:
    try:
        return _util.find_spec(module) is None
    except (ImportError, ValueError):  # ValueError: blocked (sys.modules[module] is None)
        return True


try:  # the baselines need torch and the [baselines] extra; the environments (unimal_gym) do not
    import torch as _torch  # noqa: F401
except ImportError:  # pragma: no cover - exercised in a subprocess by tests/test_package.py
    _missing = ["PyTorch"]
else:
    _missing = []
_missing += [name for module, name in _EXTRA.items() if _absent(module)]
if _missing:  # pragma: no cover - exercised in a subprocess by tests/test_package.py
    _install = "pip install 'unimal-gym[baselines]'"
    if "PyTorch" in _missing:
        _install = (
            f"CPU: pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu && {_install} "
            "(GPU: install the torch build for your CUDA from pytorch.org first)"
        )
    _what = f"baselines needs {', '.join(_missing)}, which {'is' if len(_missing) == 1 else 'are'} not installed. "
    _argv = getattr(_sys, "orig_argv", [])
    _module = _argv[_argv.index("-m") + 1] if "-m" in _argv[:-1] else ""
    if _sys.argv[:1] == ["-m"] and _module.split(".")[0] == "baselines":  # `python -m baselines.…`: one line, exit 2
        print(f"error: {_what}{_install}", file=_sys.stderr)
        raise SystemExit(2)
    raise ImportError(_what + _install)
