"""Shared types, no I/O: what a row is (`Operation`, `Action`), what happened to it
(`Outcome`, `Result`), what a conversation's state is, the report's columns, and the error
tree; whether a path can name a file (`filepath`: its `is_special` is the one stat here).
Every other package may import these; these import nothing of ours."""

__all__: list[str] = []
