"""Hunt engines: where the variants run. `local` uses worker processes on this machine, `ray` Ray tasks.

Both call the same `compute_variant` on the same arrays and put each result back at its grid position, so
both give the same table. The local engine never imports Ray. Worker processes start with "spawn" (never
"fork": the daemon has threads), load the dataset once each, and are shut down when the hunt ends.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from seam.errors import ConfigError, HandlerError
from seam.research.bars import Bars, load_bars
from seam.research.hunt import HuntPlan, Progress, VariantResult, compute_variant

__all__ = ["Engine", "LocalEngine", "RayEngine", "engine_for"]

logger = logging.getLogger(__name__)


class Engine(Protocol):
    @property
    def name(self) -> str: ...

    def run(self, plan: HuntPlan, pip: float, progress: Progress | None = None) -> list[VariantResult]: ...


# ---- local processes ----------------------------------------------------------------------------

_worker_bars: Bars | None = None


def _load_in_worker(path: str, pip: float) -> None:
    global _worker_bars
    _worker_bars = load_bars(Path(path), pip)


def _run_in_worker(hypothesis: str, params: dict[str, float]) -> VariantResult:
    assert _worker_bars is not None, "the worker's initializer loads the bars"
    return compute_variant(_worker_bars, hypothesis, params)


@dataclass(frozen=True)
class LocalEngine:
    workers: int
    name: str = "local"

    def run(self, plan: HuntPlan, pip: float, progress: Progress | None = None) -> list[VariantResult]:
        total = len(plan.variants)
        workers = max(1, min(self.workers, total))
        if workers == 1:
            return self._in_process(plan, pip, progress)
        results: list[VariantResult | None] = [None] * total
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(
            max_workers=workers, mp_context=context, initializer=_load_in_worker, initargs=(str(plan.dataset), pip)
        ) as pool:
            futures = {
                pool.submit(_run_in_worker, plan.hypothesis.name, params): i for i, params in enumerate(plan.variants)
            }
            for done, future in enumerate(as_completed(futures), start=1):
                results[futures[future]] = future.result()  # at its grid position, whenever it finished
                if progress is not None:
                    progress(done, total)
        return [r for r in results if r is not None]

    @staticmethod
    def _in_process(plan: HuntPlan, pip: float, progress: Progress | None) -> list[VariantResult]:
        bars = load_bars(plan.dataset, pip)
        results = []
        for i, params in enumerate(plan.variants, start=1):
            results.append(compute_variant(bars, plan.hypothesis.name, params))
            if progress is not None:
                progress(i, len(plan.variants))
        return results


# ---- Ray ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RayEngine:
    address: str | None
    name: str = "ray"

    def run(self, plan: HuntPlan, pip: float, progress: Progress | None = None) -> list[VariantResult]:
        try:
            import ray  # type: ignore[import-not-found, unused-ignore]
        except ImportError as exc:
            raise HandlerError(
                "research.engine is ray but Ray is not installed", "Install the extra: pip install 'seam[ray]'."
            ) from exc
        started_here = not ray.is_initialized()
        if started_here:
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False)
        try:
            task = ray.remote(compute_variant)
            bars = ray.put(load_bars(plan.dataset, pip))  # shipped once to the cluster's object store
            refs = [task.remote(bars, plan.hypothesis.name, params) for params in plan.variants]
            pending, total = list(refs), len(refs)
            while pending:
                _ready, pending = ray.wait(pending, num_returns=1)
                if progress is not None:
                    progress(total - len(pending), total)
            results: list[VariantResult] = ray.get(refs)  # in the order the tasks were made: grid order
            return results
        finally:
            if started_here:
                ray.shutdown()


def engine_for(engine: str, *, workers: int | None, ray_address: str | None) -> Engine:
    if engine == "local":
        return LocalEngine(workers or os.cpu_count() or 1)
    if engine == "ray":
        return RayEngine(ray_address)
    raise ConfigError("research.engine", f"unknown engine {engine!r}; engines: local, ray")
