"""Benchmark: seam's daemon against a minimal watchdog loop, on one machine, with one writer.

    python bench/seam_bench.py [--quick] [--json FILE]

Both servers receive the same intents from the same writer (a whole file in tmp/, then a rename
into incoming/) and are timed the same way: by the inotify event of `responses/<id>.md`. The
baseline is bench/baseline_server.py; the seam is `python -m seam watch` on a fresh `seam init`.
The seam alone then gets halt trials (a backlog, then a halt), a few status intents on an idle seam,
and one status among 10,000 garbage files. Everything lives in one temporary folder, removed at the
end. bench/README.md explains each figure; bench/ranges.py runs this several times.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import platform
import random
import select
import signal
import sqlite3
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

HERE = Path(__file__).resolve().parent
BASELINE_SERVER = HERE / "baseline_server.py"

PACED_N, PACED_N_QUICK = 200, 100
PACED_PAUSE_S = 0.020
WARMUP_N = 3  # answered first and left out of the figures (imports, template compile, pools)
BURST_N = 5_000
BACKLOG_N = 5_000
HALT_TRIALS, HALT_TRIALS_QUICK = 5, 3  # halt trials in one run (each: a backlog, then a halt)
# Where the halt is dropped, relative to the seam's root. Today halts go to incoming/ with everything
# else; when `seam halt` writes into intents/priority/, this is the one line to change.
HALT_DROP = Path("intents") / "priority"
IDLE_STATUS_N = 5  # status intents on an idle seam, one at a time; their median is idle_status_ms
IDLE_STATUS_PAUSE_S = 0.2
SETTLE_S = 1.0  # after a drained backlog, before the idle samples: the last filings and the rescan
GARBAGE_N = 10_000  # garbage files (the same number with --quick)
GARBAGE_LEAD = 100  # garbage files written before the well-formed status ("right after the garbage starts")
GARBAGE_TIMEOUT_S = 60.0  # the status behind the garbage: "timed out" after this long, never a hang
ANSWER_TIMEOUT_S = 10.0  # one paced intent
GIVE_UP_AFTER = 3  # paced: consecutive unanswered intents that end the phase (the server is stuck)
HALT_TIMEOUT_S = 60.0
STALL_TIMEOUT_S = 30.0  # a burst (or a drain) is over when no response has arrived for this long
IDLE_S = 1.0
START_TIMEOUT_S = 30.0
STOP_GRACE_S = 5.0
# After the garbage phase the seam still holds thousands of files, and on SIGTERM would spend its 10 s
# in-flight allowance on them: it gets 3 s, then SIGKILL (its data is thrown away).
SEAM_STOP_GRACE_S = 3.0

HALT_ID = "halt-bench"
GARBAGE_STATUS_ID = "garbage-status"


@dataclass(frozen=True)
class Target:
    """One target: `figure` (a key of the JSON output) compared with `limit` by `op`.

    `op` is "<", "<=" or ">="; over several runs the worst value is the largest for "<" and "<=",
    the smallest for ">=". A figure with no value (no answer, timed out) does not meet its target.
    """

    figure: str
    op: str
    limit: float
    text: str

    def met(self, value: float | None) -> bool:
        if value is None:
            return False
        if self.op == "<":
            return value < self.limit
        if self.op == "<=":
            return value <= self.limit
        return value >= self.limit


TARGETS = (
    Target("paced_p50_ratio", "<=", 1.5, "paced p50 <= 1.5 x baseline"),
    Target("paced_p99_ms", "<=", 25.0, "paced p99 <= 25 ms"),
    Target("burst_ratio", ">=", 0.8, "burst >= 0.8 x baseline"),
    Target("lost", "<=", 0, "lost = 0"),
    Target("duplicated", "<=", 0, "duplicated = 0"),
    Target("halt_ms", "<", 50.0, "halt p50 < 50 ms"),
    Target("halt_max_ms", "<", 100.0, "halt max < 100 ms"),
    Target("garbage_ratio", "<=", 2.0, "status behind garbage <= 2 x idle status"),
    Target("idle_rss_mb", "<", 100.0, "idle RSS < 100 MB"),
)
HALT_BLOCK_AIM_MS = 10.0  # an aim, not a target: the halt's own time inside seam (its bead's `ms`)


def status_intent(intent_id: str) -> bytes:
    return f"seam: 1\nid: {intent_id}\nkind: status\npayload: {{}}\n".encode()


def halt_intent(intent_id: str) -> bytes:
    return f'seam: 1\nid: {intent_id}\nkind: halt\npayload: {{reason: "bench"}}\n'.encode()


GARBAGE_KINDS = ("invalid YAML", "wrong envelope", "not a mapping", "truncated JSON", "binary junk")


def garbage_file(i: int, rng: random.Random) -> tuple[str, bytes]:
    """The i-th garbage file (name, bytes): the kinds of GARBAGE_KINDS in turn. Where the file has an
    id, it is the file's stem, so every answer lands in `responses/g-NNNNN.md`."""
    stem = f"g-{i:05d}"
    kind = i % len(GARBAGE_KINDS)
    if kind == 0:  # unclosed flow mapping and a stray indent: the YAML parser refuses it
        return f"{stem}.yaml", f"seam: 1\nid: {stem}\nkind: status\npayload: {{unclosed: [1, 2\n  - x: ]\n".encode()
    if kind == 1:  # valid YAML, wrong envelope: unknown version and kind, no payload, an extra field
        return f"{stem}.yaml", f"seam: 7\nid: {stem}\nkind: launch\nextra: true\n".encode()
    if kind == 2:  # a YAML list, not a mapping
        return f"{stem}.yml", b"- seam\n- 1\n- status\n"
    if kind == 3:  # JSON cut off half-way
        return f"{stem}.json", f'{{"seam": 1, "id": "{stem}", "kind": "status", "payl'.encode()
    return f"{stem}.yaml", rng.randbytes(256)  # binary junk


