"""Stage keys (the names of the pipeline's cached teachers, data and students) survive new config fields."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, ClassVar

import pytest

from baselines.collect import CollectConfig
from baselines.common.config import key_dict
from baselines.distill import DistillConfig
from baselines.hyperdistill import pipeline_preset
from baselines.hyperdistill.pipeline import stage_key
from baselines.ppo import PPOConfig

FROZEN_FIELDS: dict[type, str] = {
    PPOConfig: "task arch net robots robot_limit sampling uniform_iters ema_alpha total_timesteps n_envs n_steps "
    "n_epochs batch_size learning_rate lr_schedule min_lr warmup_iters warmup_factor clip_range clip_value "
    "value_coef entropy_coef gamma gae_lambda max_grad_norm kl_target_coef action_std norm_clip seed "
    "checkpoint_every vec_env device torch_threads rollout_threads log_every",
    CollectConfig: "robots robot_limit pd_per_robot include_parents num_envs steps action_std features seed workers "
    "executor ray_address",
    DistillConfig: "student net embedding_dropout epochs batch_size learning_rate grad_norm per_robot_samples seed "
    "checkpoint_every evaluate eval_every eval_train eval_test eval_sets eval_limit eval_limits eval_train_limit "
    "eval_episodes eval_deterministic eval_max_steps eval_seed eval_workers memory_limit_gb torch_threads device",
}
"""Each keyed config's fields when the stage keys were frozen (2026-12-02)."""


@pytest.mark.parametrize("cls", list(FROZEN_FIELDS), ids=lambda c: c.__name__)
def test_every_field_added_since_the_keys_were_frozen_has_a_neutral_value(cls: type) -> None:
    frozen = set(FROZEN_FIELDS[cls].split())
    names = {f.name for f in fields(cls)}
    unregistered = names - frozen - set(cls.KEY_NEUTRAL)
    assert not unregistered, (
        f"{cls.__name__} fields {sorted(unregistered)} are new: give each the value under which it changes nothing in "
        f"{cls.__name__}.KEY_NEUTRAL (cached teachers, data and students stay valid), or add it to FROZEN_FIELDS here "
        "if every cached stage must be recomputed"
    )
    assert set(cls.KEY_NEUTRAL) <= names - frozen  # only fields added later
    assert frozen <= names  # a removed field changes every key: say so by editing FROZEN_FIELDS


@dataclass(frozen=True)
class _DistillWithNewField(DistillConfig):
    """DistillConfig as it would be with a field added later (neutral value 1.0: the behaviour before it)."""

    warp: float = 1.0

    KEY_NEUTRAL: ClassVar[dict[str, Any]] = {"warp": 1.0}


def test_a_field_at_its_neutral_value_leaves_the_key_unchanged() -> None:
    old = pipeline_preset("laptop", "ft").distill
    new = _DistillWithNewField(**old.to_dict())
    assert key_dict(new) == key_dict(old) == old.to_dict()
    assert stage_key("data", key_dict(new)) == stage_key("data", key_dict(old))
    assert stage_key("data", key_dict(replace(new, warp=2.0))) != stage_key("data", key_dict(old))
    assert key_dict(replace(new, warp=2.0))["warp"] == 2.0


def test_teacher_keys_leave_out_how_it_runs_not_what_it_learns() -> None:
    teacher = pipeline_preset("laptop", "ft").teacher
    assert key_dict(teacher) == key_dict(replace(teacher, vec_env="subproc"))
    assert key_dict(teacher) != key_dict(replace(teacher, gamma=0.99))
    collect = pipeline_preset("laptop", "ft").collect
    assert key_dict(collect) == key_dict(replace(collect, workers=collect.workers + 1))


@pytest.mark.parametrize(
    ("task", "key"), [("ft", "17f8c243c515"), ("vt", "f3a55b7a4061"), ("obstacle", "d59c70428b9d")]
)
def test_the_laptop_teachers_keep_the_keys_of_the_committed_runs(task: str, key: str) -> None:
    """The folder names the laptop runs' teachers were trained under: a change here retrains every teacher.
    (FT's changed on 2026-12-03 with its preset, 8 epochs at 2M steps; it was 4cdd234c97a1.)"""
    assert stage_key(key_dict(pipeline_preset("laptop", task).teacher)) == key
