"""End to end: a `query` and a `hunt` intent dropped into a running seam are answered with provenance."""

from __future__ import annotations

import multiprocessing

import pytest

from seam.cli import main
from seam.config import load_config
from seam.research.datasets import file_sha256
from seam.research.generate import Spec, generate, write_dataset
from seam.runtime import Runtime
from tests.conftest import DaemonThread, drop, intent_text, make_seam, wait_response


@pytest.fixture
def research_seam(tmp_path):
    paths = make_seam(tmp_path / "seam", "intake:\n  rescan_seconds: 0.5\nresearch:\n  workers: 2\n")
    write_dataset(
        generate(Spec("EURUSD", "volatile", 9, 4_000, "1min")), paths.root / "data" / "eurusd.parquet", "parquet"
    )
    return paths


def test_a_query_and_a_hunt_dropped_into_the_seam_get_answers_with_provenance(research_seam):
    paths = research_seam
    sha = file_sha256(paths.root / "data" / "eurusd.parquet")
    query = "{dataset: eurusd.parquet, group_by: [session], aggregates: [{fn: count}, {fn: mean, field: range_pips}]}"
    hunt = "{hypothesis: ma_cross, dataset: eurusd, grid: {fast: [10, 5], slow: [60, 30, 90]}}"
    with DaemonThread(paths):
        drop(paths, "q.yaml", intent_text("q-1", "query", query))
        drop(paths, "h.yaml", intent_text("h-1", "hunt", hunt))
        answered_query = wait_response(paths, "q-1", timeout=20)
        answered_hunt = wait_response(paths, "h-1", timeout=30)
        assert multiprocessing.active_children() == []  # the hunt's worker processes ended with it

    assert answered_query["status"] == "ok", answered_query["body"]
    body = answered_query["body"]
    assert sha in body and "4,000 rows" in body
    assert "| session | count | mean(range_pips) |" in body
    assert [
        line.split("|")[1].strip()
        for line in body.splitlines()
        if line.startswith("| Asia") or line.startswith("| London") or line.startswith("| New York")
    ] == ["Asia", "London", "New York"]
    assert "Asia 21:00-07:00, London 07:00-12:00, New York 12:00-21:00" in body

    assert answered_hunt["status"] == "ok", answered_hunt["body"]
    body = answered_hunt["body"]
    rows = [line for line in body.splitlines() if line.startswith("| 10 |") or line.startswith("| 5 |")]
    assert [r.split("|")[1:3] for r in rows] == [
        [" 10 ", " 60 "],
        [" 10 ", " 30 "],
        [" 10 ", " 90 "],
        [" 5 ", " 60 "],
        [" 5 ", " 30 "],
        [" 5 ", " 90 "],
    ]
    assert "6 variant(s)" in body and sha in body

    runtime = Runtime.console(paths, load_config(paths, env={}))
    try:
        beads = {b.type: b for b in runtime.store.beads() if b.type in ("QUERY", "HUNT")}
    finally:
        runtime.close()
    assert beads["QUERY"].payload["dataset_sha256"] == sha and beads["HUNT"].payload["variants"] == 6
    assert f"bead {beads['QUERY'].seq}" in answered_query["body"]
    assert f"bead {beads['HUNT'].seq}" in answered_hunt["body"]


def test_a_query_naming_a_missing_dataset_is_rejected_listing_the_datasets(research_seam):
    paths = research_seam
    with DaemonThread(paths):
        drop(paths, "q.yaml", intent_text("q-missing", "query", "{dataset: gbpusd.csv, aggregates: [{fn: count}]}"))
        answered = wait_response(paths, "q-missing", timeout=20)
    assert answered["status"] == "rejected"
    assert "`payload.dataset`" in answered["body"] and "datasets: eurusd.parquet" in answered["body"]


def test_seam_data_generate_twice_with_one_seed_gives_identical_files_and_list_shows_them(tmp_path, capsys):
    root = tmp_path / "desk"
    make_seam(root)
    args = ["data", "generate", "--seam", str(root), "--mode", "spike", "--seed", "42", "--bars", "3000"]

    assert main([*args, "--name", "one.csv"]) == 0
    generated = capsys.readouterr().out
    assert main([*args, "--name", "two"]) == 0
    capsys.readouterr()
    assert main(["data", "list", "--seam", str(root)]) == 0
    listed = capsys.readouterr().out

    assert (root / "data" / "one.csv").read_bytes() == (root / "data" / "two.csv").read_bytes()
    sha = file_sha256(root / "data" / "one.csv")
    assert f"sha256 {sha}" in generated
    assert listed.count(sha) == 2 and "3,000 rows" in listed and "spike seed 42" in listed


def test_seam_data_generate_refuses_a_name_outside_the_data_folder(tmp_path, capsys):
    root = tmp_path / "desk"
    make_seam(root)
    code = main(["data", "generate", "--seam", str(root), "--mode", "calm", "--seed", "1", "--name", "../x.csv"])
    assert code == 2 and "--name must be a plain file name" in capsys.readouterr().err
    assert not (root / "x.csv").exists()


def test_seam_hunt_runs_a_hunt_file_here_and_prints_every_variant_in_grid_order(research_seam, tmp_path, capsys):
    intent = tmp_path / "hunt.yaml"
    intent.write_text(
        intent_text("h-cli", "hunt", "{hypothesis: fvg_retest, dataset: eurusd.parquet, grid: {min_gap_pips: [3, 1]}}"),
        encoding="utf-8",
    )
    assert main(["hunt", str(intent), "--seam", str(research_seam.root), "--workers", "1"]) == 0
    printed = capsys.readouterr().out
    first_cells = [line.split("│")[1].strip() for line in printed.splitlines() if line.startswith("│")]
    assert first_cells == ["3", "1"]
    assert "2 variant(s), every one of the grid, in grid order; engine local; not recorded" in printed
