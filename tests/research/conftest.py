"""Small datasets for the research tests: a generated one, and hand-made bars whose facts can be counted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from seam.research.generate import Spec, generate, write_dataset

START = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)  # a Monday


def write_bars(path: Path, bars: list[tuple[float, float, float, float]], *, step_minutes: int = 1) -> Path:
    """A CSV of (open, high, low, close) bars, one a `step_minutes` from Monday 00:00 UTC, volume 1."""
    lines = ["ts,open,high,low,close,volume"]
    for i, (o, h, low, c) in enumerate(bars):
        ts = (START + timedelta(minutes=i * step_minutes)).strftime("%Y-%m-%d %H:%M:%S")
        lines.append(f"{ts},{o},{h},{low},{c},1")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    write_dataset(generate(Spec("EURUSD", "calm", 11, 3_000, "1min")), folder / "eurusd.csv")
    return folder
