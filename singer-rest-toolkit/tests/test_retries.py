"""Retries: Retry-After in seconds or as an HTTP date, capped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import requests
from singer_sdk.exceptions import RetriableAPIError

from singer_rest_toolkit.exchange import MAX_RETRY_AFTER_S, retry_after_seconds


def test_retry_after_in_seconds_or_as_a_date() -> None:
    def error(value: str) -> RetriableAPIError:
        response = requests.Response()
        response.status_code = 429
        response.headers["Retry-After"] = value
        return RetriableAPIError("429", response)

    assert retry_after_seconds(error("2.5")) == 2.5
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 <= (retry_after_seconds(error(later)) or 0) <= 31
    assert retry_after_seconds(error("86400")) == MAX_RETRY_AFTER_S
    assert retry_after_seconds(error("soon")) is None
    assert retry_after_seconds(RetriableAPIError("no response")) is None
