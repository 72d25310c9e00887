"""The HyperDistill pipeline: teacher → PD robots → expert data → students → evaluation → report (its
configuration and presets: :mod:`.config`; the report's tables, statistics and plots: :mod:`.report`).

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

Where the stages run (``executor``): ``local`` runs them one after another in this process, or with ``jobs`` > 1
up to that many at once in worker processes of this machine (the students of a run, say); ``ray`` sends
the PPO runs (teacher, HN-RL) and then every student × seed to a Ray cluster at once, each as a task
declaring the CPUs and GPUs it needs (:func:`ppo_stage`, :func:`student_stage`), and collection and
evaluation robot by robot. The results are the same (``tests/test_grid.py``).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from unimal_gym import MAX_EPISODE_STEPS
from unimal_gym.envs.errors import RobotTooLargeError
from unimal_gym.envs.robots import check_robot_size
from unimal_gym.machine import machine_line
from unimal_gym.morphology import load, save, to_xml
from unimal_gym.morphology.sample import pd_robots

from ..collect import collect
from ..common import interrupt
from ..common.agents import REFERENCE_POLICIES, StudentAgent, TeacherAgent
from ..common.config import ConfigError, check_device, key_dict
from ..common.envs import robot_files
from ..common.executor import Stage, run_stages
from ..common.expert_data import read_manifest
from ..common.files import CheckpointError, atomic_write, file_sha256, write_json
from ..common.latency import actor_latency, robot_observation
from ..common.lock import holds_lock
from ..common.progress import Progress
from ..common.rollouts import evaluate_robots, per_robot, robot_jobs, summarise
from ..common.run_dir import resolve_checkpoint
from ..distill import DistillConfig, distill
from ..ppo import PPOConfig, train
from ..ppo.config import MACHINE_FIELDS
from .config import HN_RL, NEAR_SET, PipelineConfig
from .report import policy_names, student_costs, write_report

# ---------------------------------------------------------------------------------------------- stages
NEAR_ATTEMPTS = 100  # draws per wanted near-unseen robot before giving up on its parent


def _given_teacher(source: str | Path, task: str) -> TeacherAgent:
    """The teacher checkpoint as an agent. :raises CheckpointError: unusable, or a policy of another task."""
    agent = TeacherAgent(resolve_checkpoint(source))
    if agent.task != task:
        raise CheckpointError(f"teacher {agent.path} is a {agent.task} policy; the pipeline runs --task {task}")
    return agent


def _recorded_config(agent: TeacherAgent) -> PPOConfig:
    """The PPO configuration the given teacher recorded. :raises CheckpointError: not a valid one."""
    try:
        return PPOConfig.from_dict(agent.ppo_config).validate()
    except ConfigError as exc:
        raise CheckpointError(f"{agent.path}: its recorded PPO configuration is not valid ({exc})") from None


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
    train(config, folder, resume=(folder / "config.json").is_file(), progress=log)
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


def _portable(text: str, out: Path) -> str:
    """``text`` (a set's folder, or ``name=folder,...``) with the run folder's own path taken out: the stage keys
    that name sets made inside ``OUT`` (the near-unseen set) stay the same when ``OUT`` is moved."""
    return text.replace(f"{out}/", "")


def _follow_moved_sets(config_file: Path, eval_sets: str, out: Path) -> None:
    """An unfinished student's saved config names the sets made inside ``OUT`` (the near-unseen set) by their
    absolute path. When ``OUT`` has moved since, point them at the same sets in the new ``OUT``, so that the
    student resumes rather than being refused; any other difference is left for the resume check to refuse.

    :param config_file: the student's ``config.json`` (absent: nothing to do).
    :param eval_sets: the evaluation sets the student is given now (``name=folder,...``).
    """
    if not config_file.is_file():
        return
    try:
        saved = json.loads(config_file.read_text())
        old = saved["eval_sets"]
    except (json.JSONDecodeError, KeyError, TypeError):
        return  # broken: the resume check says so
    if not isinstance(old, str) or old == eval_sets:
        return
    given, before = eval_sets.split(","), old.split(",")
    if len(given) != len(before):
        return
    for new_item, old_item in zip(given, before, strict=True):
        name, _, new_path = new_item.partition("=")
        old_name, _, old_path = old_item.partition("=")
        inside = _portable(new_path, out)  # relative to OUT for a set made inside it
        if new_item != old_item and (name != old_name or inside == new_path or not old_path.endswith(f"/{inside}")):
            return
    write_json(config_file, {**saved, "eval_sets": eval_sets}, indent=2)


def stage_key(*parts: Any) -> str:
    """12 hex digits of the SHA-256 of the parts' JSON (configs enter as their
    :func:`~baselines.common.config.key_dict`)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _done(folder: Path) -> bool:
    return (folder / ".done").is_file()


