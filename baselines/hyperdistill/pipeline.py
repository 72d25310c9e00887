"""The HyperDistill pipeline: teacher → PD robots → expert data → students → evaluation → report.

Stages and where they live in ``RUN`` (every stage folder is named by a hash of everything that
determines its content: its own configuration and the hashes of the stages it reads)::

    pipeline.json               the exact PipelineConfig
    teacher-<key>/              PPO run (skipped with --teacher CHECKPOINT)
    data-<key>/                 PD robots and expert data (baselines.collect)
    students/<name>-<key>/      one distillation run per student (baselines.distill)
    eval/<label>-<key>.json     per-robot returns of the teacher (students: their run's last evaluation)
    report/report.md            Table 1 and Figures 2–3 of the paper for this run (+ PNG plots)

A stage whose folder holds a ``.done`` marker is skipped; an interrupted stage resumes (PPO from its
last checkpoint, collection robot by robot, distillation after its last epoch). Changing any setting
of a stage gives it a new key, and so a new folder, for it and every stage after it. A setting added to the
package later does not, while it keeps the value that means the behaviour from before it
(:func:`~baselines.common.config.key_dict`): an upgrade finds the stages an older version cached.

Where the stages run (``executor``): ``local`` runs them one after another in this process; ``ray`` sends
the PPO runs (teacher, HN-RL) and then every student × seed to a Ray cluster at once, each as a task
declaring the CPUs and GPUs it needs (:func:`ppo_stage`, :func:`student_stage`), and collection and
evaluation robot by robot. The results are the same (``tests/test_grid.py``).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from torch import nn

from unimal_gym import MAX_EPISODE_STEPS
from unimal_gym.envs.errors import RobotTooLargeError
from unimal_gym.envs.robots import check_robot_size
from unimal_gym.layout import TASKS
from unimal_gym.morphology import load, save, to_xml
from unimal_gym.morphology.sample import pd_robots

from ..collect import COLLECT_PRESETS, CollectConfig, collect
from ..common import interrupt
from ..common.agents import REFERENCE_POLICIES, StudentAgent, TeacherAgent
from ..common.config import ConfigError, check_fields, key_dict
from ..common.envs import robot_files
from ..common.executor import Stage, check_executor, run_stages
from ..common.expert_data import read_manifest
from ..common.files import CheckpointError, atomic_write, file_sha256, read_csv
from ..common.latency import actor_latency, robot_observation
from ..common.lock import holds_lock
from ..common.plotting import pyplot
from ..common.progress import Progress
from ..common.rollouts import cut_note, evaluate_robots, robot_jobs, summarise
from ..common.run_dir import resolve_checkpoint
from ..common.stats import compare, gate
from ..distill import DISTILL_PRESETS, STUDENTS, DistillConfig, distill
from ..evaluate import plot_learning_curve
from ..flops import count, example_observation, format_table, table
from ..nets import ARCHITECTURES, HyperDistill, student_state
from ..ppo import PRESETS, PPOConfig, train


def policy_names(teacher_arch: str) -> dict[str, str]:
    """How the report names each policy: the teacher by its architecture, students by theirs."""
    return (
        {"teacher": f"Teacher ({ARCHITECTURES[teacher_arch].label}, PPO)"}
        | {name: spec.label for name, spec in ARCHITECTURES.items()}
        | REFERENCE_NAMES
    )


PAPER_CLAIM = {"train": 0.95, "test": 0.9}  # paper §4: HyperDistill / teacher on training and test robots
REFERENCE_NAMES = {"zero": "Zero action", "random": "Random actions"}


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

    RANGES: ClassVar[dict[str, str]] = {
        "near_per_robot": "[0, inf)",
        "near_seed": "[0, 4294967295]",
        "seeds": "[1, inf)",
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

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict."""
        return asdict(self)


LAPTOP_TERRAIN_STEPS = 1_200_000
"""The laptop teacher's PPO budget on VT and Obstacle (FT: the PPO preset's 3M), so that every task's
pipeline fits an hour on a 2-core machine."""
HN_RL = "hn-rl"
NEAR_SET = "near"
"""Name of the built-in near-unseen evaluation set (mutants of the training robots)."""


def pipeline_preset(name: str, task: str = "ft") -> PipelineConfig:
    """``smoke`` (tests: seconds), ``laptop`` (a 2-core machine, under an hour) or ``paper``.

    :raises ConfigError: unknown preset or task.
    """
    if name not in ("smoke", "laptop", "paper"):
        raise ConfigError(f"unknown preset {name!r}; choose smoke, laptop or paper")
    teacher = replace(PRESETS[name], task=task)
    if name == "laptop" and task != "ft":  # the terrain tasks' PPO iterations cost ~2× FT's: the same hour
        teacher = replace(teacher, total_timesteps=LAPTOP_TERRAIN_STEPS)
    distill_cfg = DISTILL_PRESETS[name]
    if name == "smoke":
        distill_cfg = replace(distill_cfg, evaluate=False, eval_limit=1, eval_episodes=1, eval_workers=1)
    if name == "smoke":
        distill_cfg = replace(distill_cfg, eval_limit=teacher.robot_limit)
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


