"""Fake IB Gateway: a TWS-protocol server (v176) with a simulated FX market, for offline broker tests.

Unmodified ib_async 2.1 and ib_insync 0.9.86 clients connect to it over TCP. Stdlib only.

Modules, in the order a request flows through them: ``wire`` (framing) → ``server`` (login, pacing,
sessions) → ``inbound`` (request parsing) → ``handlers`` (dispatch) → ``book`` / ``ledger`` / ``market``
(the simulated broker) → ``router`` (who hears what) → ``outbound`` (reply layouts). ``control`` and
``cli`` drive a gateway running in another process.
"""

from .book import Execution, Order, OrderTicket
from .control import ControlChannel
from .instruments import FX_PAIRS, Instrument
from .ledger import PositionView
from .market import Quote
from .server import FakeGateway

__all__ = [
    "FX_PAIRS",
    "ControlChannel",
    "Execution",
    "FakeGateway",
    "Instrument",
    "Order",
    "OrderTicket",
    "PositionView",
    "Quote",
]
