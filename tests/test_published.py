"""Published robot sets (unimal_gym.published): imported from archives built here, never from the network.

The HyperDistill collection is checked file by file against the shipped SHA-256 manifest, so its archive is
built from the original training robots in ../shared; the Unimal-100 layout is checked with archives of the
project's own robots.
"""

from __future__ import annotations

import shutil
import tarfile
import zipfile
from pathlib import Path

import gymnasium as gym
import pytest
from conftest import TRAIN_XML, needs_shared

import unimal_gym  # noqa: F401
from unimal_gym import published
from unimal_gym.cli import main
from unimal_gym.envs.errors import UnknownRobotError
from unimal_gym.envs.robots import bundled_robot_dirs, resolve_robots, robot_file, robot_set_folder
from unimal_gym.published import DownloadError, download

ORIGINAL_TRAIN = TRAIN_XML.parent


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own empty cache folder."""
    folder = tmp_path / "cache"
    monkeypatch.setenv(published.CACHE_ENV, str(folder))
    return folder


def _zip(folder: Path, target: Path) -> Path:
    with zipfile.ZipFile(target, "w") as z:
        for f in sorted(folder.rglob("*")):
            if f.is_file():
                z.write(f, f.relative_to(folder).as_posix())
    return target


def _authors_tree(tmp_path: Path) -> Path:
    """The authors' repository layout (a GitHub archive's top folder, then data/train) with the original robots."""
    root = tmp_path / "tree" / "Universal-Morphology-Control-18c0516c0e133ba960e2f5b56c0817adc8983ec9"
    shutil.copytree(ORIGINAL_TRAIN / "xml", root / "data" / "train" / "xml")
    shutil.copytree(ORIGINAL_TRAIN / "metadata", root / "data" / "train" / "metadata")
    (root / "README.md").write_text("not a robot\n")
    return root.parent


@needs_shared
@pytest.mark.parametrize("kind", ["zip", "tar.gz", "folder"])
def test_hyperdistill_train_from_an_archive_is_checked_and_usable(tmp_path: Path, cache: Path, kind: str) -> None:
    tree = _authors_tree(tmp_path)
    if kind == "zip":
        origin = _zip(tree, tmp_path / "umc.zip")
    elif kind == "tar.gz":
        origin = tmp_path / "umc.tar.gz"
        with tarfile.open(origin, "w:gz") as t:
            t.add(tree, arcname=".")
    else:
        origin = tree
    installed = download("hyperdistill", origin, ["train"])
    folder = installed["train"]
    assert folder == cache / "hyperdistill" / "train"
    for kind_dir in ("xml", "metadata"):
        ours = {f.name: f.read_bytes() for f in (folder / kind_dir).iterdir()}
        theirs = {f.name: f.read_bytes() for f in (ORIGINAL_TRAIN / kind_dir).iterdir()}
        assert ours == theirs
    assert not list((cache / "hyperdistill").glob(".staging-*"))
    # the set and its robots are named like bundled ones, everywhere
    assert robot_set_folder("hyperdistill/train") == folder
    assert len(resolve_robots("hyperdistill/train")) == 100
    name = sorted((ORIGINAL_TRAIN / "xml").glob("*.xml"))[0].stem
    assert robot_file(f"hyperdistill/train/{name}") == folder / "xml" / f"{name}.xml"
    env = gym.make("Unimal-FT-v0", robot=f"hyperdistill/train/{name}")
    env.reset(seed=0)
    env.close()


@needs_shared
def test_a_file_that_differs_from_the_manifest_is_refused_and_nothing_is_kept(tmp_path: Path, cache: Path) -> None:
    download("hyperdistill", _zip(_authors_tree(tmp_path), tmp_path / "good.zip"), ["train"])
    before = sorted(p.name for p in (cache / "hyperdistill" / "train" / "xml").iterdir())
    tree = _authors_tree(tmp_path / "bad")
    victim = sorted(tree.glob("*/data/train/xml/*.xml"))[5]
    victim.write_bytes(victim.read_bytes().replace(b"density", b"densitY", 1))
    with pytest.raises(DownloadError, match=rf"{victim.name} does not match its SHA-256"):
        download("hyperdistill", _zip(tree, tmp_path / "bad.zip"), ["train"])
    # the earlier, good import is untouched and no staging folder is left
    assert sorted(p.name for p in (cache / "hyperdistill" / "train" / "xml").iterdir()) == before
    assert not list((cache / "hyperdistill").glob(".staging-*"))


@needs_shared
def test_a_partial_archive_is_refused(tmp_path: Path, cache: Path) -> None:
    tree = _authors_tree(tmp_path)
    next(iter(tree.glob("*/data/train/metadata/*.json"))).unlink()
    with pytest.raises(DownloadError, match="1 of 200 files of hyperdistill are missing"):
        download("hyperdistill", _zip(tree, tmp_path / "partial.zip"), ["train"])
    assert not (cache / "hyperdistill" / "train").exists()
    with pytest.raises(UnknownRobotError, match=r"not downloaded .* run: unimal-gym download hyperdistill"):
        robot_set_folder("hyperdistill/train")


def _unimal100_tree(tmp_path: Path, sets: dict[str, Path]) -> Path:
    """MetaMorph's layout (unimals_100/<set>/{xml,metadata}) below an extra folder, with some junk beside it."""
    root = tmp_path / "u100" / "downloads" / "unimals_100"
    for name, source in sets.items():
        for kind in ("xml", "metadata"):
            shutil.copytree(source / kind, root / name / kind)
    (root.parent / "__MACOSX").mkdir()
    (root.parent / "__MACOSX" / "._x.xml").write_text("junk")
    return tmp_path / "u100"


