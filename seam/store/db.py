"""The seam's one SQLite file: connections, the write lock, transactions, and the schema's versions.

Guarantees:
- Every table seam keeps is defined here, in `MIGRATIONS`, in the order it came; opening a seam applies
  what it lacks in one write transaction and records the version in `meta`. A seam made by an older
  release opens in this one; a seam made by a newer release is refused rather than misread.
- Writers in several threads and several processes are serialised by SQLite's write lock
  (BEGIN IMMEDIATE); in this process they first queue on `_WriteLock`, where threads marked as
  priority (the halt lane's) go before any waiting ordinary writer.
- A seam knows it had a store. The store's `meta` table holds a random id, and a sidecar next to it
  (`seam.db.id`, mode 0600) holds the same one. Where the sidecar says a store existed, a store that is
  missing, empty, without an id or with another id is refused (StoreError), never silently replaced by
  an empty one. A store without a sidecar (a new one, or one made by release 0.1.0) is given both.
- SQLite's `quick_check` runs at every open (`check=True`), and every SQLite error that means a damaged
  file, at open or while verifying, becomes a StoreError saying what to do: never a traceback.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from seam.clock import Clock, SystemClock
from seam.errors import StoreError
from seam.paths import fsync_dir

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "Database", "Migration", "sidecar_path"]

Migration = tuple[int, str, tuple[str, ...]]

# version, what it adds, its statements. Append only: a released step is never edited.
MIGRATIONS: tuple[Migration, ...] = (
    (
        1,
        "beads, the intent ledger and flags",
        (
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            """CREATE TABLE IF NOT EXISTS beads (
            seq INTEGER PRIMARY KEY, type TEXT NOT NULL, at TEXT NOT NULL, intent_id TEXT, session_id TEXT,
            payload TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL)""",
            "CREATE INDEX IF NOT EXISTS beads_type ON beads(type, seq)",
            "CREATE INDEX IF NOT EXISTS beads_intent ON beads(intent_id)",
            """CREATE TRIGGER IF NOT EXISTS beads_append_only_update BEFORE UPDATE ON beads
            BEGIN SELECT RAISE(ABORT, 'beads are append-only'); END""",
            """CREATE TRIGGER IF NOT EXISTS beads_append_only_delete BEFORE DELETE ON beads
            BEGIN SELECT RAISE(ABORT, 'beads are append-only'); END""",
            """CREATE TABLE IF NOT EXISTS ledger (
            id TEXT PRIMARY KEY, intent_sha256 TEXT NOT NULL, kind TEXT, status TEXT NOT NULL, owner TEXT,
            response_name TEXT, response TEXT, bead INTEGER, updated_at TEXT NOT NULL)""",
            "CREATE INDEX IF NOT EXISTS ledger_status ON ledger(status)",
            """CREATE TABLE IF NOT EXISTS flags (
            name TEXT PRIMARY KEY, value TEXT NOT NULL, bead INTEGER, updated_at TEXT NOT NULL)""",
        ),
    ),
    # Release 0.1.0 created these lazily, when a daemon first built its broker and approval services, and
    # still recorded version 1; so a seam at version 1 may or may not have them (IF NOT EXISTS).
    (
        2,
        "proposals, approval codes and the position lifecycle",
        (
            """CREATE TABLE IF NOT EXISTS proposals (
            id TEXT PRIMARY KEY, kind TEXT NOT NULL, position_id TEXT NOT NULL, pair TEXT NOT NULL,
            side TEXT NOT NULL, units INTEGER NOT NULL, entry REAL, stop REAL, target REAL, evidence TEXT NOT NULL,
            anchor TEXT NOT NULL, anchor_hash TEXT NOT NULL, intent_sha256 TEXT NOT NULL, created_at TEXT NOT NULL,
            status TEXT NOT NULL, tries INTEGER NOT NULL DEFAULT 0, decided_at TEXT)""",
            "CREATE INDEX IF NOT EXISTS proposals_status ON proposals(status, created_at)",
            # the codes live apart from everything that is ever shown: responses, beads and logs never read them
            """CREATE TABLE IF NOT EXISTS approval_codes (
            proposal_id TEXT PRIMARY KEY, code TEXT NOT NULL, bound_hash TEXT NOT NULL, expires_at TEXT NOT NULL,
            used INTEGER NOT NULL DEFAULT 0)""",
            """CREATE TABLE IF NOT EXISTS lifecycle (
            id TEXT PRIMARY KEY, pair TEXT NOT NULL, side TEXT NOT NULL, units INTEGER NOT NULL, state TEXT NOT NULL,
            stalled_from TEXT, last_update TEXT NOT NULL, facts TEXT NOT NULL)""",
        ),
    ),
    # Releases before this one kept codes in plain text; now the store keeps HMAC(key, proposal, code, terms)
    # with the key outside the seam (seam/approval/keys.py). The old table is dropped with secure_delete on, so
    # its pages are zeroed, and the WAL is truncated after: no plain code survives anywhere in the files. Codes
    # pending then are void; `seam approvals --new-code` gives a fresh one.
    (
        3,
        "approval codes kept as keyed digests; plain codes erased",
        (
            "DROP TABLE IF EXISTS approval_codes",
            """CREATE TABLE approval_codes (
            proposal_id TEXT PRIMARY KEY, digest TEXT NOT NULL, bound_hash TEXT NOT NULL, expires_at TEXT NOT NULL,
            used INTEGER NOT NULL DEFAULT 0)""",
        ),
    ),
    # The order path records that it is about to send an approved order before it sends it, so a daemon
    # killed in between leaves a row saying so; the next start looks the reference up at the broker. A spent
    # code remembers which intent spent it, so that intent, run again after a crash, is told what happened.
    (
        4,
        "submissions: an approved order's intent to submit and its outcome; who spent a code",
        (
            """CREATE TABLE IF NOT EXISTS submissions (
            ref TEXT PRIMARY KEY, proposal_id TEXT NOT NULL, kind TEXT NOT NULL, intent_id TEXT, owner TEXT,
            state TEXT NOT NULL, orders TEXT NOT NULL DEFAULT '[]', detail TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL, updated_at TEXT NOT NULL)""",
            "CREATE INDEX IF NOT EXISTS submissions_state ON submissions(state)",
            "ALTER TABLE approval_codes ADD COLUMN spent_by TEXT",
        ),
    ),
    # `status` read the ledger's counts by status with a GROUP BY over every row (1.6 ms per status behind a
    # burst, growing with the ledger); triggers now keep the counts in a table of a handful of rows, in the
    # same transaction as the row they count, so every process sees the same counts. (No OR IGNORE inside them:
    # the ledger's upsert would override it.)
    (
        5,
        "the ledger's counts by status, kept by triggers",
        (
            "CREATE TABLE IF NOT EXISTS ledger_counts (status TEXT PRIMARY KEY, n INTEGER NOT NULL)",
            "INSERT INTO ledger_counts(status, n) SELECT status, COUNT(*) FROM ledger GROUP BY status",
            """CREATE TRIGGER IF NOT EXISTS ledger_counts_insert AFTER INSERT ON ledger BEGIN
            INSERT INTO ledger_counts(status, n) SELECT NEW.status, 0
            WHERE NOT EXISTS (SELECT 1 FROM ledger_counts WHERE status = NEW.status);
            UPDATE ledger_counts SET n = n + 1 WHERE status = NEW.status; END""",
            """CREATE TRIGGER IF NOT EXISTS ledger_counts_update AFTER UPDATE OF status ON ledger
            WHEN OLD.status IS NOT NEW.status BEGIN
            UPDATE ledger_counts SET n = n - 1 WHERE status = OLD.status;
            INSERT INTO ledger_counts(status, n) SELECT NEW.status, 0
            WHERE NOT EXISTS (SELECT 1 FROM ledger_counts WHERE status = NEW.status);
            UPDATE ledger_counts SET n = n + 1 WHERE status = NEW.status; END""",
            """CREATE TRIGGER IF NOT EXISTS ledger_counts_delete AFTER DELETE ON ledger BEGIN
            UPDATE ledger_counts SET n = n - 1 WHERE status = OLD.status; END""",
        ),
    ),
    # Telegram (seam/monitor/telegram.py): the outbox delivers in `seq` order and survives a restart; a row turns
    # `delivered` in the same statement that records Telegram's message id. Buttons are opaque single-use nonces,
    # each bound to a proposal's terms (bound_hash) and an expiry; the poll offset says which updates were handled.
    # No chat id, token or approval code is kept here: they come from the environment or live in memory only.
    (
        6,
        "telegram: the delivery outbox, Approve / Reject button nonces, the getUpdates offset",
        (
            """CREATE TABLE IF NOT EXISTS telegram_outbox (
            seq INTEGER PRIMARY KEY, key TEXT UNIQUE, method TEXT NOT NULL, body TEXT NOT NULL,
            state TEXT NOT NULL, tries INTEGER NOT NULL DEFAULT 0, message_id INTEGER,
            detail TEXT NOT NULL DEFAULT '', created_at TEXT NOT NULL, updated_at TEXT NOT NULL)""",
            "CREATE INDEX IF NOT EXISTS telegram_outbox_state ON telegram_outbox(state, seq)",
            """CREATE TABLE IF NOT EXISTS telegram_buttons (
            nonce TEXT PRIMARY KEY, offer INTEGER NOT NULL, proposal_id TEXT NOT NULL, decision TEXT NOT NULL,
            bound_hash TEXT NOT NULL, expires_at TEXT NOT NULL, used_at TEXT, outcome TEXT)""",
            "CREATE INDEX IF NOT EXISTS telegram_buttons_offer ON telegram_buttons(offer)",
            "CREATE TABLE IF NOT EXISTS telegram_poll (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
        ),
    ),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]


class _WriteLock:
    """The store's in-process write lock, with a fast lane: threads marked as priority (the halt lane's)
    go before any waiting ordinary writer, so a halt never queues behind a burst of commits."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._held = False
        self._priority_waiting = 0
        self._local = threading.local()

    def mark_priority_thread(self) -> None:
        self._local.priority = True

    def __enter__(self) -> None:
        priority = getattr(self._local, "priority", False)
        with self._cond:
            if priority:
                self._priority_waiting += 1
            while self._held or (not priority and self._priority_waiting):
                self._cond.wait()
            if priority:
                self._priority_waiting -= 1
            self._held = True

    def __exit__(self, *exc: object) -> None:
        with self._cond:
            self._held = False
            self._cond.notify_all()