# ---------------------------------------------------------------------------------------------- stages
NEAR_ATTEMPTS = 100  # draws per wanted near-unseen robot before giving up on its parent


def _given_teacher(source: str | Path, task: str) -> TeacherAgent:
    """The teacher checkpoint as an agent. :raises CheckpointError: unusable, or a policy of another task."""
    agent = TeacherAgent(resolve_checkpoint(source))
    if agent.task != task:
        raise CheckpointError(f"teacher {agent.path} is a {agent.task} policy; the pipeline runs --task {task}")
    return agent


def make_near_set(config: PipelineConfig, data: Path, folder: Path) -> list[Path]:
    """The near-unseen set: ``near_per_robot`` fresh mutants of every training robot (m ~ U{1,2,3}
    operators, the PD recipe) drawn with ``near_seed``, each different from every robot of the expert
    data (parents and PD robots) and from each other, and small enough for the environment.

    :return: the XML files written to ``folder`` (benchmark layout), named ``near-<parent>-<k>``.
    :raises ConfigError: a parent yields no new robot in 100 draws per wanted one.
    """
    parents = [load(f) for f in robot_files(config.teacher.robots, config.teacher.robot_limit)]
    taken = {to_xml(load(f), excludes=False) for f in sorted((data / "robots" / "xml").glob("*.xml"))}
    taken |= {to_xml(p, excludes=False) for p in parents}
    rng = np.random.default_rng(config.near_seed)
    files = []
    for parent in parents:
        for k in range(config.near_per_robot):
            for _ in range(NEAR_ATTEMPTS):
                (mutant,) = pd_robots([parent], 1, rng)
                text = to_xml(mutant.robot, excludes=False)
                try:
                    check_robot_size(mutant.robot)
                except RobotTooLargeError:
                    continue
                if text not in taken:
                    break
            else:
                raise ConfigError(f"no new near-unseen mutant of {parent.name} in {NEAR_ATTEMPTS} draws")
            taken.add(text)
            files.append(save(mutant.robot, folder, name=f"near-{parent.name}-{k}"))
    return files


def _train_stage(config: PPOConfig, folder: Path, what: str, log: Callable[[str], None] = print) -> float:
    """A PPO stage (teacher or HN-RL): train or resume it, mark it done. :return: seconds it took."""
    t0 = time.perf_counter()
    log(f"== {what}: PPO ({config.arch}, {config.total_timesteps:,} steps) in {folder}")
    train(config, folder, resume=(folder / "config.json").is_file())
    seconds = time.perf_counter() - t0
    _mark_done(folder, {"stage": what}, seconds)
    return seconds


def _distill_stage(data: Path, config: DistillConfig, folder: Path, log: Callable[[str], None] = print) -> float:
    """A student stage: distil (or resume) one student with one seed, mark it done. :return: seconds it took."""
    t0 = time.perf_counter()
    log(f"== distilling {config.student} (seed {config.seed}) in {folder}")
    distill(data, config, folder, resume=(folder / "config.json").is_file(), progress=log)
    seconds = time.perf_counter() - t0
    _mark_done(folder, {"stage": f"student {config.student}, seed {config.seed}"}, seconds)
    return seconds


TEACHER_MAX_CPUS = 8
"""CPUs a PPO stage asks for on Ray at most (its env threads: one per env up to this)."""
STUDENT_GPU_SHARE = 0.5
"""Of a GPU, what a distillation asks for on Ray (two students share one)."""


def ppo_stage(what: str, config: PPOConfig, folder: Path) -> Stage:
    """A PPO run (teacher or HN-RL) as a :class:`Stage`, asking on Ray for one CPU per env (at most
    :data:`TEACHER_MAX_CPUS`, at least its torch threads) and a GPU where its device may be CUDA."""
    name = f"{what}: PPO ({config.arch}, {config.total_timesteps:,} steps) in {folder}"
    cpus = max(config.torch_threads, min(config.n_envs, TEACHER_MAX_CPUS))
    return Stage(name, _train_stage, (config, folder, what), cpus, 1.0 if config.device != "cpu" else 0.0)


def student_stage(data: Path, config: DistillConfig, folder: Path) -> Stage:
    """A distillation (one student, one seed) as a :class:`Stage`, asking on Ray for its torch threads or
    evaluation workers, whichever is more, and :data:`STUDENT_GPU_SHARE` of a GPU where its device may be CUDA."""
    name = f"distilling {config.student} (seed {config.seed}) in {folder}"
    cpus = max(1, config.torch_threads, config.eval_workers if config.evaluate else 1)
    gpus = STUDENT_GPU_SHARE if config.device != "cpu" else 0.0
    return Stage(name, _distill_stage, (data, config, folder), cpus, gpus)


