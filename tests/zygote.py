"""A zygote for the suite's `seam` child processes: one process per test worker that has imported seam's command line
once, and forks a child for each `python -m seam ...` a test runs.

A test about what a command does (its answers, its exit code, a daemon killed with SIGKILL mid-intent, two daemons on
one seam) needs a real process, but not a new interpreter: a fresh `python -m seam watch` spends about 0.5 s of its
0.7 s importing, and the suite starts about a hundred of them. A forked child is a real process (its own pid, signals,
file descriptors, exit status, environment and working directory), running the same `seam.cli.main` a user's
`seam` runs; only the imports were done before the fork.

What a forked child does not reproduce, and so what stays on a real `exec` (`fresh_interpreter_needed`):
- the interpreter's own start-up (tests/cli/test_startup.py measures what a command imports);
- an environment that changes how Python itself starts or what a library caches at import (PYTHON*, the locale,
  the time zone, the temporary folder);
- a terminal that must become the child's controlling terminal (that test starts its child itself); a
  pseudo-terminal as the child's standard streams only (`run_on_a_terminal`) is served: the streams are made
  again in the child, line-buffered where they are terminals, as the interpreter makes them.
Set TESTS_NO_ZYGOTE=1 to run every child by exec, as before (not SEAM_*: seam refuses a SEAM_ setting it does not
know).

    test ── connect, request (args, env, cwd) + 3 fds ──► zygote ── fork ──► child: dup2 fds, chdir, environ, main()
         ◄── {"pid": N} ─────────────────────────────────┘  ◄── exit status (pidfd readable, waitpid) ──┘
         ◄── {"exit": code} (code < 0: killed by that signal, as subprocess reports it)

The zygote serves until its standard input (a pipe from the test worker) closes.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

REPO = Path(__file__).resolve().parent.parent
_MESSAGE = 1 << 20  # the largest request (args and environment) a SOCK_SEQPACKET message carries here


def _interpreter_env(env: Mapping[str, str]) -> dict[str, str]:
    """The variables that change how the interpreter itself starts or decodes its streams."""
    names = ("LANG", "LANGUAGE", "TZ", "TMPDIR", "TEMP", "TMP")  # the locale, the time zone, tempfile's folder
    applied = ("PYTHONDONTWRITEBYTECODE",)  # set again in the child (`_child`)
    return {k: v for k, v in env.items() if (k.startswith(("PYTHON", "LC_")) and k not in applied) or k in names}


# ---- the zygote ---------------------------------------------------------------------------------------------------


def _preload() -> None:
    """What the commands import (the libraries, seam's services), and the templates every answer renders. Not the
    command modules themselves (seam.cli.*): seam/cli/common.py makes its consoles at import, and a console reads
    the environment (COLUMNS, NO_COLOR, ...) when it is made, so a child imports them with its own environment."""
    import rich.console  # noqa: F401
    import rich.table  # noqa: F401

    import seam.client  # noqa: F401
    import seam.daemon  # noqa: F401
    import seam.runtime  # noqa: F401
    from seam.respond import warm_templates

    warm_templates()
    assert not any(name.startswith("seam.cli.") for name in sys.modules), "a command module was imported"


def serve(address: str) -> None:
    _preload()
    assert threading.active_count() == 1, "a zygote forks: it may not have started a thread"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(address)
    listener.listen(64)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, "accept")
    selector.register(sys.stdin, selectors.EVENT_READ, "parent")
    children: dict[int, tuple[int, socket.socket]] = {}  # pidfd → (pid, the requester's connection)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    while True:
        for key, _ in selector.select():
            if key.data == "parent":
                if not sys.stdin.buffer.read1(4096):  # the test worker is gone
                    return
            elif key.data == "accept":
                conn, _ = listener.accept()
                message, fds, _, _ = socket.recv_fds(conn, _MESSAGE, 3)
                request = json.loads(message)
                pid = os.fork()
                if pid == 0:
                    closing = [listener, conn, *(c for _, c in children.values())]
                    _child(request, fds, closing, selector, list(children))
                for fd in fds:
                    os.close(fd)
                conn.sendall(json.dumps({"pid": pid}).encode())
                pidfd = os.pidfd_open(pid)
                children[pidfd] = (pid, conn)
                selector.register(pidfd, selectors.EVENT_READ, "child")
            else:
                pidfd = key.fd
                selector.unregister(pidfd)
                pid, conn = children.pop(pidfd)
                os.close(pidfd)
                _, status = os.waitpid(pid, 0)
                with contextlib.suppress(OSError):  # the test stopped listening: nobody to tell
                    conn.sendall(json.dumps({"exit": os.waitstatus_to_exitcode(status)}).encode())
                conn.close()


def _child(
    request: dict[str, Any],
    fds: list[int],
    closing: list[socket.socket],
    selector: selectors.BaseSelector,
    pidfds: list[int],
) -> None:
    """In the forked child: become `python -m seam ARGS` (or `python SCRIPT ARGS`) with the given streams, folder
    and environment."""
    code = 1
    try:
        selector.close()
        for sock in closing:
            sock.close()
        for pidfd in pidfds:
            os.close(pidfd)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        for fd in fds:
            if fd > 2:
                os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.dont_write_bytecode = bool(os.environ.get("PYTHONDONTWRITEBYTECODE"))
        _fresh_streams()
        script = request.get("script")
        if script is None:
            sys.argv = [str(REPO / "seam" / "__main__.py"), *request["args"]]
            from seam.cli import main

            code = _exit_code(main(request["args"]))
        else:  # `python SCRIPT ARGS`: the script's folder first on the path, as the interpreter puts it
            import runpy

            sys.argv = [script, *request["args"]]
            sys.path[0] = os.path.dirname(os.path.abspath(script))
            runpy.run_path(script, run_name="__main__")
            code = 0
    except SystemExit as exit_:
        code = _exit_code(exit_.code)
    except KeyboardInterrupt:  # as Python does: the traceback, then death by SIGINT
        traceback.print_exc()
        _finish()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    except BaseException:
        traceback.print_exc()
        code = 1
    _finish()
    os._exit(code)


def _fresh_streams() -> None:
    """sys.stdin/stdout/stderr on the new fds 0-2, buffered as Python buffers them at start-up (PYTHONUNBUFFERED,
    the same in the child as in the zygote, writes through)."""
    encoding, errors = sys.stdout.encoding, sys.stdout.errors
    through = bool(getattr(sys.__stdout__, "write_through", False))  # how the zygote itself was started
    sys.stdin = io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "r", closefd=False)), encoding, errors)
    sys.stdout = io.TextIOWrapper(
        io.BufferedWriter(io.FileIO(1, "w", closefd=False)),
        encoding,
        errors,
        line_buffering=os.isatty(1),
        write_through=through,
    )
    sys.stderr = io.TextIOWrapper(
        io.BufferedWriter(io.FileIO(2, "w", closefd=False)),
        encoding,
        "backslashreplace",
        line_buffering=True,
        write_through=through,
    )


def _exit_code(value: object) -> int:
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    print(value, file=sys.stderr)  # sys.exit("message")
    return 1


def _finish() -> None:
    """What the interpreter does on the way out: wait for the threads that are not daemons, run atexit, flush."""
    try:
        threading._shutdown()  # type: ignore[attr-defined]
        import atexit

        atexit._run_exitfuncs()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()


# ---- the test's side ----------------------------------------------------------------------------------------------


class ForkedSeam:
    """A child forked by the zygote, with the part of subprocess.Popen the tests use."""

    def __init__(self, args: list[str], pid: int, conn: socket.socket) -> None:
        self.args = args
        self.pid = pid
        self.returncode: int | None = None
        self._conn = conn

    def _take(self, timeout: float | None) -> None:
        self._conn.settimeout(timeout)
        try:
            message = self._conn.recv(4096)
        except (TimeoutError, BlockingIOError):  # still running (BlockingIOError: a poll, timeout 0)
            return
        self._conn.close()
        if not message:  # the zygote died: the child's end is unknown, so it is reported as a failure
            self.returncode = 255
            return
        self.returncode = int(json.loads(message)["exit"])

    def poll(self) -> int | None:
        if self.returncode is None:
            self._take(0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            self._take(timeout)
            if self.returncode is None:
                raise subprocess.TimeoutExpired(self.args, timeout or 0)
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class Zygote:
    def __init__(self) -> None:
        self._dir = tempfile.mkdtemp(prefix="seam-zygote-")
        self.address = os.path.join(self._dir, "socket")
        self._env = dict(os.environ)
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "tests.zygote", self.address],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=REPO,
        )
        assert self._proc.stdout is not None
        ready = self._proc.stdout.readline()
        assert ready == b"ready\n", f"the zygote did not start: {ready!r}"

    def serves(self, env: Mapping[str, str]) -> bool:
        """Whether a child with this environment starts the same forked as exec'd (see the module's docstring)."""
        return self._proc.poll() is None and _interpreter_env(env) == _interpreter_env(self._env)

    def spawn(
        self,
        args: list[str],
        *,
        env: Mapping[str, str],
        cwd: Path,
        stdio: tuple[int, int, int],
        script: Path | None = None,
    ) -> ForkedSeam:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        conn.connect(self.address)
        request = {"args": args, "env": dict(env), "cwd": str(cwd), "script": None if script is None else str(script)}
        socket.send_fds(conn, [json.dumps(request).encode()], list(stdio))
        pid = int(json.loads(conn.recv(4096))["pid"])
        return ForkedSeam(["seam", *args] if script is None else [str(script), *args], pid, conn)

    def close(self) -> None:
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(5)
        if self._proc.poll() is None:
            self._proc.kill()
        with contextlib.suppress(OSError):
            os.unlink(self.address)
            os.rmdir(self._dir)


_ZYGOTE: Zygote | None = None
_LOCK = threading.Lock()


def zygote() -> Zygote | None:
    """This test worker's zygote, started on first use; None when TESTS_NO_ZYGOTE is set."""
    global _ZYGOTE
    if os.environ.get("TESTS_NO_ZYGOTE"):
        return None
    with _LOCK:
        if _ZYGOTE is None:
            import atexit

            _ZYGOTE = Zygote()
            atexit.register(_ZYGOTE.close)
        return _ZYGOTE


