"""Run an exported HyperDistill student with numpy alone (no torch).

A student exported by ``baselines.export`` is one ``.npz`` file holding one robot's generated MLP
(204 → 256 [+64 terrain] → … → 24), the observation-normalisation statistics it was trained with,
the slice of the 624-wide ``proprioceptive`` vector it reads, and the robot's action mask.
:class:`StudentPolicy` maps the **raw** environment observation to the 24-slot action::

    import gymnasium as gym
    import unimal_gym  # noqa: F401
    from unimal_gym.deploy import StudentPolicy

    policy = StudentPolicy.load("student_floor-1409-0-12-01-12-30-07.npz")
    env = gym.make("Unimal-FT-v0", robot="floor-1409-0-12-01-12-30-07.xml")
    obs, _ = env.reset(seed=0)
    policy.check_robot(obs)  # optional: the file was made for this robot
    obs, reward, terminated, truncated, info = env.step(policy(obs))

This module needs numpy alone (it imports the package's numpy-only :mod:`unimal_gym.normalization`,
the one normaliser of the project, and :mod:`unimal_gym.layout`); no torch. File format
(``format = "unimal-gym-student-v1"``):

=========================  ===============  ==================================================
key                        shape            meaning
=========================  ===============  ==================================================
``format``                 ()               the format string above
``kind``                   ()               ``"exported-student"``
``robot``                  ()               the robot's name (informational)
``task``                   ()               ``ft``, ``vt`` or ``obstacle`` (informational)
``feature_index``          (204,) int       positions of the inputs in ``proprioceptive`` (624)
``obs_mean``, ``obs_var``  (624,) float64   statistics of ``proprioceptive`` (:mod:`unimal_gym.normalization`)
``obs_count``              ()               observations behind them (informational)
``clip_obs``, ``epsilon``  ()               ``clip((o − mean) / sqrt(var + epsilon), ±clip_obs)``
``context``                (636,)           the robot's context (for :meth:`check_robot`)
``obs_padding_mask``       (12,) bool       True = padded limb
``act_padding_mask``       (24,) bool       True = no actuator; these actions are exactly 0
``layer{i}_weight``        (in, out) f32    MLP layer i, ``h ← h @ W + b``, ReLU except the last
``layer{i}_bias``          (out,) f32
``terrain{j}_weight/bias``                  φ(hfield): ReLU MLP 1410 → 64 → 64 (VT, Obstacle)
``content_sha256``         ()               SHA-256 of every other array (:func:`arrays_digest`);
                                            :meth:`StudentPolicy.load` refuses a file that does not match
=========================  ===============  ==================================================

With terrain layers, φ(hfield) is concatenated to the first hidden activation (after its ReLU).
"""

from __future__ import annotations

import hashlib
import zipfile
import zlib
from collections.abc import Mapping
from os import PathLike

import numpy as np

from .layout import ACTION_DIM, HFIELD_DIM
from .normalization import NormalizerError, ObservationNormalizer

FORMAT = "unimal-gym-student-v1"
KIND = "exported-student"  # the ``kind`` every artifact of the project names itself by

__all__ = ["DIGEST_KEY", "FORMAT", "RobotMismatchError", "StudentFileError", "StudentPolicy", "arrays_digest"]


DIGEST_KEY = "content_sha256"


def arrays_digest(arrays: Mapping[str, np.ndarray]) -> str:
    """SHA-256 over named arrays: every name, dtype, shape and the bytes, in name order."""
    digest = hashlib.sha256()
    for key in sorted(arrays):
        a = np.ascontiguousarray(arrays[key])
        digest.update(f"{key}:{a.dtype.str}:{a.shape}".encode())
        digest.update(a.tobytes())
    return digest.hexdigest()


class StudentFileError(ValueError):
    """A file is not an exported student, or is missing a part of one."""


class RobotMismatchError(ValueError):
    """The observation comes from a different robot than the one the student was generated for."""


def _layers(data: Mapping[str, np.ndarray], prefix: str) -> list[tuple[np.ndarray, np.ndarray]]:
    layers = []
    while f"{prefix}{len(layers)}_weight" in data:
        i = len(layers)
        w = np.ascontiguousarray(data[f"{prefix}{i}_weight"], dtype=np.float32)
        b = np.ascontiguousarray(data[f"{prefix}{i}_bias"], dtype=np.float32)
        layers.append((w, b))
    return layers


