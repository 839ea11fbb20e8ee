"""What every handler receives: the settings, the seam's folders, the bead store, a clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from seam.audit import BeadStore
from seam.clock import Clock
from seam.config import Settings
from seam.paths import SeamPaths

__all__ = ["HALT_FLAG", "HandlerContext"]

HALT_FLAG = "halt"


@dataclass
class HandlerContext:
    settings: Settings
    paths: SeamPaths
    store: BeadStore
    clock: Clock
    owner: str = "cli"
    queue_depth: Callable[[], dict[str, int]] = field(default=lambda: {})
    services: dict[str, Any] = field(default_factory=dict)
