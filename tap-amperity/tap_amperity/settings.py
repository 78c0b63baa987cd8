"""tap-amperity's settings: declared once (defaults included), and their typed object."""

from __future__ import annotations

import dataclasses

from singer_sdk import typing as th

from singer_rest_toolkit.pacing import ApiFamily
from singer_rest_toolkit.settings import (
    Settings,
    described,
    end_date_setting,
    family_settings,
    request_settings,
)

HELP = {
    "tenant_id": "Tenant id, sent as the Amperity-Tenant header on every call",
    "api_url": "API base URL, default https://{tenant_id}.amperity.com/api (AWS tenants: https://app.amperity.com/api)",
    "client_id": "Auth mode 1, OAuth2 client credentials: the API key's client id",
    "client_secret": "Auth mode 1: the API key's client secret",
    "token_url": "OAuth2 token endpoint, default {api_url}/v0/oauth2/token",
    "access_token": "Auth mode 2: a token generated in the Amperity UI, sent as Bearer (it cannot be renewed: the sync stops when it expires)",
    "api_version": "api-version header of the Amperity API streams",
    "profile_api_version": "api-version header of the Profile API streams (indexes, profiles)",
    "start_date": "Earliest date (UTC) for audit_events, workflow_runs and ingest_jobs on the first run; default: all history (ingest_jobs: the last 7 days)",
    "page_size": "limit of each cursor-paged request; default: the largest documented (audit_events: 1000), else 1000, lowered by itself when the API refuses or caps it; ingest_jobs, which takes none, asks for spans of at most this many jobs (at most 500)",
    "max_requests_per_second": "Client-side pacing of the Amperity API (documented limit 10 requests/s), token requests included",
    "max_parallel_requests": "Requests in flight at once for per-parent streams of the Amperity API (workflow_task_instances), the 7-day windows of ingest_jobs (the next ones fetched ahead) and the next streams of the sync (up to 4 fetched while one is written), within max_requests_per_second; 1 = one at a time",
    "profile_api_max_requests_per_second": "Client-side pacing of the Profile API (profile_indexes, index_profiles; documented limit 2000 requests/s across the tenant and its sandboxes): lower it to leave room for other clients",
    "profile_api_max_parallel_requests": "Requests in flight at once for index_profiles (one listing per index), within profile_api_max_requests_per_second; 1 reads one index after another",
    "workflow_lookback_days": "Days before the bookmark workflow_runs re-reads (runs created or ended since then) to catch state changes",
    "include_unstable": "Add the campaign_drafts stream (api-version: unstable)",
}
setting = described(HELP)
PROFILE_API = ApiFamily(
    2000,
    rate_setting="profile_api_max_requests_per_second",
    # 2000/s is never the bound: 16 listings in flight keep the writing thread busy
    # at a few hundred ms per page of 1000 profiles.
    parallel_requests=16,
    parallel_setting="profile_api_max_parallel_requests",
)


@dataclasses.dataclass(frozen=True, kw_only=True)
class AmperitySettings(Settings):
    """The settings of tap-amperity, typed (defaults: the declarations below)."""

    tenant_id: str
    api_url: str | None
    client_id: str | None
    client_secret: str | None
    token_url: str | None
    access_token: str | None
    api_version: str
    profile_api_version: str
    workflow_lookback_days: int
    include_unstable: bool

    @property
    def api_base(self) -> str:
        """``api_url``, or ``https://{tenant_id}.amperity.com/api``; no trailing slash."""
        return (self.api_url or f"https://{self.tenant_id}.amperity.com/api").rstrip("/")


SCHEMA = th.PropertiesList(
    setting("tenant_id", th.StringType, required=True),
    setting("api_url", th.StringType),
    setting("client_id", th.StringType),
    setting("client_secret", th.StringType, secret=True),
    setting("token_url", th.StringType),
    setting("access_token", th.StringType, secret=True),
    setting("api_version", th.StringType, default="2024-04-01"),
    setting("profile_api_version", th.StringType, default="2025-07-31"),
    setting("start_date", th.DateTimeType),
    end_date_setting(),
    setting("page_size", th.IntegerType),
    # 4 keep the pace busy at the API's usual response times.
    setting("max_parallel_requests", th.IntegerType, default=4),
    setting("workflow_lookback_days", th.IntegerType, default=3),
    setting("include_unstable", th.BooleanType, default=False),
    *family_settings(
        PROFILE_API,
        pace=HELP["profile_api_max_requests_per_second"],
        parallel=HELP["profile_api_max_parallel_requests"],
    ),
    *request_settings(requests_per_second=10, pace=HELP["max_requests_per_second"]),
).to_dict()
