"""`seam watch`: run the daemon on the seam, until a signal (or, with --once, until what is there is answered)."""

from __future__ import annotations

import argparse
import asyncio
import logging

from seam.cli.common import EXIT_OK, Subparsers, clock, err, load, require_seam, seam_paths, setup_logging
from seam.clock import ShiftedClock

__all__ = ["add_watch", "cmd_watch"]

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
    setup_logging(config.settings.log.level)
    market_clock = clock()
    if isinstance(market_clock, ShiftedClock):
        logger.warning(
            "the market clock is simulated: it started at %s (SEAM_CLOCK_START)", market_clock.start.isoformat()
        )
    daemon = Daemon(paths, config, clock=market_clock)

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
