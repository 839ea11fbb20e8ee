"""The synthetic bars' modes and timeframes, apart from the generator so the CLI can offer them without numpy."""

from __future__ import annotations

from typing import Literal

__all__ = ["MODES", "TIMEFRAMES", "Mode"]

Mode = Literal["calm", "volatile", "spike"]
MODES: tuple[Mode, ...] = ("calm", "volatile", "spike")
TIMEFRAMES = {"1min": 1, "5min": 5, "15min": 15, "30min": 30, "1h": 60}  # minutes per bar
