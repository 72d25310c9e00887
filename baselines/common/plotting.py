"""Plots are optional: :func:`pyplot` gives matplotlib's pyplot on the file-only backend, or None without it."""

from __future__ import annotations

from types import ModuleType


def pyplot() -> ModuleType | None:
    """``matplotlib.pyplot`` set to the Agg backend (PNG files, no display), or None when matplotlib is not
    installed (every report is complete without its plots)."""
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


__all__ = ["pyplot"]
