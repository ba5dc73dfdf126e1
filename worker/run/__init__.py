"""One run's orchestration: start (`outputs`), send (`runner` drives
`worker.sending`), keep what is done (`ahead`, `undo`), stop (`signals`), tell (`progress`,
`summary`); and `verify`, which reads a run's changes back."""

__all__: list[str] = []
