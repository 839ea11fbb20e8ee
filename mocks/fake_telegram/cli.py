"""`python -m mocks.fake_telegram`: a fake Bot API server in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import threading

from .server import FakeTelegram

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mocks.fake_telegram", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port (default 0: any free one, printed)")
    parser.add_argument("--token", default="123456:fake-token", help="the bot token it accepts")
    args = parser.parse_args(argv)
    fake = FakeTelegram(args.token, host=args.host, port=args.port).start()
    print(f"fake Telegram Bot API at {fake.base_url} (control: {fake.base_url}/_control/...)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
    return 0
