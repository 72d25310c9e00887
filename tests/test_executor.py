"""``--executor ray``: evaluation and expert-data collection on Ray give what the local executor gives.

The truth is the local executor (worker processes of this machine), whose results the other tests pin; Ray
runs here as a local instance with 2 CPUs, as it would on a laptop, and the same code joins a cluster.
"""

from __future__ import annotations

import json
import signal
import sys
from dataclasses import replace
from pathlib import Path

import pytest

pytest.importorskip("stable_baselines3")

from test_collect import smoke_teacher

from baselines.collect import COLLECT_PRESETS, CollectConfig, collect
from baselines.common.config import ConfigError
from baselines.common.executor import check_executor, kept_signal_handlers
from baselines.evaluate import EvalConfig, evaluate


def test_ray_without_ray_installed_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails as if it were not installed
    for config in (EvalConfig(executor="ray"), CollectConfig(executor="ray")):
        with pytest.raises(ConfigError, match=r"^executor=ray needs Ray, which is not installed: pip install"):
            config.validate()
    with pytest.raises(ConfigError, match=r"executor='dask' is not allowed; choose one of local, ray"):
        check_executor("dask", "")
    with pytest.raises(ConfigError, match=r"ray_address='10.0.0.1:6379' is given but executor='local'"):
        EvalConfig(ray_address="10.0.0.1:6379").validate()
    assert "executor" not in CollectConfig(executor="ray", workers=7).to_dict()  # how, not what: not in the data's key


@pytest.mark.slow
def test_ray_gives_the_local_executors_results(tmp_path: Path) -> None:
    ray = pytest.importorskip("ray")
    sigterm = signal.getsignal(signal.SIGTERM)
    with kept_signal_handlers():  # Ray's own SIGTERM handler must not outlive this test
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        local, on_ray = (
            EvalConfig(episodes=2, limit=2, workers=2, task="ft"),
            EvalConfig(episodes=2, limit=2, workers=2, task="ft", executor="ray"),
        )
        evaluate("random", ["train"], local, tmp_path / "eval-local")
        evaluate("random", ["train"], on_ray, tmp_path / "eval-ray")
        a, b = (json.loads((tmp_path / f"eval-{k}" / "results.json").read_text()) for k in ("local", "ray"))
        assert a["robots"] == b["robots"] and len(a["robots"]) == 2

        teacher = smoke_teacher(tmp_path / "teacher")
        config = replace(COLLECT_PRESETS["smoke"], steps=24, workers=2)
        collect(teacher, tmp_path / "data-local", config, progress=None)
        collect(teacher, tmp_path / "data-ray", replace(config, executor="ray"), progress=None)
        files = sorted(p.relative_to(tmp_path / "data-local") for p in (tmp_path / "data-local").rglob("*.np*"))
        assert len(files) >= 4
        for f in files:
            assert (tmp_path / "data-local" / f).read_bytes() == (tmp_path / "data-ray" / f).read_bytes(), f
    finally:
        with kept_signal_handlers():
            ray.shutdown()
    assert signal.getsignal(signal.SIGTERM) is sigterm  # as it was before Ray
