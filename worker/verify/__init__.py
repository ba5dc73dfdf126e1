"""Reading a run's changes back: does each conversation now show what the report says?
Used by `partoo-bulk verify` and by the canary (`worker.run.canary`)."""

__all__: list[str] = []
