"""Amperity API and Profile API stand-in, mounted under ``/amperity`` (``/amperity/api/...``).

What it enforces, as documented by Amperity:

- ``POST /api/v0/oauth2/token``: form body ``grant_type=client_credentials&client_id&client_secret``
  and the ``X-Amperity-Tenant`` header; answers ``{access_token, expires_in, token_type}``.
  Tokens are HS256 JWTs living ``--token-ttl amperity=SECONDS`` (default 3600); expired or
  revoked tokens get 401. A "UI-generated" token for auth mode 2 is :func:`ui_token`
  (:data:`SANDBOX_UI_TOKEN` is one valid until 2100).
- Every other call: ``Authorization: Bearer``, ``Amperity-Tenant`` (400 when missing, 403 for
  another tenant) and ``api-version`` (header, or the ``api_version`` query parameter): 400 when
  missing or not the route's version (``2024-04-01``/``unstable`` for the Amperity API,
  ``unstable`` only for ``/campaign-drafts``, ``2025-07-31`` for the Profile API).
- Cursor paging: ``limit`` (from 1; default 100, Profile API 25; pages hold at most 1000,
  as documented for audit events: ``page_limits`` may refuse or cap another maximum), ``next_token`` (opaque,
  bound to the query's filters; empty or foreign tokens are a 400) and ``with_total``;
  envelope ``{data, next_token, total?}``. The last page says so in three ways, per route
  (:data:`LAST_PAGE`): ``next_token`` absent, ``null`` or ``""``.
- ``GET /api/ingest/jobs``: ``created_from`` and ``created_to`` required, at most 7 days apart;
  one page, whose ``next_token`` "is not available for use" (sending it is a 400).
- ``GET /api/workflow/runs``: ``created_from``/``created_to``, ``ended_from``/``ended_to``
  (inclusive/exclusive), ``state`` and ``type``, each applied only when sent. A run that
  ends after the history's end (today's midnight) is ``started``, without ``ended_at``: it
  ends, with its final state, on a later day of the sandbox's clock.
- ``GET /api/workflow/runs/{id}``: ``view=overview`` (default: id, name, state, tenant, type,
  created_at, ended_at) or ``view=verbose`` (every field plus ``task_instances``); 404 for
  an unknown run.
- ``/campaign-drafts`` answers with ``Deprecation`` and ``Sunset`` headers.
- Errors: ``{status, message, request_id}`` (+ ``trace_id`` on the Profile API); 429 above
  10 requests/second (the Amperity API, token endpoint included) or 2000 requests/second
  (the Profile API, ``/api/indexes...``, family ``profile_api``), each on its own window,
  without ``Retry-After`` (the server core applies the limits).
"""

from __future__ import annotations

import base64
import binascii
import contextvars
import secrets
import struct
import time
import zlib
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any, ClassVar

import jwt
from aiohttp import web

from api_sandbox.faults import PAGE_FAULT
from api_sandbox.settings import PageSizeRefusedError, SandboxSettings
from api_sandbox.tenants import TENANTS, default_tenant, find_tenant
from api_sandbox.vendor import TokenStore, VendorAPI, bearer_token, json_response, off_the_loop
from api_sandbox.vendors.amperity.data import TENANT, AmperityData, Record

REQUEST_TENANT: contextvars.ContextVar[str] = contextvars.ContextVar(
    "amperity_request_tenant", default=TENANT
)
"""The tenant of the request being answered (a request's context is its own, and follows
it into the worker thread that builds its page)."""
CLIENT_ID = "sandbox-client-id"
CLIENT_SECRET = "sandbox-client-secret"  # noqa: S105 - public fake credential
SIGNING_KEY = "amperity-sandbox-hs256-signing-key"
DEFAULT_TOKEN_TTL_S = 3600.0
API_VERSION = "2024-04-01"
UNSTABLE = "unstable"
PROFILE_API_VERSION = "2025-07-31"
MAX_LIMIT = 1000
PROFILE_API = "profile_api"
MAX_INGEST_WINDOW = timedelta(days=7)
WORKFLOW_VIEWS = ("overview", "verbose")
WORKFLOW_OVERVIEW = frozenset({"created_at", "ended_at", "id", "name", "state", "tenant", "type"})
PAGING_PARAMS = frozenset({"limit", "next_token", "with_total", "api_version"})
DEPRECATION_HEADERS = {
    "Deprecation": "Mon, 01 Jun 2026 00:00:00 GMT",
    "Sunset": "Tue, 01 Dec 2026 00:00:00 GMT",
}
LAST_PAGE = {
    "/api/audit-events": "absent",
    "/api/campaigns": "null",
    "/api/campaign-drafts": "null",
    "/api/segments": "empty",
    "/api/workflow/runs": "absent",
    "/api/indexes": "empty",
    "/api/indexes/{index_id}/profiles": "absent",
}
"""How each listing marks its last page: the docs say both "absent" and "empty"."""


