"""The HTTP session of every request a tap sends: an overall deadline per request, connection
failures that no retry can heal reported at once, no credential redirected to another host.

urllib3's ``Timeout(total=...)`` bounds connecting and the wait for the answer, but then each
read only by itself: a server sending one byte a second would hold a request for ever. So the
body is read one system call at a time (``read1``), each given what is left of the deadline as
its socket timeout: no watcher thread, and a shutdown waits no longer than the deadline either.
(Headers are read by http.client, each read bounded only by the time left when awaited.)"""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from singer_sdk.exceptions import FatalAPIError
from typing_extensions import override
from urllib3 import Timeout
from urllib3.exceptions import NameResolutionError, NewConnectionError, ReadTimeoutError

READ_BYTES = 64 * 1024  # at most, per system call of a body
MAX_REDIRECTS = 10
DEFAULT_PORTS = {"http": 80, "https": 443}
BODY_HEADERS = ("Content-Length", "Content-Type", "Transfer-Encoding")


class UnreachableError(requests.RequestException):
    """A connection no retry heals (refused, unknown host, a failed TLS handshake): one line."""

    def __init__(self, reason: str, request: requests.PreparedRequest) -> None:
        super().__init__(reason, request=request)
        self.reason = reason


class RedirectRefusedError(FatalAPIError):
    """A redirect to another host: every request of a tap carries a credential (a header, a
    token request's body or its Basic auth), which must not reach that host."""


def host_of(url: str) -> str:
    """``host:port`` of ``url`` (never ``user:password@``)."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or DEFAULT_PORTS.get(parts.scheme, '')}"


def ssl_error_in(exc: BaseException) -> ssl.SSLError | None:
    """The ssl module's error behind ``exc`` (requests wraps urllib3's MaxRetryError, whose
    ``reason`` is the connection's error, which may wrap it)."""
    seen: Any = exc
    for _ in range(4):
        if isinstance(seen, ssl.SSLError):
            return seen
        seen = getattr(seen, "reason", None) or next(iter(getattr(seen, "args", ())), None)
    return None


def unreachable(exc: requests.ConnectionError) -> str | None:
    """Why ``exc`` can never succeed on a retry, or None when it might (a reset, a timeout)."""
    if isinstance(exc, requests.exceptions.SSLError):
        tls = ssl_error_in(exc)
        detail = str(tls.reason or tls.strerror or "") if tls is not None else ""
        return f"TLS handshake failed: {detail.lower().replace('_', ' ') or 'no TLS on that port?'}"
    reason = getattr(exc.args[0] if exc.args else None, "reason", None)
    if isinstance(reason, NameResolutionError):
        return "unknown host"
    if isinstance(reason, NewConnectionError):
        errno_text = str(reason).rsplit("] ", 1)[-1] if "] " in str(reason) else ""
        return errno_text.strip().lower() or "connection failed"
    return None


@dataclass(eq=False)  # hashed by identity, as the response it wraps
class DeadlineBody:
    """A urllib3 response whose body is streamed under the request's deadline."""

    _raw: Any
    _deadline: float
    _request: requests.PreparedRequest

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)

    def stream(self, amt: int = READ_BYTES, decode_content: bool | None = None) -> Iterator[bytes]:
        """What requests reads a body with: one system call per chunk, each ending by the
        deadline; past it the connection is closed and the request times out."""
        raw = self._raw
        while (left := self._deadline - time.monotonic()) > 0:
            connection = raw.connection  # None once the whole body is buffered
            if connection is not None and connection.sock is not None:
                connection.sock.settimeout(left)
            try:
                chunk = raw.read1(min(amt, READ_BYTES), decode_content=decode_content)
            except ReadTimeoutError:
                break
            if not chunk:
                return
            yield chunk
        raw.close()  # a body cut short cannot go back to the pool
        msg = "the whole answer did not arrive within request_timeout"  # no URL: its query
        raise requests.exceptions.ReadTimeout(msg, request=self._request)


class DeadlineAdapter(HTTPAdapter):
    """Sends with ``Timeout(total=...)`` and streams the body under the same deadline."""

    @override
    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: bool | str = True,
        cert: Any = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        if isinstance(timeout, tuple):  # (connect, read): the whole request may take both
            timeout = sum(part for part in timeout if part is not None)
        if not isinstance(timeout, int | float):  # none, or urllib3's own Timeout
            return super().send(request, stream, timeout, verify, cert, proxies)
        deadline = time.monotonic() + timeout
        total: Any = Timeout(total=timeout)  # requests hands it to urllib3 as it is
        try:
            response = super().send(request, True, total, verify, cert, proxies)
        except requests.ConnectionError as exc:
            reason = unreachable(exc)
            if reason is None:
                raise
            raise UnreachableError(reason, request) from exc
        response.raw = DeadlineBody(response.raw, deadline, request)
        return response


class TapSession(requests.Session):
    """A session whose requests end by their deadline and follow redirects on their own host
    only, keeping the method and body (RFC 9110 allows it for 301 and 302: a token POST turned
    into a GET would lose its credentials and look refused); 303 becomes a GET."""

    def __init__(self) -> None:
        super().__init__()
        self.max_redirects = MAX_REDIRECTS
        adapter = DeadlineAdapter()
        self.mount("https://", adapter)
        self.mount("http://", adapter)

    @override
    def rebuild_method(
        self, prepared_request: requests.PreparedRequest, response: requests.Response
    ) -> None:
        if response.status_code == requests.codes.see_other and prepared_request.method != "HEAD":
            prepared_request.method = "GET"

    @override
    def rebuild_auth(
        self, prepared_request: requests.PreparedRequest, response: requests.Response
    ) -> None:
        """Refuse a redirect to another origin; keep the body requests drops from a 301/302."""
        sent = response.request
        source, target = str(sent.url), str(prepared_request.url)
        # The origin: scheme too (an https request redirected to http changes it).
        if (urlsplit(target).scheme, host_of(target)) != (urlsplit(source).scheme, host_of(source)):
            msg = (
                f"refused a redirect (HTTP {response.status_code}) of {sent.method} "
                f"{urlsplit(source).path} from {host_of(source)} to {host_of(target)}: "
                "the request carries credentials, which stay with their host"
            )
            raise RedirectRefusedError(msg)
        if response.status_code != requests.codes.see_other:
            prepared_request.body = sent.body
            kept = {name: sent.headers[name] for name in BODY_HEADERS if name in sent.headers}
            prepared_request.headers.update(kept)