# ---- the writer and the response clock ---------------------------------------------------------


class Writer:
    """The agent's side: the whole file in tmp/, then one rename into incoming/ (the instant timed)."""

    def __init__(self, tmp: Path, incoming: Path) -> None:
        self.tmp = tmp
        self.incoming = incoming

    def drop(self, intent_id: str, data: bytes) -> float:
        return self.drop_file(f"{intent_id}.yaml", data)

    def drop_file(self, name: str, data: bytes) -> float:
        staged = self.tmp / f".{name}.{os.getpid()}.tmp"
        fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        sent = time.perf_counter()
        os.rename(staged, self.incoming / name)
        return sent


_IN_MOVED_TO, _IN_CREATE, _IN_Q_OVERFLOW = 0x80, 0x100, 0x4000
_EVENT = struct.Struct("iIII")  # struct inotify_event: wd, mask, cookie, len; then the name


class ResponseClock:
    """When each `<name>.md` appeared in a folder: the inotify event of its rename (or creation).

    Raw inotify, not a watchdog observer: watchdog holds a moved-out event for up to 0.5 s to pair it
    with a moved-in one, and every event queued behind it waits too. The clock must add nothing of
    its own to either server's figures. Times are time.perf_counter() when the event was read.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.times: dict[str, list[float]] = {}
        self.overflowed = False
        self._cond = threading.Condition()
        libc = ctypes.CDLL(None, use_errno=True)
        self._fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self._fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1 failed (the bench needs Linux)")
        if libc.inotify_add_watch(self._fd, os.fsencode(folder), _IN_MOVED_TO | _IN_CREATE) < 0:
            errno = ctypes.get_errno()
            os.close(self._fd)
            raise OSError(errno, f"inotify_add_watch failed on {folder}")
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._run, name="response-clock", daemon=True)
        self._thread.start()

    def close(self) -> None:
        os.write(self._wake_w, b"x")
        self._thread.join(timeout=5)
        for fd in (self._fd, self._wake_r, self._wake_w):
            os.close(fd)

    def _run(self) -> None:
        poller = select.poll()
        poller.register(self._fd, select.POLLIN)
        poller.register(self._wake_r, select.POLLIN)
        while True:
            ready = {fd for fd, _ in poller.poll()}
            now = time.perf_counter()
            if self._wake_r in ready:
                return
            try:
                data = os.read(self._fd, 1 << 16)
            except BlockingIOError:
                continue
            self._record(data, now)

    def _record(self, data: bytes, now: float) -> None:
        names, overflow, offset = [], False, 0
        while offset < len(data):
            _wd, mask, _cookie, length = _EVENT.unpack_from(data, offset)
            raw = data[offset + _EVENT.size : offset + _EVENT.size + length].rstrip(b"\0")
            offset += _EVENT.size + length
            if mask & _IN_Q_OVERFLOW:
                overflow = True
            elif raw.endswith(b".md") and not raw.startswith(b"."):
                names.append(os.fsdecode(raw[:-3]))
        with self._cond:
            for name in names:
                self.times.setdefault(name, []).append(now)
            if overflow:  # events were dropped: what is there now arrived by now (less precise, flagged)
                self.overflowed = True
                for entry in os.scandir(self.folder):
                    if entry.name.endswith(".md") and not entry.name.startswith("."):
                        self.times.setdefault(entry.name[:-3], [now])
            self._cond.notify_all()

    def wait_first(self, key: str, timeout: float) -> float | None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while key not in self.times:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)
            return self.times[key][0]

    def wait_all(self, keys: Sequence[str], stall_timeout: float, on_progress: Callable[[int], None]) -> int:
        """Wait until every key has arrived, or none has for stall_timeout; the number that arrived."""
        last_count, last_change = -1, time.monotonic()
        while True:
            with self._cond:
                self._cond.wait(0.1)
                count = sum(1 for key in keys if key in self.times)
            on_progress(count)
            if count == len(keys):
                return count
            if count != last_count:
                last_count, last_change = count, time.monotonic()
            elif time.monotonic() - last_change > stall_timeout:
                return count

    def first_times(self, keys: Sequence[str]) -> list[float]:
        with self._cond:
            return [self.times[key][0] for key in keys if key in self.times]

    def unanswered_at(self, keys: Sequence[str], moment: float) -> int:
        """How many of `keys` had no response yet at `moment`."""
        with self._cond:
            return sum(1 for key in keys if key not in self.times or self.times[key][0] > moment)

    def repeated(self) -> set[str]:
        """Names whose response appeared more than once (written again after the first answer)."""
        with self._cond:
            return {key.split(".", 1)[0] for key, times in self.times.items() if len(times) > 1}


# ---- child processes ---------------------------------------------------------------------------


class Child:
    """A server in a child process, its output in a log file; stop() terminates, then kills."""

    def __init__(self, name: str, argv: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.name = name
        self.log = cwd / f"{name}.log"
        self._log_handle = self.log.open("wb")
        self.started = time.perf_counter()
        self.stopped_in: float | None = None
        self.proc = subprocess.Popen(
            argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=self._log_handle, stderr=subprocess.STDOUT
        )

    def wait_until(self, ready: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.proc.returncode}) before {what}:\n{self.tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name}: no {what} within {timeout:g} s:\n{self.tail()}")
            time.sleep(0.02)

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError(f"no VmRSS for {self.name}")

    def cpu_seconds(self) -> float:
        try:
            stat = Path(f"/proc/{self.proc.pid}/stat").read_text()
        except OSError:
            return float("nan")
        fields = stat[stat.rindex(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime

    def stop(self, grace: float) -> None:
        began = time.perf_counter()
        try:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(grace)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(5)
        finally:
            self._log_handle.close()
            self.stopped_in = time.perf_counter() - began


def child_env() -> dict[str, str]:
    """The caller's environment without SEAM_* settings, so the seam runs on its defaults."""
    return {k: v for k, v in os.environ.items() if not k.startswith("SEAM_")}


