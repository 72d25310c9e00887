"""The configs saved with the committed laptop runs are today's presets (their README says where a named
size has changed since)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("stable_baselines3")

from baselines.hyperdistill import pipeline_preset


def test_committed_laptop_results_were_made_with_todays_presets() -> None:
    """The committed laptop evidence stays valid: its saved configs are exactly today's presets."""
    from baselines.ppo import PRESETS, PPOConfig

    results = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
    saved = json.loads((results / "laptop_ft_modumorph" / "run" / "config.json").read_text())
    assert PPOConfig.from_dict(saved) == PRESETS["laptop"]
    pipeline = json.loads((results / "hyperdistill_laptop_ft" / "pipeline.json").read_text())
    today = json.loads(json.dumps(pipeline_preset("laptop").to_dict()))
    assert pipeline == _recorded(today, pipeline)  # every setting the run recorded (later fields are new)


def _recorded(today: object, saved: object) -> object:
    """``today`` restricted to the keys ``saved`` has, at every depth."""
    if isinstance(saved, dict) and isinstance(today, dict):
        return {k: _recorded(today[k], v) for k, v in saved.items() if k in today}
    return today