class Database:
    """One SQLite file; a connection per thread; writes serialised by BEGIN IMMEDIATE.

    Opening it checks the file is this seam's store and, with `check` (the default), that SQLite finds
    it sound (`PRAGMA quick_check`: about 4 ms for 10,000 beads, growing with the file), then brings its
    schema up to date. Any of these refusing raises a StoreError and leaves the file as it was.
    """

    def __init__(
        self, path: Path, *, synchronous: str = "full", clock: Clock | None = None, check: bool = True
    ) -> None:
        self.path = path
        self.synchronous = synchronous.upper()
        self.clock = clock or SystemClock()
        self._local = threading.local()
        self._write_lock = _WriteLock()  # in-process writers queue here, not in SQLite's sleepy busy loop
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        sidecar = sidecar_path(path)
        remembered = _read_sidecar(sidecar)
        if remembered is not None:
            # before connecting: SQLite would quietly make a missing or empty file a new, empty store
            self._require_file(remembered)
        elif not path.exists():
            _create_private(path)
        try:
            if check:
                self.check()
            self.version, self.store_id = self._migrate(remembered)
        except BaseException:
            self.close()
            raise
        if remembered is None:  # new, made by 0.1.0, or its sidecar lost after the first commit
            _write_sidecar(sidecar, self.store_id)

    # -- connections -------------------------------------------------------------------------------

    def conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(self.path, isolation_level=None, timeout=30, check_same_thread=False)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute(f"PRAGMA synchronous={self.synchronous}")
                conn.execute("PRAGMA secure_delete=ON")  # freed pages are zeroed: nothing erased stays readable
            except sqlite3.DatabaseError as exc:
                raise self.store_error("open the bead store", exc) from exc
            self._local.conn = conn
            with self._connections_lock:
                self._connections.append(conn)
        return conn

    def mark_priority_thread(self) -> None:
        """Call on a thread whose writes go first (the halt lane's pool initializer)."""
        self._write_lock.mark_priority_thread()

    def close(self) -> None:
        with self._connections_lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: everything written through its connection commits or vanishes together."""
        with self._write_lock:
            conn = self.conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                _roll_back(conn)
                raise
            try:
                conn.execute("COMMIT")
            except BaseException:
                # a COMMIT that failed (a full or failing disk) may leave the transaction open on this
                # thread's connection: end it, so the next BEGIN on it works once the disk recovers
                _roll_back(conn)
                raise

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Every read on this thread inside the block sees one state of the store (one read transaction), so the
        facts read together agree with each other, and the reads take the file's read lock once, not each. Reads
        only: a write transaction on this thread inside it is refused by SQLite. Nested, the outer one stands."""
        conn = self.conn()
        if conn.in_transaction:
            yield
            return
        conn.execute("BEGIN")
        try:
            yield
        finally:
            conn.execute("COMMIT")  # nothing was written: this only ends the read

    def query(
        self, sql: str, args: tuple[Any, ...] | list[Any] = (), conn: sqlite3.Connection | None = None
    ) -> list[tuple[Any, ...]]:
        """Rows of one read, on `conn` (inside a transaction) or this thread's connection."""
        return list((conn or self.conn()).execute(sql, args).fetchall())

    def one(self, sql: str, args: tuple[Any, ...] = (), conn: sqlite3.Connection | None = None) -> Any:
        return (conn or self.conn()).execute(sql, args).fetchone()

    # -- soundness ----------------------------------------------------------------------------------

    def check(self, *, full: bool = False) -> None:
        """SQLite's own check of the file (`quick_check`; with `full`, `integrity_check`, which also
        matches every index to its table). Damage found is a StoreError."""
        pragma = "integrity_check" if full else "quick_check"
        try:
            rows = self.query(f"PRAGMA {pragma}(1)")  # (1): stop at the first problem
        except sqlite3.DatabaseError as exc:
            raise self.store_error("check the bead store", exc) from exc
        if rows != [("ok",)]:
            # its finding may run over lines ("*** in database main ***" then the page); the user sees one
            found = "; ".join(line.strip() for line in str(rows[0][0]).splitlines() if line.strip()) if rows else ""
            raise StoreError(
                f"{self.path} is damaged (SQLite's {pragma} found: {found or 'no answer'}): {_what_to_do(self.path)}"
            )

    def store_error(self, doing: str, exc: sqlite3.Error) -> StoreError:
        """The StoreError for a SQLite error met trying to `doing` (e.g. "open the bead store") this file;
        when SQLite says the file is damaged, the message says what to do."""
        if _is_damage(exc):
            return StoreError(f"cannot {doing} {self.path}: it is damaged ({exc}): {_what_to_do(self.path)}")
        return StoreError(f"cannot {doing} {self.path}: {exc}")

    def _require_file(self, remembered: str) -> None:
        name, sidecar = self.path.name, sidecar_path(self.path).name
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            raise StoreError(
                f"{self.path} is missing, but {sidecar} says this seam had a store (id {remembered}): "
                f"restore {name} from a backup, or move {sidecar} away to start an empty seam deliberately"
            ) from None
        except OSError as exc:
            raise StoreError(f"cannot open the bead store {self.path}: {exc}") from exc
        if size == 0:  # a store in use is never 0 bytes: switching to WAL writes its header page
            raise StoreError(
                f"{self.path} is empty (0 bytes), but {sidecar} says this seam had a store (id {remembered}): "
                f"{_what_to_do(self.path)}"
            )

    # -- schema -------------------------------------------------------------------------------------

    def _migrate(self, remembered: str | None) -> tuple[int, str]:
        with self._write_lock:
            conn = self.conn()
            try:
                conn.execute("BEGIN IMMEDIATE")
                current = _stored_version(conn)
                if current > SCHEMA_VERSION:
                    raise StoreError(
                        f"{self.path} was made by a newer seam release (schema {current}; this "
                        f"release knows up to {SCHEMA_VERSION}): upgrade seam to open it"
                    )
                store_id = _stored_id(conn)
                if remembered is not None and store_id != remembered:
                    raise StoreError(self._not_ours(store_id, remembered))
                for version, _what, statements in MIGRATIONS:
                    if version > current:
                        for statement in statements:
                            conn.execute(statement)
                if current < SCHEMA_VERSION:
                    conn.execute(
                        "INSERT INTO meta(key, value) VALUES ('schema', ?) ON CONFLICT(key) DO UPDATE "
                        "SET value = excluded.value",
                        (str(SCHEMA_VERSION),),
                    )
                if store_id is None:
                    # read and written inside the write lock: two processes adopting one store agree on its id
                    store_id = uuid.uuid4().hex
                    conn.execute("INSERT INTO meta(key, value) VALUES ('store_id', ?)", (store_id,))
                conn.execute("COMMIT")
                if current < SCHEMA_VERSION:
                    # what the steps erased (plain codes) must not survive in the WAL's older page images
                    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except (sqlite3.DatabaseError, StoreError) as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if isinstance(exc, StoreError):
                    raise
                raise self.store_error("open the bead store", exc) from exc
        return SCHEMA_VERSION, store_id

    def _not_ours(self, found: str | None, remembered: str) -> str:
        sidecar = sidecar_path(self.path).name
        if found is None:
            return (
                f"{self.path} has no store id, but {sidecar} says this seam's store has id {remembered}: "
                f"{_what_to_do(self.path)} (a backup made before seam kept ids has none: to adopt it as it is, "
                f"move {sidecar} away)"
            )
        return (
            f"{self.path} is another seam's store (id {found}; {sidecar} says this seam's is {remembered}): "
            f"{_what_to_do(self.path)}"
        )


