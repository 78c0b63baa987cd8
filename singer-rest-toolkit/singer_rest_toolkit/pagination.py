"""Next-page-token paging that refuses to loop."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import requests
from singer_sdk.exceptions import FatalAPIError
from singer_sdk.pagination import BaseAPIPaginator
from typing_extensions import override


class TokenPaginator(BaseAPIPaginator[str | None]):
    """Follows the API's next-page token: stops when it is absent or empty, and goes on past
    an empty page that still has one.

    A token the API already sent during this listing means a loop: the stream stops loudly
    rather than read pages twice or forever.
    """

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
                    f"GET {urlsplit(response.url).path}; stopping instead of reading pages again"
                )
                raise FatalAPIError(msg)
            self._seen.add(token)
        return token

    @override
    def continue_if_empty(self, response: requests.Response) -> bool:
        return self._read_token(response) is not None
