"""Reading a response: its JSON body parsed once, and a short excerpt of a body that is not."""

from __future__ import annotations

import decimal
import re
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit
from weakref import WeakKeyDictionary

import msgspec
import requests

from singer_rest_toolkit.sdk_internals.record_loop import forget_body

MAX_MESSAGE_CHARS = 300
_BODIES: WeakKeyDictionary[requests.Response, Any] = WeakKeyDictionary()
_DECODER = msgspec.json.Decoder(float_hook=decimal.Decimal)  # numbers as the SDK reads them
_OUTLINE = msgspec.json.Decoder(dict[str, msgspec.Raw] | list[msgspec.Raw])
_ROWS = msgspec.json.Decoder(list[msgspec.Raw])
_UTF8 = frozenset(("utf-8", "utf8"))
_parsed = threading.local()  # per thread: bytes of the bodies it parsed (what a fetch ahead holds)


def bytes_parsed() -> int:
    """Bytes of the response bodies this thread has parsed so far."""
    total: int = getattr(_parsed, "total", 0)
    return total


def json_body(response: requests.Response, records_key: str | None = None) -> Any:
    """The parsed JSON body, parsed once per response (validation, parsing and paging all read
    it, possibly in a worker thread). ValueError when it is not JSON (HTML, cut short).

    With ``records_key``, the records (that key's list, or the body when it is a list) stay
    JSON text (``msgspec.Raw``) until :func:`each_record` reads them: a page of parsed records,
    about three times its body, is never held whole."""
    try:
        return _BODIES[response]
    except KeyError:
        body = _BODIES[response] = parse_json(response, records_key)
        _parsed.total = bytes_parsed() + len(response.content)
        return body


def parse_json(response: requests.Response, records_key: str | None = None) -> Any:
    """The body as ``response.json(parse_float=Decimal)`` reads it, by msgspec when it is UTF-8;
    what msgspec refuses (``NaN``, a lone surrogate, a byte order mark) goes to requests.
    With ``records_key``, the records are left as JSON text (see :func:`json_body`)."""
    if (response.encoding or "utf-8").lower() in _UTF8:
        try:
            if records_key is not None and _is_utf8(response.content):
                return _with_raw_records(_OUTLINE.decode(response.content), records_key)
            return _DECODER.decode(response.content)
        except msgspec.DecodeError:
            pass
    return response.json(parse_float=decimal.Decimal)


def _is_utf8(content: bytes) -> bool:
    """msgspec checks UTF-8 only in what it parses: a body that is not UTF-8 is parsed whole,
    so it is refused or read (by version) before any record, as a whole parse does."""
    if content.isascii():
        return True
    try:
        content.decode()
    except UnicodeDecodeError:
        return False
    return True


def _with_raw_records(outline: dict[str, msgspec.Raw] | list[msgspec.Raw], key: str) -> Any:
    """The body parsed but for its records: the list under ``key``, or the body if a list."""
    if isinstance(outline, list):
        return outline
    return {
        name: _raw_list(value) if name == key else _DECODER.decode(value)
        for name, value in outline.items()
    }


def _raw_list(value: msgspec.Raw) -> Any:
    try:
        return _ROWS.decode(value)
    except msgspec.ValidationError:  # not a list: parsed as it is
        return _DECODER.decode(value)


def each_record(records: Any) -> Iterator[dict[str, Any]]:
    """The JSON objects among a page's ``records`` (a list, else none), each parsed as it is
    read when :func:`json_body` left it as JSON text."""
    for record in records if isinstance(records, list) else ():
        value = _DECODER.decode(record) if isinstance(record, msgspec.Raw) else record
        if isinstance(value, dict):
            yield value


def json_object(response: requests.Response) -> dict[str, Any]:
    """:func:`json_body`, which must be a JSON object (else ValueError)."""
    body = json_body(response)
    if not isinstance(body, dict):
        msg = "the response body is not a JSON object"
        raise ValueError(msg)
    return body


def keep_only(response: requests.Response, rest: Any) -> None:
    """Keep only ``rest`` of a page's body (what paging still reads) once its records are
    taken: the page is not held in memory while the next one is fetched."""
    _BODIES[response] = rest
    forget_body(response)


def take_records(response: requests.Response, key: str) -> Any:
    """``key`` of the page's JSON object (the body itself when it is not an object); the body
    then keeps only the rest, what paging still reads (:func:`keep_only`)."""
    body = json_body(response)
    if isinstance(body, dict):
        keep_only(response, {k: v for k, v in body.items() if k != key})
        return body.get(key)
    keep_only(response, [])
    return body


def request_label(response: requests.Response) -> str:
    """``GET /path`` of the request behind ``response`` (never its query string)."""
    method = response.request.method if response.request is not None else "GET"
    return f"{method} {urlsplit(response.url).path}"


def body_excerpt(response: requests.Response) -> str:
    """The start of a body that is not JSON, tags removed (an HTML error page)."""
    text = " ".join(re.sub(r"<[^>]+>", " ", response.text or "").split())
    return text[:MAX_MESSAGE_CHARS] or "(empty body)"


def not_json_reason(response: requests.Response, error: ValueError) -> str:
    """Why a body is not JSON: an HTML page, an empty body, or a body cut short or garbled."""
    if "html" in response.headers.get("Content-Type", "") or response.content.lstrip()[:1] == b"<":
        return f"an HTML page ({body_excerpt(response)[:80]})"
    if not response.content.strip():
        return "an empty body"
    return f"cut short or garbled after {len(response.content):,} bytes ({str(error)[:80]})"


def error_message(
    response: requests.Response,
    *,
    message_keys: tuple[str, ...] = ("message",),
    id_keys: tuple[str, ...] = (),
) -> str:
    """``message (request_id x, trace_id y)`` of an error body, or an excerpt of one not JSON."""
    try:
        body = json_object(response)
    except ValueError:
        return body_excerpt(response)
    found = next((body[key] for key in message_keys if body.get(key)), None)
    message = str(found or response.reason or "no message")[:MAX_MESSAGE_CHARS]
    ids = [f"{key} {body[key]}" for key in id_keys if body.get(key) not in (None, "", 0)]
    return f"{message} ({', '.join(ids)})" if ids else message