def stage_key(*parts: Any) -> str:
    """12 hex digits of the SHA-256 of the parts' JSON (configs enter as their
    :func:`~baselines.common.config.key_dict`)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _done(folder: Path) -> bool:
    return (folder / ".done").is_file()


def _mark_done(folder: Path, info: dict[str, Any], seconds: float) -> None:
    """Write a finished stage's marker with the seconds it took in the run that finished it."""
    info = {**info, "seconds": round(seconds, 3)}
    atomic_write(folder / ".done", lambda p: p.write_text(json.dumps(info) + "\n"))


def _recorded_seconds(*files: Path) -> float | None:
    """The seconds recorded in stage markers or evaluation files, summed; None when one has none (written
    before the time was recorded, or unreadable)."""
    total = 0.0
    for file in files:
        try:
            value = json.loads(file.read_text()).get("seconds")
        except (OSError, ValueError, AttributeError):
            return None
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return None
        total += value
    return total


@holds_lock("out", "pipeline run")
def run_pipeline(
    config: PipelineConfig,
    out: str | Path,
    teacher: str | Path | None = None,
    log: Callable[[str], None] = print,
) -> Path:
    """Run (or resume) every stage and write the report.

    :param config: the run's configuration.
    :param out: run folder.
    :param teacher: an existing teacher checkpoint or run directory (skips PPO).
    :param log: progress lines.
    :return: the report's path.
    :raises ConfigError, CheckpointError, DataError: bad input.
    """
    config.validate()
    given = None
    if teacher is not None:  # checked first; PD robots and the train evaluation follow its training robots
        given = _given_teacher(teacher, config.task)
        config = config.with_training_set(*given.training_set)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / "pipeline.json", lambda p: p.write_text(json.dumps(config.to_dict(), indent=1) + "\n"))
    t_start = time.perf_counter()
    timings: dict[str, float] = {}  # this run's seconds per stage (0.0: found done)
    before: dict[str, float | None] = {}  # stages found done: the seconds they took then (None: not recorded)

    # 1. teacher, and HN-RL (optional: the hypernetwork learnt by RL instead of distillation, same robots and
    # budget); on Ray both train at once
    ppo_runs: list[tuple[str, PPOConfig, Path]] = []
    if given is None:
        ppo_runs.append(("teacher", config.teacher, out / f"teacher-{stage_key(key_dict(config.teacher))}"))
    learnt: dict[str, Path] = {}
    if config.hn_rl:
        hn = replace(config.teacher, arch=HN_RL)
        ppo_runs.append(("HN-RL", hn, out / f"{HN_RL}-{stage_key(key_dict(hn))}"))
        learnt[HN_RL] = ppo_runs[-1][2] / "checkpoints" / "final.pt"
    todo = [ppo_stage(what, cfg, folder) for what, cfg, folder in ppo_runs if not _done(folder)]
    took = run_stages(todo, config.executor, config.ray_address, log)
    spent = dict(zip((s.args[2] for s in todo), took, strict=True))
    timings |= {"teacher": 0.0} | {what: spent.get(what, 0.0) for what, _, _ in ppo_runs}  # cached: 0
    before |= {what: _recorded_seconds(folder / ".done") for what, _, folder in ppo_runs if folder not in spent}
    if given is not None:
        teacher_ckpt = given.path
        log(f"== teacher: given, {teacher_ckpt}")
    else:
        teacher_ckpt = ppo_runs[0][2] / "checkpoints" / "final.pt"
    teacher_agent = given or _given_teacher(teacher_ckpt, config.task)  # loaded once: checks, costs, latency
    teacher_sha = file_sha256(teacher_ckpt)

    # 2. PD robots and expert data
    t0 = time.perf_counter()
    data = out / f"data-{stage_key(teacher_sha, key_dict(config.collect))}"
    if not _done(data):
        log(f"== expert data in {data}")
        on = replace(config.collect, executor=config.executor, ray_address=config.ray_address)  # not in the key
        collect(teacher_ckpt, data, on, progress=log)
        _mark_done(data, {"stage": "data"}, time.perf_counter() - t0)
    else:
        before["data"] = _recorded_seconds(data / ".done")
    data_sha = file_sha256(data / "manifest.json")
    near = None
    if config.near_per_robot:
        near_settings = [config.teacher.robots, config.teacher.robot_limit, config.near_per_robot, config.near_seed]
        near = out / f"near-{stage_key(data_sha, near_settings)}"
        if not _done(near):
            log(f"== near-unseen robots in {near}")
            t1 = time.perf_counter()
            make_near_set(config, data, near)
            _mark_done(near, {"stage": "near-unseen robots"}, time.perf_counter() - t1)
        else:
            before[NEAR_SET] = _recorded_seconds(near / ".done")
    timings["data"] = time.perf_counter() - t0

    d = config.distill
    sets = {"train": d.eval_train, **({NEAR_SET: str(near)} if near else {}), **dict(config.test_sets)}
    limits = {"train": config.teacher.robot_limit, NEAR_SET: 0}  # exactly the teacher's robots; all near ones

    # 3. students, each with config.seeds seeds (on Ray: all at once), evaluated while they learn on train and
    # the curve sets, with the robots of the final evaluation
    curves = curve_settings(config, sets, limits)
    keyed = replace(curves, eval_sets=curves.eval_sets.replace(str(out) + "/", ""))  # the key: OUT may move
    runs: dict[str, list[Path]] = {}
    todo = []
    for student in config.students:
        runs[student] = []
        for i in range(config.seeds):
            cfg = replace(curves, student=student, seed=d.seed + i)
            key = stage_key(data_sha, key_dict(replace(keyed, student=student, seed=d.seed + i)))
            folder = out / "students" / f"{student}-{key}"
            if not _done(folder):
                todo.append(student_stage(data, cfg, folder))
            runs[student].append(folder)
    spent = run_stages(todo, config.executor, config.ray_address, log)
    fresh = {s.args[2] for s in todo}
    for student in config.students:  # compute time per student (on Ray its seeds overlap in wall time)
        timings[f"distill {student}"] = sum(t for s, t in zip(todo, spent, strict=True) if s.args[1].student == student)
        found = [run / ".done" for run in runs[student] if run not in fresh]
        if found:
            before[f"distill {student}"] = _recorded_seconds(*found)

    # 4. evaluation on training and unseen test robots
    t0 = time.perf_counter()
    settings = [sets, d.eval_limit, d.eval_episodes, d.eval_deterministic, d.eval_seed, limits]
    if d.eval_max_steps != MAX_EPISODE_STEPS:  # only then: the evaluations of runs made before it stay cached
        settings.append(d.eval_max_steps)
    jobs = robot_jobs(
        sets.items(), d.eval_limit, d.eval_episodes, d.eval_deterministic, d.eval_seed, limits, d.eval_max_steps
    )
    expected = [(job.set, Path(job.robot).stem) for job in jobs]
    sources: dict[str, list[str | Path]] = {
        "teacher": [teacher_ckpt],
        **{s: [run / "checkpoints" / "final.pt" for run in runs[s]] for s in config.students},
        **{label: [path] for label, path in learnt.items()},
        **{ref: [ref] for ref in REFERENCE_POLICIES},  # zero action and uniform random actions: the baselines
    }
    evals: dict[str, list[dict[str, Any]]] = {label: [] for label in sources}  # per seed
    found: list[Path] = []  # evaluations done before
    for label, seeds in sources.items():
        for k, source in enumerate(seeds):
            final = runs[label][k] / "eval" / f"epoch_{d.epochs:04d}.json" if label in runs else None
            if final is not None and final.is_file():  # the distillation's final evaluation, if on these sets
                done = json.loads(final.read_text())
                if [(r["set"], r["robot"]) for r in done["robots"]] == expected:  # the same sets and robots
                    evals[label].append(done)
                    continue
            identity = source if label in REFERENCE_POLICIES else file_sha256(source)
            path = out / "eval" / f"{label}-{stage_key(identity, config.task, settings)}.json"
            if path.is_file():
                found.append(path)
            else:
                log(f"== evaluating {label} on {', '.join(sets)} × {d.eval_episodes} episodes")
                t1 = time.perf_counter()
                with Progress(len(jobs), f"{config.task}: evaluating {label}", "robot", write=log) as bar:
                    results = evaluate_robots(
                        source,
                        jobs,
                        d.eval_workers,
                        config.task,
                        d.eval_seed,
                        on_result=lambda k, r: bar.advance(1),
                        executor=config.executor,
                        address=config.ray_address,
                    )
                report = {"summary": summarise(results), "robots": results, "seconds": time.perf_counter() - t1}
                atomic_write(path, lambda p, r=report: p.write_text(json.dumps(r)))
                interrupt.check(f"the evaluations finished so far are saved in {out / 'eval'}")
            evals[label].append(json.loads(path.read_text()))
    timings["evaluation"] = time.perf_counter() - t0
    if found:
        before["evaluation"] = _recorded_seconds(*found)

    # 5. cost tables and report (one pipeline at a time: the latency and plots use process-wide settings)
    with _REPORTS:
        return _tables_and_report(
            config, out, teacher_agent, teacher_ckpt, data, runs, learnt, evals, timings, t_start, sets, log, before
        )


