"""The report format, with one owner per rule: its lines (`lines`: columns, the torn-line
rule, the one reader), writing it (`writer`), reading it for people (`reader`, `stats`,
`nextsteps`), the job it belongs to (`meta`), and a job of its failed rows (`failedjob`).
Depends only on `worker.files` and `worker.core`."""

__all__: list[str] = []
