"""The report format, with one owner per rule. Depends only on `worker.files` and
`worker.core`.

- `lines`: its lines (columns, the torn-line rule, the one reader); `writer`: writing it.
- `reader`: rows with names, and the last ok row per field (`last_ok`).
- `stats`: the one tally (`Counts`: the run's summary and `report`'s statistics), errors
  grouped by kind, and whether the run finished (`completion`).
- `nextsteps`: the commands to copy after reading it; `failedjob`: its failed rows as a job.
- `meta`: the job it belongs to; `lock`: one run per report; `resume`: what `--resume`
  keeps, copies and sends again; `ahead`: rows finished ahead of the report, on disk.
"""

__all__: list[str] = []
