"""What the files an agent can write may not do: start LIVE, hide a change of capital settings, or make the
status commands misreport the running mode; and the account id never appears in full in the daemon's log.

Each test reproduces a hole an adversarial run found: LIVE from seam.yaml + `.env`, `seam status` showing
seam.yaml's mode instead of the running daemon's, and the account id printed 15 times in the daemon's log.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from seam.config import load_config
from seam.paths import SeamPaths
from seam.runtime import Runtime
from tests.broker.test_paper_mode import GatewayThread, _loopback
from tests.conftest import DaemonProcess, drop, intent_text, make_seam, seam_cli, wait_for, wait_response

LIVE_ACCOUNT = "U7654321"
PAPER_ACCOUNT = "DU7654321"


@pytest.fixture(autouse=True)
def _only_the_environment_each_test_sets(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The outer environment must not lend these tests (or their child processes) a setting or IBKR_ALLOW_LIVE."""
    for name in list(os.environ):
        if name.startswith("SEAM_") or name == "IBKR_ALLOW_LIVE":
            monkeypatch.delenv(name)
    monkeypatch.setenv("COLUMNS", "200")  # rich tables in the child processes: no wrapping
    yield


@pytest.fixture
def live_gateway() -> Iterator[GatewayThread]:
    """A fake gateway where LIVE mode looks for one: port 4001, logged in to a live (U...) account."""
    with GatewayThread(_loopback(), 4001, LIVE_ACCOUNT) as gateway:
        yield gateway


def _beads(paths: SeamPaths, type_: str) -> list[dict[str, object]]:
    runtime = Runtime.console(paths, load_config(paths, env={}))
    try:
        return [bead.payload for bead in runtime.store.beads(type_=type_)]
    finally:
        runtime.close()


