"""Reading Agyle Time's JSend envelope: ``{status, result, message, data}`` plus paging keys."""

from __future__ import annotations

import decimal
import re
from collections.abc import Iterable
from typing import Any
from weakref import WeakKeyDictionary

import requests

_BODIES: WeakKeyDictionary[requests.Response, Any] = WeakKeyDictionary()
_MAX_MESSAGE_CHARS = 300


def envelope(response: requests.Response) -> dict[str, Any]:
    """The parsed JSON body (parsed once per response; floats as Decimal, as the SDK does).

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
    """The error's ``message`` and ``code`` from a JSend error body, else a short excerpt."""
    try:
        body = envelope(response)
    except ValueError:
        text = re.sub(r"<[^>]+>", " ", response.text or "")
        text = " ".join(text.split())
        return text[:_MAX_MESSAGE_CHARS] or "(empty body)"
    message = str(body.get("message") or response.reason or "no message")[:_MAX_MESSAGE_CHARS]
    code = body.get("code") or body.get("result")
    return f"{message} (code {code})" if code not in (None, "", 0) else message


def next_page_token(body: dict[str, Any]) -> str | None:
    """``nextPageToken`` at the top level (documented) or inside an object ``data``."""
    token = body.get("nextPageToken")
    data = body.get("data")
    if token is None and isinstance(data, dict):
        token = data.get("nextPageToken")
    return str(token) if token not in (None, "") else None


def record_list(data: Any, key: str | None = None) -> Iterable[dict[str, Any]]:
    """The records of ``data``: a list, or the one list inside an object (or ``data[key]``).

    ``data`` null or an empty object is an empty page. Raises ValueError for any other
    shape, so a changed API fails loudly, not silently.
    """
    if data is None or data == {}:
        return []
    if isinstance(data, dict):
        if key is not None and isinstance(data.get(key), list):
            data = data[key]
        else:
            lists = [value for value in data.values() if isinstance(value, list)]
            if len(lists) != 1:
                msg = f"data is an object without one record list (keys: {sorted(data)[:10]})"
                raise ValueError(msg)
            data = lists[0]
    if not isinstance(data, list):
        msg = f"data is a {type(data).__name__}, expected a list of records"
        raise ValueError(msg)
    return [item for item in data if isinstance(item, dict)]
