"""The broker: one `BrokerClient` Protocol, its frozen domain types, and the implementations.

    types.py      Order, Fill, Position, AccountSnapshot, Quote, LinkInfo (frozen; our words)
    client.py     the BrokerClient Protocol
    fake.py       FakeBroker: MOCK mode, in-process and deterministic
    translate.py  our types <-> the IB library's (the only place camelCase appears)
    ib.py         the IB adapter (PAPER and LIVE), on ib_async with ib_insync as the fallback
    guards.py     mode / account / port guards, checked at connect and before every order
    lifecycle.py  the position lifecycle: an explicit transition table
    reconcile.py  local lifecycle state versus the broker's positions and working orders

The mode picks one implementation once, at start (`open_broker`); no code path asks "are we live?".
"""