# ---- progress ----------------------------------------------------------------------------------


class Bar:
    """A rich progress bar on a terminal; otherwise a line every few seconds (pipes, CI logs)."""

    def __init__(self, console: Console, label: str, total: int) -> None:
        self.console, self.label, self.total = console, label, total
        self._progress: Progress | None = None
        self._last_line = time.monotonic()

    def __enter__(self) -> Bar:
        if self.console.is_terminal:
            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=self.console,
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task(self.label, total=self.total)
        else:
            self.console.print(f"  {self.label}: 0/{self.total}")
        return self

    def update(self, done: int) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=done)
        elif time.monotonic() - self._last_line >= 5:
            self._last_line = time.monotonic()
            self.console.print(f"  {self.label}: {done}/{self.total}")

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()


# ---- phases ------------------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    writer: Writer
    clock: ResponseClock
    responses: Path
    child: Child
    console: Console
    halt_writer: Writer | None = None
    seam_paths: Any = None  # the seam's SeamPaths (seam only): where a halt's request is written


@dataclass
class Figures:
    paced_ms: list[float] = field(default_factory=list)
    paced_missing: int = 0
    burst_n: int = 0
    burst_received: int = 0
    burst_per_s: float | None = None
    lost: int = 0
    duplicated: int = 0
    halt_trials_ms: list[float | None] = field(default_factory=list)  # one per trial; None: no answer
    halt_overtook: list[int] = field(default_factory=list)
    halt_ids: list[str] = field(default_factory=list)
    halt_block_ms: list[float] = field(default_factory=list)  # the halts' beads' `ms` (inside seam)
    # each halt's request on disk (flags/halt written and fsync'd, as `seam halt` does first): from then the order
    # path refuses every order, whatever the daemon is doing
    halt_request_ms: list[float] = field(default_factory=list)
    idle_rss_mb: float | None = None
    idle_status_ms: list[float] = field(default_factory=list)
    garbage_n: int = 0
    garbage_write_s: float | None = None
    garbage_status_ms: float | None = None
    garbage_timed_out: bool = False
    garbage_answered_before: int = 0  # garbage files answered before the status was
    drain_missing: int = 0  # halt backlog intents still unanswered when a drain gave up
    overflowed: bool = False
    phases: list[tuple[str, float, float]] = field(default_factory=list)  # (phase, wall s, server CPU s)

    def pct(self, q: int) -> float | None:
        if len(self.paced_ms) < 2:
            return self.paced_ms[0] if self.paced_ms else None
        return statistics.quantiles(self.paced_ms, n=100, method="inclusive")[q - 1]


