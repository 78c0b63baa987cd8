"""tap-amilia's settings: declared once (defaults included), and their typed object."""

from __future__ import annotations

import dataclasses

from singer_sdk import typing as th

from singer_rest_toolkit.settings import Settings, described, end_date_setting, request_settings

LANGUAGES = ("en", "fr")
HELP = {
    "organization": "Organization number (8008) or URL slug (forest-explorers)",
    "password": "Auth mode 1: password",
    "language": "Language of localizable values: en or fr",
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
setting = described(HELP)

SCHEMA = th.PropertiesList(
    setting("organization", th.StringType, required=True),
    setting("username", th.StringType),
    setting("password", th.StringType, secret=True),
    setting("api_key", th.StringType, secret=True),
    setting("api_secret", th.StringType, secret=True),
    setting("token", th.StringType, secret=True),
    setting("api_url", th.StringType, default="https://app.amilia.com/api/v3"),
    setting("language", th.StringType, default="en", allowed_values=list(LANGUAGES)),
    setting("origin", th.StringType, default="tap-amilia"),
    setting("start_date", th.DateTimeType),
    end_date_setting(),
    setting("lookback_days", th.IntegerType, default=7),
    setting("lookahead_days", th.IntegerType, default=90),
    setting("page_size", th.IntegerType),
    setting("include_medical_info", th.BooleanType, default=False),
    # 25 in flight reach 100 calls/s at up to ~250 ms per call.
    setting("max_parallel_requests", th.IntegerType, default=25),
    *request_settings(requests_per_second=100, pace=HELP["max_requests_per_second"]),
).to_dict()


@dataclasses.dataclass(frozen=True, kw_only=True)
class AmiliaSettings(Settings):
    """The settings of tap-amilia, typed (defaults: their declarations above)."""

    organization: str
    username: str | None
    password: str | None
    api_key: str | None
    api_secret: str | None
    token: str | None
    api_url: str
    language: str
    origin: str
    lookahead_days: int
    include_medical_info: bool