def _watch_once(paths: SeamPaths, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = seam_cli("watch", "--once", "--seam", str(paths.root), env=env, timeout=60)
    return result.returncode, result.stdout + result.stderr


# ---- 12. LIVE only from the process environment of the start ------------------------------------------


def test_live_in_seam_yaml_and_allow_live_in_dotenv_do_not_start_a_live_daemon(
    tmp_path: Path, live_gateway: GatewayThread
) -> None:
    paths = make_seam(tmp_path / "s", f"broker:\n  mode: live\n  host: {live_gateway.gateway.host}\n")
    paths.env_file.write_text("IBKR_ALLOW_LIVE=true\n")

    code, output = _watch_once(paths)

    assert code == 2, output
    assert "IBKR_ALLOW_LIVE=true" in output and "process environment" in output
    assert "found only in the seam's .env, which does not count" in output
    assert "connected to IB Gateway" not in output
    assert not _beads(paths, "IBKR_SESSION"), "the daemon reached the gateway"


def test_allow_live_in_the_process_environment_of_the_start_does_start_live(
    tmp_path: Path, live_gateway: GatewayThread
) -> None:
    """The control for the test above: the same seam starts LIVE when the start's own environment allows it."""
    paths = make_seam(tmp_path / "s", f"broker:\n  mode: live\n  host: {live_gateway.gateway.host}\n")

    code, output = _watch_once(paths, env={"IBKR_ALLOW_LIVE": "true"})

    assert code == 0, output
    sessions = _beads(paths, "IBKR_SESSION")
    assert sessions and sessions[0]["mode"] == "live" and sessions[0]["port"] == 4001


# ---- 12. capital settings changed between two starts: shown and beaded ---------------------------------


def test_capital_settings_changed_between_starts_are_logged_and_beaded_with_the_account_masked(
    tmp_path: Path,
) -> None:
    paths = make_seam(tmp_path / "s")
    code, first = _watch_once(paths)
    assert code == 0, first
    assert "changed since the last start" not in first

    gateway_host = _loopback()  # nothing listens there: the start goes on, the link retries
    paths.config_file.write_text(
        f"broker:\n  mode: paper\n  host: {gateway_host}\n  connect_timeout_seconds: 1\n"
        "risk:\n  max_units_per_order: 50000\nhandlers:\n  concurrency: 2\n"
    )
    paths.env_file.write_text(f"SEAM_IB_ACCOUNT={PAPER_ACCOUNT}\n")
    code, second = _watch_once(paths)

    assert code == 0, second
    warnings = [line for line in second.splitlines() if "WARNING" in line and "changed since the last start" in line]
    shown = "\n".join(warnings)
    for change in (
        "broker.mode: mock → paper",
        f"broker.host: 127.0.0.1 → {gateway_host}",
        "broker.port: null → 4002",
        "risk.max_units_per_order: 200000 → 50000",
        "secrets.ib_account: (unset) → DU7****21",
    ):
        assert change in shown, second
    assert "handlers.concurrency" not in shown, "only settings that move capital are flagged"
    assert PAPER_ACCOUNT not in second
    changes = _beads(paths, "CONFIG_CHANGE")
    assert len(changes) == 1
    assert set(changes[0]["changes"]) == {  # type: ignore[arg-type]
        "broker.mode",
        "broker.host",
        "broker.port",
        "risk.max_units_per_order",
        "secrets.ib_account",
    }
    assert changes[0]["changes"]["secrets.ib_account"] == {"from": "(unset)", "to": "DU7****21"}  # type: ignore[index]
    assert PAPER_ACCOUNT not in json.dumps(changes) + json.dumps(_beads(paths, "START"))

    code, third = _watch_once(paths)
    assert code == 0, third
    assert "changed since the last start" not in third
    assert len(_beads(paths, "CONFIG_CHANGE")) == 1, "an unchanged restart is no change"


# ---- 13. the status commands show what the running daemon runs ------------------------------------------


def test_status_shows_the_running_daemons_mode_not_the_one_seam_yaml_names_since(
    tmp_path: Path, live_gateway: GatewayThread
) -> None:
    paths = make_seam(tmp_path / "s", f"broker:\n  mode: live\n  host: {live_gateway.gateway.host}\n")
    daemon = DaemonProcess(paths, env={"IBKR_ALLOW_LIVE": "true"})
    try:
        paths.config_file.write_text(f"broker:\n  mode: paper\n  host: {live_gateway.gateway.host}\n")
        facts = json.loads(seam_cli("status", "--json", "--seam", str(paths.root)).stdout)
        table = seam_cli("status", "--seam", str(paths.root))
        broker = seam_cli("broker", "status", "--seam", str(paths.root))
        drop(paths, "s.yaml", intent_text("status-after-edit"))
        answered = wait_response(paths, "status-after-edit", timeout=15)
    finally:
        daemon.stop()
    difference = "seam.yaml now says PAPER; the running daemon runs LIVE until it is restarted"

    assert facts["mode"] == "LIVE"
    assert facts["configured_mode"] == "PAPER (configured: seam.yaml)"
    assert facts["mode_difference"] == difference
    assert table.returncode == 0, table.stderr
    assert difference in table.stdout and "PAPER (configured: seam.yaml)" in table.stdout
    assert broker.returncode == 0, broker.stderr
    assert difference in broker.stdout
    assert re.search(r"mode \(running daemon\)\s+│ LIVE", broker.stdout), broker.stdout
    assert "port 4001" in broker.stdout and "U76***21" in broker.stdout
    assert LIVE_ACCOUNT not in table.stdout + broker.stdout
    assert "| mode | LIVE |" in answered["body"], "the daemon that answers reports the mode it runs"

    stopped = json.loads(seam_cli("status", "--json", "--seam", str(paths.root)).stdout)
    assert stopped["mode"] == "no daemon is running"
    assert stopped["mode_difference"] == ""
    assert "no daemon is running" in seam_cli("broker", "status", "--seam", str(paths.root)).stdout


def test_status_without_a_daemon_says_none_is_running_and_shows_the_configured_mode(tmp_path: Path) -> None:
    paths = make_seam(tmp_path / "s", "broker:\n  mode: paper\n")
    result = seam_cli("status", "--seam", str(paths.root))
    assert result.returncode == 0, result.stderr
    assert "no daemon is running" in result.stdout
    assert "PAPER (configured: seam.yaml)" in result.stdout


# ---- 14. the account id is masked in every log record, the IB library's included -----------------------


def test_a_paper_daemons_log_never_shows_the_full_account_id(tmp_path: Path) -> None:
    with GatewayThread(_loopback(), 4002, PAPER_ACCOUNT) as gateway:
        gateway.call(gateway.gateway.inject_position, PAPER_ACCOUNT, "GBPUSD", 20_000, 1.2600)
        paths = make_seam(tmp_path / "paper")
        paths.env_file.write_text(f"SEAM_IB_ACCOUNT={PAPER_ACCOUNT}\n")
        env = {
            "SEAM_BROKER__MODE": "paper",
            "SEAM_BROKER__HOST": gateway.gateway.host,
            "SEAM_BROKER__RECONCILE_MINUTES": "600",
            "SEAM_LOG__LEVEL": "DEBUG",  # the IB library's chattiest records too
        }
        daemon = DaemonProcess(paths, env=env)
        try:
            drop(paths, "a.yaml", intent_text("paper-account", "account"))
            drop(paths, "p.yaml", intent_text("paper-positions", "positions"))
            assert wait_response(paths, "paper-account", timeout=15)["status"] == "ok"
            assert wait_response(paths, "paper-positions", timeout=15)["status"] == "ok"
            wait_for(lambda: "paper-positions" in daemon.output(), 5, what="the intent's log line")
        finally:
            daemon.stop()
    log = daemon.output()

    assert "ib_async" in log, "the IB library's records are not in the log: the test proves little"
    assert "connected to IB Gateway" in log
    assert PAPER_ACCOUNT not in log
    assert "DU7****21" in log


def test_the_log_filter_masks_account_ids_and_secrets_in_any_loggers_final_message() -> None:
    from seam.logmask import SecretMask

    mask = SecretMask(accounts=["F9988776"], secrets=["7731:AAF-token"])
    record = logging.LogRecord(
        "ib_async.wrapper", logging.INFO, __file__, 1, "position %s in %s; bot%s", ("DU1234567", "U7654321", "x"), None
    )
    try:
        raise RuntimeError("account F9988776 refused; url /bot7731:AAF-token/send; DF4455667")
    except RuntimeError:
        import sys

        record.exc_info = sys.exc_info()
    assert mask.filter(record)
    formatted = logging.Formatter("%(message)s").format(record)

    assert formatted.startswith("position DU1****67 in U76***21; botx")
    for secret in ("DU1234567", "U7654321", "F9988776", "7731:AAF-token", "DF4455667"):
        assert secret not in formatted
    assert "F99***76" in formatted and "DF4****67" in formatted
