"""tap-agyletime: settings, their checks, and the stream list."""

from __future__ import annotations

import re
from functools import cached_property
from typing import ClassVar

from singer_sdk import typing as th
from typing_extensions import override

from singer_rest_toolkit import RestTap
from singer_rest_toolkit.config import (
    check_pattern,
    check_urls,
    end_date_setting,
    invalid,
    is_set,
    request_settings,
)
from tap_agyletime.auth import AgyleTimeAuthenticator
from tap_agyletime.client import AgyleTimeStream, ApiUrls, api_urls
from tap_agyletime.streams import STREAM_TYPES

REGIONS = ("eu", "us", "au")
SUBDOMAIN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$", re.IGNORECASE)
SUBDOMAIN_FORM = "the tenant's host name, e.g. 'acme' for https://acme.cloud.agyletime.io"
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


class TapAgyleTime(RestTap):
    """Singer tap for Agyle Time (Playvox WFM)."""

    name = "tap-agyletime"
    url_settings = "the tenant_url and regional_url settings"
    default_requests_per_second = 3
    pace_headroom_ms = 30
    minimums: ClassVar[dict[str, int]] = {"page_size": 1, "lookback_days": 0}
    default_page_size = 5000  # no maximum documented: larger than the 1000 known to work

    config_jsonschema = th.PropertiesList(
        th.Property("subdomain", th.StringType, required=True, description=HELP["subdomain"]),
        th.Property(
            "region", th.StringType, allowed_values=list(REGIONS), description=HELP["region"]
        ),
        th.Property(
            "access_key_id", th.StringType, required=True, description=HELP["access_key_id"]
        ),
        th.Property(
            "access_key_secret",
            th.StringType,
            required=True,
            secret=True,
            description=HELP["access_key_secret"],
        ),
        th.Property("tenant_url", th.StringType, description=HELP["tenant_url"]),
        th.Property("regional_url", th.StringType, description=HELP["regional_url"]),
        th.Property("start_date", th.DateTimeType, description=HELP["start_date"]),
        end_date_setting(),
        th.Property("lookback_days", th.IntegerType, default=14, description=HELP["lookback_days"]),
        th.Property("page_size", th.IntegerType, description=HELP["page_size"]),
        *request_settings(requests_per_second=3, pace=HELP["max_requests_per_second"]),
    ).to_dict()

    @override
    def check_settings(self) -> None:
        config = self.config
        check_pattern(config, "subdomain", SUBDOMAIN, SUBDOMAIN_FORM)
        if not config.get("region") and not config.get("regional_url"):
            raise invalid("region is required (eu, us or au) unless regional_url is set")
        for name in ("access_key_id", "access_key_secret"):
            if not is_set(config, name):
                raise invalid(f"{name} must not be empty")
        check_urls(config, "tenant_url", "regional_url")
        super().check_settings()

    @cached_property
    def urls(self) -> ApiUrls:
        """Tenant and regional base URLs."""
        return api_urls(self.config)

    @cached_property
    @override
    def authenticator(self) -> AgyleTimeAuthenticator:
        """The access token every stream shares."""
        return AgyleTimeAuthenticator(
            auth_endpoint=self.urls.token,
            client_id=str(self.config.get("access_key_id", "")),
            client_secret=str(self.config.get("access_key_secret", "")),
            pacer=self.pacer,
            timeout=float(self.config.get("request_timeout", 60)),
            session=self.thread_session,
        )

    @override
    def discover_streams(self) -> list[AgyleTimeStream]:
        """Every stream; contacts and interactions are not selected by default."""
        return [stream_type(tap=self) for stream_type in STREAM_TYPES]


if __name__ == "__main__":
    TapAgyleTime.cli()
