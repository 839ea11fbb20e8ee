"""Research: datasets in the data folder, the `query` lens (DuckDB) and the `hunt` (hypotheses × grids).

datasets    the data folder: names confined to it, listing, row counts, sha256
modes       the synthetic bars' modes and timeframes (no numpy, for the CLI)
generate    reproducible synthetic FX bars (calm, volatile, spike) and their sidecar
bars        DuckDB reading, locked to one file: columns, counts, numpy arrays
query       the lens: filter, group_by, aggregates -> a table, in key order
hypotheses  registered hypotheses and the one trade walk they share
hunt        grid -> variants in grid order, and the facts of each
engines     where variants run: local processes or Ray tasks
"""

from __future__ import annotations

from seam.research.datasets import DataFolder, DatasetInfo, data_folder

__all__ = ["DataFolder", "DatasetInfo", "data_folder"]