def _check_network(
    layers: list[tuple[np.ndarray, np.ndarray]], terrain: list[tuple[np.ndarray, np.ndarray]], inputs: int, source: str
) -> None:
    """Every layer is a (in, out) weight with an (out,) bias of finite numbers, and the layers chain: the
    first reads the ``inputs`` state features, the terrain encoder the 1410 height-map cells, the second
    layer the first's outputs (plus the terrain's), the last writes the 24 action slots.

    :raises StudentFileError: naming the layer that breaks it.
    """
    for name, stack in (("layer", layers), ("terrain", terrain)):
        for i, (w, b) in enumerate(stack):
            if w.ndim != 2 or b.shape != (w.shape[1],):
                raise StudentFileError(f"{source}: {name}{i}: weight {w.shape} and bias {b.shape} do not form a layer")
            if not (np.isfinite(w).all() and np.isfinite(b).all()):
                raise StudentFileError(f"{source}: {name}{i} holds NaN or infinite values")
    widths = [
        ("layer0", layers[0][0].shape[0], inputs),
        (f"layer{len(layers) - 1}", layers[-1][0].shape[1], ACTION_DIM),
    ]
    if terrain:
        widths.append(("terrain0", terrain[0][0].shape[0], HFIELD_DIM))
        widths += [
            (f"terrain{i + 1}", terrain[i + 1][0].shape[0], terrain[i][0].shape[1]) for i in range(len(terrain) - 1)
        ]
    extra = terrain[-1][0].shape[1] if terrain else 0
    widths.append(("layer1", layers[1][0].shape[0], layers[0][0].shape[1] + extra))
    widths += [(f"layer{i + 1}", layers[i + 1][0].shape[0], layers[i][0].shape[1]) for i in range(1, len(layers) - 1)]
    for name, found, expected in widths:
        if found != expected:
            raise StudentFileError(f"{source}: {name} has width {found} where {expected} is needed")


