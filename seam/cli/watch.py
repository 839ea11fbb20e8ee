"""`seam watch`: run the daemon on the seam, until a signal (or, with --once, until what is there is answered).

At start, before anything reaches a broker: LIVE only with IBKR_ALLOW_LIVE=true in this process's environment,
and every capital setting that changed since the last start is logged as a warning and beaded (CONFIG_CHANGE;
an unchanged start leaves a START bead, so the next start has something to compare with).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from typing import TYPE_CHECKING

from seam.broker.guards import check_live_allowed
from seam.broker.types import Mode
from seam.cli.common import EXIT_OK, Subparsers, clock, err, load, require_seam, seam_paths, setup_logging
from seam.clock import ShiftedClock
from seam.config import LoadedConfig, capital_changes, capital_settings

if TYPE_CHECKING:
    from seam.store import Bead, Store

__all__ = ["add_watch", "cmd_watch", "note_capital_changes"]

logger = logging.getLogger(__name__)


def add_watch(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("watch", parents=[common], help="run the daemon")
    p.add_argument("--polling", action="store_true", help="polling observer (network and synced folders)")
    p.add_argument("--once", action="store_true", help="answer what is there now, then exit")
    p.add_argument("--concurrency", type=int, help="intents handled at once")
    p.add_argument("--rescan-seconds", type=float, help="full rescan interval")
    p.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    p.set_defaults(func=cmd_watch)


def cmd_watch(args: argparse.Namespace) -> int:
    from seam.daemon import Daemon, install_signal_handlers

    paths = seam_paths(args)
    require_seam(paths)
    flags = {
        "intake.polling": True if args.polling else None,
        "handlers.concurrency": args.concurrency,
        "intake.rescan_seconds": args.rescan_seconds,
        "log.level": args.log_level,
    }
    config = load(paths, flags)
    setup_logging(config.settings.log.level, config.secrets)
    secrets = config.secrets
    check_live_allowed(
        Mode(config.settings.broker.mode), secrets.allow_live, only_in_dotenv=secrets.allow_live_in_dotenv
    )
    market_clock = clock()
    if isinstance(market_clock, ShiftedClock):
        logger.warning(
            "the market clock is simulated: it started at %s (SEAM_CLOCK_START)", market_clock.start.isoformat()
        )
    daemon = Daemon(paths, config, clock=market_clock)
    note_capital_changes(daemon.store, config)

    async def run() -> None:
        if not args.once:
            install_signal_handlers(daemon)
        summary = await daemon.run(once=args.once)
        if args.once:
            err.print(
                f"answered {summary.answered} intent(s): "
                + (", ".join(f"{k} {v}" for k, v in sorted(summary.by_status.items())) or "none")
            )

    asyncio.run(run())
    return EXIT_OK


def note_capital_changes(store: Store, config: LoadedConfig) -> Bead:
    """Compare the capital settings with the last start's; a change is a WARNING line per key and a
    CONFIG_CHANGE bead, no change a START bead. Both carry the settings now (the account masked)."""
    now = capital_settings(config)
    last = _last_start(store)
    if last is None:  # the first start that records them: nothing to compare with
        return store.append("START", {"capital": now})
    changes = capital_changes(last.payload["capital"], now)
    if not changes:
        return store.append("START", {"capital": now})
    for key, change in changes.items():
        logger.warning(
            "capital setting changed since the last start (bead %d): %s: %s → %s",
            last.seq,
            key,
            change["from"],
            change["to"],
        )
    return store.append("CONFIG_CHANGE", {"changes": changes, "since_bead": last.seq, "capital": now})


def _last_start(store: Store) -> Bead | None:
    """The latest START or CONFIG_CHANGE bead that carries capital settings."""
    beads = [b for type_ in ("START", "CONFIG_CHANGE") for b in store.beads(type_=type_)]
    carrying = [b for b in beads if isinstance(b.payload.get("capital"), dict)]
    return max(carrying, key=lambda b: b.seq, default=None)
