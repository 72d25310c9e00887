"""Typed run configurations: frozen dataclasses, presets as instances, command lines made from them.

Every stage (``ppo``, ``collect``, ``distill``, ``evaluate``) describes a run with one frozen dataclass
whose fields carry a one-line docstring each, and a dict of named presets (``paper``, ``laptop``,
``smoke``) that are instances of it. :func:`add_config_arguments` turns the dataclass into options
(``--field-name VALUE``, optional fields also as ``none``; booleans as ``--field-name`` /
``--no-field-name``; ``--help`` shows each field's docstring), and :func:`config_from_args` applies the given
options on top of the chosen preset. A config saved as JSON comes back with :func:`config_from_dict`.
:func:`run_cli` runs a stage's command line: user errors are one line on stderr and exit code 2.

Why not tyro, which turns dataclasses into command lines too: measured with tyro 1.0.17, a bad value
(``--n-envs abc``) prints a 9-line box, where every command here prints one line (``error: --n-envs 'abc':
expected int``, exit 2), and presets as the base of field overrides, with each preset's value in
``--help``, would still need this module's code around it. The bridge is ~100 lines; tyro would add a
dependency and 0.2 s of import for the same options.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import itertools
import math
import re
import sys
import textwrap
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from . import interrupt


class ConfigError(ValueError):
    """A configuration value a user gave is not allowed (unknown name, wrong type, inconsistent sizes)."""


class UserError(Exception):
    """Base of the errors a command line reports as one line with exit code 2 (bad input, not a bug).

    Stages raise subclasses (or :class:`ConfigError`, registered by :func:`run_cli` too).
    """


@dataclass(frozen=True)
class Range:
    """The values a numeric config field may take: ``lo``/``hi`` bounds (None: unbounded), each closed or open.

    Written as interval strings in a config class's ``RANGES``: ``"[1, inf)"``, ``"(0, 1]"``, ``"[0, 1)"``.
    """

    lo: float | None
    hi: float | None
    lo_open: bool = False
    hi_open: bool = False

    @classmethod
    def parse(cls, text: str) -> Range:
        """``"[1, inf)"`` → Range(1, None); ``"(0, 1]"`` → Range(0, 1, lo_open=True)."""
        match = re.fullmatch(r"\s*([\[(])\s*(-?inf|[-+0-9.e]+)\s*,\s*(-?inf|[-+0-9.e]+)\s*([\])])\s*", text)
        if match is None:
            raise ValueError(f"not an interval: {text!r}")
        lo = None if match.group(2) == "-inf" else float(match.group(2))
        hi = None if match.group(3) == "inf" else float(match.group(3))
        return cls(lo, hi, match.group(1) == "(", match.group(4) == ")")

    def contains(self, value: float) -> bool:
        """True when ``value`` lies in the interval."""
        if self.lo is not None and (value < self.lo or (self.lo_open and value == self.lo)):
            return False
        return not (self.hi is not None and (value > self.hi or (self.hi_open and value == self.hi)))

    def text(self, name: str) -> str:
        """``1 ≤ n_envs``, ``0 < gamma ≤ 1``."""
        left = "" if self.lo is None else f"{_number(self.lo)} {'<' if self.lo_open else '≤'} "
        right = "" if self.hi is None else f" {'<' if self.hi_open else '≤'} {_number(self.hi)}"
        return f"{left}{name}{right}"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def check_fields(config: Any) -> None:
    """Every number of a config dataclass is finite, an integer where its type says ``int``, and inside its
    class's ``RANGES`` (a mapping field name → interval string). One message form for every field:
    ``gamma=5.0 is not allowed: 0 < gamma ≤ 1``.

    :raises ConfigError: the first field that breaks its rule.
    """
    cls = type(config)
    ranges: Mapping[str, str] = getattr(cls, "RANGES", {})
    hints = typing.get_type_hints(cls)
    for f in fields(config):
        value = getattr(config, f.name)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if not math.isfinite(value):
            raise ConfigError(f"{f.name}={value} is not allowed: a finite number is required")
        if int in (hints[f.name], *typing.get_args(hints[f.name])) and float not in typing.get_args(hints[f.name]):
            if not float(value).is_integer():
                raise ConfigError(f"{f.name}={value} is not allowed: a whole number is required")
        if f.name in ranges:
            allowed = Range.parse(ranges[f.name])
            if not allowed.contains(value):
                raise ConfigError(f"{f.name}={value} is not allowed: {allowed.text(f.name)}")


def check_device(device: str, where: str = "device") -> None:
    """A run asked for ``device`` can start on this machine: ``"cuda"`` needs a torch built with CUDA and a
    visible GPU (``"auto"`` and ``"cpu"`` always can). Checked when a run starts, not when a saved config is
    read: a GPU run's folder can be reported on a machine without one.

    :param where: how the setting is named in the message (``"teacher.device"``).
    :raises ConfigError: ``"cuda"`` here, saying why not and what to pass instead.
    """
    if device != "cuda":
        return
    import torch  # not at import: the configs are read where torch is not needed

    if torch.cuda.is_available():  # CUDA, or ROCm (its builds answer to "cuda" too)
        return
    if torch.version.cuda is None and getattr(torch.version, "hip", None) is None:
        why = f"this torch ({torch.__version__}) is built without CUDA"
    else:
        why = "no CUDA GPU is visible"
    raise ConfigError(f"{where}='cuda' cannot run here: {why}; pass --device cpu, or auto (a GPU where there is one)")


def key_dict(config: Any) -> dict[str, Any]:
    """What names a config's cached outputs (the pipeline's stage keys hash it): ``config.identity()`` where the
    class has one (without the fields that change how a run is computed, not its results), else
    ``config.to_dict()``; in both, a field named in the class's ``KEY_NEUTRAL`` is left out while it holds the
    value given there.

    ``KEY_NEUTRAL`` (a mapping field name → value) lists the fields added to a config class after its stage keys
    were frozen (2026-12-02), each with the value under which it changes nothing, the behaviour from before the
    field existed. At that value an upgraded package finds the teachers, data and students that an older one
    cached (a teacher may be hours of work); at any other value the field is part of the key.
    ``tests/test_stage_keys.py`` holds the frozen field lists and fails on a new field that is in neither.
    """
    data = config.identity() if hasattr(config, "identity") else config.to_dict()
    neutral: Mapping[str, Any] = getattr(type(config), "KEY_NEUTRAL", {})
    return {name: value for name, value in data.items() if name not in neutral or value != neutral[name]}


def config_from_dict(cls: type, data: Mapping[str, Any], what: str) -> Any:
    """A validated config dataclass ``cls`` from a plain dict (a saved ``config.json``).

    :param what: how the message names the config (e.g. ``"distillation config"``).
    :raises ConfigError: fields that ``cls`` does not have.
    """
    unknown = sorted(set(data) - {f.name for f in fields(cls)})
    if unknown:
        raise ConfigError(f"unknown {what} fields {unknown}; known: {', '.join(f.name for f in fields(cls))}")
    return cls(**data).validate()


def parse_field(cls: type, name: str, text: str) -> Any:
    """Convert a command-line string to the type of field ``name`` of the dataclass ``cls``
    (int, float, bool, str, or an optional of them; ``none`` for None).

    :raises ConfigError: the text is not a value of that type.
    """
    hint = typing.get_type_hints(cls)[name]
    args = typing.get_args(hint)
    if type(None) in args:
        if text.lower() == "none":
            return None
        hint = next(a for a in args if a is not type(None))
    try:
        if hint is bool:
            if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(text)
            return text.lower() in ("true", "1", "yes")
        return hint(text)
    except ValueError:
        raise ConfigError(f"--{name.replace('_', '-')} {text!r}: expected {getattr(hint, '__name__', hint)}") from None


def field_docs(cls: type) -> dict[str, str]:
    """The one-line docstring under each field of the dataclass ``cls``, read from its source (for ``--help``)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = tree.body[0].body  # type: ignore[attr-defined]
    docs: dict[str, str] = {}
    for node, nxt in itertools.pairwise(body):
        if isinstance(node, ast.AnnAssign) and isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant):
            docs[node.target.id] = str(nxt.value.value)  # type: ignore[union-attr]
    return docs


