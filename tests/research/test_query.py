"""The `query` lens: group_by session and hour, aggregates checked by hand, clear rejections, confinement."""

from __future__ import annotations

import csv
import statistics
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import pytest

from seam.errors import IntentError
from seam.intent import QueryPayload
from seam.research.datasets import DataFolder, file_sha256
from seam.research.query import run_lens


def lens(**payload: object) -> QueryPayload:
    return QueryPayload.model_validate(payload)


def _session(hour: int) -> str:
    return "Asia" if hour >= 21 or hour < 7 else "London" if hour < 12 else "New York"


def _plain_rows(path: Path) -> list[dict[str, float | int | str | datetime]]:
    with path.open(encoding="utf-8") as fh:
        return [
            {**{k: float(v) for k, v in r.items() if k != "ts"}, "ts": datetime.fromisoformat(r["ts"])}
            for r in csv.DictReader(fh)
        ]


def test_group_by_session_and_hour_matches_a_plain_python_computation(data_dir):
    result = run_lens(
        DataFolder(data_dir),
        lens(
            dataset="eurusd.csv",
            filter=[{"field": "volume", "op": ">", "value": 20}],
            group_by=["session", "hour"],
            aggregates=[
                {"fn": "count"},
                {"fn": "mean", "field": "range_pips"},
                {"fn": "sum", "field": "return_pips"},
                {"fn": "stddev", "field": "close"},
                {"fn": "max", "field": "high"},
                {"fn": "median", "field": "range_pips"},
            ],
        ),
    )

    groups: dict[tuple[str, int], list[dict]] = defaultdict(list)
    for row in _plain_rows(data_dir / "eurusd.csv"):
        if row["volume"] > 20:
            hour = row["ts"].hour  # type: ignore[union-attr]
            groups[(_session(hour), hour)].append(row)
    order = {"Asia": 0, "London": 1, "New York": 2}
    expected_keys = sorted(groups, key=lambda k: (order[k[0]], k[1]))
    assert [tuple(r[:2]) for r in result.rows] == expected_keys
    assert result.headers == [
        "session",
        "hour",
        "count",
        "mean(range_pips)",
        "sum(return_pips)",
        "stddev(close)",
        "max(high)",
        "median(range_pips)",
    ]
    for row in result.rows:
        bars = groups[(row[0], row[1])]
        ranges = [(b["high"] - b["low"]) / 0.0001 for b in bars]
        assert row[2] == len(bars)
        assert row[3] == pytest.approx(statistics.fmean(ranges))
        assert row[4] == pytest.approx(sum((b["close"] - b["open"]) / 0.0001 for b in bars), abs=1e-6)
        assert row[5] == pytest.approx(statistics.stdev([b["close"] for b in bars]) if len(bars) > 1 else None)
        assert row[6] == max(b["high"] for b in bars)
        assert row[7] == pytest.approx(statistics.median(ranges))
    assert result.matched_rows == sum(len(v) for v in groups.values())
    assert result.dataset.rows == 3_000
    assert result.dataset.sha256 == file_sha256(data_dir / "eurusd.csv")


def test_weekday_groups_come_in_calendar_order_and_in_filters_take_lists(data_dir):
    result = run_lens(
        DataFolder(data_dir),
        lens(
            dataset="eurusd",
            filter=[{"field": "weekday", "op": "in", "value": ["Tue", "Sun", "Mon"]}],
            group_by=["weekday"],
            aggregates=[{"fn": "count"}],
        ),
    )
    # 3,000 bars from Sunday 22:00: 120 on Sunday, 1,440 on Monday, 1,440 on Tuesday
    assert result.rows == [["Mon", 1440], ["Tue", 1440], ["Sun", 120]]


def test_a_lens_without_group_by_gives_one_row(data_dir):
    result = run_lens(DataFolder(data_dir), lens(dataset="eurusd.csv", aggregates=[{"fn": "count"}]))
    assert result.rows == [[3000]]


def test_stdev_is_the_sample_standard_deviation_under_either_spelling(data_dir):
    result = run_lens(
        DataFolder(data_dir),
        lens(dataset="eurusd.csv", aggregates=[{"fn": "stdev", "field": "close"}, {"fn": "stddev", "field": "close"}]),
    )
    closes = [float(r["close"]) for r in _plain_rows(data_dir / "eurusd.csv")]
    (row,) = result.rows
    assert row[0] == row[1] == pytest.approx(statistics.stdev(closes))


def test_an_unknown_dataset_is_rejected_with_the_datasets_that_exist(data_dir):
    with pytest.raises(IntentError) as caught:
        run_lens(DataFolder(data_dir), lens(dataset="gbpusd.csv", aggregates=[{"fn": "count"}]))
    problem = caught.value.problems[0]
    assert problem.path == "payload.dataset"
    assert "no dataset 'gbpusd.csv'" in problem.message and "datasets: eurusd.csv" in problem.message


