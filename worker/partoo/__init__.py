"""The Partoo HTTP seam: one request, one classification. The only package that knows
aiohttp's exceptions; it translates them into `worker.core.errors`.

- `client`: one request to Partoo (`PartooClient`), and the session it goes through.
- `answers`: what a status and a body mean (the classification); `reason`: the reason a
  server gave, from the JSON shapes it comes in.
- `preflight`: the reachability check before the first request.
- `tls`: the TLS context: the system's trust store and the company's CAs.
"""

__all__: list[str] = []
