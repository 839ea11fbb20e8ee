"""Routes what happens in the book and the market to the sessions that should hear about it.

Order messages go to the session of the client that placed the order; position, account and quote
updates go to every session subscribed to them. A client that is not connected misses them and
rebuilds its view on reconnect from open orders, completed orders and executions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from . import outbound
from .book import BookEvent, OrderCancelled, OrderChanged, OrderError, OrderFilled
from .instruments import FX_PAIRS
from .ledger import Ledger
from .market import Market
from .outbound import Message
from .session import Session

logger = logging.getLogger(__name__)


class Router:
    """The registry of logged-in sessions, keyed by clientId."""

    def __init__(self, market: Market, ledger: Ledger, clock: Callable[[], float]) -> None:
        self._market = market
        self._ledger = ledger
        self._clock = clock
        self._by_client: dict[int, Session] = {}

    # registry --------------------------------------------------------------------------------

    def register(self, session: Session, client_id: int) -> bool:
        """Log a session in; False if that clientId is already connected (IB's error 326)."""
        current = self._by_client.get(client_id)
        if current is not None and not current.gone:
            return False
        session.client_id = client_id
        self._by_client[client_id] = session
        return True

    def unregister(self, session: Session) -> None:
        if session.client_id is not None and self._by_client.get(session.client_id) is session:
            del self._by_client[session.client_id]

    def sessions(self) -> list[Session]:
        return list(self._by_client.values())

    def client_ids(self) -> list[int]:
        return sorted(cid for cid, s in self._by_client.items() if not s.gone)

    def to_client(self, client_id: int, messages: list[Message]) -> None:
        session = self._by_client.get(client_id)
        if session is not None:
            session.send_all(messages)

    # book events -----------------------------------------------------------------------------

    def publish(self, events: list[BookEvent]) -> None:
        """Send each event's messages in order, then the account updates the fills caused."""
        touched: dict[str, set[str]] = {}
        for event in events:
            self._publish_one(event)
            if isinstance(event, OrderFilled):
                touched.setdefault(event.order.account, set()).add(event.order.instrument.pair)
        for account, pairs in touched.items():
            self.push_account(account, sorted(pairs))

    def _publish_one(self, event: BookEvent) -> None:
        if isinstance(event, OrderChanged):
            self.to_client(
                event.order.client_id, [outbound.open_order(event.order), outbound.order_status(event.order)]
            )
        elif isinstance(event, OrderFilled):
            self.to_client(
                event.order.client_id,
                [
                    outbound.exec_details(-1, event.execution),
                    outbound.open_order(event.order),
                    outbound.order_status(event.order),
                    outbound.commission_report(event.execution),
                ],
            )
        elif isinstance(event, OrderCancelled):
            text = f"Order Canceled - reason:{event.reason}"
            self.to_client(
                event.order.client_id,
                [
                    outbound.order_status(event.order),
                    outbound.error(event.order.order_id, 202, text),
                ],
            )
        elif isinstance(event, OrderError):
            self.to_client(event.client_id, [outbound.error(event.order_id, event.code, event.message)])

    # accounts --------------------------------------------------------------------------------

    def push_account(self, account: str, pairs: list[str]) -> None:
        """Positions, portfolio rows and account values after something changed them."""
        for session in self.sessions():
            subs = session.subscriptions
            if subs.positions:
                session.send_all([self.position_message(account, pair) for pair in pairs])
            if account in subs.accounts:
                session.send_all(self.account_messages(account, pairs))
            for req_id, acct in subs.accounts_multi.items():
                if acct == account:
                    session.send_all(self.account_multi_messages(req_id, account))

    def position_message(self, account: str, pair: str) -> Message:
        holding = self._ledger.holding(account, pair)
        return outbound.position(account, FX_PAIRS[pair], holding.qty, holding.avg_cost)

    def account_messages(self, account: str, pairs: list[str]) -> list[Message]:
        """updateAccountValue rows, updatePortfolio for ``pairs`` and the account time."""
        messages = [
            outbound.account_value(tag, value, ccy, account)
            for tag, value, ccy in self._ledger.account_values(account, self._market)
        ]
        messages += [
            outbound.portfolio(self._ledger.portfolio_line(account, pair, self._market), account) for pair in pairs
        ]
        messages.append(outbound.account_time(self._clock()))
        return messages

    def account_multi_messages(self, req_id: int, account: str) -> list[Message]:
        return [
            outbound.account_update_multi(req_id, account, tag, value, ccy)
            for tag, value, ccy in self._ledger.account_values(account, self._market)
        ]

    # quotes ----------------------------------------------------------------------------------

    def push_quotes(self, pairs: list[str]) -> None:
        if not pairs:
            return
        quotes = {pair: self._market.quote(pair) for pair in pairs}
        for session in self.sessions():
            for req_id, pair in session.subscriptions.quotes.items():
                if pair in quotes:
                    session.send_all(outbound.quote_ticks(req_id, quotes[pair]))
