"""The files a run writes: their names (`runfiles`), written whole or not at all and never
through a link (`atomic`), the OS lock that keeps one run per report (`oslock`), scratch
folders a killed process leaves only until the next one (`scratch`), and the one owner
of the CSV dialect of the files people open (`csvdialect`)."""

__all__: list[str] = []
