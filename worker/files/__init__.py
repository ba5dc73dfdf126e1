"""The files a run writes: their names (`runfiles`), written whole or not at all and never
through a link (`atomic`), the OS lock that keeps one run per report (`oslock`), and
scratch folders a killed process leaves only until the next one (`scratch`)."""

__all__: list[str] = []
