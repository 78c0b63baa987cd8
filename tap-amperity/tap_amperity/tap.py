"""tap-amperity: settings, their checks, and the stream list."""

from __future__ import annotations

import io
import json
import logging
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

from tap_amperity.auth import (
    AmperityAuthenticator,
    ClientCredentialsAuthenticator,
    StaticTokenAuthenticator,
)
from tap_amperity.client import DEFAULT_PAGE_SIZE, AmperityStream, parse_instant
from tap_amperity.pacing import Pacer
from tap_amperity.streams import STREAM_TYPES, UNSTABLE_STREAM_TYPES
from tap_amperity.writer import AmperityWriter

TENANT_ID = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$", re.IGNORECASE)
API_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}$|^unstable$")
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


DEFAULT_PARALLEL_REQUESTS = 4
"""Enough to keep 10 requests/second busy with ~400 ms responses; more only queues on the pace."""


def api_url(config: Mapping[str, Any]) -> str:
    """``api_url``, or ``https://{tenant_id}.amperity.com/api``; no trailing slash."""
    url = config.get("api_url") or f"https://{config.get('tenant_id')}.amperity.com/api"
    return str(url).rstrip("/")


def token_url(config: Mapping[str, Any]) -> str:
    """``token_url``, or ``{api_url}/v0/oauth2/token``."""
    return str(config.get("token_url") or f"{api_url(config)}/v0/oauth2/token")


def _invalid(message: str) -> ConfigValidationError:
    return ConfigValidationError(message, errors=[message])


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
    tenant = str(config.get("tenant_id") or "")
    if not TENANT_ID.match(tenant):
        raise _invalid(
            f"tenant_id must be the tenant's id, e.g. 'acme' for https://acme.amperity.com: "
            f"{tenant!r}"
        )
    has_client = bool(config.get("client_id") or config.get("client_secret"))
    has_token = bool(config.get("access_token"))
    if has_client and has_token:
        raise _invalid("set either client_id + client_secret or access_token, not both")
    if not has_client and not has_token:
        raise _invalid("client_id + client_secret (OAuth) or access_token is required")
    if has_client:
        for name in ("client_id", "client_secret"):
            if not str(config.get(name) or "").strip():
                raise _invalid(f"{name} must not be empty when using OAuth client credentials")
    for name in ("api_url", "token_url"):
        if config.get(name):
            check_url(name, str(config[name]))
    for name in ("api_version", "profile_api_version"):
        if config.get(name) and not API_VERSION.match(str(config[name])):
            raise _invalid(
                f"{name} must be a date like 2024-04-01 (or 'unstable'): {config[name]!r}"
            )
    minimums = {
        "page_size": 1,
        "workflow_lookback_days": 0,
        "max_requests_per_second": 1,
        "max_parallel_requests": 1,
        "request_timeout": 1,
        "max_retries": 1,
    }
    for name, minimum in minimums.items():
        if name in config and config[name] is not None and int(config[name]) < minimum:
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
    return (
        f"cannot reach {url.hostname}{port} ({reason}) for {method} {url.path}; "
        "check the api_url and token_url settings"
    )


