"""The intent envelope (version 1) and one payload model per kind.

These pydantic models are the source of truth; the JSON Schemas in seam/schemas/ are generated from
them (`seam schema export`) and a test fails when the committed files drift from the models.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

__all__ = [
    "ID_PATTERN",
    "KIND_MODELS",
    "Envelope",
    "Kind",
    "Pair",
]

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class Kind(StrEnum):
    STATUS = "status"
    HALT = "halt"
    ACCOUNT = "account"
    POSITIONS = "positions"
    RECONCILE = "reconcile"
    SIGNAL = "signal"
    CLOSE = "close"
    APPROVE = "approve"
    CANCEL = "cancel"
    NARRATE = "narrate"
    QUERY = "query"
    HUNT = "hunt"
    MEMORY = "memory"


class Pair(StrEnum):
    EURUSD = "EURUSD"
    GBPUSD = "GBPUSD"
    USDJPY = "USDJPY"
    AUDUSD = "AUDUSD"
    USDCAD = "USDCAD"
    NZDUSD = "NZDUSD"


class _Strict(BaseModel):
    """Payloads refuse unknown fields and never coerce types (`"1"` is not a number here)."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)


Price = Annotated[float, Field(gt=0, lt=100_000)]
ShortText = Annotated[str, Field(min_length=1, max_length=500)]
Reference = Annotated[str, Field(pattern=ID_PATTERN, description="An id: 1-64 of [A-Za-z0-9._-], alphanumeric first")]


class Envelope(BaseModel):
    """Every intent file: `seam: 1`, an id, a kind, and the kind's payload."""

    model_config = ConfigDict(extra="forbid", strict=True, title="Intent envelope (seam: 1)")

    seam: Literal[1] = Field(description="Envelope version; must be 1.")
    id: str = Field(
        pattern=ID_PATTERN,
        description="1-64 characters of [A-Za-z0-9._-], starting with a letter or digit; names the response file.",
    )
    kind: Kind
    created_at: AwareDatetime | None = Field(
        default=None,
        description="When the intent was written (ISO 8601 with a timezone, e.g. 2026-11-21T09:05:00Z).",
    )
    session_id: str | None = Field(default=None, min_length=1, max_length=128)
    payload: dict[str, Any] = Field(description="Validated by the kind's own schema.")


# ---- system -------------------------------------------------------------------------------------


class StatusPayload(_Strict):
    """System status: mode, link, heartbeat, halt flag, queue depth."""


class HaltPayload(_Strict):
    """Emergency halt: sets the halt flag, cancels working orders, blocks every capital action."""

    reason: ShortText = Field(description="Why the halt was called; recorded in the HALT bead.")
    cancel_orders: bool = Field(default=True, description="Cancel working orders at the broker.")


# ---- broker (read-only and risk-reducing) -------------------------------------------------------


class AccountPayload(_Strict):
    """Balances and account values."""


class PositionsPayload(_Strict):
    """Positions, and working orders unless include_orders is false."""

    include_orders: bool = True


class ReconcilePayload(_Strict):
    """Compare the local lifecycle state with the broker now."""


class CancelPayload(_Strict):
    """Cancel one working order (needs no approval: it reduces risk)."""

    order_id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]
    reason: ShortText | None = None


# ---- approval -----------------------------------------------------------------------------------


class _SignalBase(_Strict):
    pair: Pair
    confidence: Annotated[float, Field(ge=0, le=1)]
    risk_percent: Annotated[float, Field(ge=0.5, le=2.5)] = 1.0
    source: Literal["CSO", "HUNT_SURVIVOR", "MANUAL"] = "MANUAL"
    thesis: Annotated[str, Field(max_length=2000)] = ""
    evidence_hash: Annotated[str, Field(pattern=r"^[A-Fa-f0-9]{8,128}$")] | None = None


class ReadySignal(_SignalBase):
    """A READY signal: every level is required; it becomes a proposal that waits for a human."""

    signal: Literal["READY"]
    direction: Literal["LONG", "SHORT"]
    entry: Price
    stop: Price
    target: Price
    setup_type: Literal["FVG_ENTRY", "OTE_ENTRY", "BOS_ENTRY"]


class WatchSignal(_SignalBase):
    """FORMING or NONE: recorded and narrated only; levels are optional."""

    signal: Literal["FORMING", "NONE"]
    direction: Literal["LONG", "SHORT"] | None = None
    entry: Price | None = None
    stop: Price | None = None
    target: Price | None = None
    setup_type: Literal["FVG_ENTRY", "OTE_ENTRY", "BOS_ENTRY"] | None = None