OPTION_ALIASES = {"ray_address": ("--address",)}
"""Other spellings of some fields' options (Ray's own is ``--address``)."""


def add_config_arguments(parser: argparse.ArgumentParser, cls: type, presets: Mapping[str, Any]) -> None:
    """Add ``--preset`` and one ``--field-name`` option per field of the config dataclass ``cls``
    (all default to unset, so that only the given ones override the preset; :data:`OPTION_ALIASES` too)."""
    parser.add_argument("--preset", default=None, help=f"base configuration: {', '.join(presets)} (default paper)")
    group = parser.add_argument_group("configuration fields (override the preset)")
    docs = field_docs(cls)
    hints = typing.get_type_hints(cls)
    for f in fields(cls):
        options = (f"--{f.name.replace('_', '-')}", *OPTION_ALIASES.get(f.name, ()))
        text = help_text(docs.get(f.name, ""), {name: getattr(config, f.name) for name, config in presets.items()})
        if hints[f.name] is bool:  # --name / --no-name, no value
            group.add_argument(*options, dest=f.name, default=None, action=argparse.BooleanOptionalAction, help=text)
        else:
            group.add_argument(*options, dest=f.name, default=None, metavar="V", help=text)


def help_text(doc: str, values: Mapping[str, Any]) -> str:
    """A field's ``--help`` line: its docstring without reStructuredText markup, then its value in each preset
    (one value when all presets agree), escaped for argparse."""
    plain = re.sub(r":\w+:`~?([^`]+)`", lambda m: m.group(1).rsplit(".", 1)[-1], doc)
    plain = plain.replace("``", "")
    shown = {name: "''" if value == "" else str(value) for name, value in values.items()}
    if len(set(shown.values())) == 1:
        default = f"default {next(iter(shown.values()))}"
    else:
        default = "; ".join(f"{name} {value}" for name, value in shown.items())
    return f"{plain} [{default}]".strip().replace("%", "%%")


