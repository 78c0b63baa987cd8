"""tap-amilia: settings, their checks, the shared pace and authenticator, the stream list."""

from __future__ import annotations

import io
import json
import re
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, NoReturn
from urllib.parse import urlparse, urlsplit

import click
import requests
from singer_sdk import Tap
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError, FatalAPIError, RetriableAPIError

from tap_amilia.auth import (
    AmiliaAuthenticator,
    ApiKeyAuthenticator,
    StaticTokenAuthenticator,
    UserTokenAuthenticator,
)
from tap_amilia.client import AmiliaStream, parse_instant
from tap_amilia.fanout import FanOut
from tap_amilia.pacing import Pacer
from tap_amilia.streams import STREAM_TYPES
from tap_amilia.writer import AmiliaWriter

DEFAULT_API_URL = "https://app.amilia.com/api/v3"
DEFAULT_PARALLEL_REQUESTS = 25
"""Enough in flight to reach Amilia's 100 calls/s at up to ~250 ms per call."""
LANGUAGES = ("en", "fr")
ORGANIZATION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
AUTH_MODES = (("username", "password"), ("api_key", "api_secret"), ("token",))


def _invalid(message: str) -> ConfigValidationError:
    return ConfigValidationError(message, errors=[message])


def _set(config: Mapping[str, Any], name: str) -> bool:
    return bool(str(config.get(name) or "").strip())


def auth_mode(config: Mapping[str, Any]) -> tuple[str, ...]:
    """The one configured auth mode, or ConfigValidationError naming the settings."""
    described = " or ".join(" + ".join(mode) for mode in AUTH_MODES)
    for mode in AUTH_MODES:
        present = [name for name in mode if _set(config, name)]
        if present and len(present) < len(mode):
            missing = next(name for name in mode if name not in present)
            raise _invalid(f"{missing} is required with {present[0]}")
    chosen = [mode for mode in AUTH_MODES if all(_set(config, name) for name in mode)]
    if not chosen:
        raise _invalid(f"no credentials: set exactly one of {described}")
    if len(chosen) > 1:
        names = " and ".join(" + ".join(mode) for mode in chosen)
        raise _invalid(f"more than one auth mode is set ({names}): keep exactly one")
    return chosen[0]


def shown_url(value: str) -> str:
    """``value`` without the parts that may hold a secret (``user:password@``, query string,
    fragment), for error messages."""
    parsed = urlsplit(value)
    if not parsed.scheme or not parsed.hostname:
        return "(not an absolute URL)"
    try:
        port = f":{parsed.port}" if parsed.port is not None else ""
    except ValueError:
        port = ":(invalid port)"
    hidden = "?…" if parsed.query or parsed.fragment else ""
    return f"{parsed.scheme}://{parsed.hostname}{port}{parsed.path}{hidden}"


CONFIG_PATH = re.compile(r" in config\['([^']+)'\]")
EXPECTED_TYPE = re.compile(r"is not of type (.+?) in config\[")


def hide_secret_values(errors: list[str], secrets: set[str]) -> list[str]:
    """The SDK's config validation messages without the value of a secret setting (they
    read ``<value> is not of type 'string' in config['password']``)."""
    shown = []
    for error in errors:
        found = CONFIG_PATH.search(error)
        if found and found.group(1) in secrets:
            expected = EXPECTED_TYPE.search(error)
            what = f"must be of type {expected.group(1)}" if expected else "is not valid"
            shown.append(f"{found.group(1)} {what} (value not shown: the setting is secret)")
        else:
            shown.append(error)
    return shown


def check_url(name: str, value: str) -> None:
    """An absolute https URL (http only for localhost), without query or fragment."""
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise _invalid(f"{name} must be an absolute https:// URL: {shown_url(value)}")
    try:
        parsed.port  # noqa: B018 - raises on a port out of range
    except ValueError:
        raise _invalid(f"{name} has an invalid port: {shown_url(value)}") from None
    if parsed.scheme == "http" and parsed.hostname not in LOCAL_HOSTS:
        raise _invalid(
            f"{name} must be an https:// URL (http is allowed only for localhost): "
            f"{shown_url(value)}"
        )
    if parsed.query or parsed.fragment:  # not echoed: a query string may hold a secret
        raise _invalid(f"{name} must not have a query string or fragment")


