from worker.cli import program

raise SystemExit(program())
