"""tap-amilia: settings, their checks, the authenticator and the stream list."""

from __future__ import annotations

import re
from functools import cached_property
from typing import ClassVar

from typing_extensions import override

from singer_rest_toolkit import RenewingAuthenticator, RestTap
from singer_rest_toolkit.config import check_pattern, check_url, invalid, is_set
from tap_amilia.auth import auth_mode, authenticator_for
from tap_amilia.client import AmiliaStream
from tap_amilia.settings import LANGUAGES, SCHEMA, AmiliaSettings
from tap_amilia.streams import STREAM_TYPES

ORGANIZATION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
ORGANIZATION_FORM = "the org number (8008) or URL slug (forest-explorers)"


class TapAmilia(RestTap):
    """Singer tap for the Amilia v3 organization API."""

    name = "tap-amilia"
    pace_headroom_ms = 100  # a busy host delays some requests more than others
    default_page_size = 5000  # no maximum documented: larger than the 2000 known to work
    minimums: ClassVar[dict[str, int]] = {
        "page_size": 1,
        "lookback_days": 0,
        "lookahead_days": 0,
        "max_parallel_requests": 1,
    }

    config_jsonschema = SCHEMA

    @override
    def check_settings(self) -> None:
        config, settings = self.config, self.settings
        check_pattern(config, "organization", ORGANIZATION, ORGANIZATION_FORM)
        auth_mode(config)
        check_url("api_url", settings.api_url)
        if settings.language not in LANGUAGES:
            raise invalid(f"language must be en or fr: {settings.language!r}")
        if "origin" in config and not is_set(config, "origin"):
            raise invalid("origin must not be empty (it is sent as X-Amilia-Origin)")
        super().check_settings()

    @cached_property
    @override
    def settings(self) -> AmiliaSettings:
        return AmiliaSettings.from_config(self.config, self.config_jsonschema)

    @cached_property
    @override
    def authenticator(self) -> RenewingAuthenticator:
        return authenticator_for(self.settings, pacer=self.pacer, session=self.thread_session)

    @override
    def discover_streams(self) -> list[AmiliaStream]:
        """Every stream; the per-person ones are not selected by default."""
        return [stream_type(tap=self) for stream_type in STREAM_TYPES]


if __name__ == "__main__":
    TapAmilia.cli()
