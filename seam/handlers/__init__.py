"""Handlers: one coroutine per kind, `async def handle_x(ctx, intent) -> Outcome`."""
