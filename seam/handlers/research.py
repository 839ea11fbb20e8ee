"""Research handler: `query` (a lens over a dataset) and `hunt` (a hypothesis × a grid) — facts with provenance.

Each answer names the lens or grid, the dataset's sha256 and row counts, and the research bead recorded for
it. Nothing is ranked, selected or scored; hunt variants come back in grid order.
"""

from __future__ import annotations

from typing import Any

from seam.handlers.base import HandlerContext
from seam.intent import HuntPayload, QueryPayload
from seam.research import DataFolder, data_folder
from seam.research.bars import pip_size
from seam.research.engines import engine_for
from seam.research.hunt import HuntPlan, VariantResult, plan_hunt
from seam.research.hypotheses import HYPOTHESES
from seam.research.query import SESSIONS, LensResult, run_lens
from seam.respond import Outcome, Status
from seam.validate import ValidIntent

__all__ = ["handle_hunt", "handle_query", "hunt_context", "lens_context", "variant_row"]


def _folder(ctx: HandlerContext) -> DataFolder:
    return data_folder(ctx.paths.root, ctx.settings.research.data_folder)


def _number(value: Any) -> Any:
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".") if value == value else "n/a"
    return value


def _sessions() -> str:
    return ", ".join(f"{name} {start:02d}:00-{end:02d}:00" for name, start, end in SESSIONS)


def lens_context(payload: QueryPayload, result: LensResult) -> dict[str, Any]:
    return {
        "lens": payload.model_dump(mode="json"),
        "dataset": result.dataset.name,
        "sha256": result.dataset.sha256,
        "dataset_rows": result.dataset.rows,
        "matched_rows": result.matched_rows,
        "pip": result.pip,
        "headers": result.headers,
        "rows": [[_number(v) for v in row] for row in result.rows],
        "derived": result.derived,
        "sessions": _sessions(),
    }


async def handle_query(ctx: HandlerContext, intent: ValidIntent) -> Outcome:
    payload = intent.payload_as(QueryPayload)
    result = await ctx.blocking(run_lens, _folder(ctx), payload)
    facts = lens_context(payload, result)
    bead = await ctx.blocking(
        ctx.store.append,
        "QUERY",
        {
            "lens": facts["lens"],
            "dataset": result.dataset.name,
            "dataset_sha256": result.dataset.sha256,
            "dataset_rows": result.dataset.rows,
            "matched_rows": result.matched_rows,
            "groups": len(result.rows),
        },
        intent_id=intent.id,
        session_id=intent.envelope.session_id,
    )
    return Outcome(
        Status.OK,
        "research_summary",
        {**facts, "bead_id": bead.seq, "sources": [f"bead {bead.seq}", f"dataset sha256 {result.dataset.sha256}"]},
    )


def variant_row(keys: list[str], result: VariantResult) -> list[Any]:
    params = [_number(result.params[k]) for k in keys]
    rate = "n/a" if result.win_rate is None else f"{result.win_rate * 100:.1f}%"
    avg_r = "n/a" if result.avg_r is None else f"{result.avg_r:.3f}"
    return [
        *params,
        result.trades,
        result.wins,
        result.losses,
        rate,
        avg_r,
        f"{result.total_pips:.1f}",
        f"{result.max_drawdown_pips:.1f}",
    ]


HUNT_COLUMNS = ["trades", "wins", "losses", "win rate", "avg R", "total pips", "max drawdown pips"]


def hunt_context(plan: HuntPlan, results: list[VariantResult]) -> dict[str, Any]:
    fixed = {p.name: _number(float(p.default)) for p in plan.hypothesis.params if p.name not in plan.keys}
    return {
        "hypothesis": plan.hypothesis.name,
        "description": plan.hypothesis.description,
        "keys": plan.keys,
        "fixed": fixed,
        "headers": [*plan.keys, *HUNT_COLUMNS],
        "rows": [variant_row(plan.keys, r) for r in results],
        "variants": len(results),
    }


async def handle_hunt(ctx: HandlerContext, intent: ValidIntent) -> Outcome:
    payload = intent.payload_as(HuntPayload)
    folder = _folder(ctx)
    info = await ctx.blocking(folder.info, payload.dataset)
    plan = plan_hunt(payload, info.path)
    research = ctx.settings.research
    engine = engine_for(research.engine, workers=research.workers, ray_address=research.ray_address)
    started = ctx.clock.monotonic()
    results = await ctx.blocking(engine.run, plan, pip_size(info.name, info.meta))
    seconds = ctx.clock.monotonic() - started
    bead = await ctx.blocking(
        ctx.store.append,
        "HUNT",
        {
            "hypothesis": plan.hypothesis.name,
            "grid": payload.model_dump(mode="json")["grid"],
            "variants": len(results),
            "dataset": info.name,
            "dataset_sha256": info.sha256,
            "dataset_rows": info.rows,
            "engine": engine.name,
        },
        intent_id=intent.id,
        session_id=intent.envelope.session_id,
    )
    return Outcome(
        Status.OK,
        "hunt_result",
        {
            **hunt_context(plan, results),
            "dataset": info.name,
            "sha256": info.sha256,
            "dataset_rows": info.rows,
            "engine": engine.name,
            "seconds": f"{seconds:.2f}",
            "bead_id": bead.seq,
            "registered": list(HYPOTHESES),
            "sources": [f"bead {bead.seq}", f"dataset sha256 {info.sha256}"],
        },
    )
