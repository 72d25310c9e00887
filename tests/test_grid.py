"""``--grid``: every task × student × seed of a grid, one table across them, on either executor, resumable;
and Ray (``--executor ray``) giving what the local executor gives.

The truth for the Ray executor is the local one (each task's pipeline run one after another in this
process, as ``python -m baselines.hyperdistill`` runs it; evaluation in local worker processes), whose
results the other tests pin; Ray runs here as a local instance with 2 CPUs, as it would on a laptop, and
the same code joins a cluster.
"""

from __future__ import annotations

import json
import signal
from dataclasses import replace
from pathlib import Path

import pytest

from baselines.common.config import ConfigError
from baselines.common.executor import Stage, fit_needs, kept_signal_handlers, run_stages
from baselines.common.expert_data import DataError
from baselines.evaluate import EvalConfig, evaluate
from baselines.hyperdistill.__main__ import main
from baselines.hyperdistill.config import PipelineConfig, pipeline_preset
from baselines.hyperdistill.grid import GRIDS, PAPER_STUDENTS, grid_configs, run_grid
from baselines.hyperdistill.pipeline import STUDENT_GPU_SHARE, TEACHER_MAX_CPUS, ppo_stage, student_stage


def test_the_paper_grid_is_the_papers_figures() -> None:
    configs = grid_configs("paper")
    assert list(configs) == ["ft", "vt", "obstacle"]  # Figures 2–3: the three tasks
    for task, config in configs.items():
        assert config.students == PAPER_STUDENTS == pipeline_preset("paper", task).students
        assert config.seeds == 3 and config.task == task
        assert config.teacher == pipeline_preset("paper", task).teacher  # the paper preset, not another
    assert GRIDS["paper"].cells == 45


