"""`seam data generate` and `seam data list`: reproducible synthetic bars, and the datasets the seam holds."""

from __future__ import annotations

import argparse

from rich.markup import escape

from seam.cli.common import EXIT_OK, EXIT_USAGE, Subparsers, err, load, out, require_seam, seam_paths
from seam.intent import Pair
from seam.research import DataFolder, data_folder
from seam.research.modes import MODES, TIMEFRAMES  # numpy loads only when bars are generated

__all__ = ["add_data", "cmd_data_generate", "cmd_data_list"]

MAX_BARS = 20_000_000


def add_data(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    data = sub.add_parser("data", parents=[common], help="research datasets: generate synthetic bars, list them")
    data_sub = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    p = data_sub.add_parser(
        "generate", parents=[common], help="write reproducible synthetic FX bars (same seed, same file)"
    )
    p.add_argument("--pair", choices=[str(x) for x in Pair], default="EURUSD")
    p.add_argument("--mode", choices=MODES, required=True, help="calm | volatile | spike (see docs/research.md)")
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--bars", type=int, default=100_000, help="how many bars (default 100,000)")
    p.add_argument("--timeframe", choices=list(TIMEFRAMES), default="1min")
    p.add_argument("--format", choices=["csv", "parquet"], default="csv", dest="fmt")
    p.add_argument("--name", help="file name inside the data folder (default: PAIR-MODE-sSEED-BARS-TIMEFRAME.FORMAT)")
    p.set_defaults(func=cmd_data_generate)
    p = data_sub.add_parser("list", parents=[common], help="the datasets in the data folder, with rows and sha256")
    p.set_defaults(func=cmd_data_list)


def _folder(args: argparse.Namespace) -> DataFolder:
    paths = seam_paths(args)
    require_seam(paths)
    return data_folder(paths.root, load(paths).settings.research.data_folder)


def cmd_data_generate(args: argparse.Namespace) -> int:
    from seam.research.generate import Spec, generate, write_dataset

    if not 1 <= args.bars <= MAX_BARS or args.seed < 0:
        err.print(f"seam: --bars must be 1..{MAX_BARS:,} and --seed 0 or more")
        return EXIT_USAGE
    folder = _folder(args)
    name = args.name or f"{args.pair.lower()}-{args.mode}-s{args.seed}-{args.bars}-{args.timeframe}.{args.fmt}"
    if not name.endswith(f".{args.fmt}"):
        name = f"{name}.{args.fmt}"
    target = folder.path / name
    if not target.resolve().is_relative_to(folder.path.resolve()) or "/" in name or name.startswith("."):
        err.print(f"seam: --name must be a plain file name inside the data folder, not {name!r}")
        return EXIT_USAGE
    meta = write_dataset(generate(Spec(args.pair, args.mode, args.seed, args.bars, args.timeframe)), target, args.fmt)
    out.print(
        f"wrote {escape(str(target))}: {meta['rows']:,} bars, {meta['weekend_gaps']} weekend gap(s), "
        f"{meta['spikes']} spike(s), {meta['gap_events']} gap event(s)\nsha256 {meta['sha256']}",
        markup=False,
    )
    return EXIT_OK


def cmd_data_list(args: argparse.Namespace) -> int:
    folder = _folder(args)
    datasets = folder.list()
    if not datasets:
        out.print(
            f"no datasets in {escape(str(folder.path))} (CSV or Parquet bars: ts, open, high, low, close, volume)"
        )
        return EXIT_OK
    # one line per dataset, the whole sha256 on it (a table column would be cut to the terminal's width)
    out.print(f"datasets in {folder.path}:", markup=False)
    width = max(len(d.name) for d in datasets)
    for d in datasets:
        made = f"{d.meta.get('mode')} seed {d.meta.get('seed')}" if d.meta else "dropped in"
        out.print(f"  {d.name:<{width}}  {d.format:<7}  {d.rows:>12,} rows  sha256 {d.sha256}  {made}", markup=False)
    return EXIT_OK