def test_unimal_100_layout_is_found_and_every_robot_parsed(tmp_path: Path, cache: Path) -> None:
    train, test = (next(d for d in bundled_robot_dirs() if d.name == s) for s in ("train", "test"))
    archive = _zip(_unimal100_tree(tmp_path, {"train": train, "test": test}), tmp_path / "unimals_100.zip")
    installed = download("unimal-100", archive, ["train", "test"])
    assert set(installed) == {"train", "test"}
    assert len(resolve_robots("unimal-100/test")) == 100
    with pytest.raises(UnknownRobotError, match=r"not downloaded .*--from"):
        robot_set_folder("unimal-100/dynamics")


def test_unimal_100_aliases_counts_and_bad_robots(tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    test = next(d for d in bundled_robot_dirs() if d.name == "test")
    small = tmp_path / "three"
    for kind, suffix in (("xml", ".xml"), ("metadata", ".json")):
        (small / kind).mkdir(parents=True)
        for f in sorted((test / kind).glob(f"*{suffix}"))[:3]:
            shutil.copy(f, small / kind / f.name)
    source = published.SOURCES["unimal-100"]

    def with_count(n: int) -> None:
        counts = {**source.counts, "dynamics": n}
        monkeypatch.setitem(published.SOURCES, "unimal-100", published.Source(**{**source.__dict__, "counts": counts}))

    with_count(3)
    tree = _unimal100_tree(tmp_path, {"dynamics_test": small})
    assert download("unimal-100", tree, ["dynamics"])["dynamics"].is_dir()  # found under its alias
    with_count(4)
    with pytest.raises(DownloadError, match="has 3 robot XML files, the published set 4"):
        download("unimal-100", tree, ["dynamics"])
    with_count(3)
    broken = next(tree.glob("**/dynamics_test/xml/*.xml"))
    broken.write_text("<mujoco><worldbody>")
    with pytest.raises(DownloadError, match=rf"{broken.name} is not a valid robot"):
        download("unimal-100", tree, ["dynamics"])


def test_errors_of_the_command_are_one_line_with_exit_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["download", "unimal-100"]) == 2  # no URL: the user must give the file
    assert "pass --from FILE" in capsys.readouterr().err
    assert main(["download", "hyperdistill", "--from", str(tmp_path / "missing.zip")]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    (tmp_path / "junk.zip").write_text("not an archive")
    assert main(["download", "hyperdistill", "--from", str(tmp_path / "junk.zip")]) == 2
    assert "not a zip or tar archive" in capsys.readouterr().err
    assert main(["download", "hyperdistill", "--sets", "validation", "--from", str(tmp_path)]) == 2
    assert "no set 'validation'" in capsys.readouterr().err
    assert main(["info", "hyperdistill/test/floor-1409-0-14-01-12-42-39"]) == 2
    assert "run: unimal-gym download hyperdistill" in capsys.readouterr().err


def test_a_first_import_that_fails_leaves_no_empty_source_folder(tmp_path: Path, cache: Path) -> None:
    (tmp_path / "not-an-archive.zip").write_bytes(b"garbage")
    with pytest.raises(DownloadError):
        download("hyperdistill", tmp_path / "not-an-archive.zip", ["train"])
    assert not (cache / "hyperdistill").exists()
    (cache / "hyperdistill" / "mine").mkdir(parents=True)  # a folder that was there before stays
    with pytest.raises(DownloadError):
        download("hyperdistill", tmp_path / "not-an-archive.zip", ["train"])
    assert (cache / "hyperdistill" / "mine").is_dir()
