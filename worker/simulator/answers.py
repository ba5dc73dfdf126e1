"""Canned HTTP answers of the simulated API, faults included (HTML pages, dropped links).

Bodies follow Partoo's documented shapes; where Partoo documents nothing (429, 5xx) they
are plausible guesses, and a client must not depend on them.
"""

from __future__ import annotations

import json
import socket
import struct
from typing import Any

from aiohttp import web

from .faults import Action, Decision
from .state import FORBIDDEN, NOT_FOUND

__all__ = ["NOT_FOUND", "SERVER_ERROR", "UNAUTHENTICATED", "drop_connection", "fault_answer",
           "json_answer", "problem_answer", "too_many_requests"]

UNAUTHENTICATED = {"errors": {"authentication": "User not authenticated"}}
SERVER_ERROR = {"errors": {"server": "Internal server error"}}
_RATE_LIMITED = {"errors": {"rate_limit": "Too many requests, slow down"}}
_HTML_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)


def json_answer(status: int, payload: Any) -> web.Response:
    return web.Response(status=status, text=json.dumps(payload), content_type="application/json")


def problem_answer(status: int) -> web.Response:
    """An RFC 9457 problem, as a gateway answers: the reason comes after a long `type`."""
    payload = {
        "type": "https://gateway.example.com/problems/request-validation-failed/"
                + "x" * 80,
        "title": "Invalid request",
        "status": status,
        "detail": "Your request parameters did not validate against the API's schema.",
        "validation": [{"in": "body", "path": "/status",
                        "message": "must be one of: open, closed (injected refusal)"}],
    }
    return web.Response(status=status, text=json.dumps(payload),
                        content_type="application/problem+json")


def too_many_requests(wait_s: int, header: str | None) -> web.Response:
    """429 with `Retry-After: wait_s`, or with `header` verbatim; "" sends no Retry-After."""
    response = json_answer(429, _RATE_LIMITED)
    if header is None:
        response.headers["Retry-After"] = str(wait_s)
    elif header:
        response.headers["Retry-After"] = header
    return response


def fault_answer(decision: Decision, retry_after_header: str | None,
                 problem_json: bool = False) -> web.Response | None:
    """The answer an injected "before" fault sends; None means drop the connection."""
    if decision.action is Action.RESET:
        return None
    if decision.action is Action.HTML:
        return web.Response(status=502, text=_HTML_502, content_type="text/html")
    status = decision.status or 500
    if status == 429:
        return too_many_requests(1, retry_after_header)
    if problem_json and 400 <= status < 500 and status != 401:
        return problem_answer(status)
    if status == 503:  # what a load balancer sends: no body at all
        return web.Response(status=503)
    canned = {401: UNAUTHENTICATED, 403: FORBIDDEN, 404: NOT_FOUND}
    if status in canned:
        return json_answer(status, canned[status])
    if status >= 500:
        return json_answer(status, SERVER_ERROR)
    return json_answer(status, {"error": {"json": f"Injected status {status}"}})


def drop_connection(request: web.Request) -> web.Response:
    """Close the TCP connection with no HTTP answer (the client sees a reset).

    SO_LINGER 0 makes close() send RST instead of FIN. The returned response is never
    sent: aiohttp finds the transport closing, treats it as a client disconnect and
    stops quietly (no error log).
    """
    transport = request.transport
    if transport is not None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    return web.Response(status=500)
