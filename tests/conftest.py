"""Shared fixtures: a fresh seam in a temporary folder, and a real daemon running on it.

The daemon runs with the real watchdog observer on real folders, in a thread with its own event
loop, so a test writes files the way an agent would and reads the responses the way a person would.
Every wait is bounded; every daemon started here is stopped here.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import locale
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

# Keep the compiled bytecode (seam's modules, the assertion-rewritten test modules) even where the environment
# says not to (PYTHONDONTWRITEBYTECODE=1, as on the machine these figures come from): without it every xdist worker
# compiles and rewrites all the test modules again, and every `python -m seam` child compiles seam from source, at
# every run (measured: about 10 s of the suite's 150-170 s of CPU). Set before the imports below, so theirs are cached.
sys.dont_write_bytecode = False

import pytest  # noqa: E402

from seam.clock import clock_from_env  # noqa: E402
from seam.config import load_config  # noqa: E402
from seam.daemon import Daemon  # noqa: E402
from seam.intent import Pair, ReadySignal  # noqa: E402
from seam.paths import SeamPaths, write_atomic  # noqa: E402
from seam.respond import read_front_matter  # noqa: E402
from seam.route import Registry  # noqa: E402
from tests.zygote import start_seam  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True, scope="session")
def _code_keys_in_a_test_folder(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Approval-code keys live in the user's configuration folder (seam/approval/keys.py): during tests, in
    one of pytest's, for this process and every child it starts."""
    os.environ["XDG_CONFIG_HOME"] = str(tmp_path_factory.mktemp("xdg-config"))


# A READY signal on EURUSD as the approval tests propose it (the FX market is open on their FakeClock).
READY_SIGNAL = ReadySignal(
    signal="READY",
    pair=Pair.EURUSD,
    direction="LONG",
    confidence=0.85,
    entry=1.0850,
    stop=1.0820,
    target=1.0910,
    setup_type="FVG_ENTRY",
)
# the same READY signal as an MCP tool's or a client's arguments
READY_PAYLOAD: dict[str, object] = READY_SIGNAL.model_dump(mode="json", exclude_defaults=True)


def make_seam(root: Path, config_yaml: str = "") -> SeamPaths:
    paths = SeamPaths.at(root)
    paths.create_folders()
    if config_yaml:
        paths.config_file.write_text(config_yaml, encoding="utf-8")
    return paths


def intent_text(intent_id: str, kind: str = "status", payload: str = "{}", extra: str = "") -> str:
    return f"seam: 1\nid: {intent_id}\nkind: {kind}\n{extra}payload: {payload}\n"


def drop(paths: SeamPaths, name: str, text: str | bytes) -> Path:
    """Write an intent the careful way: a temporary file, then a rename into incoming/."""
    data = text.encode() if isinstance(text, str) else text
    target = paths.incoming / name
    write_atomic(target, data, tmp_dir=paths.tmp, durable=False)
    return target


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")


def wait_response(paths: SeamPaths, name: str, timeout: float = 10.0) -> dict[str, Any]:
    """The front matter of responses/<name>.md once it exists (plus the body under 'body')."""
    path = paths.responses / f"{name}.md"

    def ready() -> dict[str, Any] | None:
        front = read_front_matter(path)
        if front is None:
            return None
        front["body"] = path.read_text(encoding="utf-8").split("\n---\n", 1)[1]
        return front

    result: dict[str, Any] = wait_for(ready, timeout, what=f"responses/{name}.md")
    return result


class DaemonThread:
    """A Daemon on its own event loop in a background thread."""

    def __init__(
        self, paths: SeamPaths, *, env: dict[str, str] | None = None, registry: Registry | None = None, **kwargs: Any
    ) -> None:
        self.paths = paths
        config = load_config(paths, env=env or {})
        kwargs.setdefault("clock", clock_from_env())  # SEAM_CLOCK_START, when a test sets it
        self.daemon = Daemon(paths, config, registry=registry, **kwargs)
        self._thread = threading.Thread(target=self._run, name="seam-test-daemon", daemon=True)
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.error: BaseException | None = None

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            task = asyncio.create_task(self.daemon.run())
            started = asyncio.create_task(self.daemon.started.wait())
            await asyncio.wait({task, started}, return_when=asyncio.FIRST_COMPLETED)
            self._ready.set()
            await task

        try:
            asyncio.run(main())
        except BaseException as exc:  # surfaced by stop()
            self.error = exc
            self._ready.set()

    def start(self) -> DaemonThread:
        self._thread.start()
        assert self._ready.wait(10), "daemon did not start"
        if self.error:
            raise self.error
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self.daemon.stop)
        self._thread.join(15)
        assert not self._thread.is_alive(), "daemon did not stop"
        if self.error:
            raise self.error

    def __enter__(self) -> DaemonThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def last_bead_seq(tx: Any) -> int:
    """The newest bead's sequence number in this transaction (0 for an empty chain)."""
    return int(tx.execute("SELECT COALESCE(MAX(seq), 0) FROM beads").fetchone()[0])


def answers_since(tx: Any, seq: int) -> int:
    """How many `answered` beads this transaction holds after bead `seq`."""
    row = tx.execute(
        "SELECT COUNT(*) FROM beads WHERE seq > ? AND json_extract(payload, '$.event') = 'answered'", (seq,)
    ).fetchone()
    return int(row[0])


@pytest.fixture
def seam_paths(tmp_path: Path) -> SeamPaths:
    return make_seam(tmp_path / "seam", "intake:\n  rescan_seconds: 0.5\n")


