"""Live configuration: seam.yaml is watched while the daemon runs.

A change to a key that is safe to change live (logging, monitoring, alert thresholds, the narrator's word list) is put
in force at once and beaded as CONFIG_CHANGE with the old and the new value. A change to a key that governs capital or
the mode (the broker section, risk caps, pairs, approval settings, everything else) is refused until the next start:
the settings in force stay, a log line and an alert say so, and the CONFIG_CHANGE bead records it as refused. A change
to a strategy parameter (the risk and pairs sections: what a proposal was sized and gated by) also invalidates every
open proposal: an approve of one answers `conflict` naming the change, and a new signal makes a new proposal.

The file is checked by its stat (inode, size, mtime) once a second; an editor's save by rename is seen like any other.
A file that does not load (bad YAML, a bad value) changes nothing and is reported once per content.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from seam.config import LoadedConfig, Settings, load_config
from seam.errors import ConfigError, GuardViolation
from seam.paths import SeamPaths
from seam.store import Store

__all__ = [
    "CHECK_SECONDS",
    "LIVE_SECTIONS",
    "STRATEGY_SECTIONS",
    "ConfigWatcher",
    "Reload",
    "is_live",
    "is_strategy",
]

logger = logging.getLogger(__name__)

CHECK_SECONDS = 1.0
# INV: only these sections change while seam runs; every other key (and any section added later) waits for a restart
LIVE_SECTIONS = frozenset({"log", "monitor", "alerts", "narrator"})
# what a proposal was sized and gated by: a change invalidates the proposals made under the old values
STRATEGY_SECTIONS = frozenset({"risk", "pairs"})

Change = dict[str, dict[str, Any]]  # {key: {"from": old, "to": new}}


def is_live(key: str) -> bool:
    return key.partition(".")[0] in LIVE_SECTIONS


def is_strategy(key: str) -> bool:
    return key.partition(".")[0] in STRATEGY_SECTIONS


@dataclass(frozen=True)
class Reload:
    """What one change of seam.yaml did."""

    applied: Change = field(default_factory=dict)
    refused: Change = field(default_factory=dict)
    error: str | None = None
    invalidated: list[str] = field(default_factory=list)  # proposal ids closed as conflict
    bead: int | None = None

    @property
    def strategy_changes(self) -> Change:
        return {key: change for key, change in self.refused.items() if is_strategy(key)}


def _flat(settings: Settings) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for section, values in settings.model_dump(mode="json").items():
        for key, value in values.items():
            flat[f"{section}.{key}"] = value
    return flat


def _diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> Change:
    return {
        key: {"from": before.get(key), "to": after.get(key)}
        for key in sorted(before.keys() | after.keys())
        if before.get(key) != after.get(key)
    }


def describe(change: Change) -> list[str]:
    """One line per key, as a person reads it: `risk.max_units_per_order 200000 → 100000`."""
    return [f"{key} {_shown(c['from'])} → {_shown(c['to'])}" for key, c in change.items()]


def _shown(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + ", ".join(map(str, value)) + "]"
    return str(value)


class ConfigWatcher:
    """Compares seam.yaml with the settings in force and applies or refuses what changed (blocking: run it off the
    event loop).

    `apply` puts new settings in force (the runtime's reload); `invalidate` closes the open proposals as conflicts
    naming the changes and returns their ids; `alert` raises one alert (type, message, facts)."""

    def __init__(
        self,
        paths: SeamPaths,
        in_force: LoadedConfig,
        store: Store,
        *,
        apply: Callable[[LoadedConfig], object],
        alert: Callable[[str, str, dict[str, Any]], object],
        invalidate: Callable[[list[str]], list[str]] | None = None,
        cli: Mapping[str, Any] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        """`cli` and `env` default to the layers `in_force` was loaded from."""
        self.paths = paths
        self.in_force = in_force
        self.store = store
        self._apply = apply
        self._alert = alert
        self._invalidate = invalidate
        self._cli = dict(cli if cli is not None else in_force.cli or {})
        self._env = env if env is not None else in_force.env
        self._stat = self._file_stat()
        self._announced: Change = {}  # the refused changes already reported, so a touch does not report them again
        self._bad_content: str | None = None
        self._invalidated_for: Change = {}

    def _file_stat(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.paths.config_file)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def check(self) -> Reload | None:
        """Look at seam.yaml once; None when its stat has not changed since the last look."""
        stat = self._file_stat()
        if stat == self._stat:
            return None
        self._stat = stat
        return self.reload()

    def reload(self) -> Reload | None:
        """Read seam.yaml now and act on every difference from the settings in force; None when there is none new."""
        try:
            loaded = load_config(self.paths, env=self._env, cli=self._cli)
        except ConfigError as exc:
            return self._invalid(str(exc))
        self._bad_content = None
        wanted = _diff(_flat(self.in_force.settings), _flat(loaded.settings))
        applied = {key: change for key, change in wanted.items() if is_live(key)}
        refused = {key: change for key, change in wanted.items() if not is_live(key)}
        new_refusals = refused != self._announced
        if not applied and not new_refusals:
            return None
        if applied:
            merged = _merge(self.in_force.settings, {key: change["to"] for key, change in applied.items()})
            config = LoadedConfig(
                merged,
                self.in_force.secrets,
                {**self.in_force.sources, **_sources(loaded, applied)},
                env=self.in_force.env,
                cli=self.in_force.cli,
            )
            try:
                self._apply(config)
            except (ConfigError, GuardViolation) as exc:  # e.g. a word list a template trips: nothing applied
                return self._invalid(str(exc))
            self.in_force = config
        invalidated: list[str] = []
        strategy = {key: change for key, change in refused.items() if is_strategy(key)}
        if strategy and strategy != self._invalidated_for and self._invalidate is not None:
            invalidated = self._invalidate(["configuration changed: " + "; ".join(describe(strategy))])
            self._invalidated_for = strategy
        self._announced = refused
        bead = self.store.append(
            "CONFIG_CHANGE",
            {
                "file": self.paths.config_file.name,
                "applied": applied,
                "refused": refused,
                "refused_until": "restart" if refused else None,
                "invalidated_proposals": invalidated,
            },
        )
        for line in describe(applied):
            logger.info("seam.yaml: %s (in force now)", line)
        if new_refusals and refused:
            lines = describe(refused)
            logger.warning(
                "seam.yaml: not applied while seam runs (it governs capital or the mode; it takes effect at the next "
                "start): %s",
                "; ".join(lines),
            )
            self._alert(
                "CONFIG_REFUSED",
                "seam.yaml changed keys that take effect only at the next start; the settings in force stay.",
                {
                    **{key: f"{_shown(c['from'])} → {_shown(c['to'])}" for key, c in refused.items()},
                    "proposals closed as conflicts": len(invalidated),
                    "bead": bead.seq,
                },
            )
        elif new_refusals:
            logger.info("seam.yaml matches the settings in force again")
        return Reload(applied, refused, None, invalidated, bead.seq)

    def _invalid(self, error: str) -> Reload | None:
        content = self._content_hash()
        if content == self._bad_content:
            return None
        self._bad_content = content
        logger.error("seam.yaml does not load; the settings in force stay: %s", error)
        bead = self.store.append(
            "CONFIG_CHANGE", {"file": self.paths.config_file.name, "applied": {}, "refused": {}, "error": error}
        )
        self._alert("CONFIG_INVALID", "seam.yaml does not load; the settings in force stay.", {"error": error})
        return Reload(error=error, bead=bead.seq)

    def _content_hash(self) -> str:
        try:
            return hashlib.sha256(self.paths.config_file.read_bytes()).hexdigest()
        except OSError:
            return "(unreadable)"


def _merge(settings: Settings, values: Mapping[str, Any]) -> Settings:
    tree = settings.model_dump(mode="json")
    for key, value in values.items():
        section, _, name = key.partition(".")
        tree[section][name] = value
    return Settings.model_validate(tree)


def _sources(loaded: LoadedConfig, applied: Change) -> dict[str, str]:
    return {key: loaded.source_of(key) for key in applied}