def config_from_args(args: argparse.Namespace, cls: type, presets: Mapping[str, Any], base: Any = None) -> Any:
    """The preset named by ``args.preset`` (default ``paper``), or ``base``, with every given field replaced.

    :raises ConfigError: unknown preset, field value of the wrong type, or an invalid combination.
    """
    if base is None:
        preset = args.preset or "paper"
        if preset not in presets:
            raise ConfigError(f"unknown preset {preset!r}; choose one of {', '.join(presets)}")
        base = presets[preset]
    given = {f.name: getattr(args, f.name) for f in fields(cls) if getattr(args, f.name, None) is not None}
    overrides = {k: v if isinstance(v, bool) else parse_field(cls, k, v) for k, v in given.items()}
    return replace(base, **overrides).validate()


def run_cli(
    main: Callable[[], int | None], errors: tuple[type[BaseException], ...] = (), resume: str | None = None
) -> int:
    """Run a command's body; a :class:`UserError`, :class:`ConfigError` or one of ``errors`` becomes
    ``error: MESSAGE`` on stderr and exit code 2. Ctrl-C and SIGTERM (:mod:`baselines.common.interrupt`) end
    in one line saying what was saved and how to resume, and exit code 130.

    :param resume: the command that continues the work after an interrupt (default: "run the same command
        again").
    :return: the body's exit code (0 when it returns None).
    """
    hint = f"resume: {resume}" if resume else "run the same command again to continue"
    try:
        with interrupt.stop_on_signals():
            try:
                return main() or 0
            except (EOFError, BrokenPipeError, ConnectionResetError):
                if interrupt.requested() is None:
                    raise
                raise interrupt.Interrupted(  # the signal reached the workers too: the step in hand is lost
                    "the signal stopped the worker processes before the step in hand finished; the last "
                    "checkpoint stands",
                    interrupt.requested() or "a signal",
                ) from None
    except (UserError, ConfigError, *errors) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except interrupt.Interrupted as exc:
        print(f"interrupted by {exc.signal_name}: {exc}; {hint}", file=sys.stderr)
        return interrupt.EXIT_INTERRUPTED
    except KeyboardInterrupt:
        print(f"interrupted: stopped at once (files written so far are whole); {hint}", file=sys.stderr)
        return interrupt.EXIT_INTERRUPTED


__all__ = [
    "ConfigError",
    "UserError",
    "add_config_arguments",
    "config_from_args",
    "config_from_dict",
    "field_docs",
    "key_dict",
    "parse_field",
    "run_cli",
]
