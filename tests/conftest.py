"""Shared fixtures: the original benchmark robots and oracle recordings live in ../shared.

../shared sits beside the repository on the development machine and in CI; a plain clone has none.
Without it the tests that read it are skipped with :data:`SHARED_MISSING` as the reason (mark them
``@needs_shared``, or call :func:`require_shared` where the data are read), and every other test runs.
Where ``CI`` is set, a missing ../shared stops the run at once (:func:`ci_refusal`): CI never skips them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pytest

from unimal_gym.machine import available_cpus

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
TRAIN_XML = SHARED / "unimal" / "train" / "xml"
ORACLE = SHARED / "oracle"
HAVE_SHARED = TRAIN_XML.is_dir() and ORACLE.is_dir()
SHARED_MISSING = (
    f"needs the original UNIMAL robots (unimal/train/xml) and oracle recordings (oracle/) in {SHARED} "
    "(kept beside the repository for tests; not part of a clone)"
)
needs_shared = pytest.mark.skipif(not HAVE_SHARED, reason=SHARED_MISSING)


def require_shared() -> None:
    """Skip the calling test (or fixture) when ../shared is absent."""
    if not HAVE_SHARED:
        pytest.skip(SHARED_MISSING)


def ci_refusal(environ: Mapping[str, str], have_shared: bool) -> str | None:
    """The one-line message that stops a CI run (``CI`` set, any non-empty value) without ../shared; else None."""
    if have_shared or not environ.get("CI"):
        return None
    return (
        f"CI is set but {SHARED} (the original UNIMAL robots and oracle recordings) is missing: "
        "the tests that need it would be skipped, and CI must run them"
    )


def pytest_configure(config: pytest.Config) -> None:
    message = ci_refusal(os.environ, HAVE_SHARED)
    if message is not None and not getattr(config.option, "help", False):
        raise pytest.UsageError(message)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto`` (pytest-xdist): one worker per core, at most 8.

    With ``--dist loadfile`` each test file runs whole in one worker, so its module fixtures (trained
    teachers, smoke pipelines) are made once; the suite has ~55 files, and every worker imports torch and
    MuJoCo (~0.5 GB), so more than 8 workers cost memory and gain little.
    """
    return max(1, min(8, available_cpus()))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Files with a ``slow`` test run first (stable order otherwise): in parallel runs (``-n auto --dist
    loadfile``) a worker then takes each long file early, and no long file is left running alone at the end."""
    slow_files = {item.path for item in items if item.get_closest_marker("slow") is not None}
    items.sort(key=lambda item: item.path not in slow_files)


def train_robot_files() -> list[Path]:
    """The 100 original UNIMAL training robots (read from ../shared, never copied); [] without ../shared."""
    return sorted(TRAIN_XML.glob("*.xml"))


def oracle_robots(meta: str) -> list[str]:
    """The robot names of an oracle recording (``robots`` of ``ORACLE / meta``); [] without ../shared."""
    return json.loads((ORACLE / meta).read_text())["robots"] if HAVE_SHARED else []


@pytest.fixture(scope="session")
def ft_oracle() -> np.lib.npyio.NpzFile:
    """The FT recordings of the original environment."""
    require_shared()
    return np.load(ORACLE / "ft_train.npz")
