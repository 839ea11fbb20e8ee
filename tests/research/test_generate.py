"""`seam data generate`: the same seed gives the same bytes; the three modes differ the way the docs say."""

from __future__ import annotations

import numpy as np
import pytest

from seam.research.datasets import DataFolder, file_sha256, read_sidecar
from seam.research.generate import GAP_EVERY, SPIKE_EVERY, Spec, generate, write_dataset

BARS = 30_000


def _returns(mode: str, seed: int = 7) -> np.ndarray:
    g = generate(Spec("EURUSD", mode, seed, BARS, "1min"))  # type: ignore[arg-type]
    return np.asarray((g.close - g.open) / 0.0001)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_the_same_seed_writes_the_same_file_twice_and_another_seed_a_different_one(tmp_path, fmt):
    spec = Spec("EURUSD", "spike", 42, 5_000, "1min")
    first = write_dataset(generate(spec), tmp_path / f"a.{fmt}", fmt)
    second = write_dataset(generate(spec), tmp_path / f"b.{fmt}", fmt)
    other = write_dataset(generate(Spec("EURUSD", "spike", 43, 5_000, "1min")), tmp_path / f"c.{fmt}", fmt)

    assert first["sha256"] == second["sha256"] == file_sha256(tmp_path / f"a.{fmt}")
    assert (tmp_path / f"a.{fmt}").read_bytes() == (tmp_path / f"b.{fmt}").read_bytes()
    assert other["sha256"] != first["sha256"]


def test_the_sidecar_records_mode_seed_and_counts(tmp_path):
    write_dataset(generate(Spec("GBPUSD", "spike", 5, 20_000, "5min")), tmp_path / "g.csv")

    meta = read_sidecar(tmp_path / "g.csv")

    assert meta is not None
    assert (meta["mode"], meta["seed"], meta["pair"], meta["rows"], meta["timeframe"]) == (
        "spike",
        5,
        "GBPUSD",
        20_000,
        "5min",
    )
    assert meta["spikes"] > 0 and meta["gap_events"] > 0 and meta["weekend_gaps"] > 0
    assert DataFolder(tmp_path).info("g.csv").rows == 20_000


def test_bars_stop_for_the_weekend_and_the_week_opens_with_a_jump():
    g = generate(Spec("EURUSD", "calm", 1, 20_000, "1min"))
    steps = np.diff(g.minutes)
    weekend = np.flatnonzero(steps > 1)

    assert set(steps[weekend]) == {48 * 60 + 1}  # Friday 21:59 to Sunday 22:00
    assert len(weekend) == g.weekend_gaps == 20_000 // 7_200
    weekdays = (g.minutes // 1440 + 4) % 7  # 0 Sunday ... 6 Saturday
    assert 6 not in set(weekdays)
    opens = weekend + 1
    assert np.all(np.abs(g.open[opens] - g.close[weekend]) > 0)


def test_high_and_low_hold_open_and_close():
    g = generate(Spec("USDJPY", "spike", 3, 10_000, "1min"))
    assert np.all(g.high >= np.maximum(g.open, g.close)) and np.all(g.low <= np.minimum(g.open, g.close))
    assert 100 < g.close.mean() < 200  # a yen pair's price level


def test_volatile_moves_about_three_times_as_much_as_calm():
    calm, volatile = _returns("calm").std(), _returns("volatile").std()
    assert 2.5 < volatile / calm < 3.5


def test_only_spike_mode_has_spikes_and_intraday_gaps():
    calm, spike = _returns("calm"), _returns("spike")
    assert np.max(np.abs(calm)) < 10  # calm's largest one-minute move, in pips
    assert np.count_nonzero(np.abs(spike) >= 12) >= BARS / SPIKE_EVERY / 2
    for mode in ("calm", "volatile"):
        g = generate(Spec("EURUSD", mode, 7, BARS, "1min"))  # type: ignore[arg-type]
        assert g.spikes == g.gap_events == 0
    g = generate(Spec("EURUSD", "spike", 7, BARS, "1min"))
    assert g.gap_events >= BARS / GAP_EVERY / 2
    gaps = np.abs(g.open[1:] - g.close[:-1]) / 0.0001
    within_week = np.diff(g.minutes) == 1
    assert np.count_nonzero(gaps[within_week] >= 10) == g.gap_events


def test_a_generated_dataset_and_its_new_folder_are_the_owners_alone(tmp_path):
    target = tmp_path / "data" / "d.csv"
    write_dataset(generate(Spec("EURUSD", "calm", 1, 1_000, "1min")), target)
    assert oct(target.parent.stat().st_mode & 0o777) == "0o700"
    assert oct(target.stat().st_mode & 0o777) == "0o600"
