"""Live configuration: seam.yaml edited while seam runs. Live keys are put in force with a CONFIG_CHANGE bead naming
old and new values; capital and mode keys are refused until restart (log line, alert, bead, settings unchanged); a
strategy parameter's change closes the open proposals, and approving one then answers conflict naming the change."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import pytest

from seam.config import load_config
from seam.liveconfig import ConfigWatcher, is_live
from seam.store import ProposalStatus
from tests.approval.test_codes import Desk
from tests.conftest import DaemonThread, make_seam, wait_for


class Watched:
    def __init__(self, root: Path) -> None:
        self.desk = Desk(root)
        self.alerts: list[tuple[str, str, dict[str, Any]]] = []
        runtime = self.desk.runtime
        assert runtime.approval is not None
        self.watcher = ConfigWatcher(
            self.desk.paths,
            load_config(self.desk.paths, env={}),
            runtime.store,
            apply=runtime.reload,
            alert=lambda kind, message, facts: self.alerts.append((kind, message, facts)),
            invalidate=runtime.approval.invalidate_open,
            env={},
        )

    def write(self, text: str) -> None:
        path = self.desk.paths.config_file
        path.write_text(text, encoding="utf-8")
        st = path.stat()  # a later mtime even on a coarse clock, as a second edit would have
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))

    def config_beads(self) -> list[dict[str, Any]]:
        return [b.payload for b in self.desk.runtime.store.beads(type_="CONFIG_CHANGE")]


@pytest.fixture
def watched(tmp_path: Path):  # type: ignore[no-untyped-def]
    w = Watched(tmp_path / "desk")
    yield w
    w.desk.close()


def test_an_untouched_file_is_not_read_again(watched: Watched) -> None:
    assert watched.watcher.check() is None
    assert watched.config_beads() == []


def test_a_live_key_is_put_in_force_with_a_bead_naming_old_and_new(watched: Watched) -> None:
    assert watched.desk.runtime.settings.log.level == "INFO"
    watched.write("log:\n  level: DEBUG\n")
    reload = watched.watcher.check()
    assert reload is not None and reload.applied == {"log.level": {"from": "INFO", "to": "DEBUG"}}
    assert watched.desk.runtime.settings.log.level == "DEBUG"
    (bead,) = watched.config_beads()
    assert bead["applied"] == {"log.level": {"from": "INFO", "to": "DEBUG"}} and bead["refused"] == {}
    assert watched.alerts == []


def test_a_mode_or_port_change_is_refused_until_restart(watched: Watched, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="seam.liveconfig"):
        watched.write("broker:\n  mode: paper\n  port: 4001\n")
        reload = watched.watcher.check()
    assert reload is not None and set(reload.refused) == {"broker.mode", "broker.port"}
    settings = watched.desk.runtime.settings
    assert settings.broker.mode == "mock" and settings.broker.port is None  # the settings in force stay
    (bead,) = watched.config_beads()
    assert bead["refused"]["broker.mode"] == {"from": "mock", "to": "paper"} and bead["refused_until"] == "restart"
    assert [a[0] for a in watched.alerts] == ["CONFIG_REFUSED"]
    assert watched.alerts[0][2]["broker.mode"] == "mock → paper"
    assert any("next start" in r.getMessage() and "broker.port" in r.getMessage() for r in caplog.records)
    # touching the file again with the same content reports nothing new
    watched.write("broker:\n  mode: paper\n  port: 4001\n")
    assert watched.watcher.check() is None
    assert len(watched.alerts) == 1


def test_live_and_refused_keys_in_one_edit_are_split(watched: Watched) -> None:
    watched.write("log:\n  level: WARNING\napproval:\n  code_ttl_seconds: 600\n")
    reload = watched.watcher.check()
    assert reload is not None
    assert list(reload.applied) == ["log.level"] and list(reload.refused) == ["approval.code_ttl_seconds"]
    assert watched.desk.runtime.settings.log.level == "WARNING"
    assert watched.desk.runtime.settings.approval.code_ttl_seconds == 300


def test_a_strategy_parameter_change_closes_open_proposals_and_an_approve_names_it(watched: Watched) -> None:
    code = watched.desk.propose("p-1")
    watched.write("risk:\n  max_units_per_order: 100000\n")
    reload = watched.watcher.check()
    assert reload is not None and reload.invalidated == ["p-1"]
    assert watched.desk.approval.get("p-1").status is ProposalStatus.CONFLICT
    decided = watched.desk.decide("p-1", code)
    assert decided.status == "conflict"
    assert decided.changes == ["configuration changed: risk.max_units_per_order 200000 → 100000"]
    assert watched.desk.run(watched.desk.fake.orders_by_ref("p-1")) == []  # INV: no order under the old parameters
    # a new signal after the change makes a new proposal that can be approved
    new_code = watched.desk.propose("p-2")
    assert watched.desk.decide("p-2", new_code).status == "ok"
    assert watched.desk.run(watched.desk.fake.orders_by_ref("p-2"))  # the same check sees an order when one is sent


def test_a_file_that_does_not_load_changes_nothing_and_is_reported_once(watched: Watched) -> None:
    watched.write("log:\n  level: LOUD\n")
    reload = watched.watcher.check()
    assert reload is not None and reload.error is not None and "log.level" in reload.error
    assert watched.desk.runtime.settings.log.level == "INFO"
    assert [a[0] for a in watched.alerts] == ["CONFIG_INVALID"]
    watched.write("log:\n  level: LOUD\n")
    assert watched.watcher.check() is None and len(watched.alerts) == 1
    watched.write("log:\n  level: ERROR\n")  # fixed: the next good file applies
    reload = watched.watcher.check()
    assert reload is not None and reload.applied == {"log.level": {"from": "INFO", "to": "ERROR"}}


def test_only_the_named_sections_are_live() -> None:
    assert is_live("log.level") and is_live("narrator.words") and is_live("monitor.interval_seconds")
    for key in ("broker.mode", "broker.port", "risk.max_units_per_order", "approval.strict", "pairs.active"):
        assert not is_live(key)
    assert not is_live("research.engine")  # a section not named live waits for a restart


def test_a_word_list_a_template_would_trip_is_refused_and_the_old_one_stays(watched: Watched) -> None:
    watched.write("narrator:\n  words: [facts]\n")  # the facts banner says "Facts as of": the guard would refuse it
    reload = watched.watcher.check()
    assert reload is not None and reload.error is not None and "narrator.words" in reload.error
    assert "facts" not in watched.desk.runtime.settings.narrator.words
    assert [a[0] for a in watched.alerts] == ["CONFIG_INVALID"]


def test_a_running_daemon_watches_seam_yaml(tmp_path: Path) -> None:
    paths = make_seam(tmp_path / "seam")
    with DaemonThread(paths) as daemon:
        runtime = daemon.daemon.runtime
        paths.config_file.write_text("log:\n  level: DEBUG\nbroker:\n  port: 4999\n", encoding="utf-8")
        bead = wait_for(lambda: runtime.store.beads(type_="CONFIG_CHANGE"), what="the CONFIG_CHANGE bead")[0]
        assert bead.payload["applied"] == {"log.level": {"from": "INFO", "to": "DEBUG"}}
        assert bead.payload["refused"] == {"broker.port": {"from": None, "to": 4999}}
        assert runtime.settings.log.level == "DEBUG" and runtime.settings.broker.port is None
        # the alert is raised after the bead is written
        wait_for(
            lambda: "CONFIG_REFUSED" in [b.payload["alert"] for b in runtime.store.beads(type_="ALERT")],
            what="the CONFIG_REFUSED alert",
        )
