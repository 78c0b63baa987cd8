"""tap-amperity: settings, their checks, and the stream list."""

from __future__ import annotations

import re
from functools import cached_property
from typing import ClassVar

from typing_extensions import override

from singer_rest_toolkit import RestTap
from singer_rest_toolkit.auth import FixedCredentials
from singer_rest_toolkit.config import check_pattern, check_urls, invalid, is_set
from singer_rest_toolkit.pacing import ApiFamily
from tap_amperity import auth
from tap_amperity.client import PROFILE_API_FAMILY, AmperityStream, DeprecationNotes
from tap_amperity.settings import PROFILE_API, SCHEMA, AmperitySettings
from tap_amperity.streams import STREAM_TYPES, UNSTABLE_STREAM_TYPES

TENANT_ID = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$", re.IGNORECASE)
TENANT_ID_FORM = "the tenant's id, e.g. 'acme' for https://acme.amperity.com"
API_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}$|^unstable$")


class TapAmperity(RestTap):
    """Singer tap for the Amperity API and Profile API."""

    name = "tap-amperity"
    dynamic_catalog = True  # index_profiles' attribute names come from the API
    url_settings = "the api_url and token_url settings"
    pace_headroom_ms = 30  # Amperity counts arrivals on a strict one-second window
    default_page_size = 1000  # the one maximum documented (audit events), tried elsewhere too
    api_families: ClassVar[dict[str, ApiFamily]] = {PROFILE_API_FAMILY: PROFILE_API}
    minimums: ClassVar[dict[str, int]] = {
        "page_size": 1,
        "workflow_lookback_days": 0,
        "max_parallel_requests": 1,
    }
    config_jsonschema = SCHEMA

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
    @override
    def settings(self) -> AmperitySettings:
        return AmperitySettings.from_config(self.config, self.config_jsonschema)

    @override
    @cached_property
    def authenticator(self) -> auth.AmperityAuthenticator:
        """The access token every stream shares (OAuth, or the UI token)."""
        if self.settings.access_token:
            bearer = {"Authorization": f"Bearer {self.settings.access_token}"}
            return FixedCredentials(bearer, auth.UI_REFUSAL_HINT)
        return auth.ClientCredentialsAuthenticator(
            self.settings, pacer=self.pacer, session=self.thread_session
        )

    @cached_property
    def deprecations(self) -> DeprecationNotes:
        """Deprecated endpoints met this run, each warned about once."""
        return DeprecationNotes(self.logger)

    @override
    def discover_streams(self) -> list[AmperityStream]:
        """Every stream; campaign_drafts only with include_unstable."""
        types = list(STREAM_TYPES)
        if self.settings.include_unstable:
            types += UNSTABLE_STREAM_TYPES
        return [stream_type(tap=self) for stream_type in types]
