"""MCP tools: one per intent kind, each an intent sent through the seam by `seam.client` and answered by its daemon.

    tool arguments ──► {seam: 1, id, kind, session_id: mcp, payload} ──► client.submit_and_wait ──► response
                       (`id` optional: generated when absent;          (the daemon's checks; its response file,
                        same id + same payload = the same answer)       its beads: the same as a dropped file)

A tool's parameters are the kind's payload model's fields (seam/intent.py, the source the published JSON Schemas are
generated from) plus `id`; a test compares them with the published schemas. The arguments are not validated here
but by the seam's own checks, so a wrong field comes back in the seam's plain words, naming the field, as a tool
error. INV: no tool reveals an approval code: the approve tool takes the code a human gave and never returns it.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, get_args, get_origin

import anyio
from mcp.server.mcpserver.tools import Tool
from mcp.server.mcpserver.utilities.func_metadata import ArgModelBase, FuncMetadata
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, ConfigDict, Field, create_model
from pydantic.fields import FieldInfo

from seam import client
from seam.errors import IntentError, ResponseTimeout
from seam.faults import describe_fault, is_storage_fault
from seam.intent import ID_PATTERN, KIND_MODELS, Kind
from seam.logmask import SecretMask
from seam.mcp.host import SeamHost

__all__ = [
    "KIND_TOOLS",
    "KindTool",
    "SeamChecks",
    "ToolAnswer",
    "build_tools",
    "call_kind",
    "input_model",
    "payload_members",
    "tool_name",
]

logger = logging.getLogger(__name__)

SESSION_ID = "mcp"  # echoed in the beads: these intents came through the MCP server
WAIT_MARGIN_SECONDS = 5.0  # beyond the kind's handler time limit, for intake and the response file
FIRST_POLL_SECONDS = 0.00025  # the wait for a response polls from here, doubling, up to the client's own interval
LAST_POLL_SECONDS = 0.05


class ToolAnswer(BaseModel):
    """What every tool returns as structured content; the response's markdown comes as text beside it."""

    id: str = Field(description="The intent id; the response is seam://responses/<id>.")
    kind: str | None
    status: Literal["ok", "rejected", "failed", "pending_approval", "conflict"]
    succeeded: bool = Field(description="ok or pending_approval: the intent was accepted.")
    bead: int = Field(description="The audit bead of the answer.")
    at: str = Field(description="When it was answered (ISO 8601).")
    intent_sha256: str
    response: str = Field(description="The resource holding the whole response.")
    replay_of: int | None = Field(None, description="Set when this id was answered before: that answer's bead.")
    proposal: str | None = Field(None, description="The proposal waiting for a human (pending_approval only).")


@dataclass(frozen=True)
class KindTool:
    kind: Kind
    title: str
    guidance: str
    annotations: ToolAnnotations


def _hints(*, read_only: bool = False, destructive: bool = False, idempotent: bool = False) -> ToolAnnotations:
    return ToolAnnotations(
        read_only_hint=read_only,
        destructive_hint=destructive if not read_only else False,
        idempotent_hint=idempotent or read_only,
        open_world_hint=False,
    )


_APPROVE_GUIDANCE = (
    "Decide on a proposal with the approval code that a HUMAN received on their own channel (the `seam watch` "
    "terminal, `seam approvals`, or Telegram) and typed into this conversation themselves. Never invent, guess, "
    "reuse or ask for a code, and never put a code anywhere else: without the human's code nothing is approved, "
    "and a wrong code counts against the proposal (3 tries, then it locks). Use decision=reject to refuse it."
)

