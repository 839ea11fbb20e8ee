"""Accounts: cash balances per currency, FX positions with average cost, and IB-style account values.

FX at IB is cash: buying 20,000 EUR.USD adds 20,000 EUR and takes the USD cost from the USD balance.
Net liquidation is every balance valued in USD, so fills, commissions and price moves stay consistent.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass

from .instruments import FX_PAIRS, Instrument
from .market import Market

logger = logging.getLogger(__name__)

BASE_CURRENCY = "USD"
# IB's FX commission: 0.2 basis points of the trade value, at least 2 USD.
COMMISSION_RATE = 0.00002
MIN_COMMISSION_USD = 2.0
# Margin on major FX pairs, as fractions of the USD value of open positions.
INIT_MARGIN_RATE = 0.03
MAINT_MARGIN_RATE = 0.025


@dataclass
class Holding:
    """A position in one pair: quantity in base units, cost and realized P&L in quote currency."""

    qty: float = 0.0
    avg_cost: float = 0.0
    realized: float = 0.0


@dataclass(frozen=True)
class PositionView:
    """A read-only position for tests and the control channel."""

    account: str
    pair: str
    qty: float
    avg_cost: float


@dataclass(frozen=True)
class PortfolioLine:
    """One row of updatePortfolio, valued at the current mid."""

    instrument: Instrument
    qty: float
    market_price: float
    market_value: float
    avg_cost: float
    unrealized: float
    realized: float


@dataclass(frozen=True)
class MarginImpact:
    """What a what-if order would do to margin and equity, in USD."""

    init_before: float
    maint_before: float
    equity_before: float
    init_after: float
    maint_after: float
    equity_after: float
    commission: float

    def order_state(self) -> list[str]:
        """The 14 order-state fields of an openOrder: before, change and after of init margin,
        maintenance margin and equity with loan, then commission, min, max, currency, warning."""
        before = (self.init_before, self.maint_before, self.equity_before)
        after = (self.init_after, self.maint_after, self.equity_after)
        change = tuple(a - b for a, b in zip(after, before, strict=True))
        money = [f"{v:.2f}" for v in (*before, *change, *after)]
        commission = f"{self.commission:.2f}"
        return [*money, commission, commission, commission, BASE_CURRENCY, ""]


def commission_usd(inst: Instrument, qty: float, price: float, market: Market) -> float:
    """Commission in USD for a fill of ``qty`` base units at ``price``."""
    notional_usd = abs(qty) * price * market.usd_per_unit(inst.quote)
    return round(max(MIN_COMMISSION_USD, notional_usd * COMMISSION_RATE), 2)


class Ledger:
    """Balances and holdings of every managed account."""

    def __init__(self, accounts: list[str], starting_cash: float) -> None:
        if not accounts:
            raise ValueError("at least one account is needed")
        self.accounts = list(accounts)
        self._cash: dict[str, dict[str, float]] = {
            acct: defaultdict(float, {BASE_CURRENCY: starting_cash}) for acct in accounts
        }
        self._holdings: dict[str, dict[str, Holding]] = {acct: {} for acct in accounts}
        self._realized_usd: dict[str, float] = {acct: 0.0 for acct in accounts}

    def check_account(self, account: str) -> None:
        if account not in self._holdings:
            raise KeyError(f"unknown account {account!r}; managed: {', '.join(self.accounts)}")

    def holding(self, account: str, pair: str) -> Holding:
        self.check_account(account)
        return self._holdings[account].setdefault(pair, Holding())

    def apply_fill(
        self,
        account: str,
        inst: Instrument,
        signed_qty: float,
        price: float,
        commission: float,
        market: Market,
    ) -> float:
        """Book a fill; return the realized P&L in USD (before commission) it closed out."""
        holding = self.holding(account, inst.pair)
        realized_quote = _update_holding(holding, signed_qty, price)
        cash = self._cash[account]
        cash[inst.base] += signed_qty
        cash[inst.quote] -= signed_qty * price
        cash[BASE_CURRENCY] -= commission
        realized_usd = realized_quote * market.usd_per_unit(inst.quote)
        self._realized_usd[account] += realized_usd - commission
        return realized_usd

    def inject_position(self, account: str, inst: Instrument, qty: float, avg_cost: float) -> None:
        """Set a position the client never traded, paid for in cash as if traded elsewhere."""
        holding = self.holding(account, inst.pair)
        delta = qty - holding.qty
        cash = self._cash[account]
        cash[inst.base] += delta
        cash[inst.quote] -= delta * avg_cost
        holding.qty = qty
        holding.avg_cost = avg_cost if qty else 0.0

    def positions(self, account: str | None = None) -> list[PositionView]:
        accounts = [account] if account else self.accounts
        views = []
        for acct in accounts:
            self.check_account(acct)
            for pair, holding in self._holdings[acct].items():
                if holding.qty:
                    views.append(PositionView(acct, pair, holding.qty, holding.avg_cost))
        return views

    def held_pairs(self, account: str) -> list[str]:
        """Pairs the account holds or has held (a closed position is reported once as zero)."""
        self.check_account(account)
        return list(self._holdings[account])

    def portfolio_line(self, account: str, pair: str, market: Market) -> PortfolioLine:
        holding = self.holding(account, pair)
        mid = market.mid(pair)
        return PortfolioLine(
            instrument=FX_PAIRS[pair],
            qty=holding.qty,
            market_price=mid,
            market_value=holding.qty * mid,
            avg_cost=holding.avg_cost,
            unrealized=holding.qty * (mid - holding.avg_cost) if holding.qty else 0.0,
            realized=holding.realized,
        )

    def account_values(self, account: str, market: Market) -> list[tuple[str, str, str]]:
        """(tag, value, currency) rows as reqAccountUpdates and reqAccountSummary report them."""
        self.check_account(account)
        cash = {ccy: bal for ccy, bal in self._cash[account].items() if bal or ccy == BASE_CURRENCY}
        net_liq = sum(bal * market.usd_per_unit(ccy) for ccy, bal in cash.items())
        gross = self._gross_position_usd(account, market)
        unrealized = sum(
            self.portfolio_line(account, pair, market).unrealized * market.usd_per_unit(FX_PAIRS[pair].quote)
            for pair in self.held_pairs(account)
        )
        init_margin = gross * INIT_MARGIN_RATE
        maint_margin = gross * MAINT_MARGIN_RATE
        available = net_liq - init_margin
        excess = net_liq - maint_margin
        money = {
            "NetLiquidation": net_liq,
            "TotalCashValue": net_liq,
            "SettledCash": net_liq,
            "EquityWithLoanValue": net_liq,
            "GrossPositionValue": gross,
            "InitMarginReq": init_margin,
            "MaintMarginReq": maint_margin,
            "FullInitMarginReq": init_margin,
            "FullMaintMarginReq": maint_margin,
            "AvailableFunds": available,
            "FullAvailableFunds": available,
            "ExcessLiquidity": excess,
            "FullExcessLiquidity": excess,
            "BuyingPower": max(available, 0.0) / INIT_MARGIN_RATE,
            "UnrealizedPnL": unrealized,
            "RealizedPnL": self._realized_usd[account],
        }
        rows = [("AccountCode", account, ""), ("AccountType", "INDIVIDUAL", ""), ("Currency", "USD", "USD")]
        rows += [(tag, f"{value:.2f}", BASE_CURRENCY) for tag, value in money.items()]
        rows += [("Cushion", f"{excess / net_liq if net_liq else 0.0:.6f}", "")]
        rows += [("Leverage", f"{gross / net_liq if net_liq else 0.0:.4f}", "")]
        rows += [("CashBalance", f"{bal:.2f}", ccy) for ccy, bal in sorted(cash.items())]
        rows += [("ExchangeRate", f"{market.usd_per_unit(ccy):.6f}", ccy) for ccy in sorted(cash)]
        return rows

    def what_if(self, account: str, inst: Instrument, signed_qty: float, price: float, market: Market) -> MarginImpact:
        """Margin and equity before and after a hypothetical fill, without booking it."""
        self.check_account(account)
        gross = self._gross_position_usd(account, market)
        rate = market.mid(inst.pair) * market.usd_per_unit(inst.quote)
        held = self._holdings[account].get(inst.pair, Holding()).qty
        gross_after = gross - abs(held) * rate + abs(held + signed_qty) * rate
        commission = commission_usd(inst, signed_qty, price, market)
        equity = float(dict((t, v) for t, v, _ in self.account_values(account, market))["NetLiquidation"])
        return MarginImpact(
            init_before=gross * INIT_MARGIN_RATE,
            maint_before=gross * MAINT_MARGIN_RATE,
            equity_before=equity,
            init_after=gross_after * INIT_MARGIN_RATE,
            maint_after=gross_after * MAINT_MARGIN_RATE,
            equity_after=equity - commission,
            commission=commission,
        )

    def _gross_position_usd(self, account: str, market: Market) -> float:
        total = 0.0
        for pair, holding in self._holdings[account].items():
            inst = FX_PAIRS[pair]
            total += abs(holding.qty) * market.mid(pair) * market.usd_per_unit(inst.quote)
        return total


def _update_holding(holding: Holding, signed_qty: float, price: float) -> float:
    """Apply a fill to a holding with average-cost accounting; return realized P&L in quote currency."""
    old = holding.qty
    new = old + signed_qty
    realized = 0.0
    if old == 0 or (old > 0) == (signed_qty > 0):
        holding.avg_cost = (old * holding.avg_cost + signed_qty * price) / new
    else:
        closed = min(abs(signed_qty), abs(old))
        direction = 1.0 if old > 0 else -1.0
        realized = closed * (price - holding.avg_cost) * direction
        if new == 0:
            holding.avg_cost = 0.0
        elif (new > 0) != (old > 0):
            # The fill flipped the position: what is left was opened at this price.
            holding.avg_cost = price
    holding.qty = new
    holding.realized += realized
    return realized
