"""The Partoo HTTP seam: one request, one classification (`client`, `answers`), and the
reachability check before the first one (`preflight`). The only package that knows
aiohttp's exceptions; it translates them into `worker.core.errors`."""

__all__: list[str] = []