def check_settings(config: Mapping[str, Any]) -> None:
    """Raise ConfigValidationError, naming the setting, for the first bad value."""
    organization = str(config.get("organization") or "").strip()
    if not ORGANIZATION.match(organization):
        raise _invalid(
            "organization must be the org number (8008) or URL slug (forest-explorers): "
            f"{organization!r}"
        )
    auth_mode(config)
    check_url("api_url", str(config.get("api_url") or DEFAULT_API_URL))
    language = config.get("language", "en")
    if language not in LANGUAGES:
        raise _invalid(f"language must be en or fr: {language!r}")
    if "origin" in config and not _set(config, "origin"):
        raise _invalid("origin must not be empty (it is sent as X-Amilia-Origin)")
    minimums = {
        "page_size": 1,
        "lookback_days": 0,
        "lookahead_days": 0,
        "max_requests_per_second": 1,
        "request_timeout": 1,
        "max_retries": 1,
        "max_parallel_requests": 1,
    }
    for name, minimum in minimums.items():
        if name in config and int(config[name]) < minimum:
            raise _invalid(f"{name} must be at least {minimum}: {config[name]!r}")
    if config.get("start_date"):
        try:
            start = parse_instant(str(config["start_date"]))
        except ValueError:
            raise _invalid(
                f"start_date must be an ISO-8601 date or date-time: {config['start_date']!r}"
            ) from None
        if start > datetime.now(UTC):
            raise _invalid(f"start_date is in the future: {config['start_date']!r}")


ERRNO_REASON = re.compile(r"\[Errno -?\d+\] ([^'\")\]]+)")


def unreachable_line(exc: requests.RequestException) -> str:
    """One line for a request that never got an answer: host, reason, path, the setting to check."""
    request = exc.request
    url = urlsplit(str(request.url) if request is not None and request.url else "")
    method = request.method if request is not None else "GET"
    port = f":{url.port}" if url.port is not None else ""  # never user:password@
    if isinstance(exc, requests.Timeout):
        reason = "no answer within request_timeout"
    else:
        found = ERRNO_REASON.search(str(exc))
        reason = found.group(1).strip().lower() if found else type(exc).__name__
    return f"cannot reach {url.hostname}{port} ({reason}) for {method} {url.path}; check the api_url setting"


