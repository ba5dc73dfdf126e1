"""Job files in and out: read a job (`reader`, `header`), count what it would send
(`plan`), write one atomically (`writer`). Depends only on `worker.core`."""

__all__: list[str] = []