@contextmanager
def phase(server: Server, figures: Figures, name: str) -> Iterator[None]:
    wall, cpu = time.perf_counter(), server.child.cpu_seconds()
    yield
    figures.phases.append((name, time.perf_counter() - wall, server.child.cpu_seconds() - cpu))


def run_paced(server: Server, ids: list[str], label: str) -> tuple[list[float], int, list[str]]:
    """One intent at a time: write, wait for its response, pause; latency = response − rename.

    Returns the latencies, how many went unanswered, and the ids written (fewer than `ids` when the
    server stopped answering and the phase was given up).
    """
    latencies, missing, in_a_row, written = [], 0, 0, []
    with Bar(server.console, label, len(ids)) as bar:
        for done, intent_id in enumerate(ids, start=1):
            sent = server.writer.drop(intent_id, status_intent(intent_id))
            written.append(intent_id)
            arrived = server.clock.wait_first(intent_id, ANSWER_TIMEOUT_S)
            if arrived is None:
                missing, in_a_row = missing + 1, in_a_row + 1
                if in_a_row >= GIVE_UP_AFTER:
                    server.console.print(
                        f"[red]{server.name}: {in_a_row} intents in a row unanswered; giving up the phase[/]"
                    )
                    break
            else:
                latencies.append((arrived - sent) * 1000)
                in_a_row = 0
            bar.update(done)
            time.sleep(PACED_PAUSE_S)
    return latencies, missing, written


def run_burst(server: Server, figures: Figures, n: int) -> None:
    """n intents written back to back; throughput = n / (first write → last response)."""
    ids = [f"b-{i:05d}" for i in range(1, n + 1)]
    start = time.perf_counter()
    for intent_id in ids:
        server.writer.drop(intent_id, status_intent(intent_id))
    with Bar(server.console, f"{server.name} burst: answered", n) as bar:
        figures.burst_received = server.clock.wait_all(ids, STALL_TIMEOUT_S, bar.update)
    arrivals = server.clock.first_times(ids)
    figures.burst_n = n
    if arrivals:
        figures.burst_per_s = n / (max(arrivals) - start)


def _seam_paths(root: Path) -> Any:
    from seam.paths import SeamPaths

    return SeamPaths.at(root)


def run_halt(server: Server, figures: Figures, trial: int, backlog: int) -> list[str]:
    """One halt trial: a backlog of status intents written back to back, then at once a halt (into
    HALT_DROP); the halt's latency and how many of the backlog it overtook. Then the backlog is
    drained, so every trial starts on a quiet seam. Returns the backlog's ids."""
    ids = [f"h{trial}-{i:05d}" for i in range(1, backlog + 1)]
    halt_id = f"{HALT_ID}-{trial}"
    figures.halt_ids.append(halt_id)
    for intent_id in ids:
        server.writer.drop(intent_id, status_intent(intent_id))
    assert server.halt_writer is not None
    if server.seam_paths is not None:  # as seam/client.py does for every halt: the request on disk, then the intent
        from seam.haltfile import request_halt

        asked = time.perf_counter()
        request_halt(server.seam_paths, intent_id=halt_id, reason="bench", by="bench", at=datetime.now(UTC))
        figures.halt_request_ms.append((time.perf_counter() - asked) * 1000)
    sent = server.halt_writer.drop(halt_id, halt_intent(halt_id))
    arrived = server.clock.wait_first(halt_id, HALT_TIMEOUT_S)
    if arrived is None:
        figures.halt_trials_ms.append(None)
        figures.halt_overtook.append(0)
    else:
        figures.halt_trials_ms.append((arrived - sent) * 1000)
        figures.halt_overtook.append(server.clock.unanswered_at(ids, arrived))
    with Bar(server.console, f"{server.name} halt {trial}: backlog answered", backlog) as bar:
        drained = server.clock.wait_all(ids, STALL_TIMEOUT_S, bar.update)
    figures.drain_missing += backlog - drained
    return ids


def run_idle_status(server: Server, figures: Figures) -> list[str]:
    """A few status intents, one at a time, on a seam with nothing else to do; returns their ids."""
    time.sleep(SETTLE_S)
    ids = [f"i-{i:05d}" for i in range(1, IDLE_STATUS_N + 1)]
    for intent_id in ids:
        sent = server.writer.drop(intent_id, status_intent(intent_id))
        arrived = server.clock.wait_first(intent_id, ANSWER_TIMEOUT_S)
        if arrived is not None:
            figures.idle_status_ms.append((arrived - sent) * 1000)
        time.sleep(IDLE_STATUS_PAUSE_S)
    return ids


