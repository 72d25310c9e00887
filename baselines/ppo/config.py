"""The PPO run configuration: one typed dataclass and its presets (docs/networks.md §7 unless a preset says otherwise).

Every field can be set from the command line as ``--field-name VALUE`` (:mod:`baselines.common.config`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from unimal_gym.layout import TASKS

from ..common.config import ConfigError, check_fields, config_from_dict
from ..common.legacy import rename_fields
from ..nets.registry import ARCHITECTURES, UnknownNetworkError, check_network

ARCHS = tuple(a for a in ARCHITECTURES if a != "hyperdistill")
"""Networks PPO trains: every architecture but the distilled student (HN-RL is its PPO-trained form)."""

KL_TARGET_COEF = {"ft": 5.0, "vt": 3.0, "obstacle": 3.0}  # docs/networks.md §7 (run names KL_5 / KL_3)


@dataclass(frozen=True)
class PPOConfig:
    """Everything that defines one PPO run (docs/networks.md §7); saved as ``config.json`` in the run directory."""

    task: str = "ft"
    """Task: ft, vt or obstacle (Unimal-FT-v0, Unimal-VT-v0, Unimal-Obstacle-v0)."""
    arch: str = "modumorph"
    """Policy network: modumorph, modumorph-compressed, tf, tf-compressed, mlp or hn-rl."""
    net: str = ""
    """Network size: '' (the paper's), 'small', 'tiny', and/or overrides 'field=value,...' of its config."""
    robots: str = "train"
    """Training robots: a bundled set name (train, test) or a folder of UNIMAL XML files."""
    robot_limit: int = 0
    """Use only the first N robots of the set (sorted by name); 0 = all."""
    sampling: str = "balanced"
    """Robot sampling per episode: balanced (∝ 1/EMA episode length) or uniform (docs/networks.md §7)."""
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
    vec_env: str = "native"
    """How the envs run: native (threads in this process, :class:`~baselines.common.vec_env.NativeVecEnv`),
    subproc (one process per env) or dummy (one after another in this process); all three give bitwise
    the same run (``tests/test_ppo.py``), so this is not part of the run's identity (:meth:`identity`)."""
    device: str = "auto"
    """Torch device: auto (cuda when available), cpu or cuda."""
    torch_threads: int = 0
    """Torch CPU threads in the trainer (the update); 0 = torch's default."""
    rollout_threads: int = 0
    """Torch CPU threads while collecting a rollout; 0 = as ``torch_threads``. A rollout's forward passes
    are small (one row per env), and on a 2-core machine one thread is faster for them."""
    log_every: int = 1
    """Print a progress line every N iterations."""

    @property
    def steps_per_iteration(self) -> int:
        """Transitions collected per iteration (n_envs · n_steps)."""
        return self.n_envs * self.n_steps

    @property
    def iterations(self) -> int:
        """Number of PPO iterations of the run (docs/networks.md §7: ⌊total / (n_steps · n_envs)⌋, at least 1)."""
        return max(1, self.total_timesteps // self.steps_per_iteration)

    @property
    def kl_limit(self) -> float:
        """approx-KL threshold of the early stop: 0.01 · kl_target_coef."""
        coef = KL_TARGET_COEF[self.task] if self.kl_target_coef is None else self.kl_target_coef
        return 0.01 * coef

    KEY_NEUTRAL: ClassVar[dict[str, Any]] = {}
    """Fields added since the stage keys were frozen, each with the value under which it changes nothing
    (see :func:`~baselines.common.config.key_dict`): a field added from now on goes here."""

    RANGES: ClassVar[dict[str, str]] = {
        "robot_limit": "[0, inf)",
        "uniform_iters": "[0, inf)",
        "ema_alpha": "(0, 1]",
        "total_timesteps": "[1, inf)",
        "n_envs": "[1, inf)",
        "n_steps": "[1, inf)",
        "n_epochs": "[1, inf)",
        "batch_size": "[1, inf)",
        "learning_rate": "(0, inf)",
        "min_lr": "[0, inf)",
        "warmup_iters": "[0, inf)",
        "warmup_factor": "(0, 1]",
        "clip_range": "(0, inf)",
        "value_coef": "[0, inf)",
        "entropy_coef": "[0, inf)",
        "gamma": "(0, 1]",
        "gae_lambda": "[0, 1]",
        "max_grad_norm": "(0, inf)",
        "kl_target_coef": "(0, inf)",
        "action_std": "(0, inf)",
        "norm_clip": "(0, inf)",
        "seed": "[0, 4294967295]",
        "checkpoint_every": "[1, inf)",
        "torch_threads": "[0, inf)",
        "rollout_threads": "[0, inf)",
        "log_every": "[1, inf)",
    }
    """The values each numeric field may take (checked by :func:`~baselines.common.config.check_fields`)."""

    def validate(self) -> PPOConfig:
        """:raises ConfigError: an unknown name or an impossible size; :return: self."""
        check_fields(self)
        choices = {
            "task": TASKS,
            "arch": ARCHS,
            "sampling": ("balanced", "uniform"),
            "lr_schedule": ("cos", "lin", "constant"),
            "vec_env": ("native", "subproc", "dummy"),
            "device": ("auto", "cpu", "cuda"),
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ConfigError(f"{name}={getattr(self, name)!r} is not allowed; choose one of {', '.join(allowed)}")
        if self.batch_size > self.steps_per_iteration:
            raise ConfigError(
                f"batch_size={self.batch_size} exceeds the {self.steps_per_iteration} transitions of an iteration "
                f"(n_envs={self.n_envs} × n_steps={self.n_steps}); no minibatch would be complete"
            )
        try:
            check_network(self.arch, self.task, self.net)
        except UnknownNetworkError as exc:
            raise ConfigError(f"net={self.net!r}: {exc}") from None
        return self

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict of every field."""
        return dataclasses.asdict(self)

    def identity(self) -> dict[str, Any]:
        """:meth:`to_dict` without :data:`EXECUTION_FIELDS`: what decides the run's results. A resume compares
        it, and the pipeline names a teacher's folder by it."""
        return {k: v for k, v in self.to_dict().items() if k not in EXECUTION_FIELDS}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PPOConfig:
        """Inverse of :meth:`to_dict` (also of configs saved with the old names ``env``/``model``).

        :raises ConfigError: unknown fields.
        """
        return config_from_dict(cls, rename_fields(data), "config")


EXECUTION_FIELDS = ("vec_env",)
"""Fields that change how a run is computed, not its results (each tested bitwise); see :meth:`PPOConfig.identity`."""

MACHINE_FIELDS = (*EXECUTION_FIELDS, "device", "torch_threads", "rollout_threads", "checkpoint_every", "log_every")
"""Fields that fit a run to a machine (where and on how many threads it computes, how often it saves and prints),
not what it learns. A run derived from a teacher trained elsewhere (HN-RL around a given teacher) takes them from
the preset it runs under, not from the teacher. All but ``vec_env`` (:data:`EXECUTION_FIELDS`) stay in
:meth:`PPOConfig.identity`: the device and thread counts may change a run's last bits; ``checkpoint_every`` and
``log_every`` change nothing but are kept, as they always were in the stage keys."""


PRESETS: dict[str, PPOConfig] = {
    "paper": PPOConfig(),
    "laptop": PPOConfig(
        robots="train",
        robot_limit=16,  # with 8 robots the teacher walks further on them but not on their mutants
        net="small",
        total_timesteps=2_000_000,  # at 8 epochs as good as 4 at 3M, in 80 % of the teacher time
        n_envs=16,
        n_steps=256,
        n_epochs=8,  # the paper's; 2 epochs for more steps learn worse (e9)
        batch_size=512,
        uniform_iters=10,
        gamma=0.998,  # γ = 0.99 (a ~100-step horizon) learns to lunge forward and fall, not to walk
        action_std=0.5,
        checkpoint_every=20,
        vec_env="native",  # 16 envs on threads in this process: on 2 cores faster than 8 subprocesses
        torch_threads=2,
        rollout_threads=1,
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
"""Named configurations: ``paper`` (docs/networks.md §7: 32 × 2560 steps, 8 epochs, minibatch 5120, 1e8 steps),
``laptop`` (a teacher that walks on 16 robots in 37–48 minutes on a 2-core machine: the FT teachers timed alone),
``smoke`` (seconds, for tests)."""


__all__ = ["EXECUTION_FIELDS", "KL_TARGET_COEF", "MACHINE_FIELDS", "PRESETS", "PPOConfig"]
