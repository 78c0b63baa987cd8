"""The sandbox server: vendor sub-applications, the hostile-API middleware, control routes."""

from __future__ import annotations

import asyncio
import functools
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web
from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from api_sandbox.clock import parse_instant
from api_sandbox.faults import PAGE_FAULT, Fault, FaultBook, set_field, trickle
from api_sandbox.settings import PageLimit, SandboxSettings
from api_sandbox.vendor import VendorAPI, json_response
from api_sandbox.vendors import VENDOR_CLASSES
from api_sandbox.vendors.agyletime.data import AgyleTimeData
from api_sandbox.vendors.amilia.data import AmiliaData
from api_sandbox.vendors.amperity.data import AmperityData

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CONTROL_PREFIX = "/_sandbox"

RECORD_MAKERS: dict[type, tuple[str, ...]] = {
    AgyleTimeData: ("user", "workstream", "contact", "interactions", "shift", "tasks"),
    AmiliaData: ("program", "account", "membership", "location", "event", "registration"),
    AmperityData: ("campaign", "segment", "audit_event", "workflow_run", "ingest_job", "profile"),
}
"""Methods that build one record from hashable arguments and never see it mutated later."""
REQUIRED_HEADERS: dict[str, tuple[str, ...]] = {"amilia": ("x-amilia-origin",)}
"""Headers a vendor asks every caller to send; requests without one are counted in the
stats (``headers_missing``), since ``headers_seen`` only lists the distinct values sent."""
_memoized = False
MAIN_FAMILY = "api"
"""How the statistics name a vendor's main API, beside its other families."""


def memoize_record_makers() -> None:
    """Cache every record the data models build, for the life of this process.

    A generated record is a pure function of its arguments, so caching changes no answer;
    it only makes the second read of a page cost serialization alone. ``make bench`` needs
    that: it times the client, and on a 2-core machine an uncached generator (5-30k
    records/s) would be the bottleneck of both the tap and the raw loop it is compared to.
    """
    global _memoized  # noqa: PLW0603 - patch the classes once per process
    if _memoized:
        return
    for cls, names in RECORD_MAKERS.items():
        for name in names:
            setattr(cls, name, functools.cache(getattr(cls, name)))
    _memoized = True


@dataclass
class FamilyStats:
    """Requests of one API family of a vendor: its 429s and busiest 1-second window."""

    requests: int = 0
    rate_limited: int = 0
    peak_per_second: int = 0
    _window: deque[float] = field(default_factory=deque)

    def arrived(self, now: float) -> None:
        """Count an arrival in the sliding 1-second window."""
        self.requests += 1
        self._window.append(now)
        while self._window and now - self._window[0] >= 1.0:
            self._window.popleft()
        self.peak_per_second = max(self.peak_per_second, len(self._window))

    def to_dict(self) -> dict[str, int]:
        """JSON-ready summary."""
        return {
            "requests": self.requests,
            "rate_limited": self.rate_limited,
            "peak_per_second": self.peak_per_second,
        }


