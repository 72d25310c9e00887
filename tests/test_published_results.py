"""The committed results agree with themselves: each ``seeds/`` table (each laptop task's, the explorations'
with several teacher seeds, and those across every draw of a laptop command) is what
``python -m baselines.hyperdistill.seeds`` computes today from the committed per-seed folders it names (paths
relative to the table's parent folder)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from baselines.hyperdistill import seeds

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
LAPTOP = RESULTS / "laptop"
TASKS = sorted(p.parent.parent.name for p in LAPTOP.glob("*/seeds/results.json"))
TABLES = sorted(p.parent.parent.relative_to(RESULTS).as_posix() for p in RESULTS.glob("**/seeds/results.json"))


def test_every_task_has_a_table_across_seeds() -> None:
    assert TASKS == ["ft", "obstacle", "vt"]


def test_the_6m_step_exploration_has_its_table_too() -> None:
    assert "laptop_exploration/ft_e7_6M_steps" in TABLES


@pytest.mark.parametrize("folder", TABLES)
def test_the_table_across_seeds_is_recomputed_from_the_published_runs(folder: str, tmp_path: Path) -> None:
    committed = json.loads((RESULTS / folder / "seeds" / "results.json").read_text())
    runs = [RESULTS / folder / run for run in committed["runs"]]  # written relative to the folder
    assert all((run / "results.json").is_file() for run in runs), runs
    configs = [json.loads((run / "pipeline.json").read_text()) for run in runs]
    assert committed["teacher_seeds"] == [config["teacher"]["seed"] for config in configs]
    seeds.write(runs, tmp_path / "again")
    again = json.loads((tmp_path / "again" / "results.json").read_text())
    assert again.pop("runs") == [str(r) for r in runs]
    committed.pop("runs")
    assert _rounded(again) == _rounded(committed)


def _rounded(value: object) -> object:
    """``value`` with every float to 9 significant digits: the tables are sums and bootstraps of the same
    numbers, so only the last bits may differ between numpy builds or CPUs."""
    if isinstance(value, float):
        return float(f"{value:.9g}")
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value
