"""Export distilled HyperDistill students as standalone per-robot files (``.npz``, and ONNX on request).

``python -m baselines.export RUN --out DIR [--robots SET] [--onnx]``

RUN is a distillation run directory (its ``final.pt``) or a distillation checkpoint; every robot of
the set (default: the robots the run was distilled on, from its expert data) gets ``DIR/<robot>.npz``,
and ``DIR/manifest.json`` names the checkpoint, the task and the robots. ``DIR`` is new, empty, or an
earlier export of the same checkpoint at the same epoch, which the new robots join (another student's folder
is refused: one manifest speaks for every file); the manifest is written before the first student and after
each, so an interrupted export continues with the same command. Each file holds the MLP the
hypernetwork generates for the robot, the observation-normalisation statistics, the feature slice (the
17 state features per limb out of the 52) and the action mask: everything
:class:`unimal_gym.deploy.StudentPolicy` needs to act from the raw environment observation with numpy
alone. ONNX export (``pip install 'unimal-gym[onnx]'``) writes the same computation, raw
``proprioceptive`` (and ``hfield``) in, 24 action means out (torch's dynamo exporter, which needs
``onnx`` and ``onnxscript``).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from unimal_gym.arguments import ArgumentParser
from unimal_gym.deploy import DIGEST_KEY, FORMAT, KIND, StudentPolicy, arrays_digest
from unimal_gym.layout import ACTION_DIM, PROPRIOCEPTIVE_DIM
from unimal_gym.normalization import ObservationNormalizer

from .common.agents import StudentAgent
from .common.config import ConfigError, run_cli
from .common.envs import robot_files
from .common.expert_data import DataError, read_manifest
from .common.files import read_json, save_npz, write_json
from .common.latency import robot_observation
from .common.lock import writable_folder
from .common.run_dir import resolve_checkpoint
from .nets.hyperdistill import GeneratedMLP, HyperDistill
from .nets.obs import student_state_index


def onnx_available() -> bool:
    """Whether ``onnx`` and ``onnxscript`` are installed (ONNX export is skipped otherwise)."""
    return all(importlib.util.find_spec(m) is not None for m in ("onnx", "onnxscript"))


def student_arrays(
    generated: GeneratedMLP,
    robot_obs: Mapping[str, np.ndarray],
    normalizer: ObservationNormalizer,
    robot: str = "",
    task: str = "",
) -> dict[str, np.ndarray]:
    """The arrays of the exported file (format in :mod:`unimal_gym.deploy`).

    :param generated: the robot's generated MLP.
    :param robot_obs: one observation of the robot (``context`` (636,), ``obs_padding_mask`` (12,),
        ``act_padding_mask`` (24,)).
    :param normalizer: the (624-wide) observation statistics the student was trained with.
    :param robot: the robot's name.
    :param task: the task the student was distilled on (stored for readers; '' = not stored).
    """
    if normalizer.mean.shape != (PROPRIOCEPTIVE_DIM,):
        raise ValueError(f"the normaliser must be {PROPRIOCEPTIVE_DIM} wide; got {normalizer.mean.shape}")
    act_mask = np.asarray(robot_obs["act_padding_mask"], dtype=bool).reshape(-1)
    out: dict[str, np.ndarray] = {
        "format": np.array(FORMAT),
        "kind": np.array(KIND),
        "robot": np.array(robot),
        **({"task": np.array(task)} if task else {}),
        "feature_index": student_state_index(),
        **normalizer.to_arrays(),
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
        normalizer = ObservationNormalizer.from_arrays(arrays).subset(index)
        self.generated = generated
        self.register_buffer("index", torch.as_tensor(index, dtype=torch.long))
        self.register_buffer("mean", torch.as_tensor(normalizer.mean, dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(normalizer.std, dtype=torch.float32))
        self.clip_obs = normalizer.clip_obs

    def forward(self, proprioceptive: Tensor, hfield: Tensor | None = None) -> Tensor:
        """:param proprioceptive: (B, 624) raw. :param hfield: (B, 1410) with terrain. :return: (B, 24)."""
        x = ((proprioceptive[:, self.index] - self.mean) / self.std).clamp(-self.clip_obs, self.clip_obs)
        return self.generated(x, hfield)


def export_onnx(generated: GeneratedMLP, arrays: Mapping[str, np.ndarray], path: Path) -> Path:
    """Write the raw-observation policy as ONNX (inputs ``proprioceptive`` [, ``hfield``], output ``action``)."""
    module = RawObservationPolicy(generated, arrays).eval()
    inputs: tuple[Tensor, ...] = (torch.zeros(1, PROPRIOCEPTIVE_DIM),)
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
    normalizer: ObservationNormalizer,
    *,
    robot: str = "",
    task: str = "",
    onnx: bool | None = None,
) -> list[Path]:
    """Generate one robot's MLP and write it to ``path`` (``.npz``), and to ``path`` with ``.onnx``.

    :param student: the trained student (an actor).
    :param robot_obs: one raw observation of the robot (its ``context`` and masks are used).
    :param path: the ``.npz`` file to write.
    :param normalizer: the observation statistics the student was trained with (624 wide).
    :param robot: the robot's name, stored in the file.
    :param onnx: write ONNX too; None (default) writes it when ``onnx`` is installed.
    :return: the files written.
    """
    ctx = torch.as_tensor(np.asarray(robot_obs["context"]), dtype=torch.float32)
    obs_mask = torch.as_tensor(np.asarray(robot_obs["obs_padding_mask"])).bool()
    act_mask = torch.as_tensor(np.asarray(robot_obs["act_padding_mask"])).bool()
    generated = student.generate(ctx, obs_mask, act_mask)
    arrays = student_arrays(generated, robot_obs, normalizer, robot=robot, task=task)
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_suffix(".npz")

    save_npz(path, **arrays, **{DIGEST_KEY: np.array(arrays_digest(arrays))})
    written = [path]
    if onnx if onnx is not None else onnx_available():
        written.append(export_onnx(generated, arrays, path.with_suffix(".onnx")))
    return written


def export_run(
    source: str | Path, out: str | Path, robots: str | None = None, onnx: bool | None = False, seed: int = 0
) -> list[Path]:
    """Export a distilled HyperDistill student for every robot of a set.

    :param source: a distillation run directory or checkpoint.
    :param out: folder for ``<robot>.npz`` (and ``.onnx``) files and ``manifest.json``.
    :param robots: a bundled set or folder; None = the robots the run was distilled on.
    :param onnx: also write ONNX (None: when ``onnx`` is installed).
    :param seed: seed of the reset whose observation supplies each robot's context and masks.
    :return: the ``.npz`` files written, in robot order.
    :raises CheckpointError: not a distillation checkpoint. :raises ConfigError: not a HyperDistill student,
        or no robot set.
    """
    if onnx and not onnx_available():
        raise ConfigError("ONNX export needs onnx and onnxscript: pip install 'unimal-gym[onnx]'")
    agent = StudentAgent(resolve_checkpoint(source))
    if not isinstance(agent.student, HyperDistill):
        raise ConfigError(f"{agent.path} holds a {agent.arch} student; only HyperDistill students generate an MLP")
    if robots is None:
        data = Path(agent.data_path)
        try:
            files = [data / "robots" / "xml" / f"{name}.xml" for name in read_manifest(data)["robots"]]
        except DataError as exc:
            raise ConfigError(f"the run's robots cannot be found ({exc}); name a set with --robots") from None
    else:
        files = robot_files(robots)
    exported = earlier_export(Path(out), agent)  # the robots the folder's manifest lists
    out = writable_folder(out)

    def write_manifest() -> None:
        manifest = {"checkpoint": str(agent.path.resolve()), "task": agent.task, "epoch": agent.iteration}
        write_json(out / "manifest.json", {**manifest, "robots": exported})

    write_manifest()  # before the first student: an interrupted export leaves a folder its rerun continues
    written = []
    for k, xml in enumerate(files, 1):
        raw = robot_observation(agent.task, xml, seed)
        target = out / f"{xml.stem}.npz"
        path = export_student(agent.student, raw, target, agent.normalizer, robot=xml.stem, task=agent.task, onnx=onnx)[
            0
        ]
        StudentPolicy.load(path).check_robot(raw)  # the file acts for the robot it was made for
        written.append(path)
        if xml.stem not in exported:
            exported.append(xml.stem)
            write_manifest()
        print(f"[{k}/{len(files)}] {path}", flush=True)
    return written


def earlier_export(out: Path, agent: StudentAgent) -> list[str]:
    """The robots ``out`` already holds students of: none for a new or empty folder; an earlier export of the same
    checkpoint at the same epoch is added to (its manifest then lists both exports' robots).

    :raises ConfigError: ``out`` holds files but no export manifest, or students of another checkpoint or epoch
        (the folder would mix two students under one manifest); nothing is written then.
    """
    if not out.is_dir() or not any(not p.name.startswith(".") for p in out.iterdir()):  # hidden: temporary files
        return []
    path = out / "manifest.json"
    try:
        manifest = read_json(path, ConfigError) if path.is_file() else None
        source, epoch, robots = manifest["checkpoint"], manifest["epoch"], manifest["robots"]  # type: ignore[index]
    except (ConfigError, KeyError, TypeError):
        why = f"--out {out} holds files but no export manifest"
        raise ConfigError(f"{why}; export into a new or empty folder") from None
    if source != str(agent.path.resolve()) or epoch != agent.iteration:
        raise ConfigError(
            f"--out {out} holds students exported from {source} (epoch {epoch}), not from {agent.path.resolve()} "
            f"(epoch {agent.iteration}); export into a new or empty folder"
        )
    return [str(name) for name in robots]


def main(argv: list[str] | None = None) -> int:
    """Command line: see ``python -m baselines.export --help``."""
    parser = ArgumentParser(prog="python -m baselines.export", description=__doc__.splitlines()[0])
    parser.add_argument("run", help="distillation run directory or checkpoint (a HyperDistill student)")
    parser.add_argument("--out", required=True, help="folder for the per-robot .npz students")
    parser.add_argument("--robots", default=None, help="robot set or folder (default: the run's own robots)")
    parser.add_argument("--onnx", action="store_true", help="also write ONNX files (needs the onnx extra)")
    args = parser.parse_args(argv)

    def body() -> int:
        files = export_run(args.run, args.out, args.robots, onnx=args.onnx)
        print(f"{len(files)} students in {args.out}")
        return 0

    return run_cli(body)


if __name__ == "__main__":
    sys.exit(main())
