"""Sending: operations in, results out, in row order. No files: it gets operations and
hands back `Result`s.

- `engine`: the scheduler: a window of rows, one task per conversation chain, results
  emitted in row order (`InOrder`).
- `requester`: the one request path: one paced, retried, classified request, and the
  `Watcher` protocol the rules below watch it through.
- `row`: one row as a small state machine on the request path: guard read, change,
  read-back, and the row's `Result`.
- `retrypolicy`: when a request is tried again, and the `Tally` of what it spent.
- `ratelimit`: the rate meter (GCRA); `aimd`: the adaptive rate that 429s drive;
  `concurrency`: the gate that lets a row start.
- `watchers`: the rules that stop a run (breaker, no progress, the same refusals).
- `control`: the run's stop and the tasks it may cancel; `signals`: Ctrl-C and SIGTERM.
- `stack`: settings in, the sending stack and the client out, for every command.
"""

__all__: list[str] = []
