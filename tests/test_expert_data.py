"""Expert-data storage (baselines.common.expert_data): the compact format gives back exactly the rows the
teacher saw, reads format-2 folders the same, and refuses damaged or mixed files."""

from __future__ import annotations

import csv
import json
import shutil
import zlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from baselines.collect import COLLECT_PRESETS, collect, rollout
from baselines.common.agents import TeacherAgent
from baselines.common.expert_data import (
    DATA_FORMAT_2,
    HFIELD_BYTES,
    HFIELD_OFFSETS,
    DataError,
    ExpertData,
    compress_rows,
    split_proprioceptive,
)
from baselines.distill import DISTILL_PRESETS, distill
from baselines.ppo import PRESETS, train

torch.set_num_threads(1)
COLLECT = replace(COLLECT_PRESETS["smoke"], steps=24)  # 2 parents + 2 PD robots, 48 rows each
ROWS = 48


@pytest.fixture(scope="module", params=["vt", "obstacle"])
def collected(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(teacher checkpoint, data folder) of a smoke teacher on a terrain task."""
    root = tmp_path_factory.mktemp(request.param)
    train(replace(PRESETS["smoke"], task=request.param, vec_env="dummy"), root / "run", quiet=True)
    teacher = root / "run" / "checkpoints" / "final.pt"
    collect(teacher, root / "data", COLLECT, progress=None)
    return teacher, root / "data"


def dense_rollouts(teacher: Path, data: Path) -> list[dict[str, np.ndarray]]:
    """The rollouts re-run in memory (the collection is deterministic): what format 2 stored densely."""
    agent = TeacherAgent(teacher)
    names = json.loads((data / "manifest.json").read_text())["robots"]
    xmls = [data / "robots" / "xml" / f"{n}.xml" for n in names]
    return [rollout(agent, xml, i, COLLECT)["arrays"] for i, xml in enumerate(xmls)]


def as_format_2(data: Path, dense: list[dict[str, np.ndarray]], out: Path) -> Path:
    """A copy of ``data`` laid out as format 2 wrote it: dense 624-wide observations and hfield.npy."""
    shutil.copytree(data, out)
    manifest = json.loads((out / "manifest.json").read_text())
    for name, arrays in zip(manifest["robots"], dense, strict=True):
        shard = out / "shards" / name
        for key, array in arrays.items():
            np.save(shard / f"{key}.npy", array)
        (shard / HFIELD_BYTES).unlink()
        (shard / HFIELD_OFFSETS).unlink()
        robot = dict(np.load(shard / "robot.npz"))
        del robot["proprioceptive_static"]
        np.savez(shard / "robot.npz", **robot)
        meta = json.loads((shard / "meta.json").read_text())  # format 2 recorded no checksums
        (shard / "meta.json").write_text(json.dumps({k: v for k, v in meta.items() if "sha256" not in k}))
    manifest["format"] = DATA_FORMAT_2
    (out / "manifest.json").write_text(json.dumps(manifest))
    return out


def test_every_row_is_rebuilt_exactly(collected: tuple[Path, Path]) -> None:
    """Observations (all 624 columns), hfield rows and targets equal the dense rollout bitwise, in memory
    and memory-mapped, in any order."""
    teacher, data = collected
    dense = dense_rollouts(teacher, data)
    expected = {k: np.concatenate([d[k] for d in dense]) for k in ("proprioceptive", "hfield", "act_mean")}
    assert expected["proprioceptive"].shape == (4 * ROWS, 624) and expected["hfield"].shape == (4 * ROWS, 1410)
    index = np.random.default_rng(0).permutation(4 * ROWS)
    for limit in (4.0, 0.0):
        dataset = ExpertData(data, per_robot=ROWS, memory_limit_gb=limit)
        assert dataset.in_memory == (limit > 0)
        obs, target = dataset.batch(index)
        np.testing.assert_array_equal(obs["proprioceptive"].numpy(), expected["proprioceptive"][index])
        np.testing.assert_array_equal(obs["hfield"].numpy(), expected["hfield"][index])
        np.testing.assert_array_equal(target.numpy(), expected["act_mean"][index])


def test_storage_is_smaller_than_dense(collected: tuple[Path, Path]) -> None:
    """204 of 624 observation columns per row and the hfield compressed at least 3× (flat ground and
    obstacle tops are long runs of one value)."""
    _, data = collected
    shard = data / "shards" / json.loads((data / "manifest.json").read_text())["robots"][0]
    assert np.load(shard / "proprioceptive.npy").shape == (ROWS, 204)
    assert (shard / HFIELD_BYTES).stat().st_size * 3 < ROWS * 1410 * 4
    assert not (shard / "hfield.npy").exists()


def test_format_2_folders_read_the_same_and_distil_to_the_same_losses(
    collected: tuple[Path, Path], tmp_path: Path
) -> None:
    teacher, data = collected
    old = as_format_2(data, dense_rollouts(teacher, data), tmp_path / "format2")
    index = np.random.default_rng(1).permutation(4 * ROWS)[:50]
    (a, ta), (b, tb) = ExpertData(data, ROWS).batch(index), ExpertData(old, ROWS).batch(index)
    assert torch.equal(ta, tb) and a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)

    config = replace(DISTILL_PRESETS["smoke"], evaluate=False, epochs=2, student="mlp")
    losses = []
    for folder in (data, old):
        distill(folder, config, tmp_path / f"run-{folder.name}", progress=None)
        with (tmp_path / f"run-{folder.name}" / "progress.csv").open(newline="") as f:
            losses.append([row["loss"] for row in csv.DictReader(f)])
    assert losses[0] == losses[1] and len(losses[0]) == 2


def test_a_format_2_folder_is_not_resumed_in_format_3(collected: tuple[Path, Path], tmp_path: Path) -> None:
    teacher, data = collected
    old = as_format_2(data, dense_rollouts(teacher, data), tmp_path / "format2")
    with pytest.raises(DataError, match=r"format unimal-expert-data-2.*new --out"):
        collect(teacher, old, COLLECT, progress=None)


def test_damaged_compressed_rows_name_the_file(collected: tuple[Path, Path], tmp_path: Path) -> None:
    _, data = collected
    broken = tmp_path / "broken"
    shutil.copytree(data, broken)
    shard = broken / "shards" / json.loads((data / "manifest.json").read_text())["robots"][1]
    raw = bytearray((shard / HFIELD_BYTES).read_bytes())
    raw[5:25] = bytes(20)  # inside row 0's compressed bytes
    (shard / HFIELD_BYTES).write_bytes(bytes(raw))
    with pytest.raises(DataError, match=r"hfield\.zlib: its contents do not match the checksum"):
        ExpertData(broken, ROWS, memory_limit_gb=0)  # caught when the folder is opened
    # a shard written before checksums were recorded: the damaged row is still named when it is read
    meta = json.loads((shard / "meta.json").read_text())
    (shard / "meta.json").write_text(json.dumps({k: v for k, v in meta.items() if "sha256" not in k}))
    dataset = ExpertData(broken, ROWS, memory_limit_gb=0)
    with pytest.raises(DataError, match=r"hfield\.zlib: row 0 is damaged"):
        dataset.batch(np.array([ROWS]))
    (shard / HFIELD_BYTES).write_bytes(bytes(raw[:-3]))  # truncated: the offsets no longer cover it
    with pytest.raises(DataError, match="row offsets do not cover"):
        ExpertData(broken, ROWS)


def test_compress_rows_and_split_are_exact() -> None:
    rng = np.random.default_rng(2)
    rows = np.round(rng.normal(size=(5, 1410)), 3).astype(np.float32)
    rows[:, :700] = 0.0
    data, offsets = compress_rows(rows)
    assert offsets[0] == 0 and offsets[-1] == len(data) and len(offsets) == 6
    for i, row in enumerate(rows):
        back = np.frombuffer(zlib.decompress(data[offsets[i] : offsets[i + 1]]), np.float32)
        np.testing.assert_array_equal(back, row)

    full = np.tile(rng.normal(size=624).astype(np.float32), (3, 1))
    full[:, 0] = [1.0, 2.0, 3.0]  # column 0 is a limb's changing feature; the rest are the robot's
    stored, static = split_proprioceptive(full, "robot r")
    assert stored.shape == (3, 204) and np.array_equal(static, full[0])
    full[2, 20] = 9.0  # a robot column that changes cannot be stored once
    with pytest.raises(DataError, match=r"robot r: observation columns \[20\] change"):
        split_proprioceptive(full, "robot r")
