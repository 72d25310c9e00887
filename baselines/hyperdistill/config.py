"""The pipeline's configuration: :class:`PipelineConfig` (one configuration per stage, and the run's
robot sets, students and seeds) and its presets (:func:`pipeline_preset`: ``smoke``, ``laptop``, ``paper``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from types import MappingProxyType
from typing import Any, ClassVar

from unimal_gym.layout import TASKS

from ..collect import COLLECT_PRESETS, CollectConfig
from ..common.config import ConfigError, check_fields
from ..common.executor import check_executor
from ..distill import DISTILL_PRESETS, STUDENTS, DistillConfig
from ..ppo import PRESETS, PPOConfig

EXECUTION_FIELDS = ("executor", "ray_address", "jobs")
"""The pipeline's own settings that say where and how its stages ran, not what they computed."""


@dataclass(frozen=True)
class PipelineConfig:
    """One end-to-end run; each part is the configuration of its own stage."""

    task: str = "ft"
    """Task: ft, vt or obstacle."""
    teacher: PPOConfig = field(default_factory=PPOConfig)
    """Teacher PPO run (ignored when a teacher checkpoint is given)."""
    collect: CollectConfig = field(default_factory=CollectConfig)
    """PD robots and expert data."""
    distill: DistillConfig = field(default_factory=DistillConfig)
    """Distillation (the student field is set per student); its eval_* fields are the final evaluation's too."""
    students: tuple[str, ...] = ("hyperdistill", "mlp")
    """Students to distil; HyperDistill and at least one baseline for the comparison."""
    test_sets: tuple[tuple[str, str], ...] = (("far", "test"),)
    """Evaluation sets besides the training robots and the near-unseen set: (name, bundled set or folder)."""
    curve_sets: tuple[str, ...] = ("far",)
    """Sets besides train the students are evaluated on every distill.eval_every epochs (the curves of
    curves.png; names of this run's sets: near or a test set's), on the final evaluation's robots."""
    near_per_robot: int = 1
    """Near-unseen robots per training robot: fresh mutants (m ~ U{1,2,3} operators); 0 = no near set."""
    near_seed: int = 2026
    """Seed of the near-unseen mutants (their own stream, not the PD robots')."""
    hn_rl: bool = False
    """Also train HN-RL (the hypernetwork trained by PPO, with the teacher's robots and budget) and compare it."""
    seeds: int = 1
    """Distillation seeds per student (distill.seed, +1, …); the report gives mean ± s.e. across them."""
    latency_min_time: float = 0.2
    """Seconds per latency measurement (:func:`baselines.common.latency.latency`)."""
    executor: str = "local"
    """Where expert-data collection and the final evaluations run their robots: local or ray (the same results)."""
    ray_address: str = ""
    """With executor=ray: the cluster's address ('' = a new local Ray instance)."""
    jobs: int = 1
    """With executor=local: PPO runs and students run up to this many at once, each in a worker process of its
    own (1: one after another in this process; the same results either way)."""

    RANGES: ClassVar[dict[str, str]] = {
        "near_per_robot": "[0, inf)",
        "near_seed": "[0, 4294967295]",
        "seeds": "[1, inf)",
        "jobs": "[1, inf)",
        "latency_min_time": "(0, inf)",
    }
    """The values each numeric field may take (checked by :func:`~baselines.common.config.check_fields`)."""

    def validate(self) -> PipelineConfig:
        """:raises ConfigError: unknown task or student. :return: self."""
        check_fields(self)
        if self.task not in TASKS:
            raise ConfigError(f"task={self.task!r} is not allowed; choose one of {', '.join(TASKS)}")
        unknown = [s for s in self.students if s not in STUDENTS]
        if unknown or not self.students:
            raise ConfigError(f"students {unknown or '(none)'}: choose from {', '.join(STUDENTS)}")
        names = [name for name, _ in self.test_sets]
        reserved = [n for n in names if n in ("train", NEAR_SET) or names.count(n) > 1 or not n]
        if reserved:
            raise ConfigError(
                f"test set names {reserved}: each needs a new, non-empty name (train and near are built in)"
            )
        known = [*((NEAR_SET,) if self.near_per_robot else ()), *names]
        odd = list(dict.fromkeys(n for n in self.curve_sets if n not in known or self.curve_sets.count(n) > 1))
        if odd:
            raise ConfigError(
                f"curve sets {odd}: each must be one of this run's evaluation sets besides train, once "
                f"({', '.join(known) or 'none'})"
            )
        if self.near_per_robot < 0 or self.seeds < 1:
            raise ConfigError(f"near_per_robot={self.near_per_robot} must be ≥ 0 and seeds={self.seeds} ≥ 1")
        if self.jobs > 1 and self.executor == "ray":
            raise ConfigError(f"jobs={self.jobs} is for the local executor; on Ray every stage runs at once already")
        check_executor(self.executor, self.ray_address)
        self.teacher.validate()
        self.collect.validate()
        self.distill.validate()
        return self

    def with_training_set(self, robots: str, robot_limit: int) -> PipelineConfig:
        """The same run on another training set: the teacher's, the PD parents' and the ``train`` evaluation's
        (the distillation curves on ``train`` are exactly the teacher's robots, whatever ``eval_limit``)."""
        return replace(
            self,
            teacher=replace(self.teacher, robots=robots, robot_limit=robot_limit),
            collect=replace(self.collect, robots=robots, robot_limit=robot_limit),
            distill=replace(self.distill, eval_train=robots, eval_train_limit=robot_limit),
        )

    def with_teacher(self, teacher: PPOConfig) -> PipelineConfig:
        """The same run around a teacher trained elsewhere: its own PPO configuration (seed, budget, robots)
        replaces the preset's, so ``pipeline.json`` says what the teacher was. (HN-RL follows it, except for the
        preset's :data:`~baselines.ppo.config.MACHINE_FIELDS`, which :func:`.pipeline.run_pipeline` keeps.)"""
        return replace(self, teacher=teacher).with_training_set(teacher.robots, teacher.robot_limit)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict."""
        return asdict(self)


LAPTOP_TERRAIN_STEPS = 1_200_000
"""The laptop teacher's PPO budget on VT and Obstacle (FT: the PPO preset's 2M), so that every task's
pipeline takes about an hour on a 2-core machine (VT 39.6 minutes measured end to end)."""
LAPTOP_TERRAIN_EPOCHS = 4
"""The laptop teacher's PPO epochs on VT and Obstacle: the value their committed runs were made with (FT: the
PPO preset's 8). On Obstacle 8 epochs at 0.8M steps gave no better teacher in about the same time
(benchmarks/results/laptop_exploration/obstacle_e11_8epochs_0.8M: train −3.4 [−23.3, 21.4], one seed): the tighter
terrain KL early stop already ends most iterations before 4 epochs are done."""
LAPTOP_FT_STUDENTS = MappingProxyType({"net": "", "epochs": 20})
"""The laptop students on FT: the paper's sizes (hidden 256; HyperDistill's hypernetwork at embedding 128, context
encoder FF 256) for 20 epochs, instead of the distillation preset's ``small`` for 30 (VT, Obstacle). At ``small``
HyperDistill stayed behind its FT teacher on the training robots (0.76 of it over three teachers and three
distillation seeds, benchmarks/results/laptop_exploration/ft_e14_distill_seeds); at the paper's sizes it matches
its teacher on train and near-unseen robots (ft_e15_paper_size_students: 30 epochs, ft_e18_paper_size_20_epochs),
and 20 epochs keep the FT pipeline near the hour (HyperDistill's distillation: 0.70–0.75 of 30 epochs' time; the
pipeline 53.4 minutes by stages on one 2-core VM, 51.3–65.4 end to end in three runs on another,
benchmarks/results/laptop_exploration/ft_e23_fused_adam_seed1409)."""
HN_RL = "hn-rl"
NEAR_SET = "near"
"""Name of the built-in near-unseen evaluation set (mutants of the training robots)."""


def pipeline_preset(name: str, task: str = "ft") -> PipelineConfig:
    """``smoke`` (tests: seconds), ``laptop`` (a 2-core machine, about an hour) or ``paper``.

    :raises ConfigError: unknown preset or task.
    """
    if name not in ("smoke", "laptop", "paper"):
        raise ConfigError(f"unknown preset {name!r}; choose smoke, laptop or paper")
    teacher = replace(PRESETS[name], task=task)
    if name == "laptop" and task != "ft":  # a terrain teacher at 1.2M steps, 4 epochs: 24.7-25.7 min alone (e21, e24)
        teacher = replace(teacher, total_timesteps=LAPTOP_TERRAIN_STEPS, n_epochs=LAPTOP_TERRAIN_EPOCHS)
    distill_cfg = DISTILL_PRESETS[name]
    if name == "smoke":
        distill_cfg = replace(
            distill_cfg, evaluate=False, eval_limit=teacher.robot_limit, eval_episodes=1, eval_workers=1
        )
    if name == "laptop" and task == "ft":
        distill_cfg = replace(distill_cfg, **LAPTOP_FT_STUDENTS)
    if name != "paper":  # the curves on train: exactly the robots the teacher was trained on
        distill_cfg = replace(distill_cfg, eval_train=teacher.robots, eval_train_limit=teacher.robot_limit)
    students = (
        ("hyperdistill", "mlp", "tf-compressed", "modumorph-compressed", "modumorph") if name == "paper" else None
    )
    return PipelineConfig(
        task=task,
        **({"students": students} if students else {}),
        teacher=teacher,
        collect=replace(COLLECT_PRESETS[name], robots=teacher.robots, robot_limit=teacher.robot_limit),
        distill=distill_cfg,
        curve_sets=(NEAR_SET,) if name == "laptop" else ("far",),  # laptop: far is untestable at its budget
        near_per_robot=2 if name == "laptop" else 1,
        latency_min_time={"smoke": 0.002, "laptop": 0.1, "paper": 0.2}[name],
    )
