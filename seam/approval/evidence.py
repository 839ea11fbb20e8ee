"""Evidence: the facts a human approves (one screen per proposal) and the state anchor the approval is held to."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from seam import fx
from seam.broker.lifecycle import PositionRecord, PositionState
from seam.broker.types import AccountSnapshot, Order, Position, Quote, Side
from seam.config import RiskSettings
from seam.errors import HandlerError, IntentError
from seam.intent import ReadySignal

__all__ = ["anchor", "check_entry_distance", "close_bundle", "open_bundle", "open_risk_usd", "size"]

S = PositionState
# a position holds risk from the human's approval on, until it closes
_AT_RISK = (S.APPROVED, S.SUBMITTED, S.PARTIALLY_FILLED, S.FILLED, S.MANAGED)


def anchor(
    kind: str,
    pair: str,
    positions: list[Position],
    orders: list[Order],
    account: AccountSnapshot,
    quote: Quote,
    *,
    halted: bool,
) -> dict[str, Any]:
    """The state a human approves against. An open: positions, working orders, equity, halt flag, quote (the stale
    gate holds them to tolerances, not to exact values). A close: only its pair's position and working orders and
    the halt flag: a person closing wants out at the market, so the quote and the equity (which moves with the
    very position being closed) and other pairs' book are no reason to refuse."""
    whole_book = kind == "open"
    book = {
        "positions": sorted([p.pair, p.quantity] for p in positions if p.quantity and (whole_book or p.pair == pair)),
        "orders": sorted([o.ref, o.pair, str(o.side), o.quantity] for o in orders if whole_book or o.pair == pair),
        "halt": halted,
    }
    if not whole_book:
        return book
    mid = round((quote.bid + quote.ask) / 2, 6)
    return {**book, "equity": round(account.net_liquidation, 2), "quote": {"pair": pair, "mid": mid}}


def _market_entry(pair: str, side: Side, quote: Quote, entry: float) -> tuple[str, float, float]:
    """Where the entry's market order fills (the ask for a buy, the bid for a sell) and its distance from the entry."""
    name, price = ("ask", quote.ask) if side is Side.BUY else ("bid", quote.bid)
    return name, price, abs(fx.pips(pair, entry - price))


def check_entry_distance(payload: ReadySignal, side: Side, quote: Quote, risk: RiskSettings) -> None:
    """The entry goes to the broker as a market order: an entry far from the market is not the trade that was
    sized (its stop may even be crossed already, and fill at once)."""
    name, price, distance = _market_entry(str(payload.pair), side, quote, payload.entry)
    if distance > risk.max_entry_distance_pips:
        raise IntentError.single(
            "payload.entry",
            f"the entry {payload.entry} is {distance} pips from the market ({name} {price}); "
            f"risk.max_entry_distance_pips is {risk.max_entry_distance_pips:g}. The entry is sent as a market order, "
            f"so it would fill about {distance} pips from the price this trade was sized and stopped from",
        )


def _age(created_at: datetime | None, now: datetime) -> str:
    if created_at is None:
        return "not stated (no created_at)"
    minutes, seconds = divmod(max(0, int((now - created_at) / timedelta(seconds=1))), 60)
    return f"{minutes} min{f' {seconds} s' if seconds else ''} (created {created_at.isoformat()})"


def _one_line(text: str, limit: int = 160) -> str:
    """Free text on one table row: whitespace collapsed, no cell separators, cut at `limit` characters."""
    flat = " ".join(text.replace("|", "/").split())
    return flat if len(flat) <= limit else f"{flat[: limit - 1]}… ({len(flat)} characters)"


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
    created_at: datetime | None = None,
    other_pending: tuple[str, ...] = (),
) -> dict[str, Any]:
    pair = str(payload.pair)
    fills_at, market, entry_distance = _market_entry(pair, side, quote, payload.entry)
    real_percent = round(sizing.risk_usd / account.net_liquidation * 100, 2) if account.net_liquidation > 0 else 0.0
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
        "real_risk_percent": real_percent,
        "entry_order": "MARKET",  # the bracket's parent is a market order (BracketRequest.entry_limit None)
        "fills_at": fills_at,
        "market": market,
        "entry_distance_pips": entry_distance,
        "signal_age": _age(created_at, now),
        "other_pending": list(other_pending),
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
        "thesis": _one_line(payload.thesis),
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
