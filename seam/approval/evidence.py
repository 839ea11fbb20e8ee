"""Evidence: the facts a human approves (one screen per proposal) and the state anchor the approval is held to."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from seam import fx
from seam.broker.lifecycle import PositionRecord, PositionState
from seam.broker.types import AccountSnapshot, Order, Position, Quote, Side
from seam.config import RiskSettings
from seam.errors import HandlerError
from seam.intent import ReadySignal

__all__ = ["anchor", "close_bundle", "open_bundle", "open_risk_usd", "size"]

S = PositionState
# a position holds risk from the human's approval on, until it closes
_AT_RISK = (S.APPROVED, S.SUBMITTED, S.PARTIALLY_FILLED, S.FILLED, S.MANAGED)


def anchor(
    pair: str, positions: list[Position], orders: list[Order], account: AccountSnapshot, quote: Quote, *, halted: bool
) -> dict[str, Any]:
    """The state a human approves against: positions, working orders, equity bucket, halt flag, quote."""
    return {
        "positions": sorted([p.pair, p.quantity] for p in positions if p.quantity),
        "orders": sorted([o.ref, o.pair, str(o.side), o.quantity] for o in orders),
        "equity_bucket": int(account.net_liquidation // 1000) * 1000,
        "halt": halted,
        "quote_bucket": round(((quote.bid + quote.ask) / 2) / (fx.pip_size(pair) * 10)),  # 10-pip buckets
    }


def open_risk_usd(records: list[PositionRecord]) -> float:
    return round(sum(float(r.facts.get("risk_usd", 0.0)) for r in records if r.state in _AT_RISK), 2)


def size(payload: ReadySignal, equity: float, risk: RiskSettings, open_risk: float) -> fx.Sizing:
    """Units from equity × risk% ÷ stop distance, within the per-order and total-risk caps."""
    pair = str(payload.pair)
    quote_to_usd = 1.0 if pair.endswith("USD") else 1.0 / payload.entry
    sizing = fx.size_units(
        equity,
        payload.risk_percent,
        payload.entry,
        payload.stop,
        pair,
        quote_to_usd,
        max_units_per_order=risk.max_units_per_order,
        max_total_open_risk_usd=risk.max_total_open_risk_usd,
        open_risk_usd=open_risk,
    )
    if sizing.units <= 0:
        raise HandlerError(
            f"no size is left for this trade: {'; '.join(sizing.bound_by)}",
            "Nothing was proposed. Close or reduce open trades, or change risk settings.",
        )
    return sizing


def open_bundle(
    payload: ReadySignal,
    side: Side,
    sizing: fx.Sizing,
    quote: Quote,
    account: AccountSnapshot,
    state: dict[str, Any],
    *,
    open_risk: float,
    mode: str,
    link: str,
    now: datetime,
    expires: datetime,
) -> dict[str, Any]:
    pair = str(payload.pair)
    return {
        "pair": pair,
        "direction": payload.direction,
        "side": str(side),
        "setup": payload.setup_type,
        "confidence": payload.confidence,
        "entry": payload.entry,
        "stop": payload.stop,
        "target": payload.target,
        "stop_pips": abs(fx.pips(pair, payload.entry - payload.stop)),
        "target_pips": abs(fx.pips(pair, payload.target - payload.entry)),
        "reward_risk": fx.reward_risk(payload.entry, payload.stop, payload.target),
        "units": sizing.units,
        "risk_usd": sizing.risk_usd,
        "risk_percent": payload.risk_percent,
        "budget_usd": sizing.budget_usd,
        "sizing_notes": list(sizing.bound_by),
        "equity": account.net_liquidation,
        "bid": quote.bid,
        "ask": quote.ask,
        "spread_pips": quote.spread_pips,
        "mid": round((quote.bid + quote.ask) / 2, 5),
        "session": fx.fx_session(now),
        "open_risk_usd": open_risk,
        "open_positions": len(state["positions"]),
        "guards": {"halt": "ON" if state["halt"] else "off", "mode": mode, "link": link},
        "expires_at": expires.isoformat(timespec="seconds"),
        "thesis": payload.thesis,
    }


def close_bundle(
    record: PositionRecord,
    side: Side,
    quote: Quote,
    reason: str | None,
    *,
    mode: str,
    link: str,
    now: datetime,
    expires: datetime,
) -> dict[str, Any]:
    entry = float(record.facts.get("entry_fill", record.facts.get("entry", 0.0)))
    exit_price = quote.bid if side is Side.SELL else quote.ask
    signed = 1 if record.side == "BUY" else -1
    return {
        "pair": record.pair,
        "position": record.id,
        "side": str(side),
        "units": record.units,
        "entry": entry,
        "bid": quote.bid,
        "ask": quote.ask,
        "spread_pips": quote.spread_pips,
        "open_pips": fx.pips(record.pair, (exit_price - entry) * signed),
        "reason": reason or "",
        "session": fx.fx_session(now),
        "expires_at": expires.isoformat(timespec="seconds"),
        "guards": {"mode": mode, "link": link},
    }
