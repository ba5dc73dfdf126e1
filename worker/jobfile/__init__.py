"""Job files in and out: read a job (`reader`, `header`), count what it would send
(`plan`), the one writer of job files (`writer`). Depends only on `worker.files` and
`worker.core`."""

__all__: list[str] = []
