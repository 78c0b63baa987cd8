"""tap-agyletime's settings: declared once (defaults included), and their typed object."""

from __future__ import annotations

import dataclasses

from singer_sdk import typing as th

from singer_rest_toolkit.settings import Settings, described, end_date_setting, request_settings

REGIONS = ("eu", "us", "au")
HELP = {
    "subdomain": "Tenant subdomain: 'acme' for https://acme.cloud.agyletime.io",
    "region": (
        "Region the tenant is provisioned in (eu, us or au), for the regional host "
        "https://api-{region}.cloud.agyletime.io. Required unless regional_url is set."
    ),
    "access_key_id": "Access key id: the user name of the token request's basic auth",
    "access_key_secret": "Access key secret: the password of the token request's basic auth",
    "tenant_url": (
        "Tenant API base URL, default https://{subdomain}.cloud.agyletime.io/api "
        "(token, metrics, tasks, task definitions)"
    ),
    "regional_url": (
        "Regional API base URL, default https://api-{region}.cloud.agyletime.io "
        "(no /api; users, roles, workstreams, contacts, interactions, shifts)"
    ),
    "start_date": (
        "Earliest date (UTC) for date-ranged streams on the first run; "
        "default: lookback_days before the first run"
    ),
    "lookback_days": "Days before the bookmark re-read on every run (data changes after the fact)",
    "page_size": (
        "pageLimit of each request; default: 5000 (no maximum is documented), lowered by "
        "itself when the API refuses or caps it"
    ),
    "max_requests_per_second": "Client-side pacing of all requests, token requests included",
}
setting = described(HELP)

SCHEMA = th.PropertiesList(
    setting("subdomain", th.StringType, required=True),
    setting("region", th.StringType, allowed_values=list(REGIONS)),
    setting("access_key_id", th.StringType, required=True),
    setting("access_key_secret", th.StringType, required=True, secret=True),
    setting("tenant_url", th.StringType),
    setting("regional_url", th.StringType),
    setting("start_date", th.DateTimeType),
    end_date_setting(),
    setting("lookback_days", th.IntegerType, default=14),
    setting("page_size", th.IntegerType),
    *request_settings(requests_per_second=3, pace=HELP["max_requests_per_second"]),
).to_dict()


@dataclasses.dataclass(frozen=True, kw_only=True)
class AgyleTimeSettings(Settings):
    """The settings of tap-agyletime, typed (defaults: their declarations above)."""

    subdomain: str
    region: str | None
    access_key_id: str
    access_key_secret: str
    tenant_url: str | None
    regional_url: str | None