KIND_TOOLS: dict[Kind, KindTool] = {
    tool.kind: tool
    for tool in (
        KindTool(
            Kind.STATUS,
            "Seam status",
            "Mode, broker link, halt flag, queue depth, positions and open orders summary.",
            _hints(read_only=True),
        ),
        KindTool(
            Kind.HALT,
            "Emergency halt",
            "Sets the halt flag (every capital action is blocked from then on) and, unless cancel_orders is false, "
            "cancels the working orders. Safe to repeat: a second halt finds the flag on.",
            _hints(idempotent=True),
        ),
        KindTool(Kind.ACCOUNT, "Account values", "Balances and account values.", _hints(read_only=True)),
        KindTool(Kind.POSITIONS, "Positions and orders", "Positions and working orders.", _hints(read_only=True)),
        KindTool(
            Kind.RECONCILE,
            "Reconcile with the broker",
            "Compares the local lifecycle state with the broker now; a drift is a CRITICAL alert and sets the halt "
            "flag, so this is not read-only.",
            _hints(idempotent=True),
        ),
        KindTool(
            Kind.SIGNAL,
            "Submit a signal",
            "A Canonical Signal Envelope. READY needs direction, entry, stop, target and setup_type, and becomes a "
            "proposal with an evidence bundle that waits for a human (status pending_approval); nothing is ordered. "
            "FORMING and NONE are recorded and narrated only.",
            _hints(),
        ),
        KindTool(
            Kind.CLOSE,
            "Propose closing a position",
            "A proposal to close the position; it waits for a human's approval like a READY signal.",
            _hints(destructive=True),
        ),
        KindTool(Kind.APPROVE, "Approve or reject a proposal", _APPROVE_GUIDANCE, _hints(destructive=True)),
        KindTool(
            Kind.CANCEL,
            "Cancel a working order",
            "Cancels one working order at the broker (it reduces risk, so it needs no approval).",
            _hints(destructive=True),
        ),
        KindTool(
            Kind.NARRATE,
            "Narrate",
            "A report from beads and broker facts: briefing (a day), health (the latest heartbeat and its checks), "
            "weekly_review (trades, P&L in pips and USD, gates, alerts, halts over a date range) or status.",
            _hints(read_only=True),
        ),
        KindTool(
            Kind.QUERY,
            "Research query",
            "A declarative lens over a dataset in the seam's data folder (filter, group_by session/weekday/hour/month "
            "or a column, aggregates), run by DuckDB: the result table with the dataset's sha256 and the bead id.",
            _hints(read_only=True),
        ),
        KindTool(
            Kind.HUNT,
            "Research hunt",
            "A registered hypothesis (session_breakout, ma_cross, fvg_retest) over a parameter grid; every variant is "
            "computed and shown in grid order with the same facts, none selected, sorted or scored.",
            _hints(read_only=True),
        ),
        KindTool(
            Kind.MEMORY,
            "Memory over the beads",
            "Questions over the audit beads in a time window: heartbeat gaps, connection gaps, approvals and their "
            "outcomes, bead counts by type.",
            _hints(read_only=True),
        ),
    )
}


def tool_name(kind: Kind) -> str:
    """The tool of a kind is named after it: the kinds are snake_case words already."""
    return kind.value


# ---- parameters: the payload model's fields, plus id ---------------------------------------------


def payload_members(kind: Kind) -> list[type[BaseModel]]:
    """The payload model of a kind, or the members of its union (`signal`: READY, or FORMING/NONE)."""
    model = KIND_MODELS[kind]
    if get_origin(model) is Annotated:
        model = get_args(model)[0]
    if isinstance(model, type) and issubclass(model, BaseModel):
        return [model]
    return [member for member in get_args(model) if isinstance(member, type) and issubclass(member, BaseModel)]


def _merged_fields(members: list[type[BaseModel]]) -> dict[str, tuple[Any, FieldInfo]]:
    """Every member's fields as one flat set of parameters: a field the members type alike keeps its type; where
    one member makes it optional, the optional one stands (the seam's checks then require it where they must);
    the discriminator takes the values of all members."""
    names = list(dict.fromkeys(name for member in members for name in member.model_fields))
    fields: dict[str, tuple[Any, FieldInfo]] = {}
    for name in names:
        infos = [member.model_fields[name] for member in members if name in member.model_fields]
        if len(infos) < len(members) or all(repr(info) == repr(infos[0]) for info in infos):
            info = infos[0]
        elif optional := [info for info in infos if not info.is_required()]:
            info = optional[0]
        else:
            values = [value for info in infos for value in get_args(info.annotation)]
            fields[name] = (Literal[tuple(values)], FieldInfo(description=infos[0].description))
            continue
        fields[name] = (info.annotation, info)
    return fields