@pytest.mark.parametrize(
    ("payload", "path"),
    [
        ({"group_by": ["spread"]}, "payload.group_by[0]"),
        ({"filter": [{"field": "bid", "op": ">", "value": 1}]}, "payload.filter[0].field"),
        ({"aggregates": [{"fn": "mean", "field": "pips"}]}, "payload.aggregates[0].field"),
    ],
)
def test_an_unknown_column_is_rejected_with_the_columns_that_exist(data_dir, payload, path):
    body = {"dataset": "eurusd.csv", "aggregates": [{"fn": "count"}], **payload}
    with pytest.raises(IntentError) as caught:
        run_lens(DataFolder(data_dir), lens(**body))
    problem = caught.value.problems[0]
    assert problem.path == path
    assert "columns: ts, open, high, low, close, volume, session, weekday, hour, month" in problem.message


def test_a_mean_of_a_text_field_and_a_list_for_a_comparison_are_rejected(data_dir):
    with pytest.raises(IntentError, match="'session' is not numeric; numeric columns: open"):
        run_lens(DataFolder(data_dir), lens(dataset="eurusd.csv", aggregates=[{"fn": "mean", "field": "session"}]))
    with pytest.raises(IntentError, match="only `in` takes a list"):
        run_lens(
            DataFolder(data_dir),
            lens(
                dataset="eurusd.csv", filter=[{"field": "hour", "op": ">", "value": [1]}], aggregates=[{"fn": "count"}]
            ),
        )


def test_filter_values_are_parameters_not_sql(data_dir):
    quote = "x' OR 1=1 --"
    result = run_lens(
        DataFolder(data_dir),
        lens(
            dataset="eurusd.csv",
            filter=[{"field": "session", "op": "==", "value": quote}],
            aggregates=[{"fn": "count"}],
        ),
    )
    assert result.rows == [[0]] and result.matched_rows == 0


@pytest.mark.parametrize("name", ["../outside.csv", "sub/../../outside.csv", "./eurusd.csv", "sub//x.csv"])
def test_names_that_climb_out_of_the_data_folder_are_refused(data_dir, name):
    (data_dir.parent / "outside.csv").write_text("ts,open,high,low,close,volume\n", encoding="utf-8")
    with pytest.raises(IntentError, match="not a name inside the data folder"):
        DataFolder(data_dir).resolve(name)


def test_the_schema_refuses_absolute_and_encoded_names():
    for name in ("/etc/passwd", "%2e%2e/secret.csv", "..\\x.csv", "~/x.csv"):
        with pytest.raises(ValueError, match="dataset"):
            lens(dataset=name, aggregates=[{"fn": "count"}])


def test_a_symlink_that_leads_out_of_the_data_folder_is_refused_and_not_listed(data_dir, tmp_path):
    outside = tmp_path / "secret.csv"
    outside.write_text("ts,open,high,low,close,volume\n2026-01-05 00:00:00,1,1,1,1,1\n", encoding="utf-8")
    (data_dir / "link.csv").symlink_to(outside)

    with pytest.raises(IntentError, match="leads outside the data folder"):
        DataFolder(data_dir).resolve("link.csv")
    assert DataFolder(data_dir).names() == ["eurusd.csv"]


def test_the_engine_cannot_read_another_file_even_when_asked_in_its_own_sql(data_dir, tmp_path):
    from seam.errors import HandlerError
    from seam.research.bars import execute, locked_connection

    other = tmp_path / "other.csv"
    other.write_text("a\n1\n", encoding="utf-8")
    con = locked_connection(data_dir / "eurusd.csv")
    try:
        assert execute(con, data_dir / "eurusd.csv", "SELECT count(*) FROM read_csv($path)").fetchone() == (3000,)
        for sql in (
            f"SELECT * FROM read_csv('{other}')",
            "SELECT * FROM read_csv('http://127.0.0.1:9/x.csv')",
            f"COPY (SELECT 1) TO '{tmp_path / 'written.csv'}'",
            "SET enable_external_access = true",
        ):
            with pytest.raises(HandlerError):
                execute(con, data_dir / "eurusd.csv", sql)
    finally:
        con.close()
    assert not (tmp_path / "written.csv").exists()


def test_data_list_shows_rows_and_hashes_of_generated_and_dropped_files(data_dir):
    (data_dir / "mine").mkdir()
    (data_dir / "mine" / "own.csv").write_text(
        "ts,open,high,low,close,volume,pair\n2026-01-05 00:00:00,1.1,1.2,1.0,1.15,3,EURUSD\n", encoding="utf-8"
    )
    listed = {d.name: d for d in DataFolder(data_dir).list()}
    assert set(listed) == {"eurusd.csv", "mine/own.csv"}
    assert listed["mine/own.csv"].rows == 1 and listed["mine/own.csv"].meta is None
    assert listed["eurusd.csv"].meta is not None and listed["eurusd.csv"].meta["mode"] == "calm"
    assert listed["eurusd.csv"].sha256 == file_sha256(data_dir / "eurusd.csv")
    # a dropped file's own columns can be grouped by
    own = run_lens(DataFolder(data_dir), lens(dataset="mine/own.csv", group_by=["pair"], aggregates=[{"fn": "count"}]))
    assert own.rows == [["EURUSD", 1]]


def test_a_file_without_the_bar_columns_is_rejected_naming_the_missing_ones(data_dir):
    (data_dir / "bad.csv").write_text("ts,price\n2026-01-05 00:00:00,1.1\n", encoding="utf-8")
    with pytest.raises(IntentError, match="lacks the bar column\\(s\\) open, high, low, close, volume"):
        run_lens(DataFolder(data_dir), lens(dataset="bad.csv", aggregates=[{"fn": "count"}]))
