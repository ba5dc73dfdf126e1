"""One run's orchestration, and the commands that read a run's changes back.

- `request`: what a run is asked (`RunRequest`) and hands back (`RunResult`).
- `runner`: a run end to end (`Run`); `canary`: `run --canary`, two parts and a check.
- `outputs`, `paths`: the files a run writes, checked before it starts; `sink`: where its
  results go; `undo`: the undo journal and job.
- `ask`: the confirmation, on the terminal; `progress`: progress on stderr; `summary`:
  the run's counts and its last line; `metrics`: `--metrics-out`.
- `verify`: read back what a report says was changed, and compare.
"""

__all__: list[str] = []
