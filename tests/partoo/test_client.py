"""Classification at the HTTP seam, with aioresponses standing in for the network."""

from __future__ import annotations

import email.utils
import json
from unittest import mock

import aiohttp
import pytest
from aioresponses import CallbackResult, aioresponses
from pydantic import SecretStr

from helpers import SECRET
from worker.core.errors import (
    NetworkError,
    RateLimited,
    Rejected,
    ServerError,
    Unauthorized,
    Unexpected,
)
from worker.core.operations import Action, Operation
from worker.partoo.answers import parse_retry_after
from worker.partoo.client import PartooClient

BASE = "https://api.example.test/v2"
URL = f"{BASE}/conversations/42"


@pytest.fixture
async def client():
    async with aiohttp.ClientSession() as session:
        yield PartooClient(session, BASE, SecretStr(SECRET), 5.0)


def op(action=Action.CLOSE, value=""):
    return Operation(row=1, conversation_id=42, action=action, value=value)


@pytest.mark.aioresponses
async def test_success_sends_one_field_with_the_key_and_json(client):
    with aioresponses() as m:
        m.patch(URL, payload={"status": "success"})
        assert await client.update(op(Action.ASSIGN, "62d80fae74e8b11d700302b8")) == 200
        (_key, calls), = m.requests.items()
        kwargs = calls[0].kwargs
    assert json.loads(kwargs["data"]) == {"assigned_user_id": "62d80fae74e8b11d700302b8"}
    assert kwargs["headers"]["Content-Type"] == "application/json"  # or Partoo says 415
    assert kwargs["headers"]["x-APIKey"] == SECRET
    assert kwargs["allow_redirects"] is False


@pytest.mark.aioresponses
@pytest.mark.parametrize(("action", "body"), [
    (Action.CLOSE, {"status": "closed"}), (Action.OPEN, {"status": "open"}),
    (Action.UNASSIGN, {"assigned_user_id": "unassigned"})])
async def test_bodies_hold_exactly_one_field(client, action, body):
    with aioresponses() as m:
        m.patch(URL, payload={"status": "success"})
        await client.update(op(action))
        (calls,) = m.requests.values()
    assert json.loads(calls[0].kwargs["data"]) == body


@pytest.mark.aioresponses
@pytest.mark.parametrize("body", ["<html><body>Welcome to the hotel wifi</body></html>", "",
                                  '{"status": "ok"}', "[]", "success"])
async def test_a_200_that_is_not_the_success_answer_is_unexpected(client, body):
    with aioresponses() as m:
        m.patch(URL, status=200, body=body)
        with pytest.raises(Unexpected) as err:
            await client.update(op())
    assert "PARTOO_BASE_URL" in err.value.message and err.value.http_status == 200


@pytest.mark.aioresponses
async def test_a_redirect_is_not_followed(client):
    with aioresponses() as m:
        m.patch(URL, status=301, headers={"Location": "https://evil.example/steal"})
        with pytest.raises(Unexpected) as err:
            await client.update(op())
        assert len(m.requests) == 1  # nothing went to evil.example
    assert "redirect to evil.example not followed" in err.value.message


@pytest.mark.aioresponses
async def test_401_is_unauthorized_and_says_to_check_the_key(client):
    with aioresponses() as m:
        m.patch(URL, status=401, payload={"errors": {"authentication": "User not authenticated"}})
        with pytest.raises(Unauthorized) as err:
            await client.update(op())
    assert "check PARTOO_API_KEY" in err.value.message
    assert "User not authenticated" in err.value.message


@pytest.mark.aioresponses
@pytest.mark.parametrize(("status", "payload", "text"), [
    (403, {"errors": {"authorization": "Operation not allowed"}},
     "403 authorization: Operation not allowed"),
    (404, {"error": {"json": "Resource not found"}}, "404 Resource not found"),
    (400, {"error": {"json": {"assigned_user_id": "user not found"}}},
     "400 assigned_user_id: user not found"),
    (409, {"weird": True}, '409 {"weird": true}'),
])
async def test_client_errors_are_rejected_with_the_apis_text(client, status, payload, text):
    with aioresponses() as m:
        m.patch(URL, status=status, payload=payload)
        with pytest.raises(Rejected) as err:
            await client.update(op())
    assert err.value.message == text and err.value.http_status == status


@pytest.mark.aioresponses
async def test_429_carries_retry_after(client):
    with aioresponses() as m:
        m.patch(URL, status=429, headers={"Retry-After": "30"})
        with pytest.raises(RateLimited) as err:
            await client.update(op())
    assert err.value.retry_after_s == 30


@pytest.mark.aioresponses
@pytest.mark.parametrize(("status", "body", "fragment"), [
    (502, "<!DOCTYPE html><html>Bad gateway</html>", "an HTML page"),
    (500, "", "empty body"), (503, "upstream down", "not JSON: upstream down")])