def curve_settings(config: PipelineConfig, sets: dict[str, str], limits: dict[str, int]) -> DistillConfig:
    """The distillation's configuration with its evaluation sets: ``train`` and ``config.curve_sets``
    (named as in the pipeline), each limited to the robots of the pipeline's final evaluation.

    :param sets: the pipeline's evaluation sets, name → bundled set or folder.
    :param limits: the pipeline's own robot limits of some sets (others: ``distill.eval_limit``).
    """
    d = config.distill
    return replace(
        d,
        eval_test="",
        eval_sets=",".join(f"{name}={sets[name]}" for name in config.curve_sets),
        eval_limits=",".join(f"{name}={limits[name]}" for name in config.curve_sets if name in limits),
        eval_train_limit=limits["train"],
    )


_REPORTS = threading.Lock()
"""Held while a pipeline measures latency (torch's thread count) and plots (pyplot): grids run several."""


def _tables_and_report(
    config: PipelineConfig,
    out: Path,
    teacher_agent: TeacherAgent,
    teacher_ckpt: Path,
    data: Path,
    runs: dict[str, list[Path]],
    learnt: dict[str, Path],
    evals: dict[str, list[dict[str, Any]]],
    timings: dict[str, float],
    t_start: float,
    sets: dict[str, str],
    log: Callable[[str], None],
    before: dict[str, float | None],
) -> Path:
    """Parameters, FLOPs and latency of every network, then the report (step 5 of :func:`run_pipeline`)."""
    t0 = time.perf_counter()
    actors = {
        "teacher": teacher_agent.actor,
        **{s: StudentAgent(runs[s][0] / "checkpoints" / "final.pt").actor for s in config.students},
        **{label: TeacherAgent(path).actor for label, path in learnt.items()},
    }
    costs = student_costs(config.task, actors)
    robot = data / "robots" / "xml" / f"{read_manifest(data)['robots'][0]}.xml"  # the run's own first robot
    latencies = actor_latency(actors, robot_observation(config.task, robot), config.latency_min_time)
    timings["tables"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - t_start
    names = policy_names(teacher_agent.arch)
    report = write_report(
        out / "report", config, teacher_ckpt, data, runs, evals, costs, latencies, timings, names, sets, before
    )
    log(f"== report: {report}")
    return report


# ---------------------------------------------------------------------------------------------- tables
def student_costs(task: str, actors: dict[str, nn.Module]) -> dict[str, Any]:
    """Parameters and FLOPs per step (docs/networks.md §11) of the networks as trained here, HyperDistill as the
    plain MLP it generates; and the paper-size Table 1 from :func:`baselines.flops.table`."""
    obs = example_observation(task)
    rows = {}
    for label, net in actors.items():
        net.eval()
        if isinstance(net, HyperDistill):
            generated = net.generate(obs["context"][0], obs["obs_padding_mask"][0], obs["act_padding_mask"][0])
            rows[label] = count(generated, (student_state(obs["proprioceptive"]).flatten(1), obs.get("hfield")))
        else:
            rows[label] = count(net, (obs,))
    return {"ours": rows, "paper_sizes": format_table(table(task))}


# ---------------------------------------------------------------------------------------------- statistics
def combined_summary(per_seed: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """A policy's per-set summary: its evaluation's, or with several seeds the mean over seeds of the
    per-seed means with the standard error across seeds (``seeds`` says how many, ``seed_means`` lists them)."""
    if len(per_seed) == 1:
        return per_seed[0]["summary"]
    out = {}
    for set_name, first in per_seed[0]["summary"].items():
        means = np.array([e["summary"][set_name]["mean"] for e in per_seed])
        se = float(means.std(ddof=1) / np.sqrt(len(means)))
        out[set_name] = {
            **first,
            "mean": float(means.mean()),
            "se": se,
            "seeds": len(means),
            "seed_means": means.tolist(),
        }
    return out


def paired_statistics(evals: dict[str, list[dict[str, Any]]], students: list[str]) -> dict[str, dict[str, Any]]:
    """Per evaluated set: the teacher gate and, where it passes, every student against the teacher.

    Robots are paired by name; a robot that any policy (or seed) could not be evaluated on is left out of
    every comparison on that set. A student with several seeds is compared with every seed's returns.

    :param evals: label → one evaluation per seed (``{"summary", "robots"}``).
    :return: set → ``{"robots", "gate", "students"}``, where ``gate`` is
    :meth:`baselines.common.stats.Gate.to_dict` (or ``None`` with fewer than 2 robots) and ``students``
    maps a student to :meth:`baselines.common.stats.Comparison.to_dict` (empty where the gate fails).
    """
    out: dict[str, dict[str, Any]] = {}
    for set_name in evals["teacher"][0]["summary"]:
        returns = {  # label → per seed: robot → mean return
            label: [
                {r["robot"]: r["return_mean"] for r in e["robots"] if r["set"] == set_name and "error" not in r}
                for e in per_seed
            ]
            for label, per_seed in evals.items()
        }
        robots = sorted(set.intersection(*(set(seed) for per_seed in returns.values() for seed in per_seed)))
        column = {
            label: np.array([[seed[r] for r in robots] for seed in per_seed]) for label, per_seed in returns.items()
        }
        entry: dict[str, Any] = {"robots": len(robots), "gate": None, "students": {}}
        if len(robots) >= 2:
            g = gate(column["teacher"][0], column["zero"][0])
            entry["gate"] = g.to_dict()
            if g.passed:
                entry["students"] = {s: compare(column[s], column["teacher"][0]).to_dict() for s in students}
        out[set_name] = entry
    return out


def per_robot_returns(evals: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, dict[str, list[float]]]]:
    """label → set → robot → that robot's mean return per seed (robots an evaluation skipped are absent)."""
    out: dict[str, dict[str, dict[str, list[float]]]] = {}
    for label, per_seed in evals.items():
        sets: dict[str, dict[str, list[float]]] = {}
        for evaluation in per_seed:
            for r in evaluation["robots"]:
                if "error" not in r:
                    sets.setdefault(r["set"], {}).setdefault(r["robot"], []).append(float(r["return_mean"]))
        out[label] = sets
    return out


def _claim(statistics: dict[str, dict[str, Any]], names: dict[str, str]) -> list[str]:
    """The report's verdicts: the gate per set, then each student against the teacher where it passed."""
    lines = ["## The paper's claim on this run", ""]
    for set_name, entry in statistics.items():
        g = entry["gate"]
        if g is None:
            lines.append(
                f"- `{set_name}`: untestable on this set (fewer than 2 robots were evaluated by every policy)."
            )
            continue
        gate_text = (
            f"teacher − zero action = {g['teacher_minus_zero']:.1f} ± {g['se']:.1f} (s.e., {g['robots']} robots paired)"
        )
        if not g["passed"]:
            lines.append(
                f"- `{set_name}`: **untestable on this set**: the teacher does not beat zero action by more than two "
                f"standard errors ({gate_text}), so no ratio to it is printed."
            )
            continue
        lines.append(f"- `{set_name}`: gate passed ({gate_text}).")
        for student, c in entry["students"].items():
            lo, hi = c["paired_diff"]["ci95"]
            lines.append(
                f"  - {names[student]}: student − teacher = {c['paired_diff']['mean']:.1f} (95 % bootstrap CI "
                f"[{lo:.1f}, {hi:.1f}]), ratio of means {c['ratio']:.2f}: **{c['verdict']}**."
            )
    lines += [
        "",
        f"The paper reports HyperDistill at ≥ {PAPER_CLAIM['train']} of the teacher on training robots and ≥ "
        f"{PAPER_CLAIM['test']} on unseen ones, and the multi-robot MLP behind on unseen robots.",
    ]
    return lines


# ---------------------------------------------------------------------------------------------- report
def write_report(
    folder: Path,
    config: PipelineConfig,
    teacher: Path,
    data: Path,
    runs: dict[str, list[Path]],
    evals: dict[str, list[dict[str, Any]]],
    costs: dict[str, Any],
    latencies: dict[str, float],
    timings: dict[str, float],
    names: dict[str, str],
    sets: dict[str, str],
    before: dict[str, float | None] | None = None,
) -> Path:
    """``report.md`` (+ ``results.json``, ``curves.png``, ``returns.png``): students against the teacher.

    :param timings: this run's seconds per stage (0.0: found done).
    :param names: label (``teacher``, student names) → how the report names it (:func:`policy_names`).
    :param sets: evaluation set name → the bundled set or folder it was read from.
    :param before: the stages this run found done → the seconds they took in the run that did them (None: not
        recorded).
    """
    before = before or {}
    folder.mkdir(parents=True, exist_ok=True)
    manifest = read_manifest(data)
    curve = _teacher_curve(teacher, folder / "teacher_curve.png")
    summary = {label: combined_summary(per_seed) for label, per_seed in evals.items()}
    set_names = list(summary["teacher"])
    teacher_mean = {s: summary["teacher"][s]["mean"] for s in set_names}
    learners = [*runs, *(label for label in evals if label == HN_RL)]  # compared with the teacher
    statistics = paired_statistics(evals, learners)
    d = config.distill
    curve_sets = ["train", *config.curve_sets]  # the sets the students were evaluated on while distilling
    mode = "deterministic (mean)" if d.eval_deterministic else "stochastic"
    throughput = {}
    for student, seeds in runs.items():
        rows = [row for run in seeds for row in read_csv(run / "progress.csv")]
        if rows:
            throughput[student] = float(np.median([float(r["samples_per_s"]) for r in rows]))
    lines = [
        f"# HyperDistill pipeline report ({config.task.upper()})",
        "",
        f"Teacher `{teacher}`; expert data: {manifest['transitions']:,} transitions of {len(manifest['counts'])} "
        f"robots ({config.collect.num_envs} envs × {config.collect.steps} steps each, σ = {config.collect.action_std});"
        f" students distilled for {d.epochs} epochs on {d.per_robot_samples} transitions per robot "
        f"(batch {d.batch_size}, Adam {d.learning_rate:g}, clip {d.grad_norm}, size '{d.net or 'paper'}').",
        f"Evaluation: {d.eval_episodes} episodes per robot{cut_note(d.eval_max_steps)}, {mode} actions, "
        f"seed {d.eval_seed}, first "
        f"{d.eval_limit or 'all'} robots of each set: " + "; ".join(f"`{k}` = `{v}`" for k, v in sets.items()) + ".",
        "",
        "| policy | "
        + " | ".join(f"{k} return ± s.e." for k in set_names)
        + " | "
        + " | ".join(f"{k} / teacher" for k in set_names)
        + " | params | FLOPs | µs/step (batch 1, 1 thread) | "
        "distill samples/s |",
        "|---|" + "---|" * (2 * len(set_names) + 4),
    ]
    if config.seeds > 1:
        lines.insert(
            -3, f"Students: mean ± s.e. across {config.seeds} distillation seeds; other rows: ± s.e. over robots."
        )
        lines.insert(-3, "")
    for label in ("teacher", *learners, *REFERENCE_POLICIES):
        s = summary[label]
        # a ratio to the teacher only where it beats zero action (the gate): otherwise it means nothing
        ratio = {
            k: f"{s[k]['mean'] / teacher_mean[k]:.2f}" if _gate_passed(statistics, k) else "n/a" for k in set_names
        }
        cost = costs["ours"].get(label)
        params, flops = (f"{cost.params:,}", f"{cost.flops:,}") if cost else ("-", "-")
        lat = f"{latencies[label] * 1e6:.1f}" if label in latencies else "-"
        thr = f"{throughput[label]:,.0f}" if label in throughput else "-"
        returns = " | ".join(f"{s[k]['mean']:.1f} ± {s[k]['se']:.1f}" for k in set_names)
        ratios = " | ".join(ratio[k] for k in set_names)
        lines.append(f"| {names[label]} | {returns} | {ratios} | {params} | {flops} | {lat} | {thr} |")
    lines += ["", *_claim(statistics, names), ""]
    lines += [
        "Parameters and FLOPs above are of the networks as trained in this run (HyperDistill: the plain MLP it",
        "generates per robot). At the paper's sizes (`python -m baselines.flops`, docs/networks.md §11):",
        "",
        "```",
        costs["paper_sizes"],
        "```",
        "",
        f"Figures: `curves.png` (student return on {', '.join(curve_sets)} "
        + (f"every {d.eval_every or d.epochs} epochs of distillation" if d.evaluate else "after distillation only")
        + f", band ± s.e. {'across seeds' if config.seeds > 1 else 'over robots'}; teacher and zero action as "
        "lines: the paper's Figures 2–3), `returns.png` (final returns)"
        + (", `teacher_curve.png` (the teacher's PPO training return, ± s.e. across its robots)." if curve else "."),
        "",
        "Stage times (s; a student's is the sum over its seeds, which may overlap on Ray; 0.0 = done before): "
        + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()),
        *(
            [
                "Stages done before this run, as long as they took in the run that did them (s): "
                + ", ".join(f"{k} {'not recorded' if v is None else f'{v:.1f}'}" for k, v in before.items())
            ]
            if before
            else []
        ),
    ]
    report = folder / "report.md"
    report.write_text("\n".join(lines) + "\n")
    results = {
        "task": config.task,
        "teacher": str(teacher),
        "summary": summary,
        "sets": statistics,
        "returns": per_robot_returns(evals),
        "costs": {k: asdict(v) for k, v in costs["ours"].items()},
        "latency_s": latencies,
        "distill_samples_per_s": throughput,
        "timings_s": timings,
        "done_before_s": before,
        "runs": {s: [str(run.relative_to(folder.parent)) for run in seeds] for s, seeds in runs.items()},
        "curve_sets": curve_sets,
    }
    (folder / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    _plots(folder, runs, summary, teacher_mean, names, curve_sets)
    return report


def _teacher_curve(teacher: Path, png: Path) -> bool:
    """The teacher's training curve from its run's ``progress.csv`` (when it is there and matplotlib is)."""
    progress = teacher.parent.parent / "progress.csv"
    if not progress.is_file():
        return False
    if pyplot() is None:
        return False
    plot_learning_curve(progress, png)
    return png.is_file()


def _gate_passed(statistics: dict[str, dict[str, Any]], set_name: str) -> bool:
    gate_ = statistics.get(set_name, {}).get("gate")
    return bool(gate_ and gate_["passed"])


def mean_curve(folders: list[Path], split: str) -> dict[str, Any] | None:
    """The distillation curve on set ``split`` of runs that differ in their seed: ``{"epochs", "mean",
    "se", "se_over"}``, the mean over the runs at each evaluated epoch and its standard error across them
    (``se_over`` ``"runs"``), or for one run its standard error over robots (``"robots"``); None when a run
    has no curve on that set or the runs were evaluated at other epochs."""
    curves = [[r for r in read_csv(run / "eval.csv") if r["set"] == split] for run in folders]
    epochs = [[int(r["epoch"]) for r in c] for c in curves]
    if not folders or not all(curves) or any(e != epochs[0] for e in epochs):
        return None
    means = np.array([[float(r["mean"]) for r in c] for c in curves])  # (runs, evaluations)
    if len(folders) > 1:
        se, over = means.std(0, ddof=1) / np.sqrt(len(folders)), "runs"
    else:
        se, over = np.array([float(r["se"]) for r in curves[0]]), "robots"
    return {"epochs": epochs[0], "mean": means.mean(0).tolist(), "se": se.tolist(), "se_over": over}


def draw_curves(
    axes: Any,
    runs: dict[str, list[Path]],
    summary: dict[str, Any],
    names: dict[str, str],
    sets: Sequence[str],
    legend: bool = True,
    title: str = "",
) -> None:
    """The paper's Figures 2–3, one axes per set: each student's return during distillation on the sets it
    was evaluated on while distilling (``train`` and the curve sets: mean over seeds with a band of ± s.e.
    across them, or with one seed ± s.e. over robots; :func:`mean_curve`), the teacher's and the zero-action
    policy's final return on the same robots as lines.

    :param summary: policy → set → ``{"mean", ...}``: the final returns (the teacher's and zero action's lines).
    :param sets: the sets the students were evaluated on while distilling, one axes each.
    :param legend: put a legend on the last axes with something drawn.
    :param title: before each axes' title (``"<set> robots"``).
    """
    for ax, split in zip(axes, sets, strict=True):
        for k, (student, seeds) in enumerate(runs.items()):
            curve = mean_curve(seeds, split)
            if curve is not None:
                ax.plot(curve["epochs"], curve["mean"], "o-", color=f"C{k}", label=names[student])
                mid, band = np.array(curve["mean"]), np.nan_to_num(np.array(curve["se"]))
                ax.fill_between(curve["epochs"], mid - band, mid + band, color=f"C{k}", alpha=0.15)
            elif split in summary[student]:  # no curve: the final point only, at the last epoch
                last = json.loads((seeds[0] / "config.json").read_text())["epochs"]
                ax.plot([last], [summary[student][split]["mean"]], "o", color=f"C{k}", label=names[student])
        for label, style in (("teacher", dict(color="k", ls="--")), ("zero", dict(color="0.5", ls=":"))):
            if split in summary.get(label, {}):
                ax.axhline(summary[label][split]["mean"], label=names[label], **style)
        ax.set_xlabel("distillation epoch")
        ax.set_title(f"{title}{split} robots")
    axes[0].set_ylabel("mean episode return")
    drawn = [ax for ax in axes if ax.get_legend_handles_labels()[0]]
    if legend and drawn:
        drawn[-1].legend(fontsize=8)


def save_curves(
    path: Path, runs: dict[str, list[Path]], summary: dict[str, Any], names: dict[str, str], sets: Sequence[str]
) -> bool:
    """:func:`draw_curves` on a row of axes, saved to ``path``. :return: written (matplotlib is optional)."""
    plt = pyplot()
    if plt is None:
        return False
    fig, axes = plt.subplots(1, len(sets), figsize=(5 * len(sets), 4), sharey=True, squeeze=False)
    draw_curves(axes[0], runs, summary, names, sets)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def _plots(
    folder: Path,
    runs: dict[str, list[Path]],
    summary: dict[str, Any],
    teacher: dict[str, float],
    names: dict[str, str],
    curve_sets: Sequence[str],
) -> None:
    """``curves.png`` (:func:`save_curves`); ``returns.png``: every policy's final return on every set."""
    if not save_curves(folder / "curves.png", runs, summary, names, curve_sets):  # plots are optional
        return
    plt = pyplot()
    labels = list(summary)
    fig, ax = plt.subplots(figsize=(8, 4))
    splits = list(teacher)
    width = 0.8 / len(splits)
    for j, split in enumerate(splits):
        ax.bar(
            np.arange(len(labels)) + (j - (len(splits) - 1) / 2) * width,
            [summary[lb][split]["mean"] for lb in labels],
            width,
            yerr=[summary[lb][split]["se"] for lb in labels],
            label=f"{split} robots",
        )
    ax.set_xticks(range(len(labels)), [names[lb] for lb in labels], rotation=15, fontsize=8)
    ax.set_ylabel("mean episode return")
    ax.legend()
    fig.tight_layout()
    fig.savefig(folder / "returns.png", dpi=120)
    plt.close(fig)
