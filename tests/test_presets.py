"""The configs saved with the committed laptop runs are today's presets (their README says where a named
size has changed since)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

pytest.importorskip("stable_baselines3")

from baselines.hyperdistill import pipeline_preset


def test_committed_laptop_results_were_made_with_todays_presets() -> None:
    """The committed laptop evidence stays valid: its saved configs are exactly today's presets, up to the fields
    that change how a run is computed and not its results (``EXECUTION_FIELDS``: the runs stepped their envs
    with ``vec_env="dummy"``, which trains bitwise as today's ``native``, ``tests/test_ppo.py``)."""
    from baselines.ppo import PPOConfig
    from baselines.ppo.config import EXECUTION_FIELDS

    laptop = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "laptop"
    runs = sorted(p for p in laptop.glob("*/*") if (p / "pipeline.json").is_file())  # laptop/<task>/<seed>
    assert {p.parent.name for p in runs} >= {"ft"}
    for run in runs:
        task = run.parent.name
        teacher = PPOConfig.from_dict(json.loads((run / "teacher" / "config.json").read_text()))
        assert teacher.identity() == replace(pipeline_preset("laptop", task).teacher, seed=teacher.seed).identity(), run
        pipeline = json.loads((run / "pipeline.json").read_text())
        today = pipeline_preset("laptop", task)
        today = replace(today, teacher=replace(today.teacher, seed=pipeline["teacher"]["seed"]))
        expected = json.loads(json.dumps(today.to_dict()))
        for field in EXECUTION_FIELDS:
            expected["teacher"].pop(field)
            pipeline["teacher"].pop(field)
        assert pipeline == _recorded(expected, pipeline), run  # every setting the run recorded (later fields are new)


def _recorded(today: object, saved: object) -> object:
    """``today`` restricted to the keys ``saved`` has, at every depth."""
    if isinstance(saved, dict) and isinstance(today, dict):
        return {k: _recorded(today[k], v) for k, v in saved.items() if k in today}
    return today