@dataclass
class VendorStats:
    """What one vendor's API saw; read by tests and benchmarks through /_sandbox/stats."""

    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    paths: Counter[str] = field(default_factory=Counter)
    headers_seen: dict[str, list[str]] = field(default_factory=dict)
    required_headers: tuple[str, ...] = ()
    headers_missing: Counter[str] = field(default_factory=Counter)
    first_at: float | None = None
    last_at: float | None = None
    peak_per_second: int = 0
    _window: deque[float] = field(default_factory=deque)
    families: dict[str, FamilyStats] = field(default_factory=dict)

    RECORDED_HEADERS = ("user-agent", "x-amilia-origin", "api-version", "amperity-tenant")

    def record(self, request: web.Request, status: int, family: str) -> None:
        """Count one answered request of API ``family``."""
        self.requests += 1
        self.statuses[status] += 1
        if status == 429:
            self.families.setdefault(family, FamilyStats()).rate_limited += 1
        resource = request.match_info.route.resource
        self.paths[resource.canonical if resource else request.path] += 1
        for name in self.RECORDED_HEADERS:
            value = request.headers.get(name)
            if value is not None:
                seen = self.headers_seen.setdefault(name, [])
                if value not in seen and len(seen) < 20:
                    seen.append(value)

    def arrived(self, request: web.Request, family: str) -> None:
        """Stamp a request on arrival: the busiest 1-second window and the span are of
        arrivals (in order, whenever the answer ends); a request lacking a required header
        (absent or blank) is counted here, so that requests :meth:`record` never sees (an
        unknown route, a dropped connection) count too."""
        now = time.monotonic()
        self.first_at = self.first_at if self.first_at is not None else now
        self.last_at = now
        self._window.append(now)
        while self._window and now - self._window[0] >= 1.0:
            self._window.popleft()
        self.peak_per_second = max(self.peak_per_second, len(self._window))
        self.families.setdefault(family, FamilyStats()).arrived(now)
        for name in self.required_headers:
            if not request.headers.get(name, "").strip():
                self.headers_missing[name] += 1

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        span = (self.last_at - self.first_at) if self.first_at and self.last_at else 0.0
        return {
            "requests": self.requests,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "rate_limited": self.statuses.get(429, 0),
            "paths": dict(self.paths),
            "headers_seen": self.headers_seen,
            "headers_missing": {name: self.headers_missing[name] for name in self.required_headers},
            "span_s": span,
            "peak_per_second": self.peak_per_second,
            "families": {name: f.to_dict() for name, f in sorted(self.families.items())},
        }


