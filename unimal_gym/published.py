"""The published robot sets: fetched once into the user's cache, checked, then named like bundled sets.

Two sources are known:

``hyperdistill``
    The HyperDistill authors' repository (``MasterXiong/Universal-Morphology-Control``) at commit
    ``18c0516c0e133ba960e2f5b56c0817adc8983ec9``: ``data/train`` (100 robots), ``data/test`` (102) and
    ``data/train_mutate_1000`` (1000), each robot an ``xml/NAME.xml`` and a ``metadata/NAME.json``.
    Every file is checked against the SHA-256 manifest that ships with this package
    (``unimal_gym/manifests/hyperdistill-18c0516.sha256``); a set is kept only if all its files are
    present and match.
``unimal-100``
    MetaMorph's Unimal-100 benchmark (``unimals_100.zip``: 100 train, 100 test, 1600 dynamics and 800
    kinematics variations), which its authors distribute from a file host: users obtain the zip
    themselves and import it with ``--from``. The layout is found wherever it sits in the archive
    (any folder named ``train``, ``test``, ``dynamics*`` or ``kinematics*`` holding ``xml/``); every
    robot file must parse and each set must hold its published number of robots.

Files land in :func:`cache_dir` (``$UNIMAL_GYM_CACHE``, else ``$XDG_CACHE_HOME/unimal-gym``, else
``~/.cache/unimal-gym``) as ``<source>/<set>/{xml,metadata}/``. They are written into a staging folder
and moved into place set by set only after every check passed, with a ``.complete`` record written
last; a set without that record (an interrupted or failed import) is never used. Afterwards
``robots="hyperdistill/test"``, ``robot="hyperdistill/train/NAME"`` and ``--robots unimal-100/train``
work everywhere a bundled set does (:mod:`unimal_gym.envs.robots`).

Command line: ``unimal-gym download hyperdistill [--from PATH_OR_URL] [--sets train test]``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tarfile
import tempfile
import urllib.request
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .morphology import MorphologyError, from_xml

CACHE_ENV = "UNIMAL_GYM_CACHE"
COMPLETE = ".complete"
_MANIFESTS = Path(__file__).resolve().parent / "manifests"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class DownloadError(MorphologyError):
    """A published set could not be fetched, read or verified; nothing of it was kept."""


@dataclass(frozen=True)
class Source:
    """Where a published robot collection comes from and what it must contain."""

    name: str
    description: str
    url: str | None
    """Archive to fetch when no ``--from`` is given (None: the user must supply the file)."""
    counts: dict[str, int]
    """Robots per set, as published."""
    manifest: str | None = None
    """SHA-256 manifest shipped in ``unimal_gym/manifests/`` (paths relative to the archive's root)."""
    folders: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Set → the folder names that hold it inside the archive (tolerant layouts)."""


SOURCES: dict[str, Source] = {
    "hyperdistill": Source(
        name="hyperdistill",
        description="the HyperDistill authors' robots (MasterXiong/Universal-Morphology-Control @ 18c0516)",
        url="https://github.com/MasterXiong/Universal-Morphology-Control/archive/"
        "18c0516c0e133ba960e2f5b56c0817adc8983ec9.zip",
        counts={"train": 100, "test": 102, "train_mutate_1000": 1000},
        manifest="hyperdistill-18c0516.sha256",
    ),
    "unimal-100": Source(
        name="unimal-100",
        description="MetaMorph's Unimal-100 benchmark (unimals_100.zip, obtained by the user)",
        url=None,
        counts={"train": 100, "test": 100, "dynamics": 1600, "kinematics": 800},
        folders={
            "train": ("train",),
            "test": ("test",),
            "dynamics": ("dynamics", "dynamics_test", "dynamic"),
            "kinematics": ("kinematics", "kinematics_test", "kinematic"),
        },
    ),
}


# ---------------------------------------------------------------------------------------------- cache
def cache_dir() -> Path:
    """The folder that holds downloaded sets (not created here)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser()
    return base / "unimal-gym"


def set_folder(source: str, name: str) -> Path:
    """Where a published set lives once downloaded (it may not exist)."""
    return cache_dir() / source / name


def is_complete(folder: Path) -> bool:
    """True when the folder holds a set whose import finished and passed every check."""
    return (folder / COMPLETE).is_file() and (folder / "xml").is_dir()


def published_set(spec: str) -> Path | None:
    """The folder of ``"<source>/<set>"`` when it names a published set; None when ``spec`` is not of that form.

    :raises UnknownRobotError: the source is known but that set was never (completely) downloaded, or is not
        one of the source's sets.
    """
    from .envs.errors import UnknownRobotError  # the env package imports this module

    parts = PurePosixPath(str(spec).replace(os.sep, "/")).parts
    if len(parts) != 2 or parts[0] not in SOURCES:
        return None
    source = SOURCES[parts[0]]
    if parts[1] not in source.counts:
        raise UnknownRobotError(f"{spec!r}: {source.name} has the sets {', '.join(source.counts)}, not {parts[1]!r}")
    folder = set_folder(source.name, parts[1])
    if not is_complete(folder):
        how = f"unimal-gym download {source.name}" + ("" if source.url else " --from PATH_TO_ARCHIVE")
        raise UnknownRobotError(f"{spec!r} is not downloaded (looked in {folder}); run: {how}")
    return folder


# ---------------------------------------------------------------------------------------------- archives
Member = tuple[PurePosixPath, Callable[[], bytes]]


def _members(archive: Path) -> Iterator[Member]:
    """(path inside the archive, reader) of every regular file of a zip, a tar (any compression) or a folder.

    :raises DownloadError: not a readable archive.
    """
    if archive.is_dir():
        for path in sorted(p for p in archive.rglob("*") if p.is_file()):
            yield PurePosixPath(path.relative_to(archive).as_posix()), path.read_bytes
        return
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as z:
            for info in z.infolist():
                if not info.is_dir():
                    yield PurePosixPath(info.filename), (lambda info=info: z.read(info))
        return
    try:
        with tarfile.open(archive) as t:
            for info in t:
                if info.isfile():
                    yield PurePosixPath(info.name), (lambda info=info: t.extractfile(info).read())  # type: ignore[union-attr]
    except tarfile.TarError as e:
        raise DownloadError(f"{archive}: not a zip or tar archive, nor a folder ({e})") from None


def _read_manifest(name: str) -> dict[str, str]:
    """``relative path → sha256`` of a shipped manifest."""
    entries = {}
    for line in (_MANIFESTS / name).read_text().splitlines():
        if line.strip():
            digest, path = line.split(maxsplit=1)
            entries[path.strip()] = digest
    return entries


def _robot_file(parts: tuple[str, ...]) -> tuple[str, str, str] | None:
    """(set folder name, kind, file name) when a path ends in ``<set>/xml/NAME.xml`` or ``<set>/metadata/NAME.json``."""
    if len(parts) < 3:
        return None
    folder, kind, name = parts[-3:]
    suffix = {"xml": ".xml", "metadata": ".json"}.get(kind)
    if suffix is None or not name.endswith(suffix) or not _NAME.match(name):
        return None
    return folder, kind, name


def _fetch(url: str, into: Path, progress: Callable[[str], None]) -> Path:
    """Download ``url`` to a file in ``into``. :raises DownloadError: any network or HTTP failure."""
    target = into / "archive"
    progress(f"downloading {url}")
    try:
        with urllib.request.urlopen(url, timeout=60) as response, target.open("wb") as f:
            shutil.copyfileobj(response, f, length=1 << 20)
    except OSError as e:
        raise DownloadError(f"cannot download {url}: {e}; fetch it yourself and pass --from FILE") from None
    return target


# ---------------------------------------------------------------------------------------------- import
def _collect(source: Source, archive: Path, sets: Sequence[str]) -> dict[str, dict[str, dict[str, bytes]]]:
    """The wanted sets' files from the archive: ``set → kind → file name → bytes``, all checks passed.

    :raises DownloadError: a file whose checksum differs, a missing file, a wrong robot count, or a robot
        file that does not parse.
    """
    found: dict[str, dict[str, dict[str, bytes]]] = {s: {"xml": {}, "metadata": {}} for s in sets}
    if source.manifest:
        manifest = _read_manifest(source.manifest)
        wanted = {p: d for p, d in manifest.items() if p.split("/")[1] in sets}
        for path, read in _members(archive):
            parts = path.parts
            # the manifest's paths start at data/: find them below any top folder of the archive
            for i in range(len(parts)):
                rel = "/".join(parts[i:])
                if rel in wanted:
                    data = read()
                    if hashlib.sha256(data).hexdigest() != wanted[rel]:
                        raise DownloadError(f"{archive}: {rel} does not match its SHA-256 in {source.manifest}")
                    _, set_name, kind, name = rel.split("/")
                    found[set_name][kind][name] = data
                    break
        missing = [p for p in wanted if p.split("/")[3] not in found[p.split("/")[1]][p.split("/")[2]]]
        if missing:
            raise DownloadError(
                f"{archive}: {len(missing)} of {len(wanted)} files of {source.name} are missing (first: {missing[0]})"
            )
        return found
    aliases = {alias: s for s, names in source.folders.items() if s in sets for alias in names}
    for path, read in _members(archive):
        hit = _robot_file(path.parts)
        if hit and hit[0] in aliases:
            set_name = aliases[hit[0]]
            if hit[2] in found[set_name][hit[1]]:
                raise DownloadError(f"{archive}: {set_name} holds {hit[2]} twice ({path})")
            found[set_name][hit[1]][hit[2]] = read()
    for set_name in sets:
        xml = found[set_name]["xml"]
        if len(xml) != source.counts[set_name]:
            raise DownloadError(
                f"{archive}: {source.name}/{set_name} has {len(xml)} robot XML files, the published set "
                f"{source.counts[set_name]} (folders looked for: {', '.join(source.folders[set_name])})"
            )
        for name, data in xml.items():
            meta_name = name[: -len(".xml")] + ".json"
            meta = found[set_name]["metadata"].get(meta_name)
            try:
                from_xml(data.decode(), name=name[:-4], metadata=json.loads(meta) if meta else None)
            except (MorphologyError, UnicodeDecodeError, json.JSONDecodeError) as e:
                raise DownloadError(f"{archive}: {source.name}/{set_name}/{name} is not a valid robot: {e}") from None
    return found


def download(
    source_name: str,
    origin: str | os.PathLike[str] | None = None,
    sets: Sequence[str] | None = None,
    progress: Callable[[str], None] = lambda message: None,
) -> dict[str, Path]:
    """Fetch (or read ``origin``: an archive file, an extracted folder or a URL), check, and install sets.

    :param source_name: ``hyperdistill`` or ``unimal-100``.
    :param sets: the sets to install (default: all of the source's).
    :param progress: called with one line per step.
    :return: set name → its folder in the cache.
    :raises DownloadError: unknown source or set, no origin for a source without a URL, or any failed check
        (nothing of the failed import is kept; sets installed before stay as they were).
    """
    if source_name not in SOURCES:
        raise DownloadError(f"unknown robot source {source_name!r}; known: {', '.join(SOURCES)}")
    source = SOURCES[source_name]
    sets = list(sets or source.counts)
    unknown = [s for s in sets if s not in source.counts]
    if unknown:
        raise DownloadError(f"{source.name} has no set {unknown[0]!r}; its sets: {', '.join(source.counts)}")
    if origin is None and source.url is None:
        raise DownloadError(f"{source.name} is not downloadable by URL: obtain it yourself and pass --from FILE")
    root = cache_dir() / source.name
    new_root = not root.exists()
    root.mkdir(parents=True, exist_ok=True)
    try:
        return _install(source, sets, origin, root, progress)
    except BaseException:
        if new_root and not any(root.iterdir()):  # a first import that failed leaves no empty source folder
            root.rmdir()
        raise


def _install(
    source: Source, sets: list[str], origin: str | os.PathLike[str] | None, root: Path, progress: Callable[[str], None]
) -> dict[str, Path]:
    """:func:`download`'s work in the source's cache folder ``root`` (staged beside the sets, renamed into place)."""
    with tempfile.TemporaryDirectory(prefix=".staging-", dir=root) as tmp:
        staging = Path(tmp)
        where = str(origin) if origin is not None else source.url
        assert where is not None
        if re.match(r"^https?://", where):
            archive = _fetch(where, staging, progress)
        else:
            archive = Path(where).expanduser()
            if not archive.exists():
                raise DownloadError(f"--from {where}: no such file or folder")
        progress(f"checking {source.name} ({', '.join(sets)}) in {archive}")
        found = _collect(source, archive, sets)
        installed = {}
        for set_name in sets:
            folder = staging / set_name
            for kind, files in found[set_name].items():
                (folder / kind).mkdir(parents=True)
                for name, data in files.items():
                    (folder / kind / name).write_bytes(data)
            record = {"source": source.name, "origin": where, "robots": len(found[set_name]["xml"])}
            (folder / COMPLETE).write_text(json.dumps(record, indent=1) + "\n")
            target = root / set_name
            if target.exists():  # a new import replaces the old one only after it passed every check
                shutil.rmtree(target)
            os.replace(folder, target)
            installed[set_name] = target
            progress(f"{source.name}/{set_name}: {record['robots']} robots in {target}")
    return installed