def start_seam(
    args: list[str],
    *,
    env: Mapping[str, str],
    cwd: Path = REPO,
    stdin: IO[Any] | int | None = None,
    stdout: IO[Any] | int | None = None,
    stderr: IO[Any] | int | None = None,
    script: Path | None = None,
) -> ForkedSeam | subprocess.Popen[bytes]:
    """`python -m seam <args>`, or `python SCRIPT <args>` (a skill's script): forked by the zygote when it can be,
    else exec'd. stdin/stdout/stderr: a file, an fd, or None (/dev/null for stdin; the test worker's own streams
    otherwise, as Popen would)."""
    z = zygote()
    if z is None or not z.serves(env):
        return subprocess.Popen(
            [sys.executable, *(["-m", "seam"] if script is None else [str(script)]), *args],
            stdin=subprocess.DEVNULL if stdin is None else stdin,
            stdout=stdout,
            stderr=stderr,
            env=dict(env),
            cwd=cwd,
        )
    with open(os.devnull, "r+b") as devnull:

        def fd(stream: IO[Any] | int | None, default: int) -> int:
            if stream is None:
                return default
            if isinstance(stream, int):
                return devnull.fileno() if stream == subprocess.DEVNULL else stream
            return stream.fileno()

        stdio = (fd(stdin, devnull.fileno()), fd(stdout, 1), fd(stderr, 2))
        return z.spawn(args, env=env, cwd=cwd, stdio=stdio, script=script)


if __name__ == "__main__":
    serve(sys.argv[1])
