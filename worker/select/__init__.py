"""`select`: list conversations (`pager`), read them tolerantly (`listed`), keep those that
match (`filters`), give each its action (`target`), and write the job (`pipeline`)."""

__all__: list[str] = []
