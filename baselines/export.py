"""Export one robot's HyperDistill student as a standalone file (``.npz``, and ONNX when available).

The file holds the MLP the hypernetwork generates for the robot, the observation-normalisation
statistics, the feature slice (the 17 state features per limb out of the 52) and the action mask:
everything :class:`unimal_gym.deploy.StudentPolicy` needs to act from the raw environment
observation with numpy alone. ONNX export (``pip install 'unimal-gym[onnx]'``) writes the same
computation, raw ``proprioceptive`` (and ``hfield``) in, 24 action means out (torch's dynamo exporter,
which needs ``onnx`` and ``onnxscript``).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from unimal_gym.deploy import FORMAT

from .nets.hyperdistill import GeneratedMLP, HyperDistill
from .nets.obs import ACTION_DIM, LIMB_OBS_DIM, MAX_LIMBS, student_state_index

DEFAULT_CLIP_OBS = 10.0  # ENV.md §3.7: VecNormalize clip
DEFAULT_EPSILON = 1e-8  # ENV.md §3.7


def onnx_available() -> bool:
    """Whether ``onnx`` and ``onnxscript`` are installed (ONNX export is skipped otherwise)."""
    return all(importlib.util.find_spec(m) is not None for m in ("onnx", "onnxscript"))


def student_arrays(
    generated: GeneratedMLP,
    robot_obs: Mapping[str, np.ndarray],
    obs_mean: np.ndarray,
    obs_var: np.ndarray,
    *,
    clip_obs: float = DEFAULT_CLIP_OBS,
    epsilon: float = DEFAULT_EPSILON,
    robot: str = "",
) -> dict[str, np.ndarray]:
    """The arrays of the exported file (format in :mod:`unimal_gym.deploy`).

    :param generated: the robot's generated MLP.
    :param robot_obs: one observation of the robot (``context`` (636,), ``obs_padding_mask`` (12,),
        ``act_padding_mask`` (24,)).
    :param obs_mean: (624,) running mean of ``proprioceptive``.
    :param obs_var: (624,) running variance of ``proprioceptive``.
    :param clip_obs: clip of the normalised observation.
    :param epsilon: added to the variance.
    :param robot: the robot's name.
    """
    width = MAX_LIMBS * LIMB_OBS_DIM
    mean, var = np.asarray(obs_mean, dtype=np.float64), np.asarray(obs_var, dtype=np.float64)
    if mean.shape != (width,) or var.shape != (width,):
        raise ValueError(f"obs_mean and obs_var must have shape ({width},); got {mean.shape} and {var.shape}")
    act_mask = np.asarray(robot_obs["act_padding_mask"], dtype=bool).reshape(-1)
    out: dict[str, np.ndarray] = {
        "format": np.array(FORMAT),
        "robot": np.array(robot),
        "feature_index": student_state_index(),
        "obs_mean": mean,
        "obs_var": var,
        "clip_obs": np.array(clip_obs),
        "epsilon": np.array(epsilon),
        "context": np.asarray(robot_obs["context"], dtype=np.float64).reshape(-1),
        "obs_padding_mask": np.asarray(robot_obs["obs_padding_mask"], dtype=bool).reshape(-1),
        "act_padding_mask": act_mask,
    }
    for i, layer in enumerate(generated.layers):
        out[f"layer{i}_weight"] = layer.weight.detach().T.contiguous().numpy().astype(np.float32)
        out[f"layer{i}_bias"] = layer.bias.detach().numpy().astype(np.float32)
    if out[f"layer{len(generated.layers) - 1}_bias"].shape != (ACTION_DIM,):
        raise ValueError("only an actor (24 outputs) can be exported")
    if generated.terrain_encoder is not None:
        linears = [m for m in generated.terrain_encoder.modules() if isinstance(m, nn.Linear)]
        for j, layer in enumerate(linears):
            out[f"terrain{j}_weight"] = layer.weight.detach().T.contiguous().numpy().astype(np.float32)
            out[f"terrain{j}_bias"] = layer.bias.detach().numpy().astype(np.float32)
    return out


class RawObservationPolicy(nn.Module):
    """A generated MLP behind the observation normalisation: raw ``proprioceptive`` → 24 action means.

    :param generated: the robot's generated MLP.
    :param arrays: the exported arrays (normalisation statistics and feature slice).
    """

    def __init__(self, generated: GeneratedMLP, arrays: Mapping[str, np.ndarray]) -> None:
        super().__init__()
        index = arrays["feature_index"]
        self.generated = generated
        self.register_buffer("index", torch.as_tensor(index, dtype=torch.long))
        self.register_buffer("mean", torch.as_tensor(arrays["obs_mean"][index], dtype=torch.float32))
        inv_std = 1.0 / np.sqrt(arrays["obs_var"][index] + float(arrays["epsilon"]))
        self.register_buffer("inv_std", torch.as_tensor(inv_std, dtype=torch.float32))
        self.clip_obs = float(arrays["clip_obs"])

    def forward(self, proprioceptive: Tensor, hfield: Tensor | None = None) -> Tensor:
        """:param proprioceptive: (B, 624) raw. :param hfield: (B, 1410) with terrain. :return: (B, 24)."""
        x = ((proprioceptive[:, self.index] - self.mean) * self.inv_std).clamp(-self.clip_obs, self.clip_obs)
        return self.generated(x, hfield)


def export_onnx(generated: GeneratedMLP, arrays: Mapping[str, np.ndarray], path: Path) -> Path:
    """Write the raw-observation policy as ONNX (inputs ``proprioceptive`` [, ``hfield``], output ``action``)."""
    module = RawObservationPolicy(generated, arrays).eval()
    inputs: tuple[Tensor, ...] = (torch.zeros(1, MAX_LIMBS * LIMB_OBS_DIM),)
    names = ["proprioceptive"]
    if generated.terrain_encoder is not None:
        inputs += (torch.zeros(1, generated.terrain_encoder.net[0].in_features),)
        names.append("hfield")
    batch = torch.export.Dim("batch")
    torch.onnx.export(
        module,
        inputs,
        str(path),
        input_names=names,
        output_names=["action"],
        dynamic_shapes=tuple({0: batch} for _ in inputs),
        dynamo=True,
    )
    return path


def export_student(
    student: HyperDistill,
    robot_obs: Mapping[str, np.ndarray],
    path: str | Path,
    obs_mean: np.ndarray,
    obs_var: np.ndarray,
    *,
    clip_obs: float = DEFAULT_CLIP_OBS,
    epsilon: float = DEFAULT_EPSILON,
    robot: str = "",
    onnx: bool | None = None,
) -> list[Path]:
    """Generate one robot's MLP and write it to ``path`` (``.npz``), and to ``path`` with ``.onnx``.

    :param student: the trained student (an actor).
    :param robot_obs: one raw observation of the robot (its ``context`` and masks are used).
    :param path: the ``.npz`` file to write.
    :param obs_mean: (624,) running mean of ``proprioceptive`` the student was trained with.
    :param obs_var: (624,) running variance.
    :param clip_obs: clip of the normalised observation.
    :param epsilon: added to the variance.
    :param robot: the robot's name, stored in the file.
    :param onnx: write ONNX too; None (default) writes it when ``onnx`` is installed.
    :return: the files written.
    """
    ctx = torch.as_tensor(np.asarray(robot_obs["context"]), dtype=torch.float32)
    obs_mask = torch.as_tensor(np.asarray(robot_obs["obs_padding_mask"])).bool()
    act_mask = torch.as_tensor(np.asarray(robot_obs["act_padding_mask"])).bool()
    generated = student.generate(ctx, obs_mask, act_mask)
    arrays = student_arrays(generated, robot_obs, obs_mean, obs_var, clip_obs=clip_obs, epsilon=epsilon, robot=robot)
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_suffix(".npz")
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    written = [path]
    if onnx if onnx is not None else onnx_available():
        written.append(export_onnx(generated, arrays, path.with_suffix(".onnx")))
    return written
