"""Next-page-token paging that refuses to loop, and page sizes as large as the API allows."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from urllib.parse import parse_qsl, urlencode, urlsplit

import requests
from singer_sdk.exceptions import FatalAPIError
from singer_sdk.pagination import BaseAPIPaginator
from typing_extensions import override

from singer_rest_toolkit.responses import request_label


class TokenPaginator(BaseAPIPaginator[str | None]):
    """Follows the API's next-page token, past an empty page that still has one, until it is
    absent or empty. A token sent twice in one listing is a loop: the stream stops loudly."""

    def __init__(
        self,
        stream_name: str,
        token_name: str,
        read_token: Callable[[requests.Response], str | None],
    ) -> None:
        super().__init__(None)
        self._stream_name = stream_name
        self._token_name = token_name
        self._read_token = read_token
        self._seen: set[str] = set()

    @override
    def get_next(self, response: requests.Response) -> str | None:
        token = self._read_token(response)
        if token is not None:
            if token in self._seen:
                msg = (
                    f"{self._stream_name}: the API sent the same {self._token_name} twice for "
                    f"{request_label(response)}; stopping instead of reading pages again"
                )
                raise FatalAPIError(msg)
            self._seen.add(token)
        return token

    @override
    def continue_if_empty(self, response: requests.Response) -> bool:
        return self._read_token(response) is not None


def query_value(url: str, name: str) -> str | None:
    """The value of query parameter ``name`` (any case) in ``url``; None when absent."""
    query = parse_qsl(urlsplit(url).query, keep_blank_values=True)
    return next((v for k, v in query if k.lower() == name.lower()), None)


def with_query_value(url: str, name: str, value: str) -> str:
    """``url`` with query parameter ``name`` (any case, spelled as sent) set to ``value``."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    replaced = [(k, value if k.lower() == name.lower() else v) for k, v in query]
    return parts._replace(query=urlencode(replaced)).geturl()


NUMBER = re.compile(r"(?<![\w.-])\d+(?![\w-]|\.\d)")
"""A number standing alone in a message (not the digits of an id such as ``req-759e4``)."""


class PageSize:
    """The page size one stream asks for, shared by its listings and worker threads.

    It starts at the largest size the endpoint documents (else a larger size worth trying)
    and only goes down: to what a 400 naming the page-size parameter allows (the largest
    smaller number the message gives, else half), or to a page's records when fewer than asked
    come with a next page (a silent cap). The first page served after that settles it, with
    one INFO line."""

    def __init__(self, stream_name: str, param: str, start: int, logger: logging.Logger) -> None:
        self.param = param  # the query parameter (``limit``, ``perPage``, ...)
        self.current = self._start = max(1, start)  # the size to ask for now
        self._stream_name = stream_name
        self._logger = logger
        self._settled = False
        self._lock = threading.Lock()
        self._asking = threading.local()

    def ask(self, sent: int | None = None) -> int:
        """The size a request being built asks for (the thread's :attr:`asked` from now):
        :attr:`current`, or ``sent`` (in the API's next-page URL) when smaller."""
        size = self._asking.size = self.current if sent is None else min(sent, self.current)
        return size

    def forget(self) -> None:
        """A request of the stream is being built: it asks for no page size unless it says so."""
        self._asking.size = None

    @property
    def asked(self) -> int | None:
        """The page size the calling thread's request asked for; None when not paged."""
        size: int | None = getattr(self._asking, "size", None)
        return size

    def refused(self, asked: int, message: str) -> bool:
        """A 400 saying ``message`` for a page of ``asked``: True, the size lowered, when the
        message names the page-size parameter and a smaller size is left to try."""
        named = self.param.lower() in re.findall(r"[a-z]+", message.lower())  # a whole word
        if not named or asked <= 1:
            return False
        with self._lock:
            if self.current >= asked:  # not yet lowered by another listing
                smaller = [n for n in map(int, NUMBER.findall(message)) if 0 < n < asked]
                self.current = max(smaller) if smaller else asked // 2
            return True

    def served(self, asked: int, records: int, more: bool) -> None:
        """A page of ``records`` for a request of ``asked`` (``more``: a next page follows);
        the first page that says something about the size settles it."""
        if self._settled:
            return
        capped = more and 0 < records < asked
        lowered = asked < self._start and asked == self.current
        if not (capped or (more and records >= asked) or lowered):
            return  # the last page of a short listing (or an empty one) tells nothing
        with self._lock:
            if self._settled:
                return
            if capped:
                self.current = min(self.current, records)
                why = f"the API serves at most {records} of the {asked} asked"
            elif lowered:
                why = f"the API refused {self._start}"
            else:
                why = "the largest the stream asks for"
            self._settled = True
        self._logger.info("%s: pages of %d records (%s)", self._stream_name, self.current, why)