ID_DESCRIPTION = (
    "Optional intent id (1-64 of [A-Za-z0-9._-], alphanumeric first); generated when absent. Send the same id "
    "again to retry safely: the same id with the same arguments gets the same answer, never a second action."
)


@functools.cache
def input_model(kind: Kind) -> type[BaseModel]:
    """The tool's parameters as a model: `id`, then the kind's payload fields (typed from seam/intent.py)."""
    fields: dict[str, Any] = {"id": (str | None, Field(None, pattern=ID_PATTERN, description=ID_DESCRIPTION))}
    payload = _merged_fields(payload_members(kind))
    assert "id" not in payload, f"{kind}: a payload field may not be called id"
    fields.update(payload)
    return create_model(
        f"{kind.value.capitalize()}ToolInput",
        __config__=ConfigDict(extra="forbid", title=f"{kind.value} arguments"),
        **fields,
    )


class SeamChecks(FuncMetadata):
    """The arguments pass through untouched: the seam's own validation checks them, in its own words."""

    def validate_arguments(self, arguments_to_validate: dict[str, Any]) -> dict[str, Any]:
        return {"arguments": dict(arguments_to_validate)}


class NoArguments(ArgModelBase):
    pass


# ---- the call --------------------------------------------------------------------------------------


def new_id(kind: Kind) -> str:
    return f"{kind.value}-{_now_stamp()}-{os.urandom(3).hex()}"


def _now_stamp() -> str:
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime())


@functools.cache
def _json_fields(model: type[BaseModel]) -> frozenset[str]:
    """Parameters whose values are lists or mappings (some clients send those as JSON text)."""
    properties = model.model_json_schema().get("properties", {})
    wanted = {"array", "object"}

    def structured(schema: dict[str, Any]) -> bool:
        if schema.get("type") in wanted or "$ref" in schema:
            return True
        return any(structured(option) for option in schema.get("anyOf", []))

    return frozenset(name for name, schema in properties.items() if structured(schema))


def _payload(kind: Kind, arguments: dict[str, Any]) -> dict[str, Any]:
    structured = _json_fields(input_model(kind))
    payload: dict[str, Any] = {}
    for name, value in arguments.items():
        if value is None:
            continue  # an absent optional and a null one mean the same: the payload's default
        if name in structured and isinstance(value, str):
            try:
                parsed = json.loads(value)
            except ValueError:
                parsed = value
            value = parsed if isinstance(parsed, list | dict) else value
        payload[name] = value
    return payload


def _problems_text(exc: IntentError) -> str:
    lines = [f"- {problem.path.removeprefix('payload.') or '(intent)'}: {problem.message}" for problem in exc.problems]
    return "The intent was not sent (nothing was written to the seam); fix these fields and call again:\n" + "\n".join(
        lines
    )


def _error(text: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)


def answer_of(response: client.Response, mask: Callable[[str], str]) -> CallToolResult:
    """The response as a tool result: its front matter as structured content, its markdown as text."""
    # ToolAnswer's fields, as its model_dump(mode="json") would give them (the client checks them against its schema)
    status = response.status.value
    answer = {
        "id": response.id,
        "kind": response.kind,
        "status": status,
        "succeeded": response.succeeded,
        "bead": response.bead,
        "at": response.at.isoformat(timespec="milliseconds"),
        "intent_sha256": response.intent_sha256,
        "response": f"seam://responses/{response.id}",
        "replay_of": response.replay_of,
        "proposal": response.id if status == "pending_approval" else None,
    }
    return CallToolResult(
        content=[TextContent(type="text", text=mask(response.body))],
        structured_content=answer,
        is_error=not response.succeeded,
    )


