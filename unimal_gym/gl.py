"""Choosing MuJoCo's OpenGL backend for headless rendering, before MuJoCo is imported.

MuJoCo reads ``MUJOCO_GL`` once, when ``mujoco`` is first imported. Without a display (no ``DISPLAY`` or
``WAYLAND_DISPLAY``, e.g. a server or a cluster node) its default, GLFW, cannot open a context, so
:func:`choose_backend` picks one that renders offscreen: EGL (GPU drivers, or Mesa) when ``libEGL`` is
present, else OSMesa (software) when ``libOSMesa`` is. A ``MUJOCO_GL`` you set yourself is never changed.
This module calls it when imported, and the environments and the command line import it before MuJoCo,
so ``render_mode="rgb_array"`` and Gymnasium's ``RecordVideo`` work headless with no setup; if MuJoCo
was imported before ``unimal_gym``, its choice stands.
"""

from __future__ import annotations

import ctypes.util
import os
import sys
from collections.abc import Callable, MutableMapping

HEADLESS_BACKENDS = (("egl", "EGL"), ("osmesa", "OSMesa"))
"""(``MUJOCO_GL`` value, the library it needs), in order of preference."""


def choose_backend(
    environ: MutableMapping[str, str] = os.environ,
    find_library: Callable[[str], str | None] = ctypes.util.find_library,
    platform: str = sys.platform,
) -> str | None:
    """Set ``MUJOCO_GL`` for a machine without a display, if it is unset. :return: the value now in effect."""
    if "MUJOCO_GL" in environ:
        return environ["MUJOCO_GL"]
    if not platform.startswith("linux") or environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"):
        return None  # a display (or macOS / Windows): MuJoCo's own default works
    for value, library in HEADLESS_BACKENDS:
        if find_library(library):
            environ["MUJOCO_GL"] = value
            return value
    return None


choose_backend()