def run_garbage(server: Server, figures: Figures, n: int) -> None:
    """n garbage files written as fast as the writer can; a well-formed status right after the first
    GARBAGE_LEAD of them; the status's latency, given up (timed out) after GARBAGE_TIMEOUT_S."""
    rng = random.Random(20261121)
    files = [garbage_file(i, rng) for i in range(1, n + 1)]  # made before the clock starts
    lead = min(GARBAGE_LEAD, n)
    began = time.perf_counter()
    for name, data in files[:lead]:
        server.writer.drop_file(name, data)
    sent = server.writer.drop(GARBAGE_STATUS_ID, status_intent(GARBAGE_STATUS_ID))
    for name, data in files[lead:]:
        server.writer.drop_file(name, data)
    figures.garbage_n = n
    figures.garbage_write_s = time.perf_counter() - began
    remaining = GARBAGE_TIMEOUT_S - (time.perf_counter() - sent)
    arrived = server.clock.wait_first(GARBAGE_STATUS_ID, max(remaining, 0.0))
    if arrived is None:
        figures.garbage_timed_out = True
        return
    figures.garbage_status_ms = (arrived - sent) * 1000
    stems = [name.rsplit(".", 1)[0] for name, _ in files]
    figures.garbage_answered_before = sum(1 for t in server.clock.first_times(stems) if t < arrived)


def audit(server: Server, figures: Figures, ids: list[str], db: Path | None) -> None:
    """After the server stopped. lost: an id in `ids` without a response file. duplicated: any id
    answered more than once by any of three counts: response files, response arrivals, answered beads."""
    files = Counter(
        entry.name.split(".", 1)[0]
        for entry in os.scandir(server.responses)
        if entry.name.endswith(".md") and not entry.name.startswith(".")
    )
    figures.lost = sum(1 for intent_id in ids if files[intent_id] == 0)
    duplicated = {name for name, count in files.items() if count > 1} | server.clock.repeated()
    if db is not None:
        duplicated |= {intent_id for intent_id, count in answered_beads(db).items() if count > 1}
    figures.duplicated = len(duplicated)
    figures.overflowed = server.clock.overflowed


def bead_ms(db: Path, intent_ids: Sequence[str]) -> list[float]:
    """The `ms` of each id's "answered" INTENT bead: from a worker taking the intent to its commit."""
    wanted, found = set(intent_ids), {}
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT intent_id, payload FROM beads WHERE type = 'INTENT'").fetchall()
    finally:
        conn.close()
    for intent_id, payload in rows:
        if intent_id in wanted:
            data = json.loads(payload)
            if data.get("event") == "answered" and isinstance(data.get("ms"), int | float):
                found[intent_id] = float(data["ms"])
    return [found[intent_id] for intent_id in intent_ids if intent_id in found]


def answered_beads(db: Path) -> Counter[str]:
    """INTENT beads with event "answered", per intent id."""
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT intent_id, payload FROM beads WHERE type = 'INTENT'").fetchall()
    finally:
        conn.close()
    return Counter(
        intent_id
        for intent_id, payload in rows
        if intent_id is not None and json.loads(payload).get("event") == "answered"
    )


# ---- the two servers ---------------------------------------------------------------------------


def bench_baseline(root: Path, paced_n: int, console: Console) -> Figures:
    for folder in ("tmp", "incoming", "responses"):
        (root / folder).mkdir(parents=True)
    figures = Figures()
    child = Child("baseline", [sys.executable, str(BASELINE_SERVER), str(root)], root, child_env())
    try:
        child.wait_until((root / "ready").exists, START_TIMEOUT_S, "start-up")
        figures.phases.append(("start-up", time.perf_counter() - child.started, child.cpu_seconds()))
        server = Server(
            "baseline",
            Writer(root / "tmp", root / "incoming"),
            ResponseClock(root / "responses"),
            root / "responses",
            child,
            console,
        )
        try:
            answered = exercise(server, figures, paced_n, halt_trials=0, garbage_n=0)
        finally:
            server.clock.close()
    finally:
        child.stop(STOP_GRACE_S)
        figures.phases.append(("stop", child.stopped_in or 0.0, float("nan")))
    audit(server, figures, answered, db=None)
    return figures


