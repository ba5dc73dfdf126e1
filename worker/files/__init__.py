"""The files a run writes: their names (`runfiles`), written whole or not at all and never
through a link (`atomic`), and the OS lock that keeps one run per report (`oslock`)."""

__all__: list[str] = []