SignalPayload = Annotated[ReadySignal | WatchSignal, Field(discriminator="signal")]


class ClosePayload(_Strict):
    """Close a position: a proposal that waits for a human, like a READY signal."""

    position_id: Reference
    reason: ShortText | None = None


class ApprovePayload(_Strict):
    """A human's decision on a proposal, with the code only a human channel received."""

    proposal: Reference
    code: Annotated[str, Field(pattern=r"^[0-9]{6}$", description="The 6-digit code from a human channel.")]
    decision: Literal["approve", "reject"] = "approve"


# ---- narrator and research ----------------------------------------------------------------------


class NarratePayload(_Strict):
    """Render a named template from beads and broker facts."""

    template: Literal["briefing", "health", "weekly_review", "status"]
    params: dict[str, str | int | float | bool] = Field(default_factory=dict)
    since: date | None = Field(
        default=None,
        description="First day (UTC) of the range, inclusive; default: 1 day (briefing) or 7 days (weekly_review) "
        "before `until`.",
    )
    until: date | None = Field(default=None, description="Last day (UTC) of the range, inclusive; default: today.")


Column = Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]{0,31}$", description="A lowercase column name")]
Dataset = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$",
        description="A file inside the seam's data folder, e.g. eurusd.csv or fx/gbpusd.parquet",
    ),
]


class QueryFilter(_Strict):
    """One condition on a column or a derived field; its value reaches the engine as a parameter, never as text."""

    field: Column
    op: Literal["==", "!=", "<", "<=", ">", ">=", "in"]
    value: float | int | Annotated[str, Field(max_length=64)] | list[float | int | Annotated[str, Field(max_length=64)]]


class QueryAggregate(_Strict):
    """One aggregate. `field` names a column or a derived field: return_pips (close - open; `sum` of it is the sum
    of returns), range_pips (high - low); `count` needs none."""

    fn: Literal["count", "mean", "median", "min", "max", "sum", "stddev", "stdev"]  # stdev: another spelling
    field: Column | None = None


class QueryPayload(_Strict):
    """A declarative lens over a dataset: filter, group_by, aggregates."""

    dataset: Dataset
    filter: list[QueryFilter] = Field(default_factory=list, max_length=20)
    group_by: list[Column] = Field(
        default_factory=list,
        max_length=3,
        description="session (UTC: Asia 21-07, London 07-12, New York 12-21), weekday, hour, month, or a column",
    )
    aggregates: list[QueryAggregate] = Field(min_length=1, max_length=20)


class HuntPayload(_Strict):
    """A registered hypothesis over a parameter grid; every variant is computed, none selected."""

    hypothesis: Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]{0,63}$")]
    dataset: Dataset
    grid: dict[Column, Annotated[list[float | int], Field(min_length=1, max_length=50)]] = Field(
        max_length=6, description="Parameter name -> values; every combination is one variant, in this order"
    )


class MemoryPayload(_Strict):
    """A question over the beads."""

    question: Literal["heartbeat_gaps", "connection_gaps", "approvals", "beads"]
    window: Annotated[str, Field(pattern=r"^[1-9][0-9]{0,3}[mhdw]$", description="e.g. 30m, 24h, 7d, 2w")] = "24h"
    bead_type: Annotated[str, Field(pattern=r"^[A-Z_]{2,32}$")] | None = None
    over_seconds: int = Field(
        default=90,
        ge=1,
        le=86_400,
        description="heartbeat_gaps: two consecutive HEARTBEAT beads further apart than this are a gap.",
    )


KIND_MODELS: dict[Kind, Any] = {
    Kind.STATUS: StatusPayload,
    Kind.HALT: HaltPayload,
    Kind.ACCOUNT: AccountPayload,
    Kind.POSITIONS: PositionsPayload,
    Kind.RECONCILE: ReconcilePayload,
    Kind.SIGNAL: SignalPayload,
    Kind.CLOSE: ClosePayload,
    Kind.APPROVE: ApprovePayload,
    Kind.CANCEL: CancelPayload,
    Kind.NARRATE: NarratePayload,
    Kind.QUERY: QueryPayload,
    Kind.HUNT: HuntPayload,
    Kind.MEMORY: MemoryPayload,
}


def created_or(envelope: Envelope, arrival: datetime) -> datetime:
    """The stale gate reads created_at; when absent, the arrival time stands in for it."""
    return envelope.created_at or arrival
