"""Reconciliation: our lifecycle state versus the broker's positions and working orders, now.

Drift is any difference: a position at the broker we do not know (or of another size), a position we
believe open that the broker does not have, a working order at the broker we did not place, or one
of ours that is no longer there. Drift raises a CRITICAL alert, records a RECONCILIATION bead with
the differences, and sets the halt flag; no drift records a RECONCILIATION bead saying so.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from seam.broker.lifecycle import OPEN_AT_BROKER, PositionRecord
from seam.broker.types import Order, Position

__all__ = ["Difference", "Reconciliation", "compare", "explain"]


@dataclass(frozen=True)
class Difference:
    what: str  # position | order
    key: str  # pair or order id
    ours: str
    broker: str

    def describe(self) -> str:
        return f"{self.what} {self.key}: ours {self.ours}, broker {self.broker}"


@dataclass(frozen=True)
class Reconciliation:
    differences: list[Difference] = field(default_factory=list)
    positions_checked: int = 0
    orders_checked: int = 0

    @property
    def drift(self) -> bool:
        return bool(self.differences)


def compare(
    ours: list[PositionRecord], broker_positions: list[Position], broker_orders: list[Order], our_refs: set[str]
) -> Reconciliation:
    expected: dict[str, int] = defaultdict(int)
    for record in ours:
        stalled_open = record.state.value == "STALLED" and record.stalled_from in OPEN_AT_BROKER
        if record.state in OPEN_AT_BROKER or stalled_open:
            filled = int(record.facts.get("filled_units", record.units))
            expected[record.pair] += filled if record.side == "BUY" else -filled
    actual: dict[str, int] = defaultdict(int)
    for position in broker_positions:
        actual[position.pair] += position.quantity
    differences = [
        Difference("position", pair, f"{expected.get(pair, 0):+d}", f"{actual.get(pair, 0):+d}")
        for pair in sorted(set(expected) | set(actual))
        if expected.get(pair, 0) != actual.get(pair, 0)
    ]
    for order in broker_orders:
        if not order.state.done and order.ref not in our_refs:
            differences.append(
                Difference(
                    "order",
                    order.order_id,
                    "none",
                    f"{order.side} {order.quantity} {order.pair} {order.order_type} (ref {order.ref or '-'})",
                )
            )
    return Reconciliation(differences, len(set(expected) | set(actual)), len(broker_orders))


def explain(ours: list[PositionRecord], mode: str, started_at: datetime) -> list[str]:
    """Why positions seam tracks may be missing at this broker, per mode, in plain words: a position opened
    in another mode is not at this mode's broker, and the MOCK broker's book lives in its daemon's memory, so
    a MOCK position from before this daemon started ended with the daemon that held it."""
    found = []
    for record in ours:
        if record.state not in OPEN_AT_BROKER and record.state.value != "STALLED":
            continue
        opened_in = str(record.facts.get("mode") or "")
        what = f"position {record.id} ({record.side} {record.units:,} {record.pair}, {record.state})"
        if opened_in and opened_in != mode:
            found.append(
                f"{what} was opened in {opened_in.upper()} mode; this daemon runs {mode.upper()}, whose "
                f"broker never held it"
            )
        elif mode == "mock" and record.last_update < started_at:
            found.append(
                f"{what} was held by an earlier MOCK daemon; the MOCK broker's book lives in the daemon's "
                "memory and ended with it"
            )
    return found