def ui_token(tenant: str = TENANT, ttl_s: float = 3 * 86400, issued_at: float | None = None) -> str:
    """A token as the Amperity UI's "Generate token" makes it (auth mode 2)."""
    issued = time.time() if issued_at is None else issued_at
    claims = {"tenant": tenant, "iat": issued, "exp": issued + ttl_s, "kind": "ui"}
    return jwt.encode(claims, SIGNING_KEY, algorithm="HS256")


SANDBOX_UI_TOKEN = ui_token(ttl_s=4102444800 - 1704067200, issued_at=1704067200)  # 2024..2100
"""A long-lived UI-generated token the sandbox accepts, for auth mode 2 demos."""


class ApiError(Exception):
    """A request the API refuses, with its status and message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Listing:
    """One cursor-paged GET: its versions and how it reads the data model."""

    rows: Callable[[dict[str, str], web.Request], tuple[range, Callable[[int], Record]]]
    """(index range after the filters, record of an index) for the query's filters."""
    versions: frozenset[str] = frozenset({API_VERSION, UNSTABLE})
    default_limit: int = 100
    keep: Callable[[Record, dict[str, str]], bool] | None = None
    """Filters on record fields, applied while walking the index range."""


def parse_time(name: str, value: str) -> datetime:
    """ISO-8601 date-time or ``YYYY-MM-DD`` (both documented); naive means UTC."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, f"Invalid value for {name}: expected an ISO-8601 date-time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _digest(filters: dict[str, str]) -> int:
    return zlib.crc32("&".join(f"{k}={filters[k]}" for k in sorted(filters)).encode())


def encode_token(position: int, filters: dict[str, str], nonce: int) -> str:
    """Opaque page token: nonce, index of the next record, digest of the filters."""
    raw = struct.pack(">BII", nonce % 256, position, _digest(filters))
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str, filters: dict[str, str]) -> tuple[int, int]:
    """(position, nonce) of a token; a 400 when it is malformed or for other filters."""
    try:
        nonce, position, digest = struct.unpack(">BII", base64.urlsafe_b64decode(token + "=="))
    except (binascii.Error, struct.error, ValueError):
        raise ApiError(400, "Invalid next_token") from None
    if digest != _digest(filters):
        raise ApiError(400, "Invalid next_token: it was issued for a different query")
    return position, nonce


class AmperityAPI(VendorAPI):
    """Amperity under ``/amperity``: the Amperity API and the Profile API under ``/api``."""

    name = "amperity"
    prefix = "/amperity"
    default_rate_limit = 10.0
    family_rate_limits: ClassVar[dict[str, float]] = {PROFILE_API: 2000.0}

    def __init__(self, settings: SandboxSettings) -> None:
        super().__init__(settings)
        self.tokens = TokenStore(ttl_s=DEFAULT_TOKEN_TTL_S)
        self.revoked_before = 0.0
        self._data: dict[str, AmperityData] = {}

    @property
    def data(self) -> AmperityData:
        """The data of the request's tenant (see :meth:`_check_headers`; else the default
        tenant); its history ends at today's midnight (UTC)."""
        tenant = find_tenant(self.name, REQUEST_TENANT.get()) or default_tenant(self.name)
        today = self.settings.clock.today()
        data = self._data.get(tenant.key)
        if data is None or data.today != today:
            scale = self.settings.scale * tenant.share
            data = self._data[tenant.key] = AmperityData(
                self.settings.seed, scale, today, tenant=tenant.key
            )
        return data

    def rate_limit_scope(self, request: web.Request) -> str:
        """Per tenant: each tenant is its own deployment (the Profile API's documented limit
        is "across the entire tenant")."""
        return (
            request.headers.get("Amperity-Tenant") or request.headers.get("X-Amperity-Tenant") or ""
        )

    def family_of(self, path: str) -> str | None:
        """The Profile API (``/api/indexes...``) has a limit of its own."""
        return PROFILE_API if path.startswith("/api/indexes") else None

    # --- routes --------------------------------------------------------------------------
    def add_routes(self, app: web.Application) -> None:
        """Token endpoint, the listings, one index by id, and JSON 404s for the rest."""
        profile = frozenset({PROFILE_API_VERSION})
        listings = {
            "/api/audit-events": Listing(self._audit_events),
            "/api/campaigns": Listing(self._table(lambda d: (d.campaign_count, d.campaign))),
            "/api/campaign-drafts": Listing(
                self._table(lambda d: (d.campaign_draft_count, d.campaign_draft)),
                versions=frozenset({UNSTABLE}),
            ),
            "/api/segments": Listing(self._table(lambda d: (d.segment_count, d.segment))),
            "/api/workflow/runs": Listing(self._workflow_runs, keep=_workflow_filter),
            "/api/indexes": Listing(
                self._table(lambda d: (d.index_count, d.index)), versions=profile, default_limit=25
            ),
            "/api/indexes/{index_id}/profiles": Listing(
                self._profiles, versions=profile, default_limit=25
            ),
        }
        app.router.add_post("/api/v0/oauth2/token", self.issue_token)
        for path, listing in listings.items():
            app.router.add_get(path, self._listing_handler(path, listing))
        app.router.add_get("/api/ingest/jobs", self._guarded(self.ingest_jobs))
        app.router.add_get("/api/workflow/runs/{run_id}", self._guarded(self.get_workflow_run))
        app.router.add_get("/api/indexes/{index_id}", self._guarded(self.get_index))
        app.router.add_route("*", "/{tail:.*}", self.not_found)

    # --- auth ----------------------------------------------------------------------------
    async def issue_token(self, request: web.Request) -> web.Response:
        """``POST /api/v0/oauth2/token``: client credentials in, a short-lived JWT out."""
        tenant = request.headers.get("X-Amperity-Tenant")
        if not tenant:
            return self.error_response(request, 400, "Missing required header X-Amperity-Tenant")
        form = await request.post() if request.can_read_body else {}
        if form.get("grant_type") != "client_credentials":
            return self.error_response(request, 400, "grant_type must be client_credentials")
        client_id = str(form.get("client_id") or "")
        client_secret = str(form.get("client_secret") or "")
        owner = next(
            (
                known
                for known in TENANTS[self.name]
                if secrets.compare_digest(client_id, known.client_id)
                and secrets.compare_digest(client_secret, known.client_secret)
            ),
            None,
        )
        if owner is None:
            return self.error_response(request, 401, "Invalid client credentials")
        if tenant != owner.key:  # each API key belongs to one tenant
            return self.error_response(request, 403, f"The API key is not valid for {tenant}")
        ttl = self.settings.token_ttl_for(self.name, DEFAULT_TOKEN_TTL_S)
        issued = self.settings.clock.time()
        claims = {
            "tenant": tenant,
            "sub": client_id,
            "iat": issued,
            "exp": issued + ttl,
            "jti": secrets.token_hex(8),
        }
        token = self.tokens.register(jwt.encode(claims, SIGNING_KEY, algorithm="HS256"), ttl)
        return json_response({"access_token": token, "expires_in": ttl, "token_type": "Bearer"})

    def _check_auth(self, request: web.Request) -> str:
        """The token's tenant, or an ApiError 401."""
        token = bearer_token(request)
        if token is None:
            raise ApiError(401, "Missing bearer token")
        try:
            # Times are checked against the sandbox's clock, not PyJWT's (the system clock).
            claims = jwt.decode(
                token,
                SIGNING_KEY,
                algorithms=["HS256"],
                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
            )
        except jwt.InvalidTokenError:
            raise ApiError(401, "Invalid access token") from None
        if float(claims.get("exp", 0)) <= self.settings.clock.time():
            raise ApiError(401, "The access token has expired")
        if claims.get("kind") == "ui":
            if float(claims.get("iat", 0)) < self.revoked_before:
                raise ApiError(401, "The access token has been revoked")
        elif not self.tokens.is_valid(token):
            raise ApiError(401, "The access token has expired")
        return str(claims.get("tenant"))

    def _check_headers(self, request: web.Request, versions: frozenset[str]) -> None:
        """Auth, then ``Amperity-Tenant``, then ``api-version``."""
        token_tenant = self._check_auth(request)
        tenant = request.headers.get("Amperity-Tenant")
        if not tenant:
            raise ApiError(400, "Missing required header Amperity-Tenant")
        if tenant != token_tenant or find_tenant(self.name, tenant) is None:
            raise ApiError(403, f"The access token is not valid for tenant {tenant}")
        REQUEST_TENANT.set(tenant)  # what self.data serves, this request only
        version = request.headers.get("api-version") or request.query.get("api_version")
        if not version:
            raise ApiError(400, "Missing required header api-version")
        if version not in versions:
            expected = ", ".join(sorted(versions))
            raise ApiError(
                400, f"Unsupported api-version {version!r} for this endpoint (use {expected})"
            )

    def revoke_tokens(self) -> None:
        """Every token issued so far, UI tokens included, stops working."""
        self.tokens.revoke_all()
        self.revoked_before = self.settings.clock.time()

    def reset(self) -> None:
        """Forget issued tokens and revocations."""
        self.tokens = TokenStore(ttl_s=DEFAULT_TOKEN_TTL_S)
        self.revoked_before = 0.0

    # --- listings ------------------------------------------------------------------------
    def _table(
        self, counted: Callable[[AmperityData], tuple[int, Callable[[int], Record]]]
    ) -> Callable[[dict[str, str], web.Request], tuple[range, Callable[[int], Record]]]:
        def rows(_: dict[str, str], __: web.Request) -> tuple[range, Callable[[int], Record]]:
            count, make = counted(self.data)
            return range(count), make

        return rows

    def _audit_events(
        self, filters: dict[str, str], _: web.Request
    ) -> tuple[range, Callable[[int], Record]]:
        start, end = _time_bounds(filters, "happened_from", "happened_to")
        return self.data.audit_event_range(start, end), self.data.audit_event

    def _workflow_runs(
        self, filters: dict[str, str], _: web.Request
    ) -> tuple[range, Callable[[int], Record]]:
        start, end = _time_bounds(filters, "created_from", "created_to")
        _time_bounds(filters, "ended_from", "ended_to")  # validated; applied by the filter
        return self.data.workflow_run_range(start, end), self.data.workflow_run

    def _profiles(
        self, _: dict[str, str], request: web.Request
    ) -> tuple[range, Callable[[int], Record]]:
        number = self.data.index_number(request.match_info["index_id"])
        if number is None:
            raise ApiError(404, f"Index {request.match_info['index_id']} not found")
        return range(self.data.profiles_per_index), lambda p: self.data.profile(number, p)

    def _listing_handler(
        self, path: str, listing: Listing
    ) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            self._check_headers(request, listing.versions)
            return await off_the_loop(self._page, request, path, listing)

        return self._guarded(handle)

    def _page(self, request: web.Request, path: str, listing: Listing) -> web.Response:
        params = dict(request.query)
        try:
            limit = self.settings.page_size_for(
                self.name, "limit", _limit(params.get("limit"), listing.default_limit), MAX_LIMIT
            )
        except PageSizeRefusedError as exc:
            raise ApiError(400, f"limit must be at most {exc.maximum}") from None
        with_total = _flag("with_total", params.get("with_total"))
        filters = {k: v for k, v in params.items() if k not in PAGING_PARAMS}
        indexes, make = listing.rows(filters, request)
        sent = params.get("next_token")
        if sent is not None and not sent:
            raise ApiError(400, "next_token cannot be empty")
        position, nonce = decode_token(sent, filters) if sent else (indexes.start, 0)
        matches = self._walk(indexes, make, listing, filters, max(position, indexes.start))
        page = list(islice(matches, limit + 1))
        fault = request.get(PAGE_FAULT)
        next_token: str | None = None
        if fault == "empty_page":
            page, next_token = [], encode_token(position, filters, nonce + 1)
        elif fault == "repeat_page_token":
            page = page[:limit]
            next_token = sent or encode_token(position, filters, nonce)
        elif len(page) > limit:
            page = page[:limit]
            next_token = encode_token(page[-1][0] + 1, filters, nonce + 1)
        body: dict[str, Any] = {"data": [record for _, record in page]}
        if next_token:
            body["next_token"] = next_token
        elif LAST_PAGE[path] == "null":
            body["next_token"] = None
        elif LAST_PAGE[path] == "empty":
            body["next_token"] = ""
        if with_total:
            body["total"] = sum(1 for _ in self._walk(indexes, make, listing, filters, 0))
        headers = DEPRECATION_HEADERS if path == "/api/campaign-drafts" else None
        return json_response(body, headers=headers)

    @staticmethod
    def _walk(
        indexes: range,
        make: Callable[[int], Record],
        listing: Listing,
        filters: dict[str, str],
        start: int,
    ) -> Iterator[tuple[int, Record]]:
        for index in range(max(start, indexes.start), indexes.stop):
            record = make(index)
            if listing.keep is None or listing.keep(record, filters):
                yield index, record

    # --- single-page routes --------------------------------------------------------------
    async def ingest_jobs(self, request: web.Request) -> web.Response:
        """``GET /api/ingest/jobs``: the jobs started in a window of at most 7 days."""
        self._check_headers(request, frozenset({API_VERSION, UNSTABLE}))
        params = request.query
        if "next_token" in params or "limit" in params:
            raise ApiError(400, "limit and next_token are not supported by /ingest/jobs")
        for name in ("created_from", "created_to"):
            if not params.get(name):
                raise ApiError(400, f"Missing required parameter {name}")
        start = parse_time("created_from", params["created_from"])
        end = parse_time("created_to", params["created_to"])
        if end <= start:
            raise ApiError(400, "created_to must be later than created_from")
        if end - start > MAX_INGEST_WINDOW:
            raise ApiError(400, "The window from created_from to created_to exceeds 7 days")
        indexes = self.data.ingest_job_range(start, end)
        body: dict[str, Any] = {
            "data": [self.data.ingest_job(i) for i in indexes],
            "next_token": encode_token(indexes.stop, dict(params), 0),  # documented as unusable
        }
        if _flag("with_total", params.get("with_total")):
            body["total"] = len(indexes)
        return json_response(body)

    async def get_workflow_run(self, request: web.Request) -> web.Response:
        """``GET /api/workflow/runs/{id}``: ``view=overview`` (the default) or ``verbose``
        (every field, with the run's ``task_instances``)."""
        self._check_headers(request, frozenset({API_VERSION, UNSTABLE}))
        view = request.query.get("view", "overview")
        if view not in WORKFLOW_VIEWS:
            raise ApiError(400, f"view must be one of {', '.join(WORKFLOW_VIEWS)}")
        run_id = request.match_info["run_id"]
        index = self.data.workflow_run_number(run_id)
        if index is None:
            raise ApiError(404, f"Workflow run {run_id} not found")
        run = self.data.workflow_run(index)
        if view == "overview":
            return json_response({k: v for k, v in run.items() if k in WORKFLOW_OVERVIEW})
        return json_response({**run, "task_instances": self.data.workflow_task_instances(index)})

    async def get_index(self, request: web.Request) -> web.Response:
        """``GET /api/indexes/{id}``."""
        self._check_headers(request, frozenset({PROFILE_API_VERSION}))
        number = self.data.index_number(request.match_info["index_id"])
        if number is None:
            raise ApiError(404, f"Index {request.match_info['index_id']} not found")
        return json_response(self.data.index(number))

    async def not_found(self, request: web.Request) -> web.Response:
        """404 for paths the API does not have."""
        return self.error_response(request, 404, "Not found")

    def _guarded(
        self, handler: Callable[[web.Request], Awaitable[web.Response]]
    ) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            try:
                return await handler(request)
            except ApiError as exc:
                return self.error_response(request, exc.status, exc.message)

        return handle

    # --- error bodies --------------------------------------------------------------------
    def error_response(
        self, request: web.Request, status: int, message: str, headers: dict[str, str] | None = None
    ) -> web.Response:
        """``{status, message, request_id}``, plus ``trace_id`` on the Profile API."""
        body: dict[str, Any] = {
            "status": status,
            "message": message,
            "request_id": f"req-{secrets.token_hex(6)}",
        }
        if request.path.startswith(f"{self.prefix}/api/indexes"):
            body["trace_id"] = secrets.token_hex(16)
        return json_response(body, status=status, headers=headers)


