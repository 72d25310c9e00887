"""Every number a user can give is range-checked where it is parsed, with one message form.

Generated bad inputs per config class: for every numeric field, values just outside its declared range,
NaN and ±inf; every numeric field must declare a range (a new field cannot be forgotten); the command
lines turn each into one line on stderr and exit code 2. The same for the ``unimal-gym`` integer options and
network size overrides."""

from __future__ import annotations

import importlib
import math
import typing
from dataclasses import fields, replace

import pytest

from baselines.collect import COLLECT_PRESETS, CollectConfig
from baselines.common.config import ConfigError, Range, check_device, check_fields
from baselines.distill import DISTILL_PRESETS, DistillConfig
from baselines.evaluate import EvalConfig
from baselines.hyperdistill.config import PipelineConfig, pipeline_preset
from baselines.nets import UnknownNetworkError, build_network
from baselines.ppo import PRESETS, PPOConfig
from baselines.ppo.__main__ import main as ppo_main
from unimal_gym.cli import main as gym_main

CONFIGS = {
    PPOConfig: PRESETS["smoke"],
    CollectConfig: COLLECT_PRESETS["smoke"],
    DistillConfig: DISTILL_PRESETS["smoke"],
    EvalConfig: EvalConfig(),
    PipelineConfig: pipeline_preset("smoke"),
}


def numeric_fields(cls: type) -> list[str]:
    hints = typing.get_type_hints(cls)
    out = []
    for f in fields(cls):
        kinds = {hints[f.name], *typing.get_args(hints[f.name])} - {type(None)}
        if kinds & {int, float} and bool not in kinds:
            out.append(f.name)
    return out


def outside(allowed: Range) -> list[float]:
    """Values just outside the interval, and non-finite ones."""
    bad = [math.nan, math.inf, -math.inf]
    if allowed.lo is not None:
        bad.append(allowed.lo if allowed.lo_open else allowed.lo - 1)
    if allowed.hi is not None:
        bad.append(allowed.hi if allowed.hi_open else allowed.hi + 1)
    return bad


@pytest.mark.parametrize("cls", list(CONFIGS), ids=lambda c: c.__name__)
def test_every_numeric_field_declares_its_range(cls: type) -> None:
    assert sorted(cls.RANGES) == sorted(numeric_fields(cls)), "fields without a range, or ranges of no field"
    for text in cls.RANGES.values():
        Range.parse(text)


@pytest.mark.parametrize("cls", list(CONFIGS), ids=lambda c: c.__name__)
def test_values_outside_a_range_are_refused_with_one_message_form(cls: type) -> None:
    good = CONFIGS[cls]
    check_fields(good)
    for name, text in cls.RANGES.items():
        for value in outside(Range.parse(text)):
            bad = replace(good, **{name: value})
            with pytest.raises(ConfigError, match=rf"^{name}=\S+ is not allowed: "):
                bad.validate()
        allowed = Range.parse(text)
        if allowed.lo is not None and not allowed.lo_open:  # the boundary itself is allowed
            check_fields(replace(good, **{name: type(getattr(good, name) or 0)(allowed.lo)}))


def test_whole_numbers_are_required_where_the_type_says_int() -> None:
    with pytest.raises(ConfigError, match=r"^n_envs=2.5 is not allowed: a whole number is required"):
        replace(PRESETS["smoke"], n_envs=2.5).validate()


