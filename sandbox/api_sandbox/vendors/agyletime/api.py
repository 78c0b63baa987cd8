"""Agyle Time (Playvox WFM) stand-in: tenant and regional hosts, JWT tokens, JSend bodies.

Mounted under ``/agyletime``:

- tenant host ``/agyletime/tenant/api/...`` (the ``https://{subdomain}.cloud.agyletime.io/api``
  of production): the token endpoint, metrics, tasks and task definitions;
- regional host ``/agyletime/regional/...`` (``https://api-{region}.cloud.agyletime.io``, no
  ``/api``): users, roles, workstreams, contacts, interactions and published shifts.

What it enforces: HTTP Basic on ``POST /authority/token`` (form ``grant_type`` optional, but
``client_credentials`` if sent); HS256 JWTs with ``organisation_id``/``iat``/``exp`` and a
configurable lifetime (``--token-ttl agyletime=SECONDS``), 401 once expired or revoked;
JSend success and error envelopes; ``pageLimit``/``nextPageToken`` paging where the token is
bound to the query's filters (a page request that drops or changes them is a 400); 400
MISSING / UNDEFINED / INVALID field messages for absent, unknown or malformed parameters and
422 for an end before the start.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import zlib
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from itertools import islice
from typing import Any

import jwt
from aiohttp import web

from api_sandbox.faults import PAGE_FAULT
from api_sandbox.settings import PageSizeRefusedError, SandboxSettings
from api_sandbox.tenants import TENANTS, SandboxTenant, default_tenant, find_tenant
from api_sandbox.vendor import TokenStore, VendorAPI, bearer_token, json_response, off_the_loop
from api_sandbox.vendors.agyletime.data import (
    AgyleTimeData,
    Cursor,
    Record,
)

ACCESS_KEY_ID = "sandbox-access-key-id"
ACCESS_KEY_SECRET = "sandbox-access-key-secret"  # noqa: S105 - public fake credential
SIGNING_KEY = "agyletime-sandbox-hs256-signing-key"
DEFAULT_TOKEN_TTL_S = 3600.0
DEFAULT_PAGE_LIMIT = 100
MAX_PAGE_LIMIT = 1000
PAGING_PARAMS = frozenset({"pageLimit", "nextPageToken"})
TENANT_HOSTS = "/tenants/{subdomain}"
"""Each tenant's own host (``https://{subdomain}.cloud.agyletime.io``) below the vendor's
prefix; ``/tenant`` is the first tenant's."""

