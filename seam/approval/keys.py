"""The key approval codes are hashed with: kept outside the seam root, so the store holds nothing readable.

The store keeps `HMAC(key, proposal, code, terms)` for each code, never the digits. A six-digit code is
only a million guesses, so an unkeyed hash (or a key an agent can read) would be the code itself; the key
therefore lives in the operator's own configuration folder (`$XDG_CONFIG_HOME/seam/keys/`, else
`~/.config/seam/keys/`), 0600 in a 0700 folder, one per seam, and is refused inside the seam root. Only the
daemon and the operator's console (`seam approve`, `seam approvals --new-code`) read it. Its location comes
from the process environment only: seam.yaml is a file an agent may be able to write.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from seam.errors import ConfigError
from seam.paths import SeamPaths

__all__ = ["CodeKey", "key_dir"]

KEY_BYTES = 32


def key_dir(environ: dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base).expanduser().resolve() / "seam" / "keys"


class CodeKey:
    """One seam's code key; `digest` is what the store keeps for a code."""

    def __init__(self, key: bytes, path: Path) -> None:
        self._key = key
        self.path = path

    @classmethod
    def for_seam(cls, paths: SeamPaths, folder: Path | None = None) -> CodeKey:
        """This seam's key, created (0600, in a 0700 folder) the first time it is asked for."""
        folder = folder or key_dir()
        root = paths.root.resolve()
        if folder == root or root in folder.parents:
            raise ConfigError(
                "XDG_CONFIG_HOME",
                f"the approval-code key folder {folder} is inside the seam "
                f"{root}; an agent that reads the seam could read the key",
            )
        name = hashlib.sha256(str(root).encode()).hexdigest()[:32] + ".key"
        path = folder / name
        try:
            return cls(path.read_bytes(), path)
        except FileNotFoundError:
            pass
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = secrets.token_bytes(KEY_BYTES)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first: use theirs
            return cls(path.read_bytes(), path)
        with os.fdopen(fd, "wb") as handle:
            handle.write(key)
            handle.flush()
            os.fsync(handle.fileno())
        return cls(key, path)

    def digest(self, proposal_id: str, code: str, bound_hash: str) -> str:
        message = "\0".join((proposal_id, code, bound_hash)).encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def matches(self, stored: str, proposal_id: str, code: str, bound_hash: str) -> bool:
        return hmac.compare_digest(stored, self.digest(proposal_id, code, bound_hash))
