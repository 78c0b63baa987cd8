"""Reading Amperity's bodies: the ``{data, next_token, total}`` envelope and the error body."""

from __future__ import annotations

import decimal
import re
from typing import Any
from weakref import WeakKeyDictionary

import requests

_BODIES: WeakKeyDictionary[requests.Response, Any] = WeakKeyDictionary()
_MAX_MESSAGE_CHARS = 300


def envelope(response: requests.Response) -> dict[str, Any]:
    """The parsed JSON body, parsed once per response (floats as Decimal, as the SDK does).

    Raises ValueError when the body is not a JSON object (HTML page, truncated JSON).
    """
    if response not in _BODIES:
        _BODIES[response] = response.json(parse_float=decimal.Decimal)
    body = _BODIES[response]
    if not isinstance(body, dict):
        msg = "the response body is not a JSON object"
        raise ValueError(msg)
    return body


def vendor_message(response: requests.Response) -> str:
    """``message`` plus ``request_id``/``trace_id`` of an error body, else a short excerpt."""
    try:
        body = envelope(response)
    except ValueError:
        text = " ".join(re.sub(r"<[^>]+>", " ", response.text or "").split())
        return text[:_MAX_MESSAGE_CHARS] or "(empty body)"
    message = str(body.get("message") or response.reason or "no message")[:_MAX_MESSAGE_CHARS]
    ids = [f"{key} {body[key]}" for key in ("request_id", "trace_id") if body.get(key)]
    return f"{message} ({', '.join(ids)})" if ids else message


def next_token(body: dict[str, Any]) -> str | None:
    """The cursor of the next page; None when absent, null or empty (all mean "last page")."""
    token = body.get("next_token")
    return str(token) if token not in (None, "") else None