ERROR_CODES = {
    400: "BadRequest",
    401: "Unauthorised",
    403: "Forbidden",
    404: "NotFound",
    409: "Conflict",
    422: "UnprocessableEntity",
    429: "TooManyRequests",
    500: "InternalError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}

Listing = Callable[["Query", Cursor | None], Iterator[tuple[Cursor, Any]]]


class QueryError(Exception):
    """A request the API refuses, with its status and JSend message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Query:
    """A validated listing request."""

    filters: dict[str, str]
    data: AgyleTimeData
    """The data of the tenant the request's token was issued for."""
    now: datetime
    """The sandbox clock's reading when the request arrived."""
    start: datetime | None = None
    end: datetime | None = None

    @property
    def today(self) -> date:
        """The request's UTC date: the tenant's history ends the day before."""
        return self.now.date()


@dataclass(frozen=True)
class Endpoint:
    """One GET listing: which filters it takes and how it reads the data model."""

    listing: Listing
    allowed: frozenset[str] = frozenset()
    required: frozenset[str] = frozenset()
    window: tuple[str, str] | None = None
    """Names of the (start, end) date-time filters, if the listing is date-ranged."""
    grouped: bool = False
    """Metrics: ``userGrouping``/``dateGrouping`` must be true, data is ``{dates: [...]}``."""


def parse_time(name: str, value: str) -> datetime:
    """An ISO-8601 date-time; naive values are UTC (the API accepts both)."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise QueryError(400, f"{name} (INVALID): Must be an ISO-8601 date-time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def filter_digest(filters: dict[str, str]) -> int:
    """CRC of the query filters a page token is bound to."""
    text = "&".join(f"{k}={filters[k]}" for k in sorted(filters))
    return zlib.crc32(text.encode())


def encode_token(cursor: Cursor, filters: dict[str, str], nonce: int = 0) -> str:
    """Opaque hex page token: nonce, cursor of the last record served, filter digest."""
    body = "".join(f"{part:08x}" for part in cursor)
    return f"{nonce % 256:02x}{len(cursor):x}{body}{filter_digest(filters):08x}"


def decode_token(token: str, filters: dict[str, str]) -> Cursor:
    """The cursor in ``token``; a 400 when it is malformed or was issued for other filters."""
    invalid = QueryError(400, "nextPageToken (INVALID): Unknown or expired page token")
    try:
        size = int(token[2], 16)
        body, digest = token[3:-8], int(token[-8:], 16)
        if len(body) != 8 * size:
            raise invalid
        cursor = tuple(int(body[i : i + 8], 16) for i in range(0, len(body), 8))
    except (ValueError, IndexError):
        raise invalid from None
    if digest != filter_digest(filters):
        raise QueryError(
            400, "nextPageToken (INVALID): Page token does not match the query filters"
        )
    return cursor


class AgyleTimeAPI(VendorAPI):
    """Agyle Time under ``/agyletime``: tenant and regional hosts under sub-prefixes."""

    name = "agyletime"
    prefix = "/agyletime"
    default_rate_limit = None  # no documented limit; tests set one with --rate-limit

    def __init__(self, settings: SandboxSettings) -> None:
        super().__init__(settings)
        self.tenant_data = {
            tenant.number: AgyleTimeData(
                settings.seed, settings.scale * tenant.share, organisation_id=tenant.number
            )
            for tenant in TENANTS[self.name]
        }
        """Each tenant's data, by the organisation id its tokens carry."""
        self.data = self.tenant_data[default_tenant(self.name).number]
        self.tokens = TokenStore(ttl_s=DEFAULT_TOKEN_TTL_S)

    # --- routes --------------------------------------------------------------------------
    def add_routes(self, app: web.Application) -> None:
        """Register the tenant and regional routes, and JSend 404s for everything else."""
        data = AgyleTimeData  # each listing reads the data of the request's tenant
        date_range = frozenset({"startTime", "endTime"})
        metrics = frozenset({"startTime", "endTime", "userGrouping", "dateGrouping"})
        endpoints = {
            "/tenant/api/workactivity/workstreams/metrics/agents": Endpoint(
                self._metrics_listing(data.agent_metrics),
                allowed=metrics,
                required=frozenset({"startTime", "userGrouping", "dateGrouping"}),
                window=("startTime", "endTime"),
                grouped=True,
            ),
            "/tenant/api/schedule/metrics": Endpoint(
                self._metrics_listing(data.schedule_metrics),
                allowed=metrics,
                required=frozenset({"startTime", "userGrouping", "dateGrouping"}),
                window=("startTime", "endTime"),
                grouped=True,
            ),
            "/tenant/api/workactivity/tasks": Endpoint(
                self._dated_listing(data.tasks_between),
                allowed=frozenset({"taskStartTimeFrom", "taskStartTimeTo"}),
                required=frozenset({"taskStartTimeFrom", "taskStartTimeTo"}),
                window=("taskStartTimeFrom", "taskStartTimeTo"),
            ),
            "/tenant/api/schedule/tasks/definitions": Endpoint(
                self._table_listing(lambda _: data.task_definitions())
            ),
            "/regional/organisation/users": Endpoint(self._table_listing(data.users)),
            "/regional/organisation/business-roles": Endpoint(
                self._table_listing(data.business_roles)
            ),
            "/regional/organisation/system-roles": Endpoint(
                self._table_listing(lambda _: data.system_roles())
            ),
            "/regional/workactivity/workstreams": Endpoint(self._table_listing(data.workstreams)),
            "/regional/workactivity/contacts": Endpoint(
                self._dated_listing(data.contacts_between),
                allowed=date_range,
                required=date_range,
                window=("startTime", "endTime"),
            ),
            "/regional/workactivity/interactions": Endpoint(
                self._dated_listing(data.interactions_between),
                allowed=date_range,
                required=date_range,
                window=("startTime", "endTime"),
            ),
            "/regional/schedule/shifts/published": Endpoint(
                self._dated_listing(data.shifts_between),
                allowed=date_range,
                required=date_range,
                window=("startTime", "endTime"),
            ),
        }
        app.router.add_post("/tenant/api/authority/token", self.issue_token)
        app.router.add_post(f"{TENANT_HOSTS}/api/authority/token", self.issue_token)
        for path, endpoint in endpoints.items():
            app.router.add_get(path, self._handler(endpoint))
            if path.startswith("/tenant/"):  # every tenant's own host, by subdomain
                app.router.add_get(
                    TENANT_HOSTS + path.removeprefix("/tenant"), self._handler(endpoint)
                )
        app.router.add_route("*", "/{tail:.*}", self.not_found)

    # --- auth ----------------------------------------------------------------------------
    async def issue_token(self, request: web.Request) -> web.Response:
        """``POST /api/authority/token``: HTTP Basic access key in, HS256 JWT out."""
        key_id, key_secret = _basic_credentials(request.headers.get("Authorization", ""))
        tenant = self._host_tenant(request)
        if tenant is None:
            return self.error_response(request, 404, "Resource not found")
        if not (
            secrets.compare_digest(key_id, tenant.client_id)
            and secrets.compare_digest(key_secret, tenant.client_secret)
        ):
            return self.error_response(request, 401, "Unauthorised: invalid access key")
        form = await request.post() if request.can_read_body else {}
        grant_type = form.get("grant_type")
        if grant_type is not None and grant_type != "client_credentials":
            return self.error_response(
                request, 400, "grant_type (INVALID): Must be client_credentials"
            )
        ttl = self.settings.token_ttl_for(self.name, DEFAULT_TOKEN_TTL_S)
        issued = self.settings.clock.time()
        claims = {
            "organisation_id": tenant.number,
            "iat": int(issued),
            "exp": int(issued + ttl),
            "jti": secrets.token_hex(8),
        }
        token = jwt.encode(claims, SIGNING_KEY, algorithm="HS256")
        self.tokens.register(token, ttl_s=ttl)
        expires_in = int(ttl) if float(ttl).is_integer() else ttl  # whole seconds when it can
        data = {"accessToken": token, "expiresIn": expires_in, "tokenType": "Bearer"}
        return json_response({"status": "success", "result": 0, "message": "Success", "data": data})

    @staticmethod
    def _host_tenant(request: web.Request) -> SandboxTenant | None:
        """The tenant whose host the request came to (the regional host: None)."""
        subdomain = request.match_info.get("subdomain")
        if subdomain is not None:
            return find_tenant(AgyleTimeAPI.name, subdomain)
        if request.path.startswith(f"{AgyleTimeAPI.prefix}/tenant/"):
            return default_tenant(AgyleTimeAPI.name)
        return None

    def _unauthorised(self, request: web.Request) -> web.Response | AgyleTimeData:
        """A 401 unless the request carries a live token this sandbox signed (for this
        tenant's host, on a tenant host); else the data of the token's tenant."""
        token = bearer_token(request)
        if token is None:
            return self.error_response(request, 401, "Unauthorised: missing bearer token")
        try:
            claims = jwt.decode(
                token,
                SIGNING_KEY,
                algorithms=["HS256"],
                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
            )
        except jwt.InvalidTokenError:
            return self.error_response(request, 401, "Unauthorised: invalid access token")
        if not self.tokens.is_valid(token):
            return self.error_response(request, 401, "Unauthorised: access token expired")
        data = self.tenant_data.get(int(claims.get("organisation_id", 0)))
        host = self._host_tenant(request)
        if data is None or (host is not None and host.number != data.organisation_id):
            return self.error_response(request, 401, "Unauthorised: token of another tenant")
        return data

    def revoke_tokens(self) -> None:
        """Every token issued so far stops working (the ``expire_tokens`` fault)."""
        self.tokens.revoke_all()

    def reset(self) -> None:
        """Forget issued tokens."""
        self.tokens = TokenStore(ttl_s=DEFAULT_TOKEN_TTL_S)

    # --- listings ------------------------------------------------------------------------
    @staticmethod
    def _table_listing(rows: Callable[[AgyleTimeData], Iterator[Record]]) -> Listing:
        def listing(query: Query, after: Cursor | None) -> Iterator[tuple[Cursor, Any]]:
            first = after[0] + 1 if after else 0
            table = islice(rows(query.data), first, None)
            return (((first + i,), row) for i, row in enumerate(table))

        return listing

    @staticmethod
    def _dated_listing(
        between: Callable[
            [AgyleTimeData, datetime, datetime, date, Cursor | None],
            Iterator[tuple[Cursor, Record]],
        ],
    ) -> Listing:
        def listing(query: Query, after: Cursor | None) -> Iterator[tuple[Cursor, Any]]:
            assert query.start is not None
            assert query.end is not None
            return between(query.data, query.start, query.end, query.today, after)

        return listing

    @staticmethod
    def _metrics_listing(user_entry: Callable[[AgyleTimeData, int, date], Record]) -> Listing:
        def listing(query: Query, after: Cursor | None) -> Iterator[tuple[Cursor, Any]]:
            assert query.start is not None
            assert query.end is not None
            for cursor, (day, index) in query.data.metric_user_days(
                query.start, query.end, query.today, after
            ):
                yield cursor, (day, user_entry(query.data, index, day))

        return listing

    def _handler(self, endpoint: Endpoint) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            data = self._unauthorised(request)
            if isinstance(data, web.Response):
                return data
            try:
                return await off_the_loop(self._page, request, endpoint, data)
            except QueryError as exc:
                return self.error_response(request, exc.status, exc.message)

        return handle

    def _page(self, request: web.Request, endpoint: Endpoint, data: AgyleTimeData) -> web.Response:
        query, limit, after = self._parse(request, endpoint, data)
        fault = request.get(PAGE_FAULT)
        sent_token = request.query.get("nextPageToken") or None
        nonce = int(sent_token[:2], 16) + 1 if sent_token else 1
        items: list[tuple[Cursor, Any]] = []
        if fault != "empty_page":
            items = list(islice(endpoint.listing(query, after), limit + 1))
        more = len(items) > limit
        items = items[:limit]
        next_token: str | None = None
        if fault == "empty_page":
            # Same position, fresh token: a well-behaved client just follows it.
            next_token = encode_token(after or (), query.filters, nonce)
        elif fault == "repeat_page_token":
            next_token = sent_token or encode_token((), query.filters, 0)
        elif more:
            next_token = encode_token(items[-1][0], query.filters, nonce)
        body: dict[str, Any] = {"status": "success", "result": 0, "message": "Success"}
        body["data"] = _grouped(items) if endpoint.grouped else [row for _, row in items]
        body["itemsCount"] = len(items)
        body["pageLimit"] = limit
        if next_token:
            body["nextPageToken"] = next_token
        elif endpoint.grouped:
            body["nextPageToken"] = ""  # metrics say "no more" with an empty token
        return json_response(body)

    def _parse(
        self, request: web.Request, endpoint: Endpoint, data: AgyleTimeData
    ) -> tuple[Query, int, Cursor | None]:
        params = dict(request.query)
        problems = [
            f"{name} (UNDEFINED): Field is not allowed"
            for name in params
            if name not in endpoint.allowed and name not in PAGING_PARAMS
        ]
        problems += [
            f"{name} (MISSING): Field is required"
            for name in sorted(endpoint.required)
            if not params.get(name)
        ]
        if endpoint.grouped:
            problems += [
                f"{name} (INVALID): Must be true"
                for name in ("userGrouping", "dateGrouping")
                if params.get(name) and params[name].lower() != "true"
            ]
        raw_limit = params.get("pageLimit", str(DEFAULT_PAGE_LIMIT))
        if not raw_limit.isdigit() or int(raw_limit) < 1:
            problems.append("pageLimit (INVALID): Must be a positive integer")
        if problems:
            raise QueryError(400, ", ".join(problems))
        try:
            limit = self.settings.page_size_for(
                self.name, "pageLimit", int(raw_limit), MAX_PAGE_LIMIT
            )
        except PageSizeRefusedError as exc:
            msg = f"pageLimit (INVALID): Must be at most {exc.maximum}"
            raise QueryError(400, msg) from None
        filters = {k: v for k, v in params.items() if k not in PAGING_PARAMS}
        query = Query(filters, data, now=self.settings.clock.now())
        if endpoint.window:
            start_name, end_name = endpoint.window
            query.start = parse_time(start_name, params[start_name])
            query.end = (
                parse_time(end_name, params[end_name]) if params.get(end_name) else query.now
            )
            if query.end <= query.start:
                raise QueryError(422, f"{end_name} must be later than {start_name}")
        token = params.get("nextPageToken")
        after = (decode_token(token, filters) or None) if token else None
        return query, limit, after

    async def not_found(self, request: web.Request) -> web.Response:
        """JSend 404 for paths the API does not have."""
        return self.error_response(request, 404, "Resource not found")

    # --- error bodies --------------------------------------------------------------------
    def error_response(
        self, request: web.Request, status: int, message: str, headers: dict[str, str] | None = None
    ) -> web.Response:
        """JSend error body ``{status: "error", message, code, result}``."""
        code = ERROR_CODES.get(status, "Error")
        body = {"status": "error", "message": message, "code": code, "result": code}
        return json_response(body, status=status, headers=headers)


def _grouped(items: list[tuple[Cursor, Any]]) -> dict[str, Any]:
    """Metrics pages: ``{dates: [{date, users: [...]}]}``, a date possibly split over pages."""
    dates: list[dict[str, Any]] = []
    for _, (day, user) in items:
        if not dates or dates[-1]["date"] != day.isoformat():
            dates.append({"date": day.isoformat(), "users": []})
        dates[-1]["users"].append(user)
    return {"dates": dates}


def _basic_credentials(header: str) -> tuple[str, str]:
    """(id, secret) of an ``Authorization: Basic`` header; empty strings if absent or bad."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return "", ""
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return "", ""
    key_id, _, key_secret = decoded.partition(":")
    return key_id, key_secret
