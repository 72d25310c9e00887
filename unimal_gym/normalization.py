"""The observation normaliser: frozen running statistics of ``proprioceptive``, one formula, one format.

Policies trained by PPO see ``proprioceptive`` normalised with the running statistics of the training
run (docs/environment.md §3.7; every other key is raw)::

    clip((o − mean) / sqrt(var + epsilon), −clip_obs, clip_obs)

:class:`ObservationNormalizer` is that map with the statistics frozen. The same statistics travel from
the PPO checkpoint to the expert data, the distilled student and the exported ``.npz`` student, always
as these arrays (the file format):

==============  ==============  =====================================================
key             shape           meaning
==============  ==============  =====================================================
``obs_mean``    (624,) float64  running mean of ``proprioceptive``
``obs_var``     (624,) float64  running variance
``obs_count``   () float64      observations the statistics were estimated from
``clip_obs``    () float64      clip of the normalised value (10 in every run)
``epsilon``     () float64      added to the variance (1e-8)
==============  ==============  =====================================================

This module imports numpy only (it is part of the torch-free runtime).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from os import PathLike

import numpy as np

from .layout import PROPRIOCEPTIVE_DIM

DEFAULT_CLIP_OBS = 10.0  # docs/environment.md §3.7: VecNormalize's clip_obs
DEFAULT_EPSILON = 1e-8  # docs/environment.md §3.7: VecNormalize's epsilon
KEYS = ("obs_mean", "obs_var", "obs_count", "clip_obs", "epsilon")


class NormalizerError(ValueError):
    """Normalisation statistics that are missing, of the wrong shape, or not finite."""


@dataclass(frozen=True, eq=False)
class ObservationNormalizer:
    """Frozen ``proprioceptive`` statistics and the map they define (see the module docstring).

    :param mean: (D,) running mean; D = 624, or fewer after :meth:`subset`.
    :param var: (D,) running variance (≥ 0).
    :param count: number of observations behind the statistics (informational; resuming PPO needs it).
    :param clip_obs: clip of the normalised value.
    :param epsilon: added to the variance.
    """

    mean: np.ndarray
    var: np.ndarray
    count: float = 0.0
    clip_obs: float = DEFAULT_CLIP_OBS
    epsilon: float = DEFAULT_EPSILON
    std: np.ndarray = field(init=False, repr=False)
    """(D,) ``sqrt(var + epsilon)``, computed once."""

    def __post_init__(self) -> None:
        mean = np.asarray(self.mean, dtype=np.float64).reshape(-1)
        var = np.asarray(self.var, dtype=np.float64).reshape(-1)
        if mean.shape != var.shape:
            raise NormalizerError(f"mean {mean.shape} and var {var.shape} must have the same shape")
        if not (np.isfinite(mean).all() and np.isfinite(var).all() and (var >= 0).all()):
            raise NormalizerError("normalisation statistics must be finite, with var ≥ 0")
        if not (np.isfinite(self.clip_obs) and self.clip_obs > 0 and np.isfinite(self.epsilon) and self.epsilon >= 0):
            raise NormalizerError(f"clip_obs={self.clip_obs} must be > 0 and epsilon={self.epsilon} ≥ 0, both finite")
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "var", var)
        object.__setattr__(self, "count", float(self.count))
        object.__setattr__(self, "clip_obs", float(self.clip_obs))
        object.__setattr__(self, "epsilon", float(self.epsilon))
        object.__setattr__(self, "std", np.sqrt(var + self.epsilon))

    @classmethod
    def identity(cls, width: int = PROPRIOCEPTIVE_DIM) -> ObservationNormalizer:
        """Mean 0, variance 1 (up to epsilon): for untrained policies and benchmarks."""
        return cls(np.zeros(width), np.ones(width))

    def __call__(self, proprioceptive: np.ndarray) -> np.ndarray:
        """:param proprioceptive: (D,) or (B, D) raw values. :return: the same shape, float64, normalised, clipped."""
        x = np.asarray(proprioceptive, dtype=np.float64)
        return np.clip((x - self.mean) / self.std, -self.clip_obs, self.clip_obs)

    def normalise_obs(self, obs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """A copy of an observation dict with ``proprioceptive`` normalised (every other key as it was)."""
        return {**obs, "proprioceptive": self(obs["proprioceptive"])}

    def subset(self, index: np.ndarray) -> ObservationNormalizer:
        """The statistics of the features ``index`` only (e.g. the HyperDistill student's 204 inputs)."""
        index = np.asarray(index)
        return ObservationNormalizer(self.mean[index], self.var[index], self.count, self.clip_obs, self.epsilon)

    # ------------------------------------------------------------------ the one format
    def to_arrays(self) -> dict[str, np.ndarray]:
        """The statistics as the arrays of the module docstring's table."""
        return {
            "obs_mean": self.mean.copy(),
            "obs_var": self.var.copy(),
            "obs_count": np.array(self.count),
            "clip_obs": np.array(self.clip_obs),
            "epsilon": np.array(self.epsilon),
        }

    @classmethod
    def from_arrays(
        cls, data: Mapping[str, object], source: str = "<arrays>", width: int | None = PROPRIOCEPTIVE_DIM
    ) -> ObservationNormalizer:
        """Inverse of :meth:`to_arrays` (numpy arrays or anything ``np.asarray`` takes, e.g. tensors).

        :param source: where the arrays come from, for error messages.
        :param width: the required length of mean and var (None: any).
        :raises NormalizerError: a key is missing, a shape is wrong, or a value is not finite.
        """
        missing = [k for k in ("obs_mean", "obs_var", "clip_obs", "epsilon") if k not in data]
        if missing:
            raise NormalizerError(f"{source}: normalisation statistics lack {missing}")
        try:
            mean = np.asarray(data["obs_mean"], dtype=np.float64)
            var = np.asarray(data["obs_var"], dtype=np.float64)
            count = float(np.asarray(data.get("obs_count", 0.0)))
            clip_obs, epsilon = float(np.asarray(data["clip_obs"])), float(np.asarray(data["epsilon"]))
        except (TypeError, ValueError) as exc:
            raise NormalizerError(f"{source}: normalisation statistics are not numbers ({exc})") from None
        if width is not None and (mean.shape != (width,) or var.shape != (width,)):
            raise NormalizerError(f"{source}: obs_mean {mean.shape} and obs_var {var.shape} must have shape ({width},)")
        try:
            return cls(mean, var, count, clip_obs, epsilon)
        except NormalizerError as exc:
            raise NormalizerError(f"{source}: {exc}") from None

    def save(self, path: str | PathLike[str]) -> None:
        """Write the arrays to an ``.npz`` file (not atomically; callers that need it write to a temporary name)."""
        with open(path, "wb") as f:
            np.savez(f, **self.to_arrays())

    @classmethod
    def load(cls, path: str | PathLike[str]) -> ObservationNormalizer:
        """Read an ``.npz`` written by :meth:`save`. :raises NormalizerError: unreadable or invalid."""
        try:
            with np.load(path, allow_pickle=False) as npz:
                data = {k: npz[k] for k in npz.files}
        except (OSError, ValueError) as exc:
            raise NormalizerError(f"{path}: cannot read normalisation statistics ({exc})") from None
        return cls.from_arrays(data, str(path))


__all__ = ["DEFAULT_CLIP_OBS", "DEFAULT_EPSILON", "KEYS", "NormalizerError", "ObservationNormalizer"]
