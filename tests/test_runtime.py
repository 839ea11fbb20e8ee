"""The composition root: every surface gets its services from seam/runtime.py, and a reload never switches mode."""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path

import pytest

from seam import cli
from seam.broker.fake import FakeBroker
from seam.broker.types import OrderRequest, OrderType, Side
from seam.clock import FakeClock
from seam.config import LoadedConfig, Secrets, Settings, load_config
from seam.daemon import Daemon
from seam.errors import ConfigError, GuardViolation
from seam.runtime import Runtime
from tests.conftest import REPO, make_seam

# Constructed in runtime.py only; Store also inside its own package (and by the store's own tests).
BUILT_BY_THE_RUNTIME = {"BrokerService", "ApprovalService", "Store"}
ALLOWED = {"seam/runtime.py"}
STORE_ALLOWED = "tests/store/"  # the store's own tests open stores directly


async def approve_everything(request: object, approval: object) -> None:
    """An order path's approval step that lets everything through: these tests are about other steps."""


def _constructions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = (
                node.func.id
                if isinstance(node.func, ast.Name)
                else (node.func.attr if isinstance(node.func, ast.Attribute) else None)
            )
            if name in BUILT_BY_THE_RUNTIME:
                found.add(name)
    return found


def test_no_module_but_the_runtime_constructs_the_services() -> None:
    offenders = []
    for folder in ("seam", "tests", "bench", "mocks"):
        for path in sorted((REPO / folder).rglob("*.py")):
            rel = path.relative_to(REPO).as_posix()
            if rel in ALLOWED or rel == "tests/test_runtime.py":
                continue
            built = _constructions(path)
            if rel.startswith(STORE_ALLOWED):
                built.discard("Store")
            offenders += [f"{rel}: {name}(...)" for name in sorted(built)]
    assert offenders == [], "services built outside seam/runtime.py:\n" + "\n".join(offenders)


def test_the_scan_would_see_a_construction(tmp_path: Path) -> None:
    # the guard above must be able to fail
    sample = tmp_path / "sample.py"
    sample.write_text("from x import BrokerService\nservice = BrokerService(1)\nother = mod.ApprovalService()\n")
    assert _constructions(sample) == {"BrokerService", "ApprovalService"}


def test_the_daemon_runs_on_the_runtimes_services(tmp_path: Path) -> None:
    paths = make_seam(tmp_path / "seam")
    daemon = Daemon(paths, load_config(paths, env={}), clock=FakeClock())
    try:
        runtime = daemon.runtime
        assert runtime.broker is not None and runtime.approval is not None
        context = daemon.pipeline.context
        assert context.broker is runtime.broker and context.approval is runtime.approval
        assert context.store is runtime.store is daemon.store
        assert runtime.approval.broker is runtime.broker
        assert runtime.broker.approval_hook == runtime.approval.check_order
    finally:
        runtime.close()


def test_cli_commands_open_the_seam_through_the_runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = make_seam(tmp_path / "seam")
    opened: list[bool] = []
    real_open = Runtime.open.__func__  # type: ignore[attr-defined]

    def recording_open(klass: type[Runtime], *args: object, **kwargs: object) -> Runtime:
        opened.append(bool(kwargs.get("broker", True)))
        return real_open(klass, *args, **kwargs)  # type: ignore[no-any-return]

    monkeypatch.setattr(Runtime, "open", classmethod(recording_open))
    for command in (["status"], ["beads", "verify"], ["broker", "status"], ["broker", "reconnect"]):
        before = len(opened)
        assert cli.main([*command, "--seam", str(paths.root)]) == 0, command
        assert opened[before:] == [False], f"{command}: {opened[before:]}"  # a console: the store, no broker


def test_a_console_runtime_has_the_store_and_nothing_that_reaches_a_broker(tmp_path: Path) -> None:
    paths = make_seam(tmp_path / "seam")
    runtime = Runtime.console(paths, load_config(paths, env={}))
    try:
        assert runtime.broker is None and runtime.approval is None
        assert runtime.store.verify().ok
    finally:
        runtime.close()


def test_a_folder_that_is_not_a_seam_is_refused_naming_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="seam init"):
        Runtime.open(SeamPathsAt(tmp_path / "nothing"), LoadedConfig(Settings(), Secrets()))


def SeamPathsAt(root: Path):  # type: ignore[no-untyped-def]
    from seam.paths import SeamPaths

    return SeamPaths.at(root)


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(ValueError):
        settings.broker.mode = "live"  # type: ignore[misc]


# ---- the mode lock ---------------------------------------------------------------------------------


def _runtime(tmp_path: Path) -> Runtime:
    paths = make_seam(tmp_path / "seam")
    clock = FakeClock()
    return Runtime.open(
        paths, LoadedConfig(Settings(), Secrets()), clock=clock, broker_client=FakeBroker(clock=clock), approval=False
    )


def test_a_reload_that_keeps_the_mode_puts_the_new_settings_in_force(tmp_path: Path) -> None:
    runtime = _runtime(tmp_path)
    try:
        new = Settings.model_validate({"approval": {"stale_minutes": 7}})
        runtime.reload(LoadedConfig(new, Secrets()))
        assert runtime.settings.approval.stale_minutes == 7
    finally:
        runtime.close()


def test_a_reload_that_names_another_mode_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    runtime = _runtime(tmp_path)
    try:
        before = runtime.settings
        with pytest.raises(GuardViolation) as refused:
            runtime.reload(
                LoadedConfig(
                    Settings.model_validate({"broker": {"mode": "paper"}, "approval": {"stale_minutes": 7}}), Secrets()
                )
            )
        assert refused.value.guard == "mode_locked"
        assert runtime.settings is before
    finally:
        runtime.close()


def test_the_order_path_refuses_when_the_settings_in_force_name_another_mode(tmp_path: Path) -> None:
    # defence in depth: even settings that reached the runtime without a reload are checked before an order
    runtime = _runtime(tmp_path)
    try:
        broker = runtime.broker
        assert broker is not None
        broker.approval_hook = approve_everything
        broker.settings_now = lambda: Settings.model_validate({"broker": {"mode": "paper"}})

        async def submit() -> None:
            await broker.start(timers=False)
            try:
                await broker.submit(OrderRequest("r-1", "EURUSD", Side.BUY, 1_000, OrderType.MARKET))
            finally:
                await broker.stop()

        with pytest.raises(GuardViolation) as refused:
            asyncio.run(submit())
        assert refused.value.guard == "mode_locked"
        assert isinstance(broker.broker, FakeBroker) and broker.broker.sent == []
    finally:
        runtime.close()
