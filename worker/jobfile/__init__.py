"""Job files in and out. Depends only on `worker.files` and `worker.core`.

- `reader`: a job file streamed into operations; `header`: which column is which.
- `pinned`: the job a run sends is the job it planned (its bytes, read once).
- `plan`: what a run would send, counted in one pass; `repeats`: the conversations a job
  touches more than once, in flat memory.
- `writer`: the one writer of job files; `undojob`: the rows that undo a change.
"""

__all__: list[str] = []