class TapAmilia(Tap):
    """Singer tap for the Amilia v3 organization API."""

    name = "tap-amilia"
    message_writer_class = AmiliaWriter  # the SDK's msgspec writer, fewer flushes

    config_jsonschema = th.PropertiesList(
        th.Property(
            "organization",
            th.StringType,
            required=True,
            description="Organization number (8008) or URL slug (forest-explorers)",
        ),
        th.Property(
            "username",
            th.StringType,
            description="Auth mode 1: Amilia account e-mail, exchanged with password for a JWT",
        ),
        th.Property("password", th.StringType, secret=True, description="Auth mode 1: password"),
        th.Property(
            "api_key",
            th.StringType,
            secret=True,
            description="Auth mode 2: API key (Account -> API Tokens), sent as X-AMILIA-APIKEY",
        ),
        th.Property(
            "api_secret",
            th.StringType,
            secret=True,
            description="Auth mode 2: API secret, sent as X-AMILIA-APISECRET",
        ),
        th.Property(
            "token",
            th.StringType,
            secret=True,
            description="Auth mode 3: a pre-minted JWT, sent as Authorization: Bearer",
        ),
        th.Property(
            "api_url",
            th.StringType,
            default=DEFAULT_API_URL,
            description="API root; org endpoints are {api_url}/{language}/org/{organization}",
        ),
        th.Property(
            "language",
            th.StringType,
            default="en",
            allowed_values=list(LANGUAGES),
            description="Language of localizable values: en or fr",
        ),
        th.Property(
            "origin",
            th.StringType,
            default="tap-amilia",
            description="X-Amilia-Origin header sent on every call (who is calling)",
        ),
        th.Property(
            "start_date",
            th.DateTimeType,
            description=(
                "Earliest date for events, registrations and reservations on the first run; "
                "default: lookback_days before the first run"
            ),
        ),
        th.Property(
            "lookback_days",
            th.IntegerType,
            default=7,
            description="Days before the bookmark a date-ranged stream re-reads on every run",
        ),
        th.Property(
            "lookahead_days",
            th.IntegerType,
            default=90,
            description=(
                "Days after today that events and reservations are read (scheduled sessions "
                "and future bookings, re-read on every run); 0 stops at today"
            ),
        ),
        th.Property(
            "page_size",
            th.IntegerType,
            default=2000,
            description="perPage of each request (the API's default is 200; 2000 is served)",
        ),
        th.Property(
            "max_requests_per_second",
            th.IntegerType,
            default=100,
            description="Client-side pacing of all requests (Amilia allows 100 calls/s per IP)",
        ),
        th.Property(
            "max_parallel_requests",
            th.IntegerType,
            default=DEFAULT_PARALLEL_REQUESTS,
            description=(
                "Requests in flight at once for the per-parent streams (activity_occurrences, "
                "account_contacts, membership_persons and the opt-in per-parent streams), "
                "within max_requests_per_second; 1 = one request at a time"
            ),
        ),
        th.Property(
            "request_timeout",
            th.IntegerType,
            default=60,
            description="Seconds to wait for a response before retrying",
        ),
        th.Property(
            "max_retries",
            th.IntegerType,
            default=8,
            description="Tries per request in all, for 429, 5xx, timeouts and malformed bodies",
        ),
    ).to_dict()

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """The SDK's validation of the settings, with no secret value in its messages (a
        private SDK method: the one place every CLI mode validates through)."""
        secrets = {
            name
            for name, setting in self.config_jsonschema["properties"].items()
            if setting.get("secret")
        }
        try:
            return hide_secret_values(super()._validate_config(raise_errors=raise_errors), secrets)
        except ConfigValidationError as exc:
            errors = hide_secret_values(list(exc.errors), secrets)
            raise ConfigValidationError(str(exc), errors=errors, schema=exc.schema) from None

    @classmethod
    def cb_config(cls, ctx: click.Context, param: click.Option, value: tuple[str, ...]) -> Any:
        """``--config`` files read as the SDK does; one that is missing or not JSON is a
        usage error naming the file, not a traceback."""
        for path in value:
            if path == "ENV":
                continue
            try:
                with open(path, encoding="utf-8") as handle:
                    json.load(handle)
            except OSError as exc:
                raise click.BadParameter(f"{path}: {exc.strerror or exc}", ctx, param) from None
            except ValueError as exc:
                raise click.BadParameter(f"{path}: not valid JSON ({exc})", ctx, param) from None
        return super().cb_config(ctx, param, value)

    @classmethod
    def invoke(cls, **kwargs: Any) -> None:
        """Run the CLI; a failing or unreachable API ends in one line, not a traceback.

        The traceback is still logged at DEBUG (``LOGLEVEL=DEBUG``) for bug reports.
        """
        for option in ("state", "catalog"):
            handle = kwargs.get(option)
            if handle is not None:  # a file click opened: read it here to check it is JSON
                text = handle.read()
                try:
                    json.loads(text)
                except ValueError as exc:
                    line = f"--{option} {getattr(handle, 'name', '')}: not valid JSON ({exc})"
                    cls._fail(line, exc)
                kwargs[option] = io.StringIO(text)
        try:
            super().invoke(**kwargs)
        except (FatalAPIError, RetriableAPIError) as exc:
            cls._fail(str(exc), exc)
        except requests.RequestException as exc:
            cls._fail(unreachable_line(exc), exc)

    @classmethod
    def _fail(cls, line: str, exc: Exception) -> NoReturn:
        cls.logger.debug("traceback of the failure", exc_info=exc)
        cls.logger.error("%s", line)
        raise SystemExit(1)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if kwargs.get("validate_config", True):
            check_settings(self.config)

    @cached_property
    def pacer(self) -> Pacer:
        """One pace for every request of this tap, token requests included."""
        return Pacer(int(self.config.get("max_requests_per_second", 100)))

    @cached_property
    def fan_out(self) -> FanOut | None:
        """The worker pool that fetches per-parent listings ahead; None when sequential."""
        workers = int(self.config.get("max_parallel_requests", DEFAULT_PARALLEL_REQUESTS))
        if workers <= 1:
            return None
        # Two parents ahead per worker keeps every worker busy while the main thread writes.
        return FanOut(max_workers=workers, window=2 * workers)

    @cached_property
    def _sessions(self) -> threading.local:
        return threading.local()

    def thread_session(self) -> requests.Session:
        """One HTTP session (connection pool) per thread: sessions are not thread-safe."""
        session: requests.Session | None = getattr(self._sessions, "session", None)
        if session is None:
            session = self._sessions.session = requests.Session()
        return session

    @cached_property
    def common_headers(self) -> dict[str, str]:
        """Headers of every call: who is calling, and that JSON is wanted."""
        return {
            "X-Amilia-Origin": str(self.config.get("origin") or "tap-amilia"),
            "Accept": "application/json",
        }

    @cached_property
    def amilia_authenticator(self) -> AmiliaAuthenticator:
        """The configured auth mode's authenticator, shared by every stream."""
        config = self.config
        mode = auth_mode(config)
        if mode == ("api_key", "api_secret"):
            return ApiKeyAuthenticator(
                api_key=str(config["api_key"]), api_secret=str(config["api_secret"])
            )
        if mode == ("token",):
            return StaticTokenAuthenticator(token=str(config["token"]).strip())
        api_url = str(config.get("api_url") or DEFAULT_API_URL).rstrip("/")
        return UserTokenAuthenticator(
            authenticate_url=f"{api_url}/authenticate",
            username=str(config["username"]),
            password=str(config["password"]),
            headers=self.common_headers,
            pace=self.pacer.wait,
            timeout=float(config.get("request_timeout", 60)),
        )

    def discover_streams(self) -> list[AmiliaStream]:
        """Every stream; the per-person ones are not selected by default."""
        return [stream_type(tap=self) for stream_type in STREAM_TYPES]


if __name__ == "__main__":
    TapAmilia.cli()