class TapAmperity(Tap):
    """Singer tap for the Amperity API and Profile API."""

    name = "tap-amperity"
    message_writer_class = AmperityWriter  # the SDK's msgspec writer, fewer flushes
    dynamic_catalog = True  # index_profiles' attribute names come from the API

    config_jsonschema = th.PropertiesList(
        th.Property(
            "tenant_id",
            th.StringType,
            required=True,
            description="Tenant id, sent as the Amperity-Tenant header on every call",
        ),
        th.Property(
            "api_url",
            th.StringType,
            description=(
                "API base URL, default https://{tenant_id}.amperity.com/api "
                "(AWS tenants: https://app.amperity.com/api)"
            ),
        ),
        th.Property(
            "client_id",
            th.StringType,
            description="Auth mode 1, OAuth2 client credentials: the API key's client id",
        ),
        th.Property(
            "client_secret",
            th.StringType,
            secret=True,
            description="Auth mode 1: the API key's client secret",
        ),
        th.Property(
            "token_url",
            th.StringType,
            description="OAuth2 token endpoint, default {api_url}/v0/oauth2/token",
        ),
        th.Property(
            "access_token",
            th.StringType,
            secret=True,
            description=(
                "Auth mode 2: a token generated in the Amperity UI, sent as Bearer "
                "(it cannot be renewed: the sync stops when it expires)"
            ),
        ),
        th.Property(
            "api_version",
            th.StringType,
            default="2024-04-01",
            description="api-version header of the Amperity API streams",
        ),
        th.Property(
            "profile_api_version",
            th.StringType,
            default="2025-07-31",
            description="api-version header of the Profile API streams (indexes, profiles)",
        ),
        th.Property(
            "start_date",
            th.DateTimeType,
            description=(
                "Earliest date (UTC) for audit_events, workflow_runs and ingest_jobs on the "
                "first run; default: all history (ingest_jobs: the last 7 days)"
            ),
        ),
        th.Property(
            "page_size",
            th.IntegerType,
            default=DEFAULT_PAGE_SIZE,
            description="limit of each cursor-paged request",
        ),
        th.Property(
            "max_requests_per_second",
            th.IntegerType,
            default=10,
            description="Client-side pacing of all requests, token requests included",
        ),
        th.Property(
            "max_parallel_requests",
            th.IntegerType,
            default=DEFAULT_PARALLEL_REQUESTS,
            description=(
                "Requests in flight at once for index_profiles (one listing per index), "
                "all within max_requests_per_second; 1 reads one index after another"
            ),
        ),
        th.Property(
            "workflow_lookback_days",
            th.IntegerType,
            default=3,
            description="Days before the bookmark workflow_runs re-reads to catch state changes",
        ),
        th.Property(
            "include_unstable",
            th.BooleanType,
            default=False,
            description="Add the campaign_drafts stream (api-version: unstable)",
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
        private SDK method: the one place every CLI mode validates through), then ours,
        before any stream (or discovery) touches the API."""
        secrets = {
            name
            for name, setting in self.config_jsonschema["properties"].items()
            if setting.get("secret")
        }
        try:
            errors = super()._validate_config(raise_errors=raise_errors)
        except ConfigValidationError as exc:
            hidden = hide_secret_values(list(exc.errors), secrets)
            raise ConfigValidationError(str(exc), errors=hidden, schema=exc.schema) from None
        if raise_errors:
            check_settings(self.config)
        return hide_secret_values(errors, secrets)

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
        self._deprecations_logged: set[tuple[str, str, str]] = set()
        self._thread_state = threading.local()
        super().__init__(**kwargs)

    @cached_property
    def api_url(self) -> str:
        """Base URL of both APIs."""
        return api_url(self.config)

    @cached_property
    def pacer(self) -> Pacer:
        """One pace for every request of this tap, token requests and worker threads included."""
        return Pacer(int(self.config.get("max_requests_per_second", 10)))

    @property
    def session(self) -> requests.Session:
        """The calling thread's HTTP session (requests.Session is not thread-safe).

        The main thread's session serves every stream and the token requests; each worker
        thread of a parallel listing gets its own.
        """
        session: requests.Session | None = getattr(self._thread_state, "session", None)
        if session is None:
            session = requests.Session()
            self._thread_state.session = session  # freed with its thread
        return session

    @property
    def max_parallel_requests(self) -> int:
        """Requests a parallel listing keeps in flight (1: sequential)."""
        return int(self.config.get("max_parallel_requests") or DEFAULT_PARALLEL_REQUESTS)

    @cached_property
    def token_authenticator(self) -> AmperityAuthenticator:
        """The access token every stream shares (OAuth, or the UI token)."""
        if self.config.get("access_token"):
            return StaticTokenAuthenticator(token=str(self.config["access_token"]))
        return ClientCredentialsAuthenticator(
            auth_endpoint=token_url(self.config),
            client_id=str(self.config.get("client_id", "")),
            client_secret=str(self.config.get("client_secret", "")),
            tenant_id=str(self.config.get("tenant_id", "")),
            session=lambda: self.session,
            pace=self.pacer.wait,
            timeout=float(self.config.get("request_timeout", 60)),
        )

    def note_deprecation(self, response: requests.Response, endpoint: str) -> None:
        """Warn once per run and endpoint (``/indexes/{index_id}/profiles``, not each index's
        path) about ``Deprecation``/``Sunset`` headers."""
        deprecation = response.headers.get("Deprecation", "")
        sunset = response.headers.get("Sunset", "")
        if not deprecation and not sunset:
            return
        key = (endpoint, deprecation, sunset)
        if key in self._deprecations_logged:
            return
        self._deprecations_logged.add(key)
        logging.getLogger("tap-amperity").warning(
            "GET %s is deprecated (Deprecation: %s; Sunset: %s): check the Amperity API "
            "changelog and update api_version",
            key[0],
            deprecation or "-",
            sunset or "-",
        )

    def discover_streams(self) -> list[AmperityStream]:
        """Every stream; campaign_drafts only with include_unstable."""
        types = list(STREAM_TYPES)
        if self.config.get("include_unstable"):
            types += UNSTABLE_STREAM_TYPES
        return [stream_type(tap=self) for stream_type in types]


if __name__ == "__main__":
    TapAmperity.cli()
