"""The suite's zygote (tests/zygote.py): a forked `seam` child is a process of its own, with the environment, folder,
streams and exit status it was given, and it is not used where a forked child would differ from an exec'd one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.conftest import make_seam
from tests.zygote import ForkedSeam, start_seam, zygote

pytestmark = pytest.mark.skipif(bool(os.environ.get("TESTS_NO_ZYGOTE")), reason="TESTS_NO_ZYGOTE is set")


def test_a_forked_child_has_its_own_environment_folder_streams_and_exit_status(tmp_path: Path) -> None:
    by_env, by_folder = make_seam(tmp_path / "by-env"), make_seam(tmp_path / "by-folder")
    outside = {k: v for k, v in os.environ.items() if k != "SEAM_ROOT"}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        child = start_seam(["status"], env={**outside, "SEAM_ROOT": str(by_env.root)}, stdout=out, stderr=err)
        assert isinstance(child, ForkedSeam), "the zygote serves an ordinary environment"
        assert child.pid != os.getpid()
        assert child.wait(30) == 0
        out.seek(0)
        assert f"seam status — {by_env.root}" in out.read().decode()  # SEAM_ROOT, from the environment it was given

    with tempfile.TemporaryFile() as out:
        child = start_seam(["status"], env=outside, cwd=by_folder.root, stdout=out)
        assert child.wait(30) == 0
        out.seek(0)
        assert f"seam status — {by_folder.root}" in out.read().decode()  # no SEAM_ROOT: the folder it runs in

    quiet = start_seam(["--version"], env=outside, stdout=subprocess.DEVNULL)  # as Popen takes it
    assert isinstance(quiet, ForkedSeam) and quiet.wait(30) == 0

    with tempfile.TemporaryFile() as err:
        missing = start_seam(["status"], env={**outside, "SEAM_ROOT": str(tmp_path / "none")}, stderr=err)
        assert missing.wait(30) == 2
        err.seek(0)
        assert str(tmp_path / "none") in err.read().decode()


def test_a_forked_daemon_dies_by_sigkill_as_a_process_does(tmp_path: Path) -> None:
    paths = make_seam(tmp_path / "s")
    with (tmp_path / "log").open("w") as log:
        child = start_seam(["watch", "--seam", str(paths.root)], env=dict(os.environ), stdout=log, stderr=log)
        assert child.poll() is None
        child.send_signal(signal.SIGKILL)
        assert child.wait(10) == -signal.SIGKILL


def test_an_environment_that_changes_the_interpreter_gets_a_real_exec() -> None:
    z = zygote()
    assert z is not None
    assert z.serves(dict(os.environ))
    assert not z.serves({**os.environ, "PYTHONUTF8": "1"})
    assert not z.serves({**os.environ, "TZ": "Asia/Tokyo"})
    child = start_seam(["--version"], env={**os.environ, "PYTHONUTF8": "1"}, stdout=subprocess.DEVNULL)
    assert isinstance(child, subprocess.Popen)
    assert child.wait(30) == 0
    assert sys.executable in child.args  # type: ignore[operator]
