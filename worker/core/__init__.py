"""Shared types, no I/O; every other package may import these, these import nothing of
ours (but one another).

- `operations`: what a row is (`Operation`, `Action`); `guards`: what it expects of its
  conversation; `conversation`: a conversation's state as the API tells it.
- `outcomes`: what happened to a row (`Outcome`, `Result`, `Fault`); `stops`: why a run
  stopped; `exitcodes`: the one table of exit codes and the rule from a stop to a code.
- `errors`: the error tree, its branches the decisions.
- `columns`: the job's and the report's columns; `cells`: CSV cells (the field limit,
  formula neutralising).
- `clock`: how times are written; `text`: counted nouns and printable text; `urls`:
  URLs that may hold a secret; `filepath`: whether a path can name a file, and `-`.
- `process`: whose process this is (the command line's, or a host program's).
"""

__all__: list[str] = []
