"""The PPO run configuration: one typed dataclass, presets as instances, command-line overrides.

Every field has a one-line docstring and can be set from the command line as ``--field-name VALUE``
(booleans as ``true``/``false``, optional fields also as ``none``). Values follow MODELS.md §7 unless
a preset says otherwise.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import textwrap
import typing
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

ENVS = {"ft": "Unimal-FT-v0", "vt": "Unimal-VT-v0", "obstacle": "Unimal-Obstacle-v0"}
MODELS = ("modumorph", "tf", "modumorph-compressed", "tf-compressed", "mlp", "hn")
KL_TARGET_COEF = {"ft": 5.0, "vt": 3.0, "obstacle": 3.0}  # MODELS.md §7 (run names KL_5 / KL_3)


class ConfigError(ValueError):
    """A configuration value a user gave is not allowed (unknown name, wrong type, inconsistent sizes)."""


@dataclass(frozen=True)
class PPOConfig:
    """Everything that defines one PPO run (MODELS.md §7); saved as ``config.json`` in the run directory."""

    env: str = "ft"
    """Task: ft, vt or obstacle (Unimal-FT-v0, Unimal-VT-v0, Unimal-Obstacle-v0)."""
    model: str = "modumorph"
    """Policy network: modumorph, tf, modumorph-compressed, tf-compressed, mlp or hn (HN-RL)."""
    net: str = ""
    """Network size: '' (the paper's), 'small', 'tiny', and/or overrides 'field=value,...' of its config."""
    robots: str = "train"
    """Training robots: a bundled set name (train, test) or a folder of UNIMAL XML files."""
    robot_limit: int = 0
    """Use only the first N robots of the set (sorted by name); 0 = all."""
    sampling: str = "balanced"
    """Robot sampling per episode: balanced (∝ 1/EMA episode length) or uniform (MODELS.md §7)."""
    uniform_iters: int = 30
    """Iterations of uniform sampling before balanced sampling starts."""
    ema_alpha: float = 0.1
    """EMA rate of each robot's episode length (after the mean of its first 10 episodes)."""
    total_timesteps: int = 100_000_000
    """Env steps of the run; iterations = total_timesteps // (n_envs · n_steps)."""
    n_envs: int = 32
    """Parallel environments (one subprocess each with vec_env=subproc)."""
    n_steps: int = 2560
    """Steps per environment per iteration."""
    n_epochs: int = 8
    """Passes over the rollout per iteration."""
    batch_size: int = 5120
    """Minibatch size (incomplete last minibatch dropped)."""
    learning_rate: float = 3e-4
    """Base learning rate of Adam (eps 1e-5)."""
    lr_schedule: str = "cos"
    """Learning-rate decay over iterations: cos, lin or constant (to min_lr)."""
    min_lr: float = 0.0
    """Learning rate at the end of the decay."""
    warmup_iters: int = 5
    """Iterations of linear warm-up."""
    warmup_factor: float = 0.1
    """Learning-rate factor at iteration 0 of the warm-up."""
    clip_range: float = 0.2
    """PPO ratio clip ε, also the value clip."""
    clip_value: bool = True
    """Clipped value loss max((V−R)², (V_clip−R)²)."""
    value_coef: float = 0.5
    """Weight of the value loss."""
    entropy_coef: float = 0.0
    """Weight of the entropy bonus."""
    gamma: float = 0.99
    """Discount factor (also of the reward-scaling return)."""
    gae_lambda: float = 0.95
    """GAE λ."""
    max_grad_norm: float = 0.5
    """Global gradient-norm clip over all parameters."""
    kl_target_coef: float | None = None
    """Stop an iteration's updates when approx KL > 0.01 · this; None = 5 on FT, 3 on VT/Obstacle."""
    action_std: float = 0.9
    """Fixed (not learned) standard deviation of the Gaussian policy."""
    norm_clip: float = 10.0
    """Clip of the normalised proprioceptive observation and of the scaled reward."""
    seed: int = 1409
    """Seed of Python, numpy, torch and env i (seed + i)."""
    checkpoint_every: int = 100
    """Save a checkpoint every N iterations (and always at the end)."""
    vec_env: str = "subproc"
    """Environment parallelism: subproc (one process per env) or dummy (all in this process)."""
    device: str = "auto"
    """Torch device: auto (cuda when available), cpu or cuda."""
    torch_threads: int = 0
    """Torch CPU threads in the trainer; 0 = torch's default."""
    log_every: int = 1
    """Print a progress line every N iterations."""

    @property
    def steps_per_iteration(self) -> int:
        """Transitions collected per iteration (n_envs · n_steps)."""
        return self.n_envs * self.n_steps

    @property
    def iterations(self) -> int:
        """Number of PPO iterations of the run (MODELS.md §7: ⌊total / (n_steps · n_envs)⌋, at least 1)."""
        return max(1, self.total_timesteps // self.steps_per_iteration)

    @property
    def kl_limit(self) -> float:
        """approx-KL threshold of the early stop: 0.01 · kl_target_coef."""
        coef = KL_TARGET_COEF[self.env] if self.kl_target_coef is None else self.kl_target_coef
        return 0.01 * coef

    def validate(self) -> PPOConfig:
        """:raises ConfigError: an unknown name or an impossible size; :return: self."""
        choices = {
            "env": tuple(ENVS),
            "model": MODELS,
            "sampling": ("balanced", "uniform"),
            "lr_schedule": ("cos", "lin", "constant"),
            "vec_env": ("subproc", "dummy"),
            "device": ("auto", "cpu", "cuda"),
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ConfigError(f"{name}={getattr(self, name)!r} is not allowed; choose one of {', '.join(allowed)}")
        for name in ("n_envs", "n_steps", "n_epochs", "batch_size", "total_timesteps", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}={getattr(self, name)} must be at least 1")
        if self.batch_size > self.steps_per_iteration:
            raise ConfigError(
                f"batch_size={self.batch_size} exceeds the {self.steps_per_iteration} transitions of an iteration "
                f"(n_envs={self.n_envs} × n_steps={self.n_steps}); no minibatch would be complete"
            )
        if self.robot_limit < 0 or self.action_std <= 0 or self.log_every < 1:
            raise ConfigError("robot_limit must be ≥ 0, action_std > 0 and log_every ≥ 1")
        return self

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict of every field."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PPOConfig:
        """Inverse of :meth:`to_dict`. :raises ConfigError: unknown fields."""
        return config_from_dict(cls, data, "config")


PRESETS: dict[str, PPOConfig] = {
    "paper": PPOConfig(),
    "laptop": PPOConfig(
        robots="train",
        robot_limit=16,
        net="small",
        total_timesteps=500_000,
        n_envs=8,
        n_steps=512,
        n_epochs=4,
        batch_size=512,
        uniform_iters=10,
        checkpoint_every=20,
        torch_threads=1,
        log_every=5,
    ),
    "smoke": PPOConfig(
        net="tiny",
        robots="train",
        robot_limit=3,
        total_timesteps=384,
        n_envs=2,
        n_steps=64,
        n_epochs=2,
        batch_size=64,
        uniform_iters=1,
        warmup_iters=1,
        checkpoint_every=1,
        torch_threads=1,
    ),
}
"""Named configurations: ``paper`` (MODELS.md §7: 32 × 2560 steps, 8 epochs, minibatch 5120, 1e8 steps),
``laptop`` (a useful run on a 2-core machine in under an hour), ``smoke`` (seconds, for tests)."""


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
    import ast
    import inspect

    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = tree.body[0].body  # type: ignore[attr-defined]
    docs: dict[str, str] = {}
    for node, nxt in itertools.pairwise(body):
        if isinstance(node, ast.AnnAssign) and isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant):
            docs[node.target.id] = str(nxt.value.value)  # type: ignore[union-attr]
    return docs


def add_config_arguments(
    parser: argparse.ArgumentParser, cls: type = PPOConfig, presets: Mapping[str, Any] = PRESETS
) -> None:
    """Add ``--preset`` and one ``--field-name`` option per field of the config dataclass ``cls``
    (all default to unset, so that only the given ones override the preset)."""
    parser.add_argument("--preset", default=None, help=f"base configuration: {', '.join(presets)} (default paper)")
    group = parser.add_argument_group("configuration fields (override the preset)")
    docs = field_docs(cls)
    for f in fields(cls):
        group.add_argument(
            f"--{f.name.replace('_', '-')}", dest=f.name, default=None, metavar="V", help=docs.get(f.name)
        )


def config_from_args(
    args: argparse.Namespace, base: Any = None, cls: type = PPOConfig, presets: Mapping[str, Any] = PRESETS
) -> Any:
    """The preset named by ``args.preset`` (default ``paper``), or ``base``, with every given field replaced.

    :raises ConfigError: unknown preset, field value of the wrong type, or an invalid combination.
    """
    if base is None:
        preset = args.preset or "paper"
        if preset not in presets:
            raise ConfigError(f"unknown preset {preset!r}; choose one of {', '.join(presets)}")
        base = presets[preset]
    overrides = {
        f.name: parse_field(cls, f.name, getattr(args, f.name))
        for f in fields(cls)
        if getattr(args, f.name, None) is not None
    }
    return replace(base, **overrides).validate()


__all__ = [
    "ENVS",
    "KL_TARGET_COEF",
    "MODELS",
    "PRESETS",
    "ConfigError",
    "PPOConfig",
    "add_config_arguments",
    "config_from_args",
    "config_from_dict",
    "field_docs",
    "parse_field",
]