def _roll_back(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # SQLite ended the transaction itself


def _stored_version(conn: sqlite3.Connection) -> int:
    has_meta = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone()
    if not has_meta:
        return 0
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
    try:
        return int(row[0]) if row else 0
    except ValueError as exc:
        raise StoreError(f"the store's schema version {row[0]!r} is not a number") from exc


def _stored_id(conn: sqlite3.Connection) -> str | None:
    has_meta = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone()
    if not has_meta:
        return None
    row = conn.execute("SELECT value FROM meta WHERE key = 'store_id'").fetchone()
    return str(row[0]) if row else None


def _create_private(path: Path) -> None:
    """A new store is its owner's alone (0600); SQLite gives its WAL and shared-memory files the same mode."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass  # another process made it first
    except OSError as exc:
        raise StoreError(f"cannot create the bead store {path}: {exc}") from exc


# -- the sidecar: the seam's memory that it had a store ---------------------------------------------

_SIDECAR_NOTE = "# seam store id: {name}'s meta table holds the same id. Keep this file with {name}; back both up.\n"


def sidecar_path(db: Path) -> Path:
    """`seam.db.id` beside `seam.db`: named after the store so `seam.db*` (a backup, a move) carries it along."""
    return db.with_name(db.name + ".id")


def _read_sidecar(sidecar: Path) -> str | None:
    """The id the sidecar holds, or None when there is no sidecar."""
    try:
        text = sidecar.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise StoreError(f"cannot read {sidecar}: {exc}") from exc
    ids = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if len(ids) != 1:
        raise StoreError(
            f"{sidecar} holds no store id: restore it from a backup, or move it away to accept "
            f"{sidecar.name.removesuffix('.id')} as this seam's store"
        )
    return ids[0]


def _write_sidecar(sidecar: Path, store_id: str) -> None:
    """Write the sidecar whole (temporary file, fsync, rename), private to its owner."""
    data = (_SIDECAR_NOTE.format(name=sidecar.name.removesuffix(".id")) + store_id + "\n").encode()
    tmp = sidecar.with_name(f".{sidecar.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, sidecar)
        fsync_dir(sidecar.parent)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise StoreError(f"cannot write {sidecar}: {exc}") from exc


# -- what a damaged store means ---------------------------------------------------------------------

_DAMAGE_CODES = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})


def _is_damage(exc: sqlite3.Error) -> bool:
    """SQLite's own verdict (its result code, not its wording): the file is not a sound database."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and (code & 0xFF) in _DAMAGE_CODES  # extended codes keep the primary in the low byte


def _what_to_do(db: Path) -> str:
    return (
        f"restore {db.name} from a backup, or move it away to start an empty seam deliberately "
        f"(move {db.name}* together: the store, its WAL and {sidecar_path(db).name})"
    )
