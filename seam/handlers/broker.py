"""Broker handler: `account`, `positions`, `cancel`, `reconcile` — facts from the broker, in tables."""

from __future__ import annotations

from typing import Any

from seam.broker.guards import mask_account
from seam.broker.service import BrokerService
from seam.handlers.base import HandlerContext
from seam.intent import CancelPayload, PositionsPayload
from seam.respond import Outcome, Status
from seam.validate import ValidIntent

__all__ = ["handle_account", "handle_cancel", "handle_positions", "handle_reconcile"]


def _common(service: BrokerService) -> dict[str, Any]:
    return {"mode": service.mode.upper(), "link": service.link_state(), "sources": [f"bead {service.store.last_seq()}"]}


async def handle_account(ctx: HandlerContext, intent: ValidIntent) -> Outcome:
    service = ctx.require_broker()
    snapshot = await service.account()
    rows = [
        ("account", mask_account(snapshot.account)),
        ("currency", snapshot.currency),
        ("net liquidation", f"{snapshot.net_liquidation:,.2f}"),
        ("cash", f"{snapshot.cash:,.2f}"),
        ("buying power", f"{snapshot.buying_power:,.2f}"),
        ("unrealized P&L", f"{snapshot.unrealized_pnl:,.2f}"),
        ("realized P&L", f"{snapshot.realized_pnl:,.2f}"),
    ]
    # the account id is a secret wherever it appears (AccountCode, AccountOrGroup, ...)
    rows += [
        (key, mask_account(value) if value == snapshot.account else value)
        for key, value in sorted(snapshot.values.items())
    ]
    return Outcome(Status.OK, "account", {**_common(service), "rows": rows})


async def handle_positions(ctx: HandlerContext, intent: ValidIntent) -> Outcome:
    service = ctx.require_broker()
    positions = await service.positions()
    orders = await service.open_orders() if intent.payload_as(PositionsPayload).include_orders else None
    lifecycle = {r.pair: r.state for r in service.lifecycle.all()}
    return Outcome(
        Status.OK,
        "positions",
        {
            **_common(service),
            "positions": [
                {
                    "pair": p.pair,
                    "quantity": f"{p.quantity:+,d}",
                    "avg_cost": p.avg_cost,
                    "state": lifecycle.get(p.pair, "not tracked by seam"),
                }
                for p in positions
            ],
            "orders": None
            if orders is None
            else [
                {
                    "id": o.order_id,
                    "ref": o.ref or "-",
                    "pair": o.pair,
                    "side": o.side,
                    "quantity": f"{o.quantity:,d}",
                    "type": o.order_type,
                    "price": o.limit_price or o.stop_price or "market",
                    "state": o.state,
                }
                for o in orders
            ],
        },
    )


async def handle_cancel(ctx: HandlerContext, intent: ValidIntent) -> Outcome:
    service = ctx.require_broker()
    payload = intent.payload_as(CancelPayload)
    order = await service.cancel(payload.order_id, reason=payload.reason or f"intent {intent.id}")
    return Outcome(
        Status.OK,
        "cancel",
        {
            **_common(service),
            "order": order.order_id,
            "ref": order.ref or "-",
            "pair": order.pair,
            "state": order.state,
        },
    )


async def handle_reconcile(ctx: HandlerContext, intent: ValidIntent) -> Outcome:
    service = ctx.require_broker()
    result = await service.reconcile(trigger=f"intent {intent.id}")
    return Outcome(
        Status.OK,
        "reconcile",
        {
            **_common(service),
            "drift": result.drift,
            "differences": result.differences,
            "positions_checked": result.positions_checked,
            "orders_checked": result.orders_checked,
        },
    )
