"""The sandbox engine: faults, latency, rate limits, statistics and control routes.

A minimal vendor defined here keeps these tests independent of the three vendor modules.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from api_sandbox.app import Sandbox
from api_sandbox.data import page_bounds, rng_for, scaled
from api_sandbox.faults import PAGE_FAULT, Fault
from api_sandbox.settings import SandboxSettings
from api_sandbox.testing import SandboxProcess
from api_sandbox.vendor import TokenStore, VendorAPI, bearer_token, json_response

ITEMS = 25


class TinyVendor(VendorAPI):
    """Token auth and a paged list; enough to exercise every fault kind."""

    name = "tiny"
    prefix = "/tiny"
    default_rate_limit = None

    def __init__(self, settings: SandboxSettings) -> None:
        super().__init__(settings)
        self.tokens = TokenStore(ttl_s=60)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/token", self.token)
        app.router.add_get("/items", self.items)

    async def token(self, _: web.Request) -> web.Response:
        return json_response({"token": self.tokens.new_opaque()})

    async def items(self, request: web.Request) -> web.Response:
        token = bearer_token(request)
        if token is None or not self.tokens.is_valid(token):
            return self.error_response(request, 401, "bad token")
        page = int(request.query.get("page", "1"))
        start, end = page_bounds(ITEMS, page, 10)
        following: int | None = page + 1 if end < ITEMS else None
        if request.get(PAGE_FAULT) == "repeat_page_token":
            following = page
        items = [] if request.get(PAGE_FAULT) == "empty_page" else list(range(start, end))
        return json_response({"items": items, "next": following})

    def error_response(
        self, request: web.Request, status: int, message: str, headers: dict[str, str] | None = None
    ) -> web.Response:
        return json_response({"error": message}, status=status, headers=headers)

    def revoke_tokens(self) -> None:
        self.tokens.revoke_all()


Scenario = Callable[[TestClient[web.Request, web.Application], Sandbox], Awaitable[None]]


def run(scenario: Scenario, **settings: Any) -> None:
    """Run ``scenario`` against an in-process sandbox serving only TinyVendor."""

    async def main() -> None:
        config = SandboxSettings(**settings)
        sandbox = Sandbox(config, vendors=[TinyVendor(config)])
        async with TestClient(TestServer(sandbox.build())) as client:
            await scenario(client, sandbox)

    asyncio.run(main())


async def token_headers(client: TestClient[web.Request, web.Application]) -> dict[str, str]:
    response = await client.post("/tiny/token")
    return {"Authorization": f"Bearer {(await response.json())['token']}"}


def test_status_fault_hits_count_requests_after_skip_and_sends_retry_after() -> None:
    async def scenario(client: Any, sandbox: Sandbox) -> None:
        headers = await token_headers(client)
        sandbox.faults.add(
            Fault(
                vendor="tiny",
                kind="status",
                status=429,
                count=2,
                skip=1,
                retry_after=1.5,
                path="/items",
            )
        )
        statuses = []
        for _ in range(4):
            response = await client.get("/tiny/items", headers=headers)
            statuses.append((response.status, response.headers.get("Retry-After")))
        assert statuses == [(200, None), (429, "1.5"), (429, "1.5"), (200, None)]
        body = (await (await client.get("/_sandbox/stats")).json())["tiny"]
        assert body["rate_limited"] == 2

    run(scenario)


def test_fault_path_filter_leaves_other_routes_alone() -> None:
    async def scenario(client: Any, sandbox: Sandbox) -> None:
        sandbox.faults.add(Fault(vendor="tiny", kind="status", status=503, path="^/items"))
        assert (await client.post("/tiny/token")).status == 200
        assert (await client.get("/tiny/items")).status == 503

    run(scenario)


def test_html_and_truncate_faults_answer_200_with_unparseable_json() -> None:
    async def scenario(client: Any, sandbox: Sandbox) -> None:
        headers = await token_headers(client)
        sandbox.faults.add(Fault(vendor="tiny", kind="html"))
        html = await client.get("/tiny/items", headers=headers)
        assert html.status == 200
        assert html.content_type == "text/html"
        sandbox.faults.add(Fault(vendor="tiny", kind="truncate"))
        cut = await client.get("/tiny/items", headers=headers)
        assert cut.status == 200
        with pytest.raises(ValueError):
            await cut.json()

    run(scenario)


def test_reset_fault_drops_the_connection_mid_body() -> None:
    async def scenario(client: Any, sandbox: Sandbox) -> None:
        headers = await token_headers(client)
        sandbox.faults.add(Fault(vendor="tiny", kind="reset"))
        response = await client.get("/tiny/items", headers=headers)
        with pytest.raises((aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError)):
            await response.read()
        assert (await client.get("/tiny/items", headers=headers)).status == 200

    run(scenario)


def test_slow_fault_delays_and_latency_applies_to_every_request() -> None:
    async def scenario(client: Any, sandbox: Sandbox) -> None:
        headers = await token_headers(client)
        sandbox.faults.add(Fault(vendor="tiny", kind="slow", delay_s=0.3))
        started = time.monotonic()
        assert (await client.get("/tiny/items", headers=headers)).status == 200
        assert time.monotonic() - started >= 0.3 + 0.05

    run(scenario, latency_ms=50)


def test_expire_tokens_and_revoke() -> None:
    async def scenario(client: Any, sandbox: Sandbox) -> None:
        headers = await token_headers(client)
        sandbox.faults.add(Fault(vendor="tiny", kind="expire_tokens", path="/items"))
        assert (await client.get("/tiny/items", headers=headers)).status == 401
        fresh = await token_headers(client)
        assert (await client.get("/tiny/items", headers=fresh)).status == 200
        sandbox.faults.add(Fault(vendor="tiny", kind="revoke", path="/items", skip=1, count=2))
        assert (await client.get("/tiny/items", headers=fresh)).status == 200
        assert (await client.get("/tiny/items", headers=fresh)).status == 401
        refreshed = await token_headers(client)  # the token endpoint still answers...
        assert (await client.get("/tiny/items", headers=refreshed)).status == 401  # ...in vain
        assert (await client.get("/tiny/items", headers=refreshed)).status == 401, "voided"
        assert (await client.get("/tiny/items", headers=await token_headers(client))).status == 200

    run(scenario)


def test_page_faults_reach_the_vendor() -> None:
    async def scenario(client: Any, sandbox: Sandbox) -> None:
        headers = await token_headers(client)
        sandbox.faults.add(Fault(vendor="tiny", kind="repeat_page_token"))
        assert (await (await client.get("/tiny/items?page=2", headers=headers)).json())["next"] == 2
        sandbox.faults.add(Fault(vendor="tiny", kind="empty_page"))
        body = await (await client.get("/tiny/items?page=1", headers=headers)).json()
        assert body == {"items": [], "next": 2}

    run(scenario)


def test_rate_limit_is_a_strict_one_second_window() -> None:
    async def scenario(client: Any, sandbox: Sandbox) -> None:
        statuses = [(await client.post("/tiny/token")).status for _ in range(8)]
        assert statuses == [200] * 5 + [429] * 3
        await asyncio.sleep(1.05)
        assert (await client.post("/tiny/token")).status == 200
        stats = (await (await client.get("/_sandbox/stats")).json())["tiny"]
        assert stats["peak_per_second"] == 8
        assert stats["statuses"] == {"200": 6, "429": 3}

    run(scenario, rate_limits={"tiny": 5})


def test_control_routes_validate_and_reset() -> None:
    async def scenario(client: Any, sandbox: Sandbox) -> None:
        bad = await client.post("/_sandbox/faults", json={"vendor": "tiny", "kind": "meteor"})
        assert bad.status == 400
        assert "unknown fault kind" in (await bad.json())["error"]
        unknown_vendor = await client.post(
            "/_sandbox/faults", json={"vendor": "nope", "kind": "html"}
        )
        assert unknown_vendor.status == 400
        assert (
            await client.post("/_sandbox/faults", json={"vendor": "tiny", "kind": "html"})
        ).status == 201
        assert len(await (await client.get("/_sandbox/faults")).json()) == 1
        config = await (
            await client.post(
                "/_sandbox/config", json={"latency_ms": 5, "rate_limits": {"tiny": 50}}
            )
        ).json()
        assert config["latency_ms"] == 5
        await client.post("/_sandbox/reset")
        assert await (await client.get("/_sandbox/faults")).json() == []
        assert (await (await client.get("/_sandbox/stats")).json())["tiny"]["requests"] == 0

    run(scenario)


def test_fault_cli_syntax() -> None:
    fault = Fault.parse("vendor=amilia,kind=status,status=429,count=3,retry_after=1,path=/programs")
    assert (fault.vendor, fault.status, fault.count, fault.retry_after, fault.path) == (
        "amilia",
        429,
        3,
        1.0,
        "/programs",
    )
    with pytest.raises(ValueError, match="unknown fault field"):
        Fault.parse("vendor=amilia,kind=html,colour=red")
    with pytest.raises(ValueError, match="key=value"):
        Fault.parse("amilia")


def test_data_is_deterministic_and_scaled() -> None:
    assert rng_for(1, "programs", 7).random() == rng_for(1, "programs", 7).random()
    assert rng_for(1, "programs", 7).random() != rng_for(2, "programs", 7).random()
    assert scaled(200, 0.001) == 1
    assert scaled(200, 10) == 2000
    assert page_bounds(25, 3, 10) == (20, 25)
    assert page_bounds(25, 4, 10) == (25, 25)


def test_cli_reports_a_port_in_use_in_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "api_sandbox", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"api-sandbox: port {port} on 127.0.0.1 is already in use; choose another with --port"
    )


def test_cli_rejects_a_malformed_fault() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "api_sandbox", "--fault", "vendor=amilia,kind=meteor"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "unknown fault kind 'meteor'" in result.stderr


def test_sandbox_process_serves_every_vendor_and_fault_control() -> None:
    with SandboxProcess(scale=0.01) as sandbox:
        health = sandbox.control("GET", "health")
        assert health["vendors"] == {
            "amilia": "/amilia",
            "amperity": "/amperity",
            "agyletime": "/agyletime",
        }
        sandbox.add_fault("amilia", "status", status=500, count=2)
        assert [f["kind"] for f in sandbox.control("GET", "faults")] == ["status"]
        sandbox.clear_faults()
        assert sandbox.control("GET", "faults") == []


def test_a_slow_answer_ending_after_a_reset_counts_in_the_statistics_it_arrived_in() -> None:
    async def scenario(client: Any, sandbox: Sandbox) -> None:
        headers = await token_headers(client)
        sandbox.faults.add(Fault(vendor="tiny", kind="slow", delay_s=0.5, path="/items"))
        slow = asyncio.ensure_future(client.get("/tiny/items", headers=headers))
        await asyncio.sleep(0.1)  # the request has arrived and is being held
        await client.post("/_sandbox/reset")
        assert (await slow).status == 200
        body = (await (await client.get("/_sandbox/stats")).json())["tiny"]
        assert body["requests"] == 0, "a request of before the reset counted after it"
        assert body["peak_per_second"] == 0

    run(scenario)
