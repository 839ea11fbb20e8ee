"""Command line entry point: run a fake IB Gateway (and optionally its control channel) until stopped."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from collections.abc import Sequence

from .control import COMMANDS, ControlChannel
from .server import FakeGateway

logger = logging.getLogger(__name__)

EPILOG = """\
examples:
  seam-fake-gateway                                  # paper-like gateway on 127.0.0.1:4002, account DU123456
  seam-fake-gateway --port 4002 --seed 7 --control-port 4010
  seam-fake-gateway --account DU111111,DU222222 --tick-interval 0.2

control channel (with --control-port): one JSON object per line, one JSON reply per line, e.g.
  printf '{"cmd": "set_price", "pair": "EURUSD", "price": 1.1}\\n' | nc 127.0.0.1 4010
commands:
""" + "\n".join(f"  {name}({', '.join(params)}): {text}" for name, (params, text) in COMMANDS.items())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seam-fake-gateway",
        description="A fake IB Gateway speaking the TWS socket protocol (server version 176) over TCP, "
        "with a simulated FX market and broker, for running ib_async / ib_insync clients offline.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=4002, help="API port (default 4002, IB's paper port)")
    parser.add_argument("--account", default="DU123456", help="managed account(s), comma-separated (default DU123456)")
    parser.add_argument("--seed", type=int, default=0, help="random-walk seed: same seed, same prices")
    parser.add_argument(
        "--control-port",
        type=int,
        default=None,
        help="serve the JSON control channel on 127.0.0.1:PORT (off by default)",
    )
    parser.add_argument(
        "--tick-interval",
        type=float,
        default=1.0,
        help="seconds between random-walk steps; 0 freezes prices (default 1.0)",
    )
    parser.add_argument("--spread-pips", type=float, default=1.0, help="bid/ask spread in pips (default 1.0)")
    parser.add_argument("--log-level", default="INFO", help="logging level (default INFO)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    accounts = [a.strip() for a in args.account.split(",") if a.strip()]
    if not accounts:
        logger.error("at least one --account is needed")
        return 2
    gateway = FakeGateway(
        host=args.host,
        port=args.port,
        accounts=accounts,
        seed=args.seed,
        tick_interval=args.tick_interval or None,
        spread_pips=args.spread_pips,
    )
    try:
        asyncio.run(_run(gateway, args.control_port))
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        logger.error("cannot serve: %s", exc)
        return 1
    return 0


async def _run(gateway: FakeGateway, control_port: int | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # loops without signal handlers (Windows): Ctrl-C still stops
            loop.add_signal_handler(sig, stop.set)
    await gateway.start()
    control = ControlChannel(gateway, port=control_port) if control_port is not None else None
    try:
        if control is not None:
            await control.start()
        await stop.wait()
    finally:
        if control is not None:
            await control.stop()
        await gateway.stop()