class StudentPolicy:
    """One robot's exported student: raw observation → 24-slot action (the Gaussian's mean).

    :param data: the arrays of an exported file (see the module docstring), e.g. ``np.load(path)``.
    :param source: where the data came from, for error messages.
    """

    def __init__(self, data: Mapping[str, np.ndarray], source: str = "<arrays>") -> None:
        required = ("format", "feature_index", "obs_mean", "obs_var", "clip_obs", "epsilon", "act_padding_mask")
        missing = [k for k in required if k not in data]
        if missing:
            raise StudentFileError(f"{source}: not an exported student, missing {missing}")
        if str(data["format"]) != FORMAT:
            raise StudentFileError(f"{source}: format '{data['format']}' is not supported (expected '{FORMAT}')")
        self.robot = str(data["robot"]) if "robot" in data else ""
        self.task = str(data["task"]) if "task" in data else ""  # files exported before it was stored: ""
        self.layers = _layers(data, "layer")
        self.terrain_layers = _layers(data, "terrain")
        if len(self.layers) < 2:
            raise StudentFileError(f"{source}: expected at least 2 MLP layers, found {len(self.layers)}")
        index = np.asarray(data["feature_index"], dtype=np.int64)
        _check_network(self.layers, self.terrain_layers, len(index), source)
        try:
            self.normalizer = ObservationNormalizer.from_arrays(data, source).subset(index)
        except (NormalizerError, IndexError) as err:
            raise StudentFileError(f"{source}: {err}") from None
        self.feature_index = index
        self.clip_obs = self.normalizer.clip_obs
        # Inputs whose weights are all zero (the padded limbs' rows) contribute exactly nothing: skip them.
        used = np.any(self.layers[0][0] != 0, axis=1)
        self._used_index, self._used_mean, self._used_std = (
            index[used],
            self.normalizer.mean[used],
            self.normalizer.std[used],
        )
        self._first_weight = np.ascontiguousarray(self.layers[0][0][used])
        self.act_padding_mask = np.asarray(data["act_padding_mask"], dtype=bool)
        self.context = np.asarray(data["context"]) if "context" in data else None
        self.obs_padding_mask = np.asarray(data["obs_padding_mask"], dtype=bool) if "obs_padding_mask" in data else None

    @classmethod
    def load(cls, path: str | PathLike[str]) -> StudentPolicy:
        """Load an exported ``.npz`` file, checking its content checksum (files exported before it: not).

        :param path: the file written by ``baselines.export.export_student``.
        :raises StudentFileError: unreadable (missing, truncated, not an ``.npz``), damaged, or not a student.
        """
        try:
            with np.load(path, allow_pickle=False) as npz:
                data = {k: npz[k] for k in npz.files}
        except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as err:
            raise StudentFileError(f"{path}: cannot read an exported student ({type(err).__name__}: {err})") from None
        stored = data.pop(DIGEST_KEY, None)
        if stored is not None and str(stored) != arrays_digest(data):
            raise StudentFileError(
                f"{path}: its contents do not match their checksum (a damaged file); export it again"
            )
        return cls(data, source=str(path))

    @property
    def uses_terrain(self) -> bool:
        """Whether the policy reads ``hfield`` (VT, Obstacle)."""
        return bool(self.terrain_layers)

    def normalise(self, proprioceptive: np.ndarray) -> np.ndarray:
        """The student's input from raw ``proprioceptive``.

        :param proprioceptive: (624,) or (B, 624) raw observation.
        :return: (204,) or (B, 204) float32 normalised and clipped state features, limb-major 12 × 17.
        """
        return self.normalizer(np.asarray(proprioceptive)[..., self.feature_index]).astype(np.float32)

    def __call__(self, obs: Mapping[str, np.ndarray]) -> np.ndarray:
        """The action for a raw environment observation.

        :param obs: the environment's observation dict (one (624,) or a batch (B, 624)); needs
            ``proprioceptive`` and, with terrain, ``hfield``.
        :return: (24,) or (B, 24) float32 action means; slots with ``act_padding_mask`` are 0.
        """
        x = np.asarray(obs["proprioceptive"], dtype=np.float64)[..., self._used_index]
        x -= self._used_mean  # the normaliser's formula in place: (o − mean) / std, clipped
        x /= self._used_std
        np.maximum(x, -self.clip_obs, out=x)  # clip (np.clip costs twice as much at this size)
        np.minimum(x, self.clip_obs, out=x)
        h = x.astype(np.float32) @ self._first_weight
        h += self.layers[0][1]
        np.maximum(h, 0.0, out=h)
        if self.terrain_layers:
            if "hfield" not in obs:
                raise KeyError(f"the student for robot '{self.robot}' uses the terrain and needs obs['hfield']")
            t = np.asarray(obs["hfield"], dtype=np.float32)
            for tw, tb in self.terrain_layers:
                t = t @ tw
                t += tb
                np.maximum(t, 0.0, out=t)
            h = np.concatenate([h, t], axis=-1)
        for w, b in self.layers[1:-1]:
            h = h @ w
            h += b
            np.maximum(h, 0.0, out=h)
        w, b = self.layers[-1]
        y = h @ w
        y += b
        return y

    def check_robot(self, obs: Mapping[str, np.ndarray], atol: float = 1e-6) -> None:
        """Raise :class:`RobotMismatchError` unless ``obs`` comes from the robot this file was made for.

        :param obs: one observation with ``context``, ``obs_padding_mask`` and ``act_padding_mask``.
        :param atol: tolerance on the context.
        """
        if not np.array_equal(np.asarray(obs["act_padding_mask"], dtype=bool), self.act_padding_mask):
            raise RobotMismatchError(f"act_padding_mask differs from robot '{self.robot}' of this student")
        if self.obs_padding_mask is not None and not np.array_equal(
            np.asarray(obs["obs_padding_mask"], dtype=bool), self.obs_padding_mask
        ):
            raise RobotMismatchError(f"obs_padding_mask differs from robot '{self.robot}' of this student")
        if self.context is not None and not np.allclose(obs["context"], self.context, atol=atol, rtol=0):
            raise RobotMismatchError(f"context differs from robot '{self.robot}' of this student")