def _mark_done(folder: Path, info: dict[str, Any], seconds: float) -> None:
    """Write a finished stage's marker with the seconds it took in the run that finished it, and where."""
    info = {**info, "seconds": round(seconds, 3), "machine": machine_line()}
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
    preset_teacher = config.teacher  # its MACHINE_FIELDS (device, threads...) are HN-RL's, whatever the teacher's
    given = None
    if teacher is not None:  # checked first; its own configuration replaces the preset's (seed, budget, robots),
        given = _given_teacher(teacher, config.task)  # and PD robots and the train evaluation follow its robots
        config = config.with_teacher(_recorded_config(given))
    else:
        check_device(config.teacher.device, "teacher.device")
    # the teacher's robots (trained here or recorded by a given teacher: PD parents, the train evaluation) are
    # there and can become envs, before anything is written
    robot_files(config.teacher.robots, config.teacher.robot_limit)
    if config.hn_rl:
        check_device(preset_teacher.device, "teacher.device (HN-RL)")
    check_device(config.distill.device, "distill.device")
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
        machine = {name: getattr(preset_teacher, name) for name in MACHINE_FIELDS}
        hn = replace(config.teacher, arch=HN_RL, **machine)  # a given teacher's robots and budget, the preset's machine
        ppo_runs.append(("HN-RL", hn, out / f"{HN_RL}-{stage_key(key_dict(hn))}"))
        learnt[HN_RL] = ppo_runs[-1][2] / "checkpoints" / "final.pt"
    pending = [run for run in ppo_runs if not _done(run[2])]
    took = run_stages([ppo_stage(*run) for run in pending], config.executor, config.ray_address, log, config.jobs)
    spent = {what: seconds for (what, _, _), seconds in zip(pending, took, strict=True)}  # this run's PPO stages
    timings |= {"teacher": 0.0} | {what: spent.get(what, 0.0) for what, _, _ in ppo_runs}  # cached: 0
    before |= {what: _recorded_seconds(folder / ".done") for what, _, folder in ppo_runs if what not in spent}
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
    keyed = replace(curves, eval_sets=_portable(curves.eval_sets, out))
    runs: dict[str, list[Path]] = {}
    todo = []
    for student in config.students:
        runs[student] = []
        for i in range(config.seeds):
            cfg = replace(curves, student=student, seed=d.seed + i)
            key = stage_key(data_sha, key_dict(replace(keyed, student=student, seed=d.seed + i)))
            folder = out / "students" / f"{student}-{key}"
            if not _done(folder):
                _follow_moved_sets(folder / "config.json", cfg.eval_sets, out)
                todo.append(student_stage(data, cfg, folder))
            runs[student].append(folder)
    spent = run_stages(todo, config.executor, config.ray_address, log, config.jobs)
    fresh = {s.args[2] for s in todo}
    for student in config.students:  # compute time per student (on Ray its seeds overlap in wall time)
        timings[f"distill {student}"] = sum(t for s, t in zip(todo, spent, strict=True) if s.args[1].student == student)
        found = [run / ".done" for run in runs[student] if run not in fresh]
        if found:
            before[f"distill {student}"] = _recorded_seconds(*found)

    # 4. evaluation on training and unseen test robots
    t0 = time.perf_counter()
    portable = {name: _portable(where, out) for name, where in sets.items()}  # the key: OUT may move
    settings = [portable, d.eval_limit, d.eval_episodes, d.eval_deterministic, d.eval_seed, limits]
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
            old = out / "eval" / f"{label}-{stage_key(identity, config.task, [sets, *settings[1:]])}.json"
            if not path.is_file() and old.is_file():  # keyed by OUT's absolute path, before OUT could move
                old.replace(path)
            if path.is_file():
                found.append(path)
            else:
                log(f"== evaluating {label} on {', '.join(sets)}, {per_robot(d.eval_episodes)}")
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
        out / "report", config, teacher_ckpt, data, runs, evals, costs, latencies, timings, names, sets, before, learnt
    )
    log(f"== report: {report}")
    return report
