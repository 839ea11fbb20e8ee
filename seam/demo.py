"""`seam demo`: the whole seam in a minute — a seam in a temporary folder, the daemon, intents, responses.

It uses the embedded defaults (MOCK broker, SQLite beads), drives the real daemon with the real
filesystem observer, and narrates each step. It writes only inside the demo's own folder.
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.markdown import Markdown
from rich.panel import Panel
from rich.table import Table

from seam.audit import BeadStore
from seam.config import load_config, render_commented_yaml
from seam.daemon import Daemon
from seam.paths import SeamPaths, write_atomic
from seam.respond import read_front_matter

__all__ = ["run_demo"]


@dataclass(frozen=True)
class Step:
    title: str
    file: str
    text: str
    response: str  # the response file's stem
    explain: str


STEPS = [
    Step("Ask for the system status", "status-1.yaml",
         "seam: 1\nid: demo-status-1\nkind: status\npayload: {}\n", "demo-status-1",
         "A read-only kind: the system handler answers with facts."),
    Step("Drop the same intent again (another file, same id and payload)", "status-1-again.yaml",
         "seam: 1\nkind: status\nid: demo-status-1\npayload: {}\n", "demo-status-1",
         "Same id + same payload: the first response is served again; nothing runs twice."),
    Step("An intent with a YAML 1.1 trap", "halt-typo.yaml",
         "seam: 1\nid: demo-halt-typo\nkind: halt\npayload:\n  reason: drill\n  cancel_orders: NO\n",
         "demo-halt-typo",
         "`NO` is text in YAML 1.2, not false: the response names the field and the reason."),
    Step("A FORMING signal", "signal.yaml",
         "seam: 1\nid: demo-signal-1\nkind: signal\npayload:\n  signal: FORMING\n  pair: EURUSD\n"
         "  confidence: 0.4\n", "demo-signal-1",
         "FORMING and NONE signals are recorded and narrated; only READY ones become proposals."),
    Step("Emergency halt (priority lane)", "halt.yaml",
         "seam: 1\nid: demo-halt-1\nkind: halt\npayload:\n  reason: demo drill\n", "demo-halt-1",
         "The halt flag goes on; every capital action is blocked until a person clears it."),
    Step("Re-use the halt's id with another payload", "halt-conflict.yaml",
         "seam: 1\nid: demo-halt-1\nkind: halt\npayload:\n  reason: something else\n", "",
         "Same id, different payload: a `conflict`, and the first response keeps `demo-halt-1.md`."),
    Step("Status again", "status-2.yaml", "seam: 1\nid: demo-status-2\nkind: status\npayload: {}\n",
         "demo-status-2", "The halt flag now shows ON."),
]


class _DaemonThread:
    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.loop: asyncio.AbstractEventLoop | None = None
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, name="seam-demo-daemon", daemon=True)

    def _run(self) -> None:
        async def main() -> None:
            self.loop = asyncio.get_running_loop()
            task = asyncio.create_task(self.daemon.run())
            await self.daemon.started.wait()
            self.ready.set()
            await task

        asyncio.run(main())

    def __enter__(self) -> _DaemonThread:
        self.thread.start()
        if not self.ready.wait(15):
            raise RuntimeError("the daemon did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self.daemon.stop)
        self.thread.join(15)


def _wait_for(path: Path, *, sha_not: str | None = None, timeout: float = 10.0) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        front = read_front_matter(path)
        if front is not None and front.get("intent_sha256") != sha_not:
            return front
        time.sleep(0.02)
    raise TimeoutError(f"no response at {path} within {timeout} s")


def _wait_filed(paths: SeamPaths, name: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (paths.processed / name).exists() or (paths.failed / name).exists():
            return
        time.sleep(0.02)
    raise TimeoutError(f"{name} was not filed within {timeout} s")


def run_demo(seam_dir: str | None, *, out: Console) -> int:
    root = Path(seam_dir) if seam_dir else Path(tempfile.mkdtemp(prefix="seam-demo-"))
    paths = SeamPaths.at(root)
    paths.create_folders()
    if not paths.config_file.exists():
        paths.config_file.write_text(render_commented_yaml(), encoding="utf-8")
    out.print(Panel.fit("seam demo — an agent's intents in, a person's responses out, every step audited.\n"
                        "Embedded defaults: MOCK broker (no orders can reach any market), SQLite beads.",
                        title="seam"))
    out.print(f"1. Created a seam at [bold]{paths.root}[/]")
    config = load_config(paths, env={})
    rows: list[tuple[str, str, str, str]] = []
    with _DaemonThread(Daemon(paths, config)):
        out.print("2. Started the daemon (watching intents/incoming/ with the filesystem observer)\n")
        for number, step in enumerate(STEPS, start=3):
            out.rule(f"{number}. {step.title}")
            out.print(f"[dim]writes intents/incoming/{step.file} (via intents/tmp/ and a rename):[/]")
            out.print(step.text.rstrip(), markup=False)
            write_atomic(paths.incoming / step.file, step.text.encode(), tmp_dir=paths.tmp)
            _wait_filed(paths, step.file)
            if step.response:
                response = paths.responses / f"{step.response}.md"
            else:
                response = max(paths.responses.glob("demo-halt-1.*.md"), key=lambda p: p.stat().st_mtime)
            front = _wait_for(response)
            text = response.read_text(encoding="utf-8").split("\n---\n", 1)[-1]
            out.print(f"[dim]→ {response} ({front['status']})[/]")
            out.print(Markdown(text))
            out.print(f"[italic]{step.explain}[/]\n")
            rows.append((step.file, str(front.get("kind") or "-"), str(front["status"]),
                         str(response.relative_to(paths.root))))
    store = BeadStore(paths.db)
    result = store.verify()
    store.close()
    table = Table(title="What happened")
    for column in ("intent file", "kind", "status", "response"):
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    out.print(table)
    out.print(f"Bead chain: {'intact' if result.ok else 'BROKEN: ' + result.reason} ({result.count} beads). "
              f"Check it yourself: [bold]seam beads verify --seam {paths.root}[/]")
    out.print(f"The seam stays at {paths.root}: look at responses/, intents/processed/ and intents/failed/.")
    return 0 if result.ok else 1