class Sandbox:
    """The running state of one sandbox server."""

    def __init__(self, settings: SandboxSettings, vendors: list[VendorAPI] | None = None) -> None:
        self.settings = settings
        if settings.memoize_records:
            memoize_record_makers()
        self.vendors = vendors if vendors is not None else [cls(settings) for cls in VENDOR_CLASSES]
        self.faults = FaultBook()
        self.stats = self._new_stats()
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def _new_stats(self) -> dict[str, VendorStats]:
        """Empty statistics for every vendor."""
        return {
            v.name: VendorStats(required_headers=REQUIRED_HEADERS.get(v.name, ()))
            for v in self.vendors
        }

    # --- the hostile-API middleware, one per vendor -------------------------------------
    def middleware(self, vendor: VendorAPI) -> Any:
        """Latency, rate limit, faults and statistics around every route of ``vendor``."""

        @web.middleware
        async def hostile_api(request: web.Request, handler: Handler) -> web.StreamResponse:
            # The statistics of the request's arrival: a slow answer that ends after a reset
            # (the client gave up long ago) must not count in the next test's figures.
            stats = self.stats[vendor.name]
            family = vendor.family_of(request.path[len(vendor.prefix) :])
            stats.arrived(request, family or MAIN_FAMILY)
            # The API counts a request as it arrives, however long its answer then takes.
            over_limit = self._over_limit(vendor, family, vendor.rate_limit_scope(request))
            if self.settings.latency_ms:
                await asyncio.sleep(self.settings.latency_ms / 1000)
            response: web.StreamResponse
            if over_limit:
                response = vendor.rate_limited_response(request)
            else:
                response = await self._answer(vendor, request, handler)
            stats.record(request, response.status, family or MAIN_FAMILY)
            return response

        return hostile_api

    def _over_limit(self, vendor: VendorAPI, family: str | None, scope: str = "") -> bool:
        """Count an arriving request on its API family's window (one per ``scope``, e.g. per
        tenant where the vendor counts per tenant); True above the ceiling."""
        # Each API family of the vendor has its own documented ceiling and window.
        if family is None:
            limited, default = vendor.name, vendor.default_rate_limit
        else:
            limited, default = f"{vendor.name}.{family}", vendor.family_rate_limits[family]
        rate = self.settings.rate_limit_for(limited, default)
        if not rate:
            return False
        return not self._limiter.hit(RateLimitItemPerSecond(int(rate)), limited, scope)

    async def _answer(
        self, vendor: VendorAPI, request: web.Request, handler: Handler
    ) -> web.StreamResponse:
        path = request.path[len(vendor.prefix) :]
        fault = self.faults.take(vendor.name, path)
        if fault is None:
            return await handler(request)
        return await self._apply(fault, vendor, request, handler)

    async def _apply(
        self, fault: Fault, vendor: VendorAPI, request: web.Request, handler: Handler
    ) -> web.StreamResponse:
        if fault.kind == "status":
            headers = (
                {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else None
            )
            return vendor.error_response(request, fault.status, f"injected {fault.status}", headers)
        if fault.kind == "slow":
            await asyncio.sleep(fault.delay_s)
            return await handler(request)
        if fault.kind == "revoke":
            # Revoked access: every token issued so far is void and the request is refused,
            # for as long as the fault lasts, even with a freshly issued token.
            vendor.revoke_tokens()
            return vendor.error_response(request, 401, "Unauthorized: token revoked")
        if fault.kind == "expire_tokens":
            vendor.revoke_tokens()
            return await handler(request)
        if fault.kind == "html":
            html = "<html><head><title>Service Unavailable</title></head><body><h1>Oops</h1></body></html>"
            return web.Response(text=html, content_type="text/html")
        if fault.kind == "redirect":
            location = (
                f"{fault.target.rstrip('/')}{request.path_qs}" if fault.target else request.url
            )
            return web.Response(status=fault.status, headers={"Location": str(location)})
        if fault.kind in ("repeat_page_token", "empty_page"):
            request[PAGE_FAULT] = fault.kind
            return await handler(request)
        good = await handler(request)
        if fault.kind == "set_field":
            return self._set_field(good, fault)
        if fault.kind == "trickle":
            return await trickle(request, good, fault.interval_s)
        body = (
            good.body if isinstance(good, web.Response) and isinstance(good.body, bytes) else b"{}"
        )
        cut = body[: max(1, len(body) // 2)]
        if fault.kind == "truncate":
            return web.Response(body=cut, status=good.status, content_type="application/json")
        # reset: promise the whole body, send half, then drop the connection.
        response = web.StreamResponse(
            status=good.status, headers={"Content-Type": "application/json"}
        )
        response.content_length = len(body)
        await response.prepare(request)
        await response.write(cut)
        if request.transport is not None:
            request.transport.abort()
        return response

    @staticmethod
    def _set_field(good: web.StreamResponse, fault: Fault) -> web.StreamResponse:
        """The good JSON answer with ``fault.key`` set in each of its records."""
        if not (isinstance(good, web.Response) and isinstance(good.body, bytes)):
            return good
        try:
            body = orjson.loads(good.body)
        except orjson.JSONDecodeError:
            return good
        set_field(body, fault.key, fault.value)
        return web.Response(
            body=orjson.dumps(body),
            status=good.status,
            headers={k: v for k, v in good.headers.items() if k.lower() != "content-length"},
        )

    # --- control routes ------------------------------------------------------------------
    async def health(self, _: web.Request) -> web.Response:
        return json_response({"status": "ok", "vendors": {v.name: v.prefix for v in self.vendors}})

    async def get_stats(self, _: web.Request) -> web.Response:
        return json_response({name: s.to_dict() for name, s in self.stats.items()})

    async def reset(self, _: web.Request) -> web.Response:
        self.faults.clear()
        self.stats = self._new_stats()
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        for vendor in self.vendors:
            vendor.reset()
        return json_response({"status": "reset"})

    async def get_clock(self, _: web.Request) -> web.Response:
        clock = self.settings.clock
        return json_response({"now": clock.now().isoformat(), "real": clock.is_real})

    async def set_clock(self, request: web.Request) -> web.Response:
        """``{"now": ISO-INSTANT}``: the clock reads that instant and ticks from there."""
        try:
            now = parse_instant(str(orjson.loads(await request.read())["now"]))
        except (ValueError, TypeError, KeyError) as exc:
            return json_response({"error": f"expected {{'now': ISO-INSTANT}}: {exc}"}, status=400)
        self.settings.clock.set(now)
        return await self.get_clock(request)

    async def add_fault(self, request: web.Request) -> web.Response:
        try:
            fault = Fault.from_dict(orjson.loads(await request.read()))
        except (ValueError, TypeError) as exc:
            return json_response({"error": str(exc)}, status=400)
        if fault.vendor not in self.stats:
            return json_response({"error": f"unknown vendor {fault.vendor!r}"}, status=400)
        self.faults.add(fault)
        return json_response(fault.to_dict(), status=201)

    async def list_faults(self, _: web.Request) -> web.Response:
        return json_response([f.to_dict() for f in self.faults.faults])

    async def clear_faults(self, _: web.Request) -> web.Response:
        self.faults.clear()
        return json_response({"status": "cleared"})

    async def configure(self, request: web.Request) -> web.Response:
        """Change latency, rate limits (per vendor, or ``vendor.family``), page limits
        (``{vendor: {"max": N, "over": "cap"|"refuse"}}``, null for the default) or token
        lifetimes of the running server."""
        body = orjson.loads(await request.read())
        try:
            page_limits = {
                vendor: None if value is None else PageLimit.from_dict(value)
                for vendor, value in body.get("page_limits", {}).items()
            }
        except (ValueError, AttributeError) as exc:
            return json_response({"error": f"page_limits: {exc}"}, status=400)
        for vendor, limit in page_limits.items():
            if limit is None:
                self.settings.page_limits.pop(vendor, None)
            else:
                self.settings.page_limits[vendor] = limit
        if "latency_ms" in body:
            self.settings.latency_ms = float(body["latency_ms"])
        self.settings.rate_limits.update(
            {k: float(v) for k, v in body.get("rate_limits", {}).items()}
        )
        self.settings.token_ttl_s.update(
            {k: float(v) for k, v in body.get("token_ttl_s", {}).items()}
        )
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        return json_response(
            {
                "latency_ms": self.settings.latency_ms,
                "rate_limits": self.settings.rate_limits,
                "token_ttl_s": self.settings.token_ttl_s,
                "page_limits": {
                    vendor: {"max": limit.maximum, "over": limit.over}
                    for vendor, limit in self.settings.page_limits.items()
                },
            }
        )

    def build(self) -> web.Application:
        """The aiohttp application: one sub-application per vendor plus control routes."""
        app = web.Application()
        app.router.add_get(f"{CONTROL_PREFIX}/health", self.health)
        app.router.add_get(f"{CONTROL_PREFIX}/stats", self.get_stats)
        app.router.add_post(f"{CONTROL_PREFIX}/reset", self.reset)
        app.router.add_get(f"{CONTROL_PREFIX}/faults", self.list_faults)
        app.router.add_post(f"{CONTROL_PREFIX}/faults", self.add_fault)
        app.router.add_delete(f"{CONTROL_PREFIX}/faults", self.clear_faults)
        app.router.add_post(f"{CONTROL_PREFIX}/config", self.configure)
        app.router.add_get(f"{CONTROL_PREFIX}/clock", self.get_clock)
        app.router.add_post(f"{CONTROL_PREFIX}/clock", self.set_clock)
        for vendor in self.vendors:
            sub = web.Application(middlewares=[self.middleware(vendor)])
            vendor.add_routes(sub)
            app.add_subapp(vendor.prefix, sub)
        return app


def build_app(settings: SandboxSettings) -> web.Application:
    """The sandbox application for ``settings`` with every vendor mounted."""
    return Sandbox(settings).build()
