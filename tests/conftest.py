"""Shared fixtures: the original benchmark robots and oracle recordings live in ../shared."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
TRAIN_XML = SHARED / "unimal" / "train" / "xml"
ORACLE = SHARED / "oracle"


def train_robot_files() -> list[Path]:
    """The 100 original UNIMAL training robots (read from ../shared, never copied)."""
    return sorted(TRAIN_XML.glob("*.xml"))


@pytest.fixture(scope="session")
def ft_oracle() -> np.lib.npyio.NpzFile:
    """The FT recordings of the original environment."""
    return np.load(ORACLE / "ft_train.npz")
