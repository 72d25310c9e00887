"""Paired statistics over robots: the teacher gate and student-versus-teacher comparisons.

Every policy is evaluated on the same robots with the same seeds, so comparisons are *paired*: the
unit is a robot, and what is compared is the per-robot difference of mean returns.

* **Gate** (:func:`gate`): the teacher beats the zero-action policy on a set when the mean paired
  difference teacher − zero exceeds two standard errors of that difference (s.e. = sample standard
  deviation / √n). A student/teacher ratio on a set whose gate fails means nothing: the teacher has
  not learnt anything there that a student could match.
* **Comparison** (:func:`compare`): a student's paired difference student − teacher, with a 95 %
  percentile-bootstrap confidence interval of its mean. With several student seeds the bootstrap
  resamples robots and, within each drawn robot, seeds. The verdict reads the interval: *behind*
  (entirely below 0), *ahead* (entirely above 0), *matches* (contains 0).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

BOOTSTRAP_SAMPLES = 10_000
BOOTSTRAP_SEED = 1409


class StatisticsError(ValueError):
    """Inputs that cannot be paired (different robots or lengths, too few robots)."""


@dataclass(frozen=True)
class Gate:
    """Teacher minus zero action on one set, paired over robots."""

    passed: bool
    """mean > 2 · se."""
    teacher_minus_zero: float
    """Mean over robots of (teacher return − zero-action return)."""
    se: float
    """Standard error of that mean (sample std with ddof 1, / √n)."""
    robots: int

    def to_dict(self) -> dict[str, float | bool | int]:
        """``{"passed", "teacher_minus_zero", "se", "robots"}``."""
        return {
            "passed": self.passed,
            "teacher_minus_zero": self.teacher_minus_zero,
            "se": self.se,
            "robots": self.robots,
        }


@dataclass(frozen=True)
class Comparison:
    """A student against the teacher on one set, paired over robots (and seeds)."""

    mean: float
    """Mean over robots of (student − teacher) (each robot's student return averaged over seeds)."""
    ci95: tuple[float, float]
    """95 % percentile-bootstrap interval of ``mean``."""
    ratio: float
    """Student mean return / teacher mean return (only meaningful where the gate passed)."""
    verdict: str
    """``behind``, ``matches`` or ``ahead``."""

    def to_dict(self) -> dict[str, object]:
        """``{"paired_diff": {"mean", "ci95"}, "ratio", "verdict"}`` (the report's ``results.json`` form)."""
        return {
            "paired_diff": {"mean": self.mean, "ci95": list(self.ci95)},
            "ratio": self.ratio,
            "verdict": self.verdict,
        }


def _paired(a: Sequence[float], b: Sequence[float], what: str) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise StatisticsError(f"{what}: paired per-robot returns must have the same length; got {x.shape}, {y.shape}")
    if len(x) < 2:
        raise StatisticsError(f"{what}: at least 2 robots are needed for a standard error; got {len(x)}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise StatisticsError(f"{what}: returns must be finite")
    return x, y


def gate(teacher: Sequence[float], zero: Sequence[float]) -> Gate:
    """The teacher gate on one set.

    :param teacher: (n,) the teacher's mean return per robot.
    :param zero: (n,) the zero-action policy's mean return on the same robots, same order.
    """
    t, z = _paired(teacher, zero, "gate")
    d = t - z
    mean, se = float(d.mean()), float(d.std(ddof=1) / np.sqrt(len(d)))
    return Gate(bool(mean > 2 * se), mean, se, len(d))


def compare(
    student: Sequence[float] | Sequence[Sequence[float]],
    teacher: Sequence[float],
    samples: int = BOOTSTRAP_SAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> Comparison:
    """A student against the teacher on one set.

    :param student: (n,) the student's mean return per robot, or (k, n) for k seeds.
    :param teacher: (n,) the teacher's mean return per robot, same robots and order, or (k, n): seed i's
        own teacher (runs with different teacher seeds, each student paired with its teacher).
    :param samples: bootstrap resamples.
    :param seed: seed of the resampling (the interval is reproducible).
    """
    s = np.asarray(student, dtype=float)
    s = s[None] if s.ndim == 1 else s  # (k, n)
    t = np.asarray(teacher, dtype=float)
    if s.ndim != 2:
        raise StatisticsError(f"compare: student returns must be (robots,) or (seeds, robots); got {s.shape}")
    t = np.broadcast_to(t, s.shape) if t.ndim == 1 and t.shape[0] == s.shape[1] else t
    if t.shape != s.shape:
        raise StatisticsError(f"compare: student returns {s.shape} do not pair with the teacher's {t.shape}")
    _paired(s[0], t[0], "compare")
    if not (np.isfinite(s).all() and np.isfinite(t).all()):
        raise StatisticsError("compare: returns must be finite")
    k, n = s.shape
    diff = s - t  # (k, n)
    rng = np.random.default_rng(seed)
    robots = rng.integers(0, n, size=(samples, n))  # robots drawn with replacement
    if k == 1:
        means = diff[0][robots].mean(axis=1)
    else:  # within each drawn robot, seeds drawn with replacement
        seeds = rng.integers(0, k, size=(samples, n, k))
        means = diff[seeds, robots[..., None]].mean(axis=(1, 2))
    lo, hi = (float(v) for v in np.percentile(means, [2.5, 97.5]))
    verdict = "behind" if hi < 0 else "ahead" if lo > 0 else "matches"
    mean = float(diff.mean())
    teacher_mean = float(t.mean())
    ratio = float(s.mean() / teacher_mean) if teacher_mean != 0 else float("nan")
    return Comparison(mean, (lo, hi), ratio, verdict)


__all__ = ["BOOTSTRAP_SAMPLES", "Comparison", "Gate", "StatisticsError", "compare", "gate"]
