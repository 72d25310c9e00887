"""``--executor ray`` without Ray installed, and bad executor settings: one clear error each.

That Ray gives the local executor's results (evaluation, collection, PPO and distillation stages, a whole
grid) is tested in ``tests/test_grid.py``, on one local Ray instance for all of it.
"""

from __future__ import annotations

import sys

import pytest

pytest.importorskip("stable_baselines3")


from baselines.collect import CollectConfig
from baselines.common.config import ConfigError
from baselines.common.executor import check_executor
from baselines.evaluate import EvalConfig


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
