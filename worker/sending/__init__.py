"""Sending: operations in, results out, in row order. The scheduler (`engine`, `ordering`),
one row's requests (`rowwork`, `results`, `readback`), and what paces and guards them
(`ratelimit`, `aimd`, `retrypolicy`, `breaker`). No files: it gets operations and hands
back `Result`s."""

__all__: list[str] = []
