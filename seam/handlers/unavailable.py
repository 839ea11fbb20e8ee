"""The handler of kinds that are defined and validated but whose handler has not landed yet."""

from __future__ import annotations

from seam.errors import NotAvailable
from seam.handlers.base import HandlerContext
from seam.respond import Outcome
from seam.validate import ValidIntent


async def handle_not_available(ctx: HandlerContext, intent: ValidIntent) -> Outcome:
    # It must not pretend to work: the pipeline turns this into a `failed` response that says so.
    raise NotAvailable(f"the {intent.kind} handler is not available yet")
