"""Fake Telegram Bot API: a real HTTP server on 127.0.0.1 for offline tests of seam's Telegram channel. Stdlib only.

``server`` holds the Bot API methods seam uses, the record of every call, the control API (messages and button
presses from any chat and user; hang, 429 and 5xx faults) and its HTTP twin under ``/_control/``; ``cli``
runs one standalone (``python -m mocks.fake_telegram --port N``).
"""

from .server import BOT_USER, Call, FakeTelegram, Fault, Sent

__all__ = ["BOT_USER", "Call", "FakeTelegram", "Fault", "Sent"]