@pytest.fixture
def running(seam_paths: SeamPaths) -> Iterator[DaemonThread]:
    with DaemonThread(seam_paths) as daemon:
        yield daemon


def seam_cli(
    *args: str, env: dict[str, str] | None = None, input_text: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run `python -m seam ...` as a user would, in a child process (forked by this worker's zygote when it can be:
    tests/zygote.py). Its standard input is `input_text`, or empty."""
    return run_child(list(args), {**os.environ, **(env or {})}, input_text, timeout)


def run_child(
    args: list[str], env: dict[str, str], input_text: str | None, timeout: float, script: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m seam ARGS` (or `python SCRIPT ARGS`) in REPO with exactly `env`: its exit code and what it wrote."""
    with tempfile.TemporaryFile() as stdin, tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        stdin.write((input_text or "").encode())
        stdin.seek(0)
        proc = start_seam(args, env=env, stdin=stdin, stdout=stdout, stderr=stderr, script=script)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise
        assert proc.returncode is not None
        name = ["seam"] if script is None else [str(script)]
        return subprocess.CompletedProcess([*name, *args], proc.returncode, _text(stdout), _text(stderr))


def _text(captured: IO[bytes]) -> str:
    """What a child wrote, decoded as subprocess's `text=True` decodes it (the locale's encoding, universal
    newlines)."""
    captured.seek(0)
    text = captured.read().decode(locale.getpreferredencoding(False))
    return text.replace("\r\n", "\n").replace("\r", "\n")


def seam_in_process(
    *args: str, env: dict[str, str] | None = None, input_text: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `seam ...` through seam.cli.main in this process: the exit code, standard output and standard error
    `seam_cli` gives, without a child process's start-up. For tests about what a command does and says; a test
    about the process boundary (a signal, the terminal, the environment a child inherits) uses `seam_cli`."""
    from seam.cli import main

    stdout, stderr = io.StringIO(), io.StringIO()
    stdin = io.TextIOWrapper(io.BytesIO((input_text or "").encode()))
    saved = os.environ.copy()
    os.environ.update(env or {})
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr), _stdin(stdin):
            try:
                code = main(list(args))
            except SystemExit as exit_:  # argparse: --help, --version, a usage error
                code = exit_.code if isinstance(exit_.code, int) else int(exit_.code is not None)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return subprocess.CompletedProcess(["seam", *args], code, stdout.getvalue(), stderr.getvalue())


@contextlib.contextmanager
def _stdin(replacement: io.TextIOWrapper) -> Iterator[None]:
    saved, sys.stdin = sys.stdin, replacement
    try:
        yield
    finally:
        sys.stdin = saved
        replacement.close()


def run_on_a_terminal(args: list[str], answer: bytes, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run `seam ...` with a pseudo-terminal as its stdin and stdout, answering one question."""
    import pty

    leader, follower = pty.openpty()
    proc = start_seam(args, env={**os.environ, **(env or {})}, stdin=follower, stdout=follower, stderr=follower)
    os.close(follower)
    output = b""
    deadline = time.monotonic() + 30
    answered = False
    while time.monotonic() < deadline:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break  # the child closed the terminal
        if not chunk:
            break
        output += chunk
        if not answered and b"[y/N]" in output:
            os.write(leader, answer)
            answered = True
    proc.wait(30)
    os.close(leader)
    return proc.returncode, output.decode(errors="replace")


class DaemonProcess:
    """`seam watch` in a child process, for kill -9 and several-daemon tests (forked by the zygote when it can be)."""

    def __init__(self, paths: SeamPaths, *extra: str, env: dict[str, str] | None = None) -> None:
        self.paths = paths
        self.log = paths.root / f"daemon-{os.urandom(3).hex()}.log"
        self._log_handle = self.log.open("w")
        self.proc = start_seam(
            ["watch", "--seam", str(paths.root), *extra],
            env={**os.environ, **(env or {})},
            stdout=self._log_handle,
            stderr=self._log_handle,
        )
        wait_for(lambda: "watching" in self.log.read_text() or self.proc.poll() is not None, 20, what="daemon start")
        assert self.proc.poll() is None, self.log.read_text()

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(10)
        self._log_handle.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log_handle.close()

    def output(self) -> str:
        return self.log.read_text()


@pytest.hookimpl(optionalhook=True)  # a run without xdist (`-p no:xdist`) has no such hook
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto`: two workers per core. Many tests spend their time waiting (on a child process, a file event, a
    daemon's answer), so one worker per core leaves the cores idle half the time."""
    return 2 * len(os.sched_getaffinity(0))


def pytest_configure(config: pytest.Config) -> None:
    """`-n` without `--dist`: idle workers take tests from busy ones (worksteal). With the default (load) each
    worker keeps the block of tests it was first given, and one block of slow tests made a 40 s tail."""
    chose_dist = any(arg.startswith("--dist") or arg.startswith("-d") for arg in config.invocation_params.args)
    if getattr(config.option, "dist", "no") == "load" and not chose_dist:
        config.option.dist = "worksteal"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest test (the kill test, ~30 s) goes first, so with `-n auto` one worker runs it while the others
    take everything else, instead of it starting last and the others waiting for it. The other slow tests keep
    their places: put first too, they all landed in the first worker's block and ran one after another there."""
    items.sort(key=lambda item: 0 if item.get_closest_marker("kill") else 1)