async def call_kind(
    host: SeamHost, kind: Kind, arguments: dict[str, Any], *, session_id: str = SESSION_ID
) -> CallToolResult:
    """Send the kind's intent through the seam and wait for its answer; every failure a tool error in words.
    `session_id` goes into the intent (and so the beads): which door of the server it came through."""
    arguments = dict(arguments)
    intent_id = arguments.pop("id", None) or new_id(kind)
    secrets = host.config.secrets
    given_code = [str(arguments["code"])] if kind is Kind.APPROVE and arguments.get("code") else []
    # INV: outputs never carry a secret, nor the approval code the human gave this call
    mask = SecretMask(
        accounts=[secrets.ib_account.get_secret_value()] if secrets.ib_account else [],
        secrets=[
            *secrets.masked(),
            *given_code,
        ],
    ).mask
    intent = {
        "seam": 1,
        "id": intent_id,
        "kind": kind.value,
        "session_id": session_id,
        "payload": _payload(kind, arguments),
    }
    timeout = host.config.settings.timeout_for(kind) + WAIT_MARGIN_SECONDS
    try:
        await host.ensure_daemon()
        daemon = host.direct(kind.value)
        if daemon is not None:  # the daemon runs here: it takes the intent at once (no file watch, no polling)
            submitted = client.submit(host.paths, host.config, intent, clock=host.clock, deliver=daemon.deliver)
            finished = await daemon.answer(submitted.path)
            response = client.response_of(finished.response, finished.text, finished.front) if finished else None
            if response is None:  # handed to the broker's owner, or waiting out a disk fault: answered as a file
                response = await wait_for_answer(host, submitted, timeout)
        else:
            submit = functools.partial(client.submit, host.paths, host.config, intent, clock=host.clock)
            submitted = await anyio.to_thread.run_sync(submit)
            response = await wait_for_answer(host, submitted, timeout)
    except IntentError as exc:
        return _error(mask(_problems_text(exc)))
    except ResponseTimeout as exc:
        return _error(mask(str(exc)))
    except OSError as exc:
        if not is_storage_fault(exc):
            raise
        return _error(
            f"The seam's disk could not be written ({describe_fault(exc)}); this {kind.value} was not answered and "
            "nothing was done. Call again once the disk has room."
        )
    logger.debug("mcp tool %s: intent %s answered %s", kind.value, response.id, response.status)  # the daemon logs it
    return answer_of(response, mask)


async def wait_for_answer(host: SeamHost, submitted: client.Submitted, timeout: float) -> client.Response:
    """`client.wait_for_response`, polled on this event loop from 0.25 ms up to its 50 ms: an answer that takes a
    daemon 4 ms is seen within a fraction of a millisecond, not on the next 50 ms tick, and a slow one costs no
    more checks than before. The check is the client's own; the last one, at the deadline, raises its timeout."""
    deadline = anyio.current_time() + timeout
    delay = FIRST_POLL_SECONDS
    while (response := client.answered(host.paths, submitted)) is None:
        if anyio.current_time() >= deadline:
            raise client.timed_out(host.paths, submitted, timeout)
        await anyio.sleep(delay)
        delay = min(delay * 2, LAST_POLL_SECONDS)
    return response


def _description(spec: KindTool) -> str:
    members = payload_members(spec.kind)
    doc = " ".join((members[0].__doc__ or "").split()) if len(members) == 1 else ""
    parts = [spec.guidance]
    if doc and doc.rstrip(".") not in spec.guidance:
        parts.insert(0, doc)
    parts.append(
        "Sent as a `"
        + spec.kind.value
        + "` intent through the seam (the same checks, response file and audit beads as a file in "
        "intents/incoming/); returns the response's markdown and its status."
    )
    return " ".join(parts)


def build_tools(host: SeamHost) -> list[Tool]:
    """One SDK tool per kind, bound to this host."""
    tools = []
    for kind in Kind:
        spec = KIND_TOOLS[kind]

        async def run(arguments: dict[str, Any], _kind: Kind = kind) -> CallToolResult:
            return await call_kind(host, _kind, arguments)

        tools.append(
            Tool(
                fn=run,
                name=tool_name(kind),
                title=spec.title,
                description=_description(spec),
                parameters=input_model(kind).model_json_schema(),
                fn_metadata=SeamChecks(arg_model=NoArguments, output_model=ToolAnswer),
                is_async=True,
                annotations=spec.annotations,
            )
        )
    return tools
