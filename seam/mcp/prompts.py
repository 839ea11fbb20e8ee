"""MCP prompts: a briefing, a setup turned into a signal, and why an intent was rejected. Facts only: the
prompts ask the model to state what the seam says, never to recommend, rank or predict."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import anyio
from mcp.server import MCPServer

from seam import client
from seam.intent import ID_PATTERN
from seam.mcp.host import SeamHost

__all__ = ["add_prompts"]

_ID = re.compile(ID_PATTERN)

FACTS_ONLY = (
    "State facts as the seam gives them; do not recommend, rank, predict or say what should be done: the human decides."
)

BRIEFING = (
    "Brief me on the desk. Call the `status` tool and the `positions` tool, and read the resource "
    "seam://proposals/pending. Then summarise in a few lines: mode and broker link, halt flag, open positions and "
    "working orders, and each proposal waiting for me (pair, side, entry/stop/target, size, reward:risk, expiry). "
    + FACTS_ONLY
)

SIGNAL_FROM_SETUP = """Turn the trade setup below into a seam `signal` intent and send it with the `signal` tool.

Rules (the seam checks them and names any field that is wrong):
- signal: READY (every level known: becomes a proposal that waits for my approval), FORMING or NONE (recorded only).
- pair: EURUSD, GBPUSD, USDJPY, AUDUSD, USDCAD or NZDUSD; direction LONG or SHORT.
- entry, stop, target: prices; for LONG the stop is below the entry and the target above it, for SHORT the reverse.
- setup_type: FVG_ENTRY, OTE_ENTRY or BOS_ENTRY; confidence 0..1; risk_percent 0.5..2.5 (default 1.0).
- thesis: the setup in one or two sentences, in its own words.
Use only values the setup states. If a level READY needs is missing, send it as FORMING or ask me; never
invent one. The answer is a proposal waiting for my approval code, which only I have: do not ask me for it.

Setup:
{setup}"""

WHY_REJECTED = """Explain why the seam did not accept intent `{id}`, from its response below: which field or
check, and what would make it valid. {facts}

{response}"""


def _why_rejected(host: SeamHost, intent_id: str) -> str:
    if not _ID.fullmatch(intent_id):
        return "That is not an intent id: ids are 1-64 characters of [A-Za-z0-9._-], starting with a letter or digit."
    response = client.read_response(host.paths, intent_id)
    if response is None:
        return f"There is no response for intent `{intent_id}` (yet). Read seam://status to see whether a daemon runs."
    return WHY_REJECTED.format(id=intent_id, facts=FACTS_ONLY, response=response.text)


def add_prompts(server: MCPServer[Any], host: SeamHost, mask: Callable[[str], str]) -> None:
    @server.prompt(name="briefing", title="Desk briefing", description="Status, positions and pending proposals.")
    def briefing() -> str:
        return BRIEFING

    @server.prompt(
        name="signal_from_setup",
        title="Turn this setup into a signal",
        description="Write a trade setup as a Canonical Signal Envelope and send it (it waits for a human).",
    )
    def signal_from_setup(setup: str) -> str:
        return SIGNAL_FROM_SETUP.format(setup=setup)

    @server.prompt(
        name="why_rejected",
        title="Why was this rejected?",
        description="Read an intent's response and explain which field or check refused it.",
    )
    async def why_rejected(id: str) -> str:
        return mask(await anyio.to_thread.run_sync(_why_rejected, host, id))
