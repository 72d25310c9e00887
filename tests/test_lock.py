"""One writer per run folder: a second command on a folder in use is refused naming the holder; a killed
holder's lock is taken over; bad output folders are one-line errors that leave nothing behind."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from baselines.common.files import CheckpointError
from baselines.common.lock import LOCK_FILE, folder_lock
from baselines.ppo.__main__ import main as ppo_main


def test_a_held_folder_is_refused_naming_the_holder(tmp_path: Path) -> None:
    with folder_lock(tmp_path / "run", "PPO run") as lock:
        holder = json.loads(lock.read_text())
        with pytest.raises(CheckpointError, match=rf"in use by another PPO run: process {holder['pid']} on "):
            with folder_lock(tmp_path / "run", "PPO run"):
                pass
    assert not (tmp_path / "run" / LOCK_FILE).exists()  # released


def test_the_command_line_refuses_a_folder_in_use(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with folder_lock(tmp_path / "run"):
        assert ppo_main(["--preset", "smoke", "--out", str(tmp_path / "run")]) == 2
        assert [p.name for p in (tmp_path / "run").iterdir()] == [LOCK_FILE]  # the refused run wrote nothing
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is in use by another PPO run" in err


def test_a_killed_holders_lock_is_taken_over(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    folder = tmp_path / "run"
    folder.mkdir()
    stale = {"pid": int(dead.stdout), "host": socket.gethostname(), "started": "earlier"}
    (folder / LOCK_FILE).write_text(json.dumps(stale))
    with folder_lock(folder) as lock:
        assert json.loads(lock.read_text())["pid"] != stale["pid"]
    (folder / LOCK_FILE).write_text("not json")  # an unreadable lock is taken over too
    with folder_lock(folder):
        pass


def test_a_lock_from_another_host_is_respected(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / LOCK_FILE).write_text(json.dumps({"pid": 1, "host": "elsewhere", "started": "then"}))
    with pytest.raises(CheckpointError, match="process 1 on elsewhere"):
        with folder_lock(folder):
            pass


def test_bad_output_folders(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a-file").write_text("x")
    assert ppo_main(["--preset", "smoke", "--out", str(tmp_path / "a-file")]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    assert ppo_main(["--preset", "smoke", "--out", ""]) == 2
    assert "output folder is empty" in capsys.readouterr().err
    # refused before anything is written: no folder is left behind
    assert ppo_main(["--out", str(tmp_path / "never"), "--resume", "--preset", "smoke"]) == 2
    capsys.readouterr()
    assert not (tmp_path / "never").exists()


def test_an_output_folder_that_cannot_be_created_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A read-only place (here a file's would-be subfolder, and sysfs, read-only even for root) is one line."""
    (tmp_path / "a-file").write_text("x")
    assert ppo_main(["--preset", "smoke", "--out", str(tmp_path / "a-file" / "run")]) == 2
    assert capsys.readouterr().err.startswith(f"error: cannot create the folder {tmp_path / 'a-file' / 'run'}: ")
    if Path("/sys/kernel").is_dir():  # Linux
        code = ppo_main(["--preset", "smoke", "--out", "/sys/unimal-gym-test-run"])
        err = capsys.readouterr().err
        assert code == 2 and err.startswith("error: cannot create the folder /sys/unimal-gym-test-run: "), err
        assert err.count("\n") == 1


def _without_permission_override(command: list[str]) -> subprocess.CompletedProcess[str]:
    """Run ``command`` as a process that file permissions apply to: this user when it is not root; as root, with
    root's permission override dropped (``setpriv``), as in a container that drops CAP_DAC_OVERRIDE."""
    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv (util-linux): root would ignore the folder's permissions")
        drop = "-dac_override,-dac_read_search"
        prefix = [setpriv, "--bounding-set", drop, "--inh-caps", drop]
    return subprocess.run([*prefix, *command], capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.parametrize(
    "command",
    [
        ["baselines.ppo", "--preset", "smoke"],  # a run folder (its lock): the pipeline, collect, distill alike
        ["baselines.evaluate", "zero", "--task", "ft", "--robots", "train", "--preset", "smoke"],
    ],
    ids=["run-folder", "evaluate"],
)
def test_a_read_only_output_folder_is_one_line_before_any_work_and_keeps_its_files(
    command: list[str], tmp_path: Path
) -> None:
    """As a user that permission bits apply to (issue 14: untested as non-root): an existing folder it may not
    write in, or a new folder inside one, is refused with one line and exit code 2 before any work starts,
    and what the folder held is untouched."""
    read_only = tmp_path / "results"
    read_only.mkdir()
    (read_only / "keep.txt").write_text("earlier results")
    read_only.chmod(0o555)
    try:
        runs = {
            out: _without_permission_override([sys.executable, "-m", *command, "--out", str(out)])
            for out in (read_only, read_only / "new")
        }
    finally:
        read_only.chmod(0o755)
    expected = {
        read_only: f"error: cannot write in {read_only} (Permission denied); choose another folder (nothing in it "
        "was changed)\n",
        read_only / "new": f"error: cannot create the folder {read_only / 'new'}: Permission denied\n",
    }
    for out, run in runs.items():
        assert (run.returncode, run.stderr) == (2, expected[out]), run.stderr[-2000:]
    assert sorted(p.name for p in read_only.iterdir()) == ["keep.txt"]
    assert (read_only / "keep.txt").read_text() == "earlier results"
