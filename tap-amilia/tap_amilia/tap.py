"""tap-amilia: settings, their checks, the authenticator and the stream list."""

from __future__ import annotations

import re
from functools import cached_property
from typing import ClassVar

from singer_sdk import typing as th
from typing_extensions import override

from singer_rest_toolkit import RenewingAuthenticator, RestTap
from singer_rest_toolkit.config import (
    check_pattern,
    check_url,
    end_date_setting,
    invalid,
    is_set,
    request_settings,
)
from tap_amilia.auth import auth_mode, authenticator_for
from tap_amilia.client import DEFAULT_API_URL, AmiliaStream
from tap_amilia.streams import STREAM_TYPES

DEFAULT_PARALLEL_REQUESTS = 25
"""Enough in flight to reach Amilia's 100 calls/s at up to ~250 ms per call."""
HELP = {
    "username": "Auth mode 1: Amilia account e-mail, exchanged with password for a JWT",
    "api_key": "Auth mode 2: API key (Account -> API Tokens), sent as X-AMILIA-APIKEY",
    "api_secret": "Auth mode 2: API secret, sent as X-AMILIA-APISECRET",
    "token": "Auth mode 3: a pre-minted JWT, sent as Authorization: Bearer",
    "api_url": "API root; org endpoints are {api_url}/{language}/org/{organization}",
    "origin": "X-Amilia-Origin header sent on every call (who is calling)",
    "start_date": (
        "Earliest date of the date-ranged streams (events, registrations, reservations, "
        "access scans, donations) on the first run; "
        "default: lookback_days before the first run"
    ),
    "lookback_days": "Days before the bookmark a date-ranged stream re-reads on every run",
    "lookahead_days": (
        "Days after today that events and reservations are read (scheduled sessions "
        "and future bookings, re-read on every run); 0 stops at today"
    ),
    "page_size": (
        "perPage of each request; default: 5000 (no maximum is documented), lowered by "
        "itself when the API refuses or caps it"
    ),
    "max_requests_per_second": "Client-side pacing of all requests (Amilia allows 100 calls/s per IP)",
    "include_medical_info": (
        "Ask the persons listings for their medical information (showMedicalInfo): health "
        "data, so off by default"
    ),
    "max_parallel_requests": (
        "Requests in flight at once for the per-parent streams (activity_occurrences, "
        "account_contacts, the membership and multipass holders and the opt-in per-parent "
        "streams), the date windows of the dated streams (the next ones fetched ahead) and "
        "the next streams of the sync (up to 4 fetched while one is written), within "
        "max_requests_per_second; 1 = one request at a time"
    ),
}
LANGUAGES = ("en", "fr")
ORGANIZATION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
ORGANIZATION_FORM = "the org number (8008) or URL slug (forest-explorers)"


class TapAmilia(RestTap):
    """Singer tap for the Amilia v3 organization API."""

    name = "tap-amilia"
    default_requests_per_second = 100
    pace_headroom_ms = 100  # a busy host delays some requests more than others
    default_parallel_requests = DEFAULT_PARALLEL_REQUESTS
    default_page_size = 5000  # no maximum documented: larger than the 2000 known to work
    minimums: ClassVar[dict[str, int]] = {
        "page_size": 1,
        "lookback_days": 0,
        "lookahead_days": 0,
        "max_parallel_requests": 1,
    }

    config_jsonschema = th.PropertiesList(
        th.Property(
            "organization",
            th.StringType,
            required=True,
            description="Organization number (8008) or URL slug (forest-explorers)",
        ),
        th.Property("username", th.StringType, description=HELP["username"]),
        th.Property("password", th.StringType, secret=True, description="Auth mode 1: password"),
        th.Property("api_key", th.StringType, secret=True, description=HELP["api_key"]),
        th.Property("api_secret", th.StringType, secret=True, description=HELP["api_secret"]),
        th.Property("token", th.StringType, secret=True, description=HELP["token"]),
        th.Property("api_url", th.StringType, default=DEFAULT_API_URL, description=HELP["api_url"]),
        th.Property(
            "language",
            th.StringType,
            default="en",
            allowed_values=list(LANGUAGES),
            description="Language of localizable values: en or fr",
        ),
        th.Property("origin", th.StringType, default="tap-amilia", description=HELP["origin"]),
        th.Property("start_date", th.DateTimeType, description=HELP["start_date"]),
        end_date_setting(),
        th.Property("lookback_days", th.IntegerType, default=7, description=HELP["lookback_days"]),
        th.Property(
            "lookahead_days", th.IntegerType, default=90, description=HELP["lookahead_days"]
        ),
        th.Property("page_size", th.IntegerType, description=HELP["page_size"]),
        th.Property(
            "include_medical_info",
            th.BooleanType,
            default=False,
            description=HELP["include_medical_info"],
        ),
        th.Property(
            "max_parallel_requests",
            th.IntegerType,
            default=DEFAULT_PARALLEL_REQUESTS,
            description=HELP["max_parallel_requests"],
        ),
        *request_settings(requests_per_second=100, pace=HELP["max_requests_per_second"]),
    ).to_dict()

    @override
    def check_settings(self) -> None:
        config = self.config
        check_pattern(config, "organization", ORGANIZATION, ORGANIZATION_FORM)
        auth_mode(config)
        check_url("api_url", str(config.get("api_url") or DEFAULT_API_URL))
        if config.get("language", "en") not in LANGUAGES:
            raise invalid(f"language must be en or fr: {config['language']!r}")
        if "origin" in config and not is_set(config, "origin"):
            raise invalid("origin must not be empty (it is sent as X-Amilia-Origin)")
        super().check_settings()

    @cached_property
    @override
    def authenticator(self) -> RenewingAuthenticator:
        return authenticator_for(self.config, self.pacer.wait)

    @override
    def discover_streams(self) -> list[AmiliaStream]:
        """Every stream; the per-person ones are not selected by default."""
        return [stream_type(tap=self) for stream_type in STREAM_TYPES]


if __name__ == "__main__":
    TapAmilia.cli()
