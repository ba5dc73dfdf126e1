"""The reason a server gave for an answer, from the JSON shapes it comes in, whole.

- Partoo's own: `{"errors": ...}` or `{"error": ...}` (both occur), a text, or a dict of
  field -> text(s), nested (`{"error": {"json": {"status": ["Not a valid choice."]}}}`).
- RFC 9457 problem+json, what API gateways and mock servers answer with: `title` (the
  kind), `detail` (this occurrence), and often a list, `errors[]` or `validation[]`,
  whose items carry a `message` or a `detail` and where it applies (`pointer`, `field`).
  The reason is in `detail` and the list; `title` alone says little.
- `{"message": ...}`, the shape of many other APIs and proxies.

The text is what matters to the operator reading a failed row, so it is kept whole, up
to `MAX_REASON` characters (past that, a list of hundreds of items is cut at the end).
"""

from __future__ import annotations

from typing import Any

__all__ = ["MAX_REASON", "reason"]

MAX_REASON = 2000
_PLACES = ("pointer", "field", "name", "path", "loc", "parameter")
_TEXTS = ("message", "detail", "msg", "title", "reason")


def reason(parsed: Any) -> str:
    """The server's reason in a parsed JSON answer; "" when it gives none."""
    if not isinstance(parsed, dict):
        return ""
    if "title" in parsed or "detail" in parsed:
        text = _problem(parsed)
    elif "errors" in parsed or "error" in parsed:
        text = _flatten(parsed.get("errors", parsed.get("error")))
    else:
        text = _text(parsed.get("message"))
    return text if len(text) <= MAX_REASON else text[:MAX_REASON] + "…"


def _problem(problem: dict[str, Any]) -> str:
    """`title: detail: item; item`, each part only when it says something new."""
    parts: list[str] = []
    for key in ("title", "detail"):
        text = _text(problem.get(key))
        if text and not any(text in p for p in parts):
            parts.append(text)
    items = [_item(i) for key in ("validation", "errors", "invalid_params")
             if isinstance(problem.get(key), list) for i in problem[key]]
    listed = "; ".join(i for i in items if i)
    text = ""
    for part in parts + ([listed] if listed else []):
        # "Invalid request: The body did not validate. /status: must be ..."
        text += (" " if text.endswith((".", ":", ";")) else ": " if text else "") + part
    return text


def _item(item: Any) -> str:
    if not isinstance(item, dict):
        return _flatten(item)
    text = next((_text(item[k]) for k in _TEXTS if _text(item.get(k))), "")
    if not text:
        return _flatten(item)
    place = next((_text(item[k]) for k in _PLACES if _text(item.get(k))), "")
    return f"{place}: {text}" if place and place not in text else text


def _flatten(detail: Any) -> str:
    if isinstance(detail, dict):
        parts = []
        for key, value in detail.items():
            text = _flatten(value)
            parts.append(text if key == "json" else f"{key}: {text}")
        return "; ".join(parts)
    if isinstance(detail, list):
        return "; ".join(_item(v) for v in detail)
    return "" if detail is None else str(detail)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list):  # a `loc` of pydantic: ["body", "status"]
        return ".".join(str(v) for v in value)
    return "" if value is None or isinstance(value, dict) else str(value)
