"""The `hunt`: every hypothesis finds the trades a person counts by hand; variants = grid size, in grid order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from seam.errors import IntentError
from seam.intent import HuntPayload
from seam.research.bars import load_bars
from seam.research.engines import LocalEngine, engine_for
from seam.research.hunt import MAX_VARIANTS, plan_hunt, stats_of
from seam.research.hypotheses import HYPOTHESES, Trades
from tests.research.conftest import write_bars

FLAT = (1.1011, 1.1012, 1.1010, 1.1011)


def _trades(tmp_path: Path, name: str, bars: list, params: dict, step: int = 1) -> Trades:
    path = write_bars(tmp_path / "data" / f"{name}.csv", bars, step_minutes=step)
    hypothesis = HYPOTHESES[name]
    values = {p.name: float(p.default) for p in hypothesis.params} | params
    return hypothesis.trades(load_bars(path, 0.0001), values)


def test_the_moving_average_cross_enters_on_each_cross_and_exits_at_its_target(tmp_path):
    closes = [1.1000 + 0.0001 * k for k in range(10)]  # rising to 1.1009
    closes += [1.1009 - 0.0001 * (j + 1) for j in range(10)]  # falling to 1.0999
    closes += [1.0999 + 0.0001 * (j + 1) for j in range(10)]  # rising again
    bars = [
        (closes[max(i - 1, 0)], max(c, closes[max(i - 1, 0)]), min(c, closes[max(i - 1, 0)]), c)
        for i, c in enumerate(closes)
    ]

    t = _trades(tmp_path, "ma_cross", bars, {"fast": 1, "slow": 3, "stop_pips": 5, "target_r": 0.9, "max_hold": 50})

    # the close crosses its 3-bar average down at bar 10 (short at 1.1008) and up at bar 20 (long at 1.1000);
    # each reaches its 4.5-pip target (bar 15's low 1.1003, bar 25's high 1.1005) before its 5-pip stop
    assert t.index.tolist() == [10, 20]
    assert t.direction.tolist() == [-1.0, 1.0]
    assert t.pips == pytest.approx([4.5, 4.5])
    assert t.r == pytest.approx([0.9, 0.9])


def test_the_session_breakout_takes_the_first_close_outside_the_opening_range(tmp_path):
    day1 = [
        (1.1000, 1.1005, 1.0995, 1.1000),
        (1.1000, 1.1004, 1.0996, 1.1000),
        (1.1000, 1.1003, 1.0997, 1.1000),  # the range: 1.0995 - 1.1005
        (1.1000, 1.1004, 1.0999, 1.1003),  # inside
        (1.1003, 1.1008, 1.1002, 1.1007),  # closes above: long at 1.1007, stop 1.0995 (12 pips), target 1.1019
        (1.1007, 1.1012, 1.1004, 1.1010),
        (1.1010, 1.1021, 1.1009, 1.1020),  # the target: +12 pips
    ] + [(1.1020, 1.1021, 1.1019, 1.1020)] * 17
    day2 = [
        (1.1020, 1.1025, 1.1015, 1.1020),
        (1.1020, 1.1022, 1.1018, 1.1020),
        (1.1020, 1.1022, 1.1018, 1.1020),  # the range: 1.1015 - 1.1025
        (1.1020, 1.1020, 1.1009, 1.1010),  # closes below: short at 1.1010, stop 1.1025 (15 pips)
        (1.1010, 1.1030, 1.1008, 1.1028),  # the stop: -15 pips
    ] + [(1.1028, 1.1029, 1.1027, 1.1028)] * 19
    params = {"open_hour": 0, "range_bars": 3, "window_bars": 5, "target_r": 1, "max_hold": 10}

    t = _trades(tmp_path, "session_breakout", day1 + day2, params, step=60)  # hourly bars: 24 a day

    assert t.index.tolist() == [4, 27]
    assert t.direction.tolist() == [1.0, -1.0]
    assert t.pips == pytest.approx([12, -15])
    facts = stats_of(params, t)
    assert (facts.trades, facts.wins, facts.losses, facts.win_rate) == (2, 1, 1, 0.5)
    assert facts.avg_r == pytest.approx(0.0)
    assert facts.total_pips == pytest.approx(-3)
    assert facts.max_drawdown_pips == pytest.approx(15)


def test_the_fair_value_gap_retest_enters_at_the_gaps_edge(tmp_path):
    bars = [
        (1.1000, 1.1002, 1.0998, 1.1000),
        (1.1000, 1.1010, 1.1000, 1.1009),
        (1.1009, 1.1012, 1.1006, 1.1011),  # bar 2's low 1.1006 above bar 0's high 1.1002: a bullish gap
        (1.1011, 1.1013, 1.1008, 1.1010),
        (1.1010, 1.1011, 1.1005, 1.1007),  # back to 1.1006: long there, stop 1.1001 (5 pips), target 1.1011
        (1.1007, 1.1012, 1.1006, 1.1011),  # the target: +5 pips
        *[FLAT] * 5,
        (1.1011, 1.1011, 1.1000, 1.1001),
        (1.1001, 1.1004, 1.0998, 1.1000),  # bar 12's high 1.1004 below bar 10's low 1.1010: a bearish gap
        (1.1000, 1.1005, 1.0999, 1.1004),  # back to 1.1004: short there, stop 1.1011 (7 pips)
        (1.1004, 1.1012, 1.1003, 1.1010),  # the stop: -7 pips
        *[(1.1010, 1.1011, 1.1004, 1.1010)] * 5,
    ]
    params = {"min_gap_pips": 2, "max_wait": 5, "stop_buffer_pips": 1, "target_r": 1, "max_hold": 50}

    t = _trades(tmp_path, "fvg_retest", bars, params)

    assert t.index.tolist() == [4, 13]
    assert t.direction.tolist() == [1.0, -1.0]
    assert t.pips == pytest.approx([5, -7])
    assert t.r == pytest.approx([1, -1])


def test_a_trade_with_neither_stop_nor_target_exits_at_the_close_after_max_hold(tmp_path):
    closes = [1.1000 + 0.0001 * k for k in range(6)] + [round(1.1003 - 0.00001 * k, 5) for k in range(10)]
    bars = [(c, c + 0.00001, c - 0.00001, c) for c in closes]
    t = _trades(tmp_path, "ma_cross", bars, {"fast": 1, "slow": 3, "stop_pips": 50, "target_r": 1, "max_hold": 4})
    # the close drops under its average at bar 6 (short at 1.1003) and stays under; out at bar 10's close 1.10026
    assert t.index.tolist() == [6]
    assert t.pips == pytest.approx([0.4])


def test_variants_are_the_grid_in_key_order_then_value_order(tmp_path):
    payload = HuntPayload(hypothesis="ma_cross", dataset="x.csv", grid={"fast": [3, 1, 2], "slow": [20, 10]})
    plan = plan_hunt(payload, tmp_path / "x.csv")
    assert [(v["fast"], v["slow"]) for v in plan.variants] == [(3, 20), (3, 10), (1, 20), (1, 10), (2, 20), (2, 10)]
    assert all(v["stop_pips"] == 10 and v["max_hold"] == 240 for v in plan.variants)  # the defaults fill the rest


def test_worker_processes_compute_every_variant_and_return_them_in_grid_order(data_dir):
    grid = {"fast": [20, 2, 8, 5], "slow": [30, 60], "stop_pips": [5, 15]}
    plan = plan_hunt(HuntPayload(hypothesis="ma_cross", dataset="eurusd.csv", grid=grid), data_dir / "eurusd.csv")
    done: list[int] = []

    parallel = LocalEngine(workers=2).run(plan, 0.0001, lambda n, total: done.append(n))
    serial = LocalEngine(workers=1).run(plan, 0.0001)

    assert len(parallel) == 4 * 2 * 2 == len(plan.variants)
    assert [r.params for r in parallel] == plan.variants
    assert parallel == serial
    assert done == list(range(1, 17))
    assert any(r.trades > 0 for r in parallel)


@pytest.mark.parametrize(
    ("payload", "path", "message"),
    [
        ({"hypothesis": "rsi_dip"}, "payload.hypothesis", "registered: session_breakout, ma_cross, fvg_retest"),
        ({"grid": {"period": [3]}}, "payload.grid.period", "parameters: fast, slow, stop_pips, target_r, max_hold"),
        ({"grid": {"fast": [2.5]}}, "payload.grid.fast[0]", "whole numbers"),
        ({"grid": {"stop_pips": [0]}}, "payload.grid.stop_pips[0]", "between 0.1 and 1000"),
    ],
)
def test_a_grid_seam_cannot_compute_is_rejected_naming_the_field(tmp_path, payload, path, message):
    body = {"hypothesis": "ma_cross", "dataset": "x.csv", "grid": {"fast": [5]}, **payload}
    with pytest.raises(IntentError) as caught:
        plan_hunt(HuntPayload.model_validate(body), tmp_path / "x.csv")
    assert caught.value.problems[0].path == path
    assert message in caught.value.problems[0].message


def test_a_grid_larger_than_the_cap_is_rejected(tmp_path):
    values = [float(v) for v in range(1, 51)]
    grid = {"fast": values, "slow": [float(v) for v in range(2, 52)], "stop_pips": values[:5]}
    assert 50 * 50 * 5 > MAX_VARIANTS
    with pytest.raises(IntentError, match="12,500 variants"):
        plan_hunt(HuntPayload(hypothesis="ma_cross", dataset="x.csv", grid=grid), tmp_path / "x.csv")


def test_stats_hold_the_same_facts_for_a_variant_without_trades():
    empty = Trades(np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0), np.zeros(0))
    facts = stats_of({"fast": 1}, empty)
    assert (facts.trades, facts.wins, facts.losses, facts.win_rate, facts.avg_r) == (0, 0, 0, None, None)
    assert (facts.total_pips, facts.max_drawdown_pips) == (0.0, 0.0)


def test_the_ray_engine_without_ray_installed_fails_with_what_to_do(data_dir, monkeypatch):
    import sys

    from seam.errors import HandlerError

    monkeypatch.setitem(sys.modules, "ray", None)  # as on a machine without the extra
    plan = plan_hunt(HuntPayload(hypothesis="ma_cross", dataset="e", grid={"fast": [5]}), data_dir / "eurusd.csv")
    with pytest.raises(HandlerError, match="Ray is not installed"):
        engine_for("ray", workers=None, ray_address=None).run(plan, 0.0001)