async def test_5xx_is_transient(client, status, body, fragment):
    with aioresponses() as m:
        m.patch(URL, status=status, body=body)
        with pytest.raises(ServerError) as err:
            await client.update(op())
    assert fragment in err.value.message and err.value.http_status == status


@pytest.mark.aioresponses
async def test_connection_errors_and_timeouts_are_transient(client):
    import errno

    with aioresponses() as m:
        m.patch(URL, exception=aiohttp.ServerDisconnectedError())
        m.patch(URL, exception=TimeoutError())
        m.patch(URL, exception=aiohttp.ClientPayloadError("cut"))
        m.patch(URL, exception=aiohttp.ClientOSError(errno.ECONNRESET,
                                                     "Connection reset by peer"))
        for fragment in ("without an answer", "timeout", "cut short",
                         r"broke before an answer came \(connection reset by peer; it may"):
            with pytest.raises(NetworkError, match=fragment) as err:
                await client.update(op())
            assert err.value.may_have_applied


@pytest.mark.aioresponses
async def test_a_connection_never_made_changed_nothing(client):
    with aioresponses() as m:
        m.patch(URL, exception=aiohttp.ClientConnectorError(
            mock.Mock(host="api.example.test", port=443, ssl=True),
            ConnectionRefusedError(111, "Connection refused")))
        with pytest.raises(NetworkError, match="connection refused") as err:
            await client.update(op())
    assert not err.value.may_have_applied


@pytest.mark.aioresponses
async def test_the_key_is_in_no_error_and_no_repr(client):
    def echo_key(url, **kwargs):
        return CallbackResult(status=400, payload={"error": {"json": "bad"}})

    with aioresponses() as m:
        m.patch(URL, callback=echo_key)
        with pytest.raises(Rejected) as err:
            await client.update(op())
    assert SECRET not in str(err.value) and SECRET not in repr(err.value)
    assert SECRET not in repr(client)


@pytest.mark.parametrize(("header", "expected"), [
    ("120", 120.0), ("0", 0.0), ("1.5", 1.5), (None, None), ("soon", None), ("-5", None),
    ("nan", None), ("inf", None),
    ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # a date in the past: go now
])
def test_parse_retry_after(header, expected):
    assert parse_retry_after(header) == expected


def test_parse_retry_after_http_date_in_the_future():
    future = email.utils.formatdate(1_000_000 + 90, usegmt=True)
    assert parse_retry_after(future, now=1_000_000) == pytest.approx(90, abs=1)


# --- a GET is this conversation's answer, or a failed read (issue 31 item 4) ---------------

def conversation(**fields):
    return {"is_solved": False, "is_expired": False, "assigned_user_id": None, **fields}


@pytest.mark.aioresponses
@pytest.mark.parametrize("answer", [
    conversation(id=42), {"conversation": conversation(id=42)},
    conversation(id="42"),  # a string of its digits, as business.id is sometimes
])
async def test_a_conversations_own_answer_is_its_state(client, answer):
    with aioresponses() as m:
        m.get(URL, payload=answer)
        state = await client.read_conversation(42)
    assert not state.is_solved and state.assignee is None


@pytest.mark.aioresponses
@pytest.mark.parametrize(("answer", "said"), [
    (conversation(id=41, is_solved=True), "answered conversation 41 instead"),
    ({"conversation": conversation(id=7)}, "answered conversation 7 instead"),
    (conversation(id="41"), "answered conversation '41' instead"),
    (conversation(id=True), "answered conversation True instead"),
    (conversation(id=42.0), "answered conversation 42.0 instead"),
    (conversation(id="x" * 500 + "\x1b[2J"), "answered conversation 'xxxx"),
    (conversation(), "a conversation without an id (Partoo always sends it)"),
])
async def test_another_conversations_answer_is_a_failed_read_never_a_state(
        client, answer, said):
    with aioresponses() as m:
        m.get(URL, payload=answer)
        with pytest.raises(Unexpected) as err:
            await client.read_conversation(42)
    message = err.value.message
    assert message.startswith("GET /conversations/42 ") and said in message
    assert "check PARTOO_BASE_URL and the proxy" in message
    assert err.value.http_status == 200 and not err.value.may_have_applied
    assert len(message) < 400 and "\x1b" not in message  # a server's id, quoted short


@pytest.mark.aioresponses
async def test_a_wrong_id_answer_never_carries_the_key(client):
    with aioresponses() as m:
        m.get(URL, payload=conversation(id=f"{SECRET}"))
        with pytest.raises(Unexpected) as err:
            await client.read_conversation(42)
    assert SECRET not in str(err.value) and "**********" in err.value.message
