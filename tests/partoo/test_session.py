"""`open_session` switches off aiohttp's silent re-send of a GET on a dead kept-alive
connection through a private attribute, `ClientSession._retry_connection`: these tests
fail, loudly, on an aiohttp that renamed it or changed what a fresh session has.
pyproject's range for aiohttp holds only the releases they pass on (3.11.0 to 3.14.5,
below 4), and tests/e2e/test_packaging.py keeps the range so."""

from __future__ import annotations

import aiohttp

from worker.partoo.client import open_session


async def test_a_fresh_aiohttp_session_has_the_re_send_switch_on():
    async with aiohttp.ClientSession() as session:
        assert hasattr(session, "_retry_connection"), (
            f"aiohttp {aiohttp.__version__} has no ClientSession._retry_connection: "
            "open_session cannot stop its silent re-sends; see what replaced it, then "
            "update open_session and pyproject's aiohttp range")
        assert session._retry_connection is True


async def test_our_session_never_sends_a_request_again_by_itself():
    async with open_session(4, 5.0, tls=False) as session:
        assert session._retry_connection is False

