"""tap-agyletime: settings, their checks, and the stream list."""

from __future__ import annotations

import re
from functools import cached_property
from typing import ClassVar

from typing_extensions import override

from singer_rest_toolkit import RestTap
from singer_rest_toolkit.config import check_pattern, check_urls, invalid, is_set
from tap_agyletime.auth import AgyleTimeAuthenticator
from tap_agyletime.client import AgyleTimeStream, ApiUrls, api_urls
from tap_agyletime.settings import SCHEMA, AgyleTimeSettings
from tap_agyletime.streams import STREAM_TYPES

SUBDOMAIN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$", re.IGNORECASE)
SUBDOMAIN_FORM = "the tenant's host name, e.g. 'acme' for https://acme.cloud.agyletime.io"


class TapAgyleTime(RestTap):
    """Singer tap for Agyle Time (Playvox WFM)."""

    name = "tap-agyletime"
    url_settings = "the tenant_url and regional_url settings"
    pace_headroom_ms = 30
    minimums: ClassVar[dict[str, int]] = {"page_size": 1, "lookback_days": 0}
    default_page_size = 5000  # no maximum documented: larger than the 1000 known to work

    config_jsonschema = SCHEMA

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
    @override
    def settings(self) -> AgyleTimeSettings:
        return AgyleTimeSettings.from_config(self.config, self.config_jsonschema)

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
            client_id=self.settings.access_key_id,
            client_secret=self.settings.access_key_secret,
            pacer=self.pacer,
            timeout=self.settings.request_timeout,
            session=self.thread_session,
        )

    @override
    def discover_streams(self) -> list[AgyleTimeStream]:
        """Every stream; contacts and interactions are not selected by default."""
        return [stream_type(tap=self) for stream_type in STREAM_TYPES]


if __name__ == "__main__":
    TapAgyleTime.cli()