def bench_seam(root: Path, paced_n: int, halt_trials: int, garbage_n: int, console: Console) -> Figures:
    env = child_env()
    began = time.perf_counter()
    made = subprocess.run(
        [sys.executable, "-m", "seam", "init", str(root)],
        cwd=root.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if made.returncode != 0:
        raise RuntimeError(f"seam init failed:\n{made.stdout}{made.stderr}")
    figures = Figures()
    figures.phases.append(("seam init", time.perf_counter() - began, float("nan")))
    child = Child("seam", [sys.executable, "-m", "seam", "watch", "--seam", str(root)], root, env)
    db = root / "seam.db"
    try:
        child.wait_until(lambda: b"watching" in child.log.read_bytes(), START_TIMEOUT_S, "start-up")
        figures.phases.append(("start-up", time.perf_counter() - child.started, child.cpu_seconds()))
        time.sleep(IDLE_S)
        figures.idle_rss_mb = child.rss_mb()
        server = Server(
            "seam",
            Writer(root / "intents" / "tmp", root / "intents" / "incoming"),
            ResponseClock(root / "responses"),
            root / "responses",
            child,
            console,
            halt_writer=Writer(root / "intents" / "tmp", root / HALT_DROP),
            seam_paths=_seam_paths(root),
        )
        try:
            answered = exercise(server, figures, paced_n, halt_trials=halt_trials, garbage_n=garbage_n)
        finally:
            server.clock.close()
    finally:
        child.stop(SEAM_STOP_GRACE_S)
        figures.phases.append(("stop", child.stopped_in or 0.0, float("nan")))
    audit(server, figures, answered, db=db)
    figures.halt_block_ms = bead_ms(db, figures.halt_ids)
    return figures


def exercise(server: Server, figures: Figures, paced_n: int, *, halt_trials: int, garbage_n: int) -> list[str]:
    """Run the phases; the ids that must each have exactly one response at the end."""
    console = server.console
    warmup = [f"w-{i:05d}" for i in range(1, WARMUP_N + 1)]
    paced = [f"p-{i:05d}" for i in range(1, paced_n + 1)]
    console.print(
        f"[bold]{server.name}[/]: warm-up ({WARMUP_N}), paced ({paced_n}), burst ({BURST_N:,})"
        + (f", {halt_trials} halt trial(s) behind {BACKLOG_N:,}" if halt_trials else "")
        + (f", idle status ({IDLE_STATUS_N}), status behind {garbage_n:,} garbage files" if garbage_n else "")
    )
    with phase(server, figures, "warm-up"):
        _, warmup_missing, warmup = run_paced(server, warmup, f"{server.name} warm-up")
    with phase(server, figures, "paced"):
        figures.paced_ms, figures.paced_missing, paced = run_paced(server, paced, f"{server.name} paced")
    figures.paced_missing += warmup_missing
    with phase(server, figures, "burst"):
        run_burst(server, figures, BURST_N)
    answered = warmup + paced + [f"b-{i:05d}" for i in range(1, BURST_N + 1)]
    for trial in range(1, halt_trials + 1):
        with phase(server, figures, f"halt {trial} + drain"):
            answered += run_halt(server, figures, trial, BACKLOG_N)
    if garbage_n:
        with phase(server, figures, "idle status"):
            answered += run_idle_status(server, figures)
        with phase(server, figures, "garbage"):
            run_garbage(server, figures, garbage_n)
    return answered


# ---- report ------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "cpu_model": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def median_or_none(values: Sequence[float | None]) -> float | None:
    """The median, an unanswered trial (None) counting as slower than any; None when that is the median."""
    if not values:
        return None
    middle = statistics.median([float("inf") if v is None else v for v in values])
    return None if middle == float("inf") else middle


def max_or_none(values: Sequence[float | None]) -> float | None:
    return None if not values or any(v is None for v in values) else max(v for v in values if v is not None)


def results(seam: Figures, base: Figures, quick: bool, halt_trials: int) -> dict[str, Any]:
    idle_status = statistics.median(seam.idle_status_ms) if seam.idle_status_ms else None
    r: dict[str, Any] = {
        "paced_p50_ms": rounded(seam.pct(50)),
        "paced_p99_ms": rounded(seam.pct(99)),
        "baseline_paced_p50_ms": rounded(base.pct(50)),
        "baseline_paced_p99_ms": rounded(base.pct(99)),
        "burst_n": seam.burst_n,
        "burst_per_s": rounded(seam.burst_per_s),
        "baseline_burst_per_s": rounded(base.burst_per_s),
        "lost": seam.lost,
        "duplicated": seam.duplicated,
        "halt_backlog_n": BACKLOG_N,
        "halt_trials": halt_trials,
        "halt_ms": rounded(median_or_none(seam.halt_trials_ms)),
        "halt_max_ms": rounded(max_or_none(seam.halt_trials_ms)),
        "halt_trials_ms": [rounded(v) for v in seam.halt_trials_ms],
        "halt_overtook": seam.halt_overtook,
        "halt_block_ms": rounded(statistics.median(seam.halt_block_ms)) if seam.halt_block_ms else None,
        "halt_block_max_ms": rounded(max(seam.halt_block_ms)) if seam.halt_block_ms else None,
        "halt_request_ms": rounded(statistics.median(seam.halt_request_ms)) if seam.halt_request_ms else None,
        "halt_request_max_ms": rounded(max(seam.halt_request_ms)) if seam.halt_request_ms else None,
        "idle_status_ms": rounded(idle_status),
        "idle_status_samples_ms": [rounded(v) for v in seam.idle_status_ms],
        "garbage_n": seam.garbage_n,
        "garbage_status_ms": rounded(seam.garbage_status_ms),
        "garbage_timed_out": seam.garbage_timed_out,
        "garbage_timeout_s": GARBAGE_TIMEOUT_S,
        "garbage_answered_before_status": seam.garbage_answered_before,
        "garbage_write_s": rounded(seam.garbage_write_s),
        "garbage_ratio": rounded(ratio(seam.garbage_status_ms, idle_status)),
        "idle_rss_mb": rounded(seam.idle_rss_mb),
        "paced_p50_ratio": rounded(ratio(seam.pct(50), base.pct(50))),
        "burst_ratio": rounded(ratio(seam.burst_per_s, base.burst_per_s)),
        "machine": machine(),
        "quick": quick,
    }
    r["targets"] = {
        t.figure: {"target": t.text, "op": t.op, "limit": t.limit, "value": r[t.figure], "met": t.met(r[t.figure])}
        for t in TARGETS
    }
    return r


def ratio_text(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("[green]PASS[/]" if ok else "[red]MISS[/]")


def show(console: Console, r: dict[str, Any], seam: Figures, base: Figures) -> None:
    def num(value: float | None, unit: str = "") -> str:
        return "-" if value is None else f"{value:,.1f}{unit}"

    met = {figure: target["met"] for figure, target in r["targets"].items()}
    table = Table(
        title="seam vs a minimal watchdog loop (same machine, same writer)",
        caption="ratio: seam / baseline; for the status behind garbage, / seam's idle status",
    )
    for column in ("figure", "seam", "baseline", "ratio", "target", ""):
        table.add_column(column, justify="left" if column in ("figure", "target") else "right")
    table.add_row(
        "paced p50 (ms)",
        num(r["paced_p50_ms"]),
        num(r["baseline_paced_p50_ms"]),
        ratio_text(r["paced_p50_ratio"]),
        "<= 1.5 x baseline",
        verdict(met["paced_p50_ratio"]),
    )
    table.add_row(
        "paced p99 (ms)",
        num(r["paced_p99_ms"]),
        num(r["baseline_paced_p99_ms"]),
        "",
        "<= 25 ms",
        verdict(met["paced_p99_ms"]),
    )
    table.add_row(
        f"burst of {r['burst_n']:,} (intents/s)",
        num(r["burst_per_s"]),
        num(r["baseline_burst_per_s"]),
        ratio_text(r["burst_ratio"]),
        ">= 0.8 x baseline",
        verdict(met["burst_ratio"]),
    )
    table.add_row(
        "lost / duplicated",
        f"{seam.lost} / {seam.duplicated}",
        f"{base.lost} / {base.duplicated}",
        "",
        "0 / 0",
        verdict(met["lost"] and met["duplicated"]),
    )
    trials = r["halt_trials"]
    table.add_row(
        f"halt behind {BACKLOG_N:,}, p50 of {trials} (ms)",
        "no answer" if r["halt_ms"] is None else num(r["halt_ms"]),
        "",
        "",
        "< 50 ms",
        verdict(met["halt_ms"]),
    )
    table.add_row(
        f"halt behind {BACKLOG_N:,}, max of {trials} (ms)",
        "no answer" if r["halt_max_ms"] is None else num(r["halt_max_ms"]),
        "",
        "",
        "< 100 ms",
        verdict(met["halt_max_ms"]),
    )
    for label, key in (
        ("halt inside seam, p50 / max (ms)", "halt_block"),
        ("halt blocks orders (flags/halt on disk), p50 / max (ms)", "halt_request"),
    ):
        p50, most = r[f"{key}_ms"], r[f"{key}_max_ms"]
        table.add_row(
            label,
            "-" if p50 is None else f"{num(p50)} / {num(most)}",
            "",
            "",
            f"aim < {HALT_BLOCK_AIM_MS:g} ms",
            "-" if most is None else ("aim met" if most < HALT_BLOCK_AIM_MS else "aim missed"),
        )
    table.add_row("idle status, median (ms)", num(r["idle_status_ms"]), "", "", "", "")
    garbage = r["garbage_status_ms"]
    table.add_row(
        f"status behind {r['garbage_n']:,} garbage (ms)",
        f"timed out (> {GARBAGE_TIMEOUT_S:g} s)" if r["garbage_timed_out"] else num(garbage),
        "",
        ratio_text(r["garbage_ratio"]),
        "<= 2 x idle status",
        verdict(met["garbage_ratio"]),
    )
    table.add_row(
        "idle RSS (MB)",
        num(r["idle_rss_mb"]),
        "",
        "",
        "< 100 MB",
        verdict(met["idle_rss_mb"]),
    )
    console.print(table)

    phases = Table(title="where the time went", caption="server CPU: the server process's user + system time")
    for column in ("server", "phase", "wall s", "server CPU s"):
        phases.add_column(column, justify="left" if column in ("server", "phase") else "right")
    for name, figures in (("baseline", base), ("seam", seam)):
        for label, wall, cpu in figures.phases:
            phases.add_row(name, label, f"{wall:.2f}", "-" if cpu != cpu else f"{cpu:.2f}")  # nan: exited
    console.print(phases)

    m = r["machine"]
    console.print(
        f"machine: {m['cpus_usable']}/{m['cpu_count']} CPUs ({m['cpu_model'] or 'unknown'}), "
        f"Python {m['python']}, {m['platform']}; quick={r['quick']}"
    )
    if r["quick"]:
        console.print(
            f"quick: {PACED_N_QUICK} paced intents (full: {PACED_N}) and {HALT_TRIALS_QUICK} halt trials "
            f"(full: {HALT_TRIALS}); the burst ({BURST_N:,}), the halt backlogs ({BACKLOG_N:,}) and the "
            f"garbage ({GARBAGE_N:,} files) are the same as in a full run"
        )
    notes = []
    for name, figures in (("seam", seam), ("baseline", base)):
        if figures.paced_missing:
            notes.append(f"{name}: {figures.paced_missing} paced intent(s) unanswered within {ANSWER_TIMEOUT_S:g} s")
        if figures.burst_received < figures.burst_n:
            notes.append(f"{name}: burst stopped with {figures.burst_received}/{figures.burst_n} answered")
        if figures.overflowed:
            notes.append(f"{name}: the inotify queue overflowed; some arrival times are from a folder scan")
    halts = ", ".join("no answer" if v is None else f"{v:,.1f}" for v in r["halt_trials_ms"])
    notes.append(
        f"seam: halt trials (ms): {halts}; each overtook "
        + ", ".join(f"{n:,}" for n in r["halt_overtook"])
        + f" of its {BACKLOG_N:,} backlog; halts dropped into {HALT_DROP}/"
    )
    if seam.drain_missing:
        notes.append(f"seam: {seam.drain_missing} halt-backlog intent(s) still unanswered when a drain gave up")
    if len(seam.idle_status_ms) < IDLE_STATUS_N:
        notes.append(f"seam: {IDLE_STATUS_N - len(seam.idle_status_ms)} idle status intent(s) unanswered")
    if seam.garbage_n:
        samples = ", ".join(f"{v:.1f}" for v in seam.idle_status_ms)
        notes.append(f"seam: idle status samples (ms): {samples}")
        what = (
            f"no answer within {GARBAGE_TIMEOUT_S:g} s"
            if seam.garbage_timed_out
            else f"answered after {seam.garbage_answered_before:,} of the garbage files"
        )
        notes.append(
            f"seam: {seam.garbage_n:,} garbage files ({', '.join(GARBAGE_KINDS)}) written in "
            f"{seam.garbage_write_s or 0:.1f} s, the status after the first {min(GARBAGE_LEAD, seam.garbage_n)}: {what}"
        )
    for note in notes:
        console.print(f"note: {note}")


# ---- entry point -------------------------------------------------------------------------------


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks that stop the children


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Measure seam's daemon against a minimal watchdog loop.")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"{PACED_N_QUICK} paced intents instead of {PACED_N} and {HALT_TRIALS_QUICK} halt trials instead of "
        f"{HALT_TRIALS} (bursts, backlogs and garbage stay the same)",
    )
    parser.add_argument("--json", metavar="FILE", type=Path, help="also write the figures as JSON")
    args = parser.parse_args(argv)
    if not sys.platform.startswith("linux"):
        parser.error("the bench times responses with inotify and reads /proc: it runs on Linux only")
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 110)
    paced_n = PACED_N_QUICK if args.quick else PACED_N
    halt_trials = HALT_TRIALS_QUICK if args.quick else HALT_TRIALS
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="seam-bench-") as tmp:
        work = Path(tmp)
        base = bench_baseline(work / "baseline", paced_n, console)
        seam = bench_seam(work / "seam", paced_n, halt_trials, GARBAGE_N, console)
        cleanup = time.perf_counter()
    cleanup = time.perf_counter() - cleanup
    r = results(seam, base, args.quick, halt_trials)
    show(console, r, seam, base)
    if args.json:
        args.json.write_text(json.dumps(r, indent=2) + "\n", encoding="utf-8")
        console.print(f"figures written to {args.json}")
    console.print(f"bench took {time.perf_counter() - began:.0f} s (removing its temporary folder: {cleanup:.1f} s)")
    if r["lost"] or r["duplicated"]:
        console.print(f"[red]seam lost {r['lost']} and duplicated {r['duplicated']} intent(s)[/]")
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # the children were stopped and the temporary folder removed on the way out
        print("interrupted", file=sys.stderr)
        sys.exit(130)
