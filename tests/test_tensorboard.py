"""TensorBoard logs of a PPO run: the scalars of progress.csv, and no duplicates after a resume."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from baselines.ppo import PRESETS, train

event_accumulator = pytest.importorskip(
    "tensorboard.backend.event_processing.event_accumulator", reason="tensorboard is not installed"
)


def _scalars(run: Path) -> dict[str, list[tuple[int, float]]]:
    acc = event_accumulator.EventAccumulator(str(run / "tb"), size_guidance={event_accumulator.SCALARS: 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


@pytest.mark.slow
def test_tensorboard_holds_the_csv_scalars_once_each_after_a_resume(tmp_path: Path) -> None:
    run = tmp_path / "run"
    config = PRESETS["smoke"]
    assert config.iterations == 3 and config.checkpoint_every == 1
    train(config, run, quiet=True)
    # as if killed after logging iteration 3 with only iteration 1's checkpoint on disk
    for name in ("iter_000002.pt", "iter_000003.pt", "final.pt"):
        (run / "checkpoints" / name).unlink()
    train(config, run, resume=True, quiet=True)

    with (run / "progress.csv").open(newline="") as f:
        progress = list(csv.DictReader(f))
    assert [int(r["iteration"]) for r in progress] == [1, 2, 3]
    scalars = _scalars(run)
    # stable-baselines3's tag names, so dashboards made for SB3 runs read ours
    sb3 = {
        "approx_kl": "train/approx_kl",
        "clip_fraction": "train/clip_fraction",
        "policy_loss": "train/policy_gradient_loss",
        "value_loss": "train/value_loss",
        "steps_per_s": "time/fps",
        "learning_rate": "train/learning_rate",
    }
    for key, tag in sb3.items():
        series = scalars[tag]
        assert [step for step, _ in series] == [int(r["timesteps"]) for r in progress], key
        assert [v for _, v in series] == pytest.approx([float(r[key]) for r in progress], rel=1e-6), key
    entropy = [v for _, v in scalars["train/entropy_loss"]]
    assert entropy == pytest.approx([-float(r["entropy"]) for r in progress], rel=1e-6)
    assert any(tag.startswith("rollout/ep_rew_mean/unimal-train-") for tag in scalars)
