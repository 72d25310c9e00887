"""The optional compiled step-path kernels (``_kernels.c``) and whether they are in use.

``pip install`` compiles them when a C compiler is present; without one, or with the environment
variable ``UNIMAL_GYM_PURE_NUMPY=1`` set before import, the environments use their numpy code paths,
which compute bitwise the same observations (the kernels repeat numpy's floating-point operations in
the same order), only slower.
"""

from __future__ import annotations

import os
from types import ModuleType

import numpy as np

try:
    from . import _kernels as _compiled
except ImportError:  # built without a C compiler: the numpy paths serve
    _compiled = None

kernels: ModuleType | None = None if os.environ.get("UNIMAL_GYM_PURE_NUMPY", "") not in ("", "0") else _compiled
ACCELERATED: bool = kernels is not None  # True when the environments use the compiled kernels


def numpy_abs_sum(a: np.ndarray) -> float:
    """Σ|a| of a float64 vector, as numpy sums it (pairwise)."""
    return float(np.add.reduce(np.abs(a)))


abs_sum = numpy_abs_sum if kernels is None else kernels.abs_sum  # the same value, bitwise


def require(compiled: bool | None) -> ModuleType | None:
    """The kernel module for ``compiled`` (None: use it if available; True: must be; False: numpy)."""
    if compiled is None:
        return kernels
    if not compiled:
        return None
    if _compiled is None:
        raise RuntimeError(
            "unimal_gym's compiled kernels are not built (no C compiler at install time?); "
            "reinstall with a compiler present, or use compiled=False / None"
        )
    return _compiled
