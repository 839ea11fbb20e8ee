"""What the demo prints: its opening, the narration, each intent and response, and the closing summary."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console, RenderableType
from rich.markdown import Markdown
from rich.panel import Panel
from rich.table import Table

from seam import fx
from seam.demo.script import TradePlan
from seam.demo.waits import Answer
from seam.paths import SeamPaths
from seam.store import Store

MASK = "******"  # INV: an approval code is printed as this, never as its digits


@dataclass(frozen=True)
class TradeRow:
    """A closed trade for the summary: its plan, the daemon session it ran in, and its AUTOPSY facts."""

    plan: TradePlan
    session: int
    autopsy: dict[str, Any]


def opening(out: Console, mode: str, root: Path, start: datetime) -> None:
    out.print(
        Panel.fit(
            "seam demo: an agent's intents in, a person's responses out, every step audited.\n"
            "Capital moves only with a human's 6-digit approval code, which the agent never sees.\n"
            + (
                "MOCK broker: an in-process fake book; nothing can reach a market."
                if mode == "mock"
                else "PAPER mode against a fake IB Gateway in this process, through the real IB client library."
            ),
            title="seam demo",
        ),
        soft_wrap=False,
    )
    out.print(f"Seam folder: [bold]{root}[/] (everything the demo writes stays in it)")
    out.print(
        f"[bold]Market clock simulated:[/] it reads {start:%A %Y-%m-%d %H:%M} UTC ({fx.fx_session(start)} "
        "session) at the start and runs at real speed, so the demo runs on any day, weekends included. "
        "Every time in the responses and beads is on this clock."
    )


class Narrator:
    """The story's voice; `step` names what the story is doing, so a failure can say where it happened."""

    def __init__(self, out: Console, paths: SeamPaths) -> None:
        self.out = out
        self.paths = paths
        self.step = "setting up"

    def section(self, title: str) -> None:
        self.step = title
        self.out.print()
        self.out.rule(f"[bold]{title}[/]")

    def say(self, text: str) -> None:
        self.out.print(text)

    def plain(self, text: str) -> None:
        """Text printed as it is: no rich markup, no highlighting."""
        self.out.print(text, markup=False, highlight=False)

    def show(self, renderable: RenderableType) -> None:
        # soft_wrap off for boxes: the CLI's console soft-wraps, which would crop lines inside a box
        self.out.print(renderable, soft_wrap=False)

    def intent(self, name: str, shown: str) -> None:
        self.say(f"[dim]agent writes intents/incoming/{name} (via intents/tmp/ and a rename):[/]")
        self.plain(shown.rstrip())

    def response(self, answer: Answer) -> None:
        self.say(f"[dim]→ {self.rel(answer.path)} (status [bold]{answer.status}[/bold])[/]")
        self.show(Panel(Markdown(answer.body.strip()), border_style="dim"))

    def rel(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.paths.root))
        except ValueError:
            return str(path)


def session_event(payload: dict[str, Any]) -> str:
    """An IBKR_SESSION bead in one line."""
    event = str(payload.get("event"))
    if event == "DISCONNECT":
        return f"{event}: {payload.get('reason')}"
    if event == "RECONNECT":
        return f"{event}: attempt {payload.get('attempt')} after {payload.get('after_seconds')} s"
    return f"{event}: account {payload.get('account')}, port {payload.get('port')}"


def summary(out: Narrator, trades: Sequence[TradeRow], store: Store) -> bool:
    """The trades, the intents by status, the bead chain's verdict and the responses; True when the chain is intact."""
    out.section("Summary")
    out.show(_trades_table(trades))
    results = [row.plan.exit for row in trades]
    out.say(f"Trades: {len(results)} (target {results.count('target')}, stop {results.count('stop')})")
    out.show(_status_table(store.ledger.counts()))
    verdict = store.verify()
    state = "intact" if verdict.ok else f"BROKEN: {verdict.reason}"
    out.say(
        f"Bead chain: {state} ({verdict.count} beads). Check it yourself: "
        f"[bold]seam beads verify --seam {out.paths.root}[/]"
    )
    out.say("Responses written:")
    for path in sorted(out.paths.responses.rglob("*.md")):
        out.plain(f"  {path}")
    return verdict.ok


def _trades_table(trades: Sequence[TradeRow]) -> Table:
    table = Table(title="Trades")
    for column in ("trade", "session", "direction", "entry", "exit", "pips", "R", "result"):
        table.add_column(column, justify="right" if column in ("entry", "exit", "pips", "R") else "left")
    for row in trades:
        a = row.autopsy
        r_multiple = "-" if a.get("r_multiple") is None else f"{float(a['r_multiple']):+.2f}"
        table.add_row(
            row.plan.position,
            str(row.session),
            row.plan.direction,
            f"{float(a['entry']):.5f}",
            f"{float(a['exit']):.5f}",
            f"{float(a['pips']):+.1f}",
            r_multiple,
            row.plan.exit,
        )
    return table


def _status_table(counts: dict[str, int]) -> Table:
    table = Table(title="Intents answered, by status")
    table.add_column("status")
    table.add_column("intents", justify="right")
    for status, count in sorted(counts.items()):
        table.add_row(status, str(count))
    return table
