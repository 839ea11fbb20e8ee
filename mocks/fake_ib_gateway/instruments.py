"""The instruments the fake gateway knows: six IDEALPRO FX pairs, and contract lookup against them."""

from __future__ import annotations

import logging
from dataclasses import dataclass

logger = logging.getLogger(__name__)

SEC_TYPE = "CASH"
EXCHANGE = "IDEALPRO"


@dataclass(frozen=True)
class Instrument:
    """One FX pair as IB describes it: EUR.USD is symbol EUR, currency USD."""

    pair: str
    con_id: int
    start_price: float
    long_name: str

    @property
    def base(self) -> str:
        return self.pair[:3]

    @property
    def quote(self) -> str:
        return self.pair[3:]

    @property
    def local_symbol(self) -> str:
        return f"{self.base}.{self.quote}"

    @property
    def pip(self) -> float:
        return 0.01 if self.quote == "JPY" else 0.0001

    @property
    def min_tick(self) -> float:
        # IDEALPRO quotes in half pips.
        return self.pip / 2

    @property
    def decimals(self) -> int:
        return 3 if self.quote == "JPY" else 5

    def round_price(self, price: float) -> float:
        """Snap a price to the pair's tick grid."""
        ticks = round(price / self.min_tick)
        return round(ticks * self.min_tick, self.decimals)


FX_PAIRS: dict[str, Instrument] = {
    inst.pair: inst
    for inst in (
        Instrument("EURUSD", 12087792, 1.08500, "European Monetary Union Euro"),
        Instrument("GBPUSD", 12087797, 1.27000, "British Pound Sterling"),
        Instrument("USDJPY", 15016059, 150.000, "US Dollar"),
        Instrument("AUDUSD", 14433401, 0.66000, "Australian Dollar"),
        Instrument("USDCAD", 15016062, 1.36000, "US Dollar"),
        Instrument("NZDUSD", 39453441, 0.61000, "New Zealand Dollar"),
    )
}
_BY_CON_ID = {inst.con_id: inst for inst in FX_PAIRS.values()}


@dataclass(frozen=True)
class ContractSpec:
    """The contract fields a client sends; only the ones that identify an FX pair are kept."""

    con_id: int = 0
    symbol: str = ""
    sec_type: str = ""
    exchange: str = ""
    currency: str = ""
    local_symbol: str = ""


def instrument(pair: str) -> Instrument:
    """The instrument for a pair name like ``EURUSD``; KeyError if unknown."""
    key = pair.replace(".", "").replace("/", "").upper()
    if key not in FX_PAIRS:
        raise KeyError(f"unknown pair {pair!r}; known: {', '.join(FX_PAIRS)}")
    return FX_PAIRS[key]


def lookup(spec: ContractSpec) -> Instrument | None:
    """Resolve what a client asked for, or None where IB would answer error 200."""
    if spec.sec_type not in ("", SEC_TYPE) or spec.exchange not in ("", EXCHANGE):
        return None
    if spec.con_id:
        found = _BY_CON_ID.get(spec.con_id)
        return found if found and _agrees(found, spec) else None
    if spec.local_symbol:
        pair = spec.local_symbol.replace(".", "")
        found = FX_PAIRS.get(pair)
        return found if found and _agrees(found, spec) else None
    return FX_PAIRS.get(spec.symbol + spec.currency)


def _agrees(inst: Instrument, spec: ContractSpec) -> bool:
    """Fields the client did set must not contradict the instrument it named by id."""
    return spec.symbol in ("", inst.base) and spec.currency in ("", inst.quote)
