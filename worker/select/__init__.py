"""`select`: list conversations (`pager`), read them tolerantly (`listed`), keep those that
match (`filters`), give each its action (`target`), write the job (`pipeline`), and say
what it did (`result`).
"""

__all__: list[str] = []