@pytest.mark.parametrize(
    "argv",
    [["--gamma", "5"], ["--seed", "-1"], ["--learning-rate", "nan"], ["--torch-threads", "-1"],
     ["--clip-range", "-1"], ["--n-envs", "0"], ["--net", "d_model=-4"], ["--n-envs", "2.5"]],
)  # fmt: skip
def test_ppo_command_line_refuses_bad_numbers_in_one_line(
    argv: list[str], tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert ppo_main([*argv, "--preset", "smoke", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert not (tmp_path / "run").exists()  # nothing written


@pytest.mark.parametrize(
    "argv",
    [["generate", "--count", "0"], ["generate", "--seed", "-1"], ["generate", "--workers", "0"],
     ["mutate", "x.xml", "-n", "99"], ["render", "unimal-train-000", "--width", "0"],
     ["render", "unimal-train-000", "--camera", "nope"], ["vary", "x.xml", "--dynamics", "-2"]],
)  # fmt: skip
def test_unimal_gym_integer_options_are_checked(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        gym_main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "is not allowed" in err or "invalid choice" in err


@pytest.mark.parametrize("net", ["d_model=-4", "d_model=0", "small,n_layers=0", "dropout=nan", "dropout=-0.1"])
def test_network_size_overrides_are_checked(net: str) -> None:
    with pytest.raises(UnknownNetworkError, match="is not allowed"):
        build_network("modumorph", "ft", net)


def test_cuda_is_refused_where_it_cannot_run(monkeypatch) -> None:
    import torch

    monkeypatch.setattr(torch.version, "cuda", None)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # a ROCm build: "cuda" runs on its GPU
    check_device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match=r"^teacher.device='cuda' cannot run here: this torch \(.*\) is built"):
        check_device("cuda", "teacher.device")
    monkeypatch.setattr(torch.version, "cuda", "12.8")
    with pytest.raises(ConfigError, match=r"no CUDA GPU is visible; pass --device cpu, or auto"):
        check_device("cuda")
    check_device("auto")
    check_device("cpu")


def test_a_run_asked_for_cuda_without_one_writes_nothing(tmp_path, monkeypatch, capsys) -> None:
    """PPO used to run on the CPU with "cuda" in its config (SB3 falls back silently); distillation raised torch's
    assertion after writing its config, and the folder then refused both --device cpu and --resume."""
    import torch

    from baselines.distill import main as distill_main

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert ppo_main(["--preset", "smoke", "--device", "cuda", "--out", str(tmp_path / "ppo")]) == 2
    no_data = str(tmp_path / "no-data")
    assert distill_main(["--data", no_data, "--out", str(tmp_path / "d"), "--preset", "smoke", "--device", "cuda"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2 and all(line.startswith("error: device='cuda' cannot run here") for line in lines)
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing written


def test_the_pipeline_checks_its_teachers_robots_before_writing(tmp_path) -> None:
    from baselines.hyperdistill.pipeline import run_pipeline

    config = pipeline_preset("smoke")
    config = replace(config, teacher=replace(config.teacher, robots=str(tmp_path / "nosuch")))
    with pytest.raises(ConfigError, match=r"--robots '.*nosuch': no such folder"):
        run_pipeline(config, tmp_path / "run", log=lambda _: None)
    assert not (tmp_path / "run").exists()


COMMANDS = {
    "python -m baselines.hyperdistill": "baselines.hyperdistill.__main__",
    "python -m baselines.hyperdistill.publish": "baselines.hyperdistill.publish",
    "python -m baselines.hyperdistill.seeds": "baselines.hyperdistill.seeds",
    "python -m baselines.ppo": "baselines.ppo.__main__",
    "python -m baselines.ppo.sb3": "baselines.ppo.sb3",
    "python -m baselines.collect": "baselines.collect",
    "python -m baselines.distill": "baselines.distill",
    "python -m baselines.evaluate": "baselines.evaluate",
    "python -m baselines.export": "baselines.export",
    "python -m baselines.flops": "baselines.flops",
    "python -m baselines.minari_export": "baselines.minari_export",
    "unimal-gym": "unimal_gym.cli",
}


@pytest.mark.parametrize("prog", list(COMMANDS))
def test_every_command_line_says_a_wrong_argument_in_one_line(prog: str, capsys: pytest.CaptureFixture[str]) -> None:
    """argparse's own errors (an unknown option, a value of the wrong type) print its usage block first; here they
    are one line naming the command, as every other user error, with exit status 2."""
    main = importlib.import_module(COMMANDS[prog]).main
    for argv in (["--no-such-option"], ["--no-such-option", "--help-me"]):
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith(f"{prog}: error: ") and err.endswith(f"(see {prog} --help)\n")


def test_an_empty_student_list_is_refused_not_read_as_the_default(tmp_path, capsys) -> None:
    main = importlib.import_module("baselines.hyperdistill.__main__").main
    assert main(["--preset", "smoke", "--students", "", "--out", str(tmp_path / "run")]) == 2
    assert "students (none): choose from" in capsys.readouterr().err and not (tmp_path / "run").exists()