def _time_bounds(
    filters: dict[str, str], start_name: str, end_name: str
) -> tuple[datetime | None, datetime | None]:
    start = parse_time(start_name, filters[start_name]) if filters.get(start_name) else None
    end = parse_time(end_name, filters[end_name]) if filters.get(end_name) else None
    return start, end


def _workflow_filter(record: Record, filters: dict[str, str]) -> bool:
    """``state``, ``type`` and ``ended_from``/``ended_to`` on workflow runs."""
    if filters.get("state") and record["state"].lower() != filters["state"].lower():
        return False
    if filters.get("type") and record["type"] != filters["type"]:
        return False
    ended_from, ended_to = _time_bounds(filters, "ended_from", "ended_to")
    if ended_from is None and ended_to is None:
        return True
    ended = parse_time("ended_at", record["ended_at"]) if record.get("ended_at") else None
    if ended is None:
        return False
    return (ended_from is None or ended >= ended_from) and (ended_to is None or ended < ended_to)


def _limit(value: str | None, default: int) -> int:
    if value is None:
        return default
    if not value.isdigit() or int(value) < 1:
        raise ApiError(400, "limit must be a positive integer")
    return int(value)


def _flag(name: str, value: str | None) -> bool:
    if value is None:
        return False
    if value.lower() not in ("true", "false"):
        raise ApiError(400, f"{name} must be true or false")
    return value.lower() == "true"
