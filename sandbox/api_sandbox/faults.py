"""Faults the sandbox injects on request, so tests can play a hostile API.

A fault matches one vendor and, optionally, a regular expression searched in the request
path (below the vendor prefix). It lets ``skip`` matching requests through, then hits the
next ``count`` ones. Response-level kinds are applied by the middleware; page-level kinds
(``repeat_page_token``, ``empty_page``) are handed to the vendor's paging code through
``request[PAGE_FAULT]``. ``set_field`` rewrites the records of a good answer: the API adds a
field (undeclared by the taps) or changes one. ``trickle`` sends a good answer a byte at a
time; ``redirect`` sends the request to the same URL on ``target`` (another host, e.g. a
:class:`~api_sandbox.testing.RequestRecorder`) or, without one, on the sandbox itself.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from aiohttp import web

FaultKind = Literal[
    "status",  # reply `status` (429, 500, 502, ...) with the vendor's error body
    "slow",  # wait `delay_s` before answering (past the client's timeout)
    "reset",  # send headers and half a body, then drop the connection
    "truncate",  # 200 with a JSON body cut short
    "html",  # 200 with an HTML error page instead of JSON
    "expire_tokens",  # every token issued so far stops working (401 until re-auth)
    "revoke",  # 401 on matching calls, tokens voided; fresh tokens refused while it lasts
    "repeat_page_token",  # the page's next token equals the one just sent
    "empty_page",  # an empty page that still points to a next page
    "set_field",  # every record of the answer gets `key` = `value` (added if new)
    "trickle",  # the good answer, one byte every `interval_s` (headers at once)
    "redirect",  # reply `status` (301, 302, 303, 307, 308) to the same URL on `target`
]
REDIRECTS = (301, 302, 303, 307, 308)
FAULT_KINDS: tuple[str, ...] = FaultKind.__args__  # type: ignore[attr-defined]
PAGE_FAULT: web.RequestKey[str] = web.RequestKey("api_sandbox.page_fault", str)


@dataclass
class Fault:
    """One fault rule."""

    vendor: str
    kind: str
    path: str = ""
    count: int = 1
    skip: int = 0
    status: int = 500
    retry_after: float | None = None
    delay_s: float = 5.0
    key: str = ""
    value: Any = None
    interval_s: float = 1.0
    target: str = ""
    """Scheme, host and port a redirect sends to (empty: the sandbox itself)."""
    hits: int = field(default=0)

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            msg = f"unknown fault kind {self.kind!r}; expected one of {', '.join(FAULT_KINDS)}"
            raise ValueError(msg)
        if self.kind == "set_field" and not self.key:
            msg = "a set_field fault needs the record field to set: key=<name>"
            raise ValueError(msg)
        if self.kind == "redirect" and self.status not in REDIRECTS:
            msg = f"a redirect fault needs status= one of {', '.join(map(str, REDIRECTS))}"
            raise ValueError(msg)
        self._pattern = re.compile(self.path) if self.path else None

    @property
    def exhausted(self) -> bool:
        """True once the fault hit all the requests it was meant for (count < 0: never)."""
        return 0 <= self.count <= self.hits

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description."""
        return asdict(self)

    @classmethod
    def parse(cls, text: str) -> Fault:
        """Parse the CLI form ``vendor=amilia,kind=status,status=429,count=3,retry_after=1``."""
        fields: dict[str, Any] = {}
        for part in text.split(","):
            key, sep, value = part.partition("=")
            if not sep:
                msg = f"fault {text!r}: expected key=value pairs separated by commas"
                raise ValueError(msg)
            fields[key.strip()] = value.strip()
        return cls.from_dict(fields)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fault:
        """Build from JSON or CLI fields, converting numbers."""
        converters = {
            "count": int,
            "skip": int,
            "status": int,
            "retry_after": float,
            "delay_s": float,
            "interval_s": float,
        }
        known = {"vendor", "kind", "path", "key", "value", "target", *converters}
        unknown = set(data) - known
        if unknown:
            msg = f"unknown fault field(s): {', '.join(sorted(unknown))}"
            raise ValueError(msg)
        values = {
            k: (converters[k](v) if k in converters and v is not None else v)
            for k, v in data.items()
        }
        return cls(**values)


def set_field(body: Any, key: str, value: Any) -> int:
    """Set ``key`` to ``value`` in every record of a vendor's JSON answer; the count set.

    Records are the objects of the answer's list: the body itself, or a list directly under
    its top level (Amilia's ``Items``, Amperity's and Agyle Time's ``data``).
    """
    lists = [body] if isinstance(body, list) else []
    if isinstance(body, dict):
        lists = [v for v in body.values() if isinstance(v, list)]
    records = [r for records in lists for r in records if isinstance(r, dict)]
    for record in records:
        record[key] = value
    return len(records)


async def trickle(
    request: web.Request, good: web.StreamResponse, interval_s: float
) -> web.StreamResponse:
    """``good`` with its whole length announced, its body sent one byte every ``interval_s``
    until done or until the client gives up."""
    body = good.body if isinstance(good, web.Response) and isinstance(good.body, bytes) else b"{}"
    response = web.StreamResponse(status=good.status, headers={"Content-Type": "application/json"})
    response.content_length = len(body)
    await response.prepare(request)
    try:
        for index in range(len(body)):
            await response.write(body[index : index + 1])
            await asyncio.sleep(interval_s)
    except ConnectionError:  # the client hung up: its deadline passed
        return response
    await response.write_eof()
    return response


class FaultBook:
    """The active faults of one server. The server is single-threaded asyncio: no lock."""

    def __init__(self) -> None:
        self.faults: list[Fault] = []
        self.passed: dict[int, int] = {}

    def add(self, fault: Fault) -> None:
        """Arm a fault."""
        self.faults.append(fault)

    def clear(self) -> None:
        """Disarm every fault."""
        self.faults.clear()
        self.passed.clear()

    def take(self, vendor: str, path: str) -> Fault | None:
        """The fault that hits this request, if any, counting the hit."""
        for fault in self.faults:
            if fault.vendor != vendor or fault.exhausted:
                continue
            if fault._pattern is not None and not fault._pattern.search(path):
                continue
            seen = self.passed.get(id(fault), 0)
            if seen < fault.skip:
                self.passed[id(fault)] = seen + 1
                continue
            fault.hits += 1
            return fault
        return None
