"""tap-amperity: settings, their checks, and the stream list."""

from __future__ import annotations

import re
from functools import cached_property
from typing import Any, ClassVar

from singer_sdk import typing as th
from typing_extensions import override

from singer_rest_toolkit import RestTap
from singer_rest_toolkit.config import (
    check_pattern,
    check_urls,
    end_date_setting,
    family_settings,
    invalid,
    is_set,
    request_settings,
)
from singer_rest_toolkit.pacing import ApiFamily
from tap_amperity import auth
from tap_amperity.client import PROFILE_API_FAMILY, AmperityStream, DeprecationNotes
from tap_amperity.streams import STREAM_TYPES, UNSTABLE_STREAM_TYPES

TENANT_ID = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$", re.IGNORECASE)
TENANT_ID_FORM = "the tenant's id, e.g. 'acme' for https://acme.amperity.com"
API_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}$|^unstable$")
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
    "page_size": "limit of each cursor-paged request; default: the largest documented (audit_events: 1000), else 1000, lowered by itself when the API refuses or caps it",
    "max_requests_per_second": "Client-side pacing of the Amperity API (documented limit 10 requests/s), token requests included",
    "max_parallel_requests": "Requests in flight at once for per-parent streams of the Amperity API (workflow_task_instances), the 7-day windows of ingest_jobs (the next ones fetched ahead) and the next streams of the sync (up to 4 fetched while one is written), within max_requests_per_second; 1 = one at a time",
    "profile_api_max_requests_per_second": "Client-side pacing of the Profile API (profile_indexes, index_profiles; documented limit 2000 requests/s across the tenant and its sandboxes): lower it to leave room for other clients",
    "profile_api_max_parallel_requests": "Requests in flight at once for index_profiles (one listing per index), within profile_api_max_requests_per_second; 1 reads one index after another",
    "workflow_lookback_days": "Days before the bookmark workflow_runs re-reads (runs created or ended since then) to catch state changes",
    "include_unstable": "Add the campaign_drafts stream (api-version: unstable)",
}


def setting(name: str, kind: type[th.JSONTypeHelper[Any]], **extra: Any) -> th.Property[Any]:
    """The setting ``name``, described by :data:`HELP`."""
    return th.Property(name, kind, description=HELP[name], **extra)


class TapAmperity(RestTap):
    """Singer tap for the Amperity API and Profile API."""

    name = "tap-amperity"
    dynamic_catalog = True  # index_profiles' attribute names come from the API
    url_settings = "the api_url and token_url settings"
    default_requests_per_second = 10
    pace_headroom_ms = 30  # Amperity counts arrivals on a strict one-second window
    default_parallel_requests = 4  # keeps the pace busy at the API's usual response times
    default_page_size = 1000  # the one maximum documented (audit events), tried elsewhere too
    profile_api = ApiFamily(
        2000,
        rate_setting="profile_api_max_requests_per_second",
        # 2000/s is never the bound: 16 listings in flight keep the writing thread busy
        # at a few hundred ms per page of 1000 profiles.
        parallel_requests=16,
        parallel_setting="profile_api_max_parallel_requests",
    )
    api_families: ClassVar[dict[str, ApiFamily]] = {PROFILE_API_FAMILY: profile_api}
    minimums: ClassVar[dict[str, int]] = {
        "page_size": 1,
        "workflow_lookback_days": 0,
        "max_parallel_requests": 1,
    }
    config_jsonschema = th.PropertiesList(
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
        setting("max_parallel_requests", th.IntegerType, default=default_parallel_requests),
        setting("workflow_lookback_days", th.IntegerType, default=3),
        setting("include_unstable", th.BooleanType, default=False),
        *family_settings(
            profile_api,
            pace=HELP["profile_api_max_requests_per_second"],
            parallel=HELP["profile_api_max_parallel_requests"],
        ),
        *request_settings(
            requests_per_second=default_requests_per_second, pace=HELP["max_requests_per_second"]
        ),
    ).to_dict()

    @override
    def check_settings(self) -> None:
        config = self.config
        check_pattern(config, "tenant_id", TENANT_ID, TENANT_ID_FORM)
        has_client = bool(config.get("client_id") or config.get("client_secret"))
        has_token = bool(config.get("access_token"))
        if has_client and has_token:
            raise invalid("set either client_id + client_secret or access_token, not both")
        if not has_client and not has_token:
            raise invalid("client_id + client_secret (OAuth) or access_token is required")
        if has_client:
            for name in ("client_id", "client_secret"):
                if not is_set(config, name):
                    raise invalid(f"{name} must not be empty when using OAuth client credentials")
        check_urls(config, "api_url", "token_url")
        for name in ("api_version", "profile_api_version"):
            if config.get(name) and not API_VERSION.match(str(config[name])):
                raise invalid(
                    f"{name} must be a date like 2024-04-01 (or 'unstable'): {config[name]!r}"
                )
        super().check_settings()  # the minimums and start_date

    @cached_property
    def api_url(self) -> str:
        """``api_url``, or ``https://{tenant_id}.amperity.com/api``; no trailing slash."""
        config = self.config
        return str(
            config.get("api_url") or f"https://{config.get('tenant_id')}.amperity.com/api"
        ).rstrip("/")

    @override
    @cached_property
    def authenticator(self) -> auth.AmperityAuthenticator:
        """The access token every stream shares (OAuth, or the UI token)."""
        if self.config.get("access_token"):
            return auth.StaticTokenAuthenticator(token=str(self.config["access_token"]))
        return auth.ClientCredentialsAuthenticator(
            tap=self,
            auth_endpoint=str(self.config.get("token_url") or f"{self.api_url}/v0/oauth2/token"),
            client_id=str(self.config.get("client_id", "")),
            client_secret=str(self.config.get("client_secret", "")),
            tenant_id=str(self.config.get("tenant_id", "")),
            timeout=float(self.config.get("request_timeout", 60)),
        )

    @cached_property
    def deprecations(self) -> DeprecationNotes:
        """Deprecated endpoints met this run, each warned about once."""
        return DeprecationNotes(self.logger)

    @override
    def discover_streams(self) -> list[AmperityStream]:
        """Every stream; campaign_drafts only with include_unstable."""
        types = list(STREAM_TYPES)
        if self.config.get("include_unstable"):
            types += UNSTABLE_STREAM_TYPES
        return [stream_type(tap=self) for stream_type in types]
