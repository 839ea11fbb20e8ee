"""Everything one fake gateway knows, bundled so request handlers and test controls share it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from .book import Book, OrderTicket
from .ledger import Ledger
from .market import Market
from .router import Router

logger = logging.getLogger(__name__)


@dataclass
class Faults:
    """Faults a test arms; each fires once on the next order."""

    reject_reason: str | None = None
    drop_after_order: bool = False


@dataclass
class GatewayState:
    accounts: list[str]
    clock: Callable[[], float]
    market: Market
    ledger: Ledger
    book: Book
    router: Router
    faults: Faults = field(default_factory=Faults)
    orders_received: list[OrderTicket] = field(default_factory=list)

    @classmethod
    def create(
        cls,
        accounts: list[str],
        clock: Callable[[], float],
        seed: int,
        spread_pips: float,
        volatility_pips: float,
        starting_cash: float,
    ) -> GatewayState:
        market = Market(seed=seed, spread_pips=spread_pips, volatility_pips=volatility_pips)
        ledger = Ledger(accounts, starting_cash)
        return cls(
            accounts=list(accounts),
            clock=clock,
            market=market,
            ledger=ledger,
            book=Book(market, ledger, clock),
            router=Router(market, ledger, clock),
        )

    def after_market_move(self, pairs: list[str]) -> None:
        """Stream the new quotes, then fill whatever orders they reach."""
        self.router.push_quotes(pairs)
        self.router.publish(self.book.match())
