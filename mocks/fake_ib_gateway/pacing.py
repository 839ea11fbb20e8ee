"""IB's message pacing: at most 50 messages per second per client, counted over a sliding window."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable

logger = logging.getLogger(__name__)

IB_MAX_MESSAGES_PER_SECOND = 50
PACING_ERROR_CODE = 100
PACING_ERROR_TEXT = "Max rate of messages per second has been exceeded"


class PacingGate:
    """Admits a message unless ``limit`` were already admitted in the last ``window`` seconds."""

    def __init__(
        self, clock: Callable[[], float], limit: int = IB_MAX_MESSAGES_PER_SECOND, window: float = 1.0
    ) -> None:
        if limit <= 0 or window <= 0:
            raise ValueError("limit and window must be positive")
        self._clock = clock
        self._limit = limit
        self._window = window
        self._admitted: deque[float] = deque()
        self.refused = 0

    @property
    def limit(self) -> int:
        return self._limit

    def admit(self) -> bool:
        now = self._clock()
        while self._admitted and now - self._admitted[0] >= self._window:
            self._admitted.popleft()
        if len(self._admitted) >= self._limit:
            # A refused message does not count: IB rejects it without serving it.
            self.refused += 1
            return False
        self._admitted.append(now)
        return True

    def error_text(self) -> str:
        return f"{PACING_ERROR_TEXT}:max={self._limit} rec={len(self._admitted) + 1} (1)"