def test_grid_errors_are_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^unknown grid 'huge'; choose one of paper, laptop, smoke$"):
        grid_configs("huge")
    assert main(["--grid", "smoke", "--task", "vt", "--out", str(tmp_path / "g")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --grid smoke sets its own tasks") and "--task" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "g").exists()  # refused before anything was written
    assert main(["--grid", "smoke", "--students", "hyperdistill,nope", "--out", str(tmp_path / "g")]) == 2
    assert "nope" in capsys.readouterr().err


def test_stages_declare_what_they_need_and_fit_the_cluster() -> None:
    paper = pipeline_preset("paper")
    teacher = ppo_stage("teacher", paper.teacher, Path("x"))
    assert (teacher.cpus, teacher.gpus) == (TEACHER_MAX_CPUS, 1.0)  # 32 envs: capped; device auto: a GPU
    student = student_stage(Path("d"), paper.distill, Path("s"))
    assert (student.cpus, student.gpus) == (paper.distill.eval_workers, STUDENT_GPU_SHARE)
    smoke = pipeline_preset("smoke")
    student = student_stage(Path("d"), smoke.distill, Path("s"))
    assert (student.cpus, student.gpus) == (1, 0.0)  # device cpu: no GPU asked for
    gpu_node, cpu_node = {"CPU": 16.0, "GPU": 1.0}, {"CPU": 4.0}
    assert fit_needs(teacher, [gpu_node, cpu_node]) == (8, 1.0)
    assert fit_needs(teacher, [cpu_node, {"CPU": 2.0}]) == (4, 0.0)  # no GPU anywhere: on CPUs, ≤ the largest node
    assert fit_needs(replace(teacher, gpus=2.0), [gpu_node]) == (8, 0.0)  # more than any node has: none
    assert fit_needs(replace(teacher, cpus=0), []) == (1, 0.0)
    # the GPU on a small node: no more CPUs than that node has (16 on the other would fit no node with the GPU)
    assert fit_needs(teacher, [{"CPU": 16.0}, {"CPU": 4.0, "GPU": 1.0}]) == (4, 1.0)


def _stage(x: int, log: object = print) -> int:
    if x < 0:
        raise ConfigError(f"x={x} is not allowed")
    return 2 * x


def test_local_stages_run_in_order_in_this_process() -> None:
    lines: list[str] = []
    assert run_stages([Stage(str(k), _stage, (k,)) for k in range(3)], "local", log=lines.append) == [0, 2, 4]
    with pytest.raises(ConfigError, match="x=-1"):
        run_stages([Stage("bad", _stage, (-1,))], "local")


def _small(executor: str) -> dict[str, PipelineConfig]:
    """The smoke grid on the terrain tasks (FT's smoke pipeline has tests of its own), smaller still: 2 training
    robots, their near mutants, no far set, 1 seed."""

    def configure(config: PipelineConfig) -> PipelineConfig:  # (the far set: FT's smoke pipeline tests it)
        config = replace(config.with_training_set("train", 2), test_sets=(), curve_sets=(), executor=executor, seeds=1)
        return replace(config, distill=replace(config.distill, eval_limit=2))

    return {task: config for task, config in grid_configs("smoke", configure).items() if task != "ft"}


@pytest.mark.slow
def test_the_grid_runs_the_terrain_tasks_and_on_ray_gives_the_same_and_skips_finished_cells(tmp_path: Path) -> None:
    local = _small("local")
    run_grid("smoke", local, tmp_path / "local", log=lambda line: None)
    a = json.loads((tmp_path / "local" / "results.json").read_text())
    assert list(a["tasks"]) == ["vt", "obstacle"]
    for task in ("vt", "obstacle"):  # the whole pipeline on the terrain tasks: every policy on every set
        summary = a["tasks"][task]["summary"]
        assert set(summary) == {"teacher", "hyperdistill", "mlp", "zero", "random"}
        assert all(set(s) == {"train", "near"} and s["near"]["robots"] == 2 for s in summary.values())
    report = (tmp_path / "local" / "report.md").read_text()
    assert "## VT" in report and "## OBSTACLE" in report and "| HyperDistill |" in report
    assert (tmp_path / "local" / "curves.png").is_file()

    ray = pytest.importorskip("ray")  # the rest: the same grid on Ray
    sigterm = signal.getsignal(signal.SIGTERM)
    with kept_signal_handlers():  # Ray's own SIGTERM handler must not outlive this test
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        on_ray = _small("ray")
        lines: list[str] = []
        run_grid("smoke", on_ray, tmp_path / "ray", log=lines.append)
        submitted = [line for line in lines if line.endswith("on Ray (2 CPU)") or line.endswith("on Ray (1 CPU)")]
        assert len(submitted) == 2 + 2 * 2  # a teacher per task, then 2 students per task
        b = json.loads((tmp_path / "ray" / "results.json").read_text())
        assert a["tasks"] == b["tasks"]  # every return, gate and verdict
        assert len(b["cells"]) == 2 * 2 and GRIDS["smoke"].cells == 3 * 2 * 2  # tasks × students (× seeds)
        for task in ("vt", "obstacle"):  # the same teacher (by checksum) and the same expert data (height maps too)
            (data,) = (tmp_path / "local" / task).glob("data-*")
            files = sorted(p.relative_to(data) for p in data.rglob("*.np*"))
            assert len(files) >= 4
            for f in files:
                assert (data / f).read_bytes() == (tmp_path / "ray" / task / data.name / f).read_bytes(), f

        # a re-run skips the finished cells: with one student's seed unfinished, that cell alone runs again
        (cell,) = [c for c in b["cells"] if c["task"] == "obstacle" and c["student"] == "mlp"]
        (tmp_path / "ray" / cell["folder"] / ".done").unlink()
        lines.clear()
        run_grid("smoke", on_ray, tmp_path / "ray", log=lines.append)
        rerun = [line for line in lines if "on Ray" in line]
        assert len(rerun) == 1 and "[obstacle] == distilling mlp (seed 0)" in rerun[0]
        assert json.loads((tmp_path / "ray" / "results.json").read_text())["tasks"] == b["tasks"]

        evaluations = {}  # the evaluation command too: the same results on Ray as in local worker processes
        for executor in ("local", "ray"):
            config = EvalConfig(episodes=1, limit=2, workers=2, task="ft", executor=executor)
            evaluate("random", ["train"], config, tmp_path / f"eval-{executor}")
            evaluations[executor] = json.loads((tmp_path / f"eval-{executor}" / "results.json").read_text())
        assert evaluations["local"]["robots"] == evaluations["ray"]["robots"]
        assert len(evaluations["ray"]["robots"]) == 2

        missing = tmp_path / "no-data"  # a stage's bad input comes back as itself (one line), not as a Ray error
        bad = student_stage(missing, local["vt"].distill, tmp_path / "student")
        with pytest.raises(DataError, match=f"^{missing}"):
            run_stages([bad], "ray")
    finally:
        with kept_signal_handlers():
            ray.shutdown()
    assert signal.getsignal(signal.SIGTERM) is sigterm
