"""`seam service install|status`: a systemd user unit (restart on failure) and a timer for the heartbeat check on
Linux, launchd agents (KeepAlive, StartInterval) on macOS; both generated on any machine, written under HOME."""

from __future__ import annotations

import plistlib
import shutil
import subprocess
from pathlib import Path

import pytest

from seam.cli import main
from seam.monitor.service import service_files
from tests.conftest import make_seam


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    fake = tmp_path / "home"
    fake.mkdir()
    monkeypatch.setenv("HOME", str(fake))
    return fake


def test_the_linux_units_run_watch_with_restart_on_failure_and_the_check_on_a_timer(tmp_path, home):
    root = make_seam(tmp_path / "desk").root
    files = {f.path.name: f for f in service_files(root, "linux", home, python="/opt/py/bin/python")}
    assert set(files) == {"seam-watch-desk.service", "seam-heartbeat-desk.service", "seam-heartbeat-desk.timer"}
    watch = files["seam-watch-desk.service"]
    assert watch.path.parent == home / ".config" / "systemd" / "user"
    assert f"ExecStart=/opt/py/bin/python -m seam watch --seam {root.resolve()}" in watch.text
    assert "Restart=on-failure" in watch.text and "WantedBy=default.target" in watch.text
    check = files["seam-heartbeat-desk.service"].text
    assert "Type=oneshot" in check and "heartbeat-check --seam" in check
    timer = files["seam-heartbeat-desk.timer"].text
    assert "OnUnitActiveSec=60" in timer and "Unit=seam-heartbeat-desk.service" in timer


def test_the_macos_agents_keep_watch_alive_and_run_the_check_every_minute(tmp_path, home):
    root = make_seam(tmp_path / "desk").root
    files = {f.path.name: f for f in service_files(root, "macos", home, python="/opt/py/bin/python")}
    assert set(files) == {"org.seam.desk.watch.plist", "org.seam.desk.heartbeat.plist"}
    watch = plistlib.loads(files["org.seam.desk.watch.plist"].text.encode())
    assert watch["ProgramArguments"] == ["/opt/py/bin/python", "-m", "seam", "watch", "--seam", str(root.resolve())]
    assert watch["KeepAlive"] == {"SuccessfulExit": False} and watch["RunAtLoad"] is True
    check = plistlib.loads(files["org.seam.desk.heartbeat.plist"].text.encode())
    assert check["StartInterval"] == 60 and "heartbeat-check" in check["ProgramArguments"]
    assert files["org.seam.desk.watch.plist"].path.parent == home / "Library" / "LaunchAgents"


def test_install_print_writes_nothing_and_install_writes_under_home(tmp_path, home, capsys):
    root = make_seam(tmp_path / "desk").root
    assert main(["service", "install", "--print", "--platform", "linux", "--seam", str(root)]) == 0
    assert "Restart=on-failure" in capsys.readouterr().out and not (home / ".config").exists()
    assert main(["service", "status", "--platform", "macos", "--seam", str(root)]) == 1  # not installed yet
    assert "not installed" in capsys.readouterr().out
    assert main(["service", "install", "--platform", "macos", "--seam", str(root)]) == 0
    assert (home / "Library" / "LaunchAgents" / "org.seam.desk.watch.plist").is_file()
    assert main(["service", "status", "--platform", "macos", "--seam", str(root)]) == 0


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not on this machine")
def test_systemd_analyze_verifies_the_generated_units(tmp_path, home):
    root = make_seam(tmp_path / "desk").root
    folder = tmp_path / "units"
    folder.mkdir()
    for file in service_files(root, "linux", home, python=shutil.which("python3") or "/usr/bin/python3"):
        (folder / file.path.name).write_text(file.text)
    units = [str(p) for p in sorted(folder.iterdir())]
    done = subprocess.run(["systemd-analyze", "verify", *units], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
