"""`seam health` (the newest heartbeat as a table) and `seam heartbeat-check` (for cron, systemd timers, launchd:
exit 1 when the daemon's beats stopped, and raise HEARTBEAT_MISSED itself, once per outage)."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from rich.markup import escape
from rich.table import Table

from seam.cli.common import (
    EXIT_NOT_OK,
    EXIT_OK,
    Subparsers,
    clock,
    console_runtime,
    load,
    out,
    require_seam,
    seam_paths,
)

__all__ = ["add_health", "add_heartbeat_check", "cmd_health", "cmd_heartbeat_check"]

# the states `seam health` exits 0 on; MISSED, DEGRADED and CRITICAL exit 1
_FINE = ("HEALTHY", "STOPPED", "NONE")


def add_health(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("health", parents=[common], help="the heartbeat: state and each check, as a table")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_health)


def add_heartbeat_check(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "heartbeat-check",
        parents=[common],
        help="for cron/systemd/launchd: exit 1 and alert (once) when the daemon's heartbeat stopped",
    )
    p.set_defaults(func=cmd_heartbeat_check)


def cmd_health(args: argparse.Namespace) -> int:
    from seam.monitor.health import read_health

    paths = seam_paths(args)
    require_seam(paths)
    with console_runtime(paths, load(paths)) as runtime:
        health = read_health(runtime.store, clock())
    if args.json:
        print(json.dumps(health.as_dict(), indent=2))
        return EXIT_OK if health.state in _FINE else EXIT_NOT_OK
    table = Table(title=f"seam health — {health.state}", caption=health.detail)
    table.add_column("check")
    table.add_column("state")
    table.add_column("detail")
    for name, check in health.checks.items():
        table.add_row(name, escape(check.get("state", "?")), escape(check.get("detail", "")))
    out.print(table)
    return EXIT_OK if health.state in _FINE else EXIT_NOT_OK


def _telegram_for(runtime: Any) -> Any:
    """A Telegram service for delivering only (no poller): commands and buttons are the daemon's."""
    from seam.monitor.telegram import TelegramService

    async def no_halt(reason: str, by: str) -> str:
        return "not here: /halt is answered by the daemon"

    async def no_decision(proposal_id: str, via: str) -> Any:
        raise RuntimeError("buttons are answered by the daemon")

    service = TelegramService(
        runtime.store,
        runtime.settings,
        runtime.secrets,
        runtime.clock,
        status_text=lambda: "",
        health_text=lambda: "",
        halt=no_halt,
        approve=no_decision,
        reject=no_decision,
    )

    async def inline(fn: Any, *args: Any, **kwargs: Any) -> Any:
        return fn(*args, **kwargs)

    service.offload = inline
    return service


def cmd_heartbeat_check(args: argparse.Namespace) -> int:
    from seam.monitor.health import heartbeat_check

    paths = seam_paths(args)
    require_seam(paths)
    config = load(paths)
    with console_runtime(paths, config) as runtime:
        telegram = _telegram_for(runtime) if config.settings.telegram.enabled else None
        if telegram is not None:
            runtime.alerts.add_sink(telegram.alert_sink)  # the daemon that would deliver it is the one missing
        health, alerted = heartbeat_check(runtime.store, runtime.clock, runtime.alerts)
        if telegram is not None:
            sent = asyncio.run(telegram.deliver_queued())
            if alerted:
                out.print(f"telegram: {sent} queued message(s) delivered", markup=False)
    if health.state == "MISSED":
        said = "HEARTBEAT_MISSED alert raised" if alerted else "already alerted for this outage"
        out.print(f"MISSED: {health.detail} ({said})", markup=False)
        return EXIT_NOT_OK
    out.print(f"{health.state}: {health.detail}", markup=False)
    return EXIT_OK
