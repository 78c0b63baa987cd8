"""The Amperity sandbox enforces the vendor's documented contract, checked over real HTTP.

Every expectation comes from the vendor documentation, cited in a short comment:

- ``REF:<line>``: ``/work/shared/api-reference/amperity.md`` (sourced from amperity/amperity-docs)
- ``OVW:<line>``: ``/work/shared/vendor-docs/amperity-api-overview.rst`` (the vendor's own page)

Known, deliberate differences: page tokens are bound to a query's filters but not to the
listing that issued them, and pages hold at most 1000 records on every listing (documented
for audit events only).
"""

from __future__ import annotations

import time
import urllib.error
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from api_sandbox.testing import SandboxProcess, shared_sandbox

# Sandbox credentials: docs/CONVENTIONS.md ("Sandbox credentials", tap-amperity row).
TENANT = "acme-sandbox"
CLIENT_ID = "sandbox-client-id"
CLIENT_SECRET = "sandbox-client-secret"
API_VERSION = "2024-04-01"  # REF:93 the Amperity API version
PROFILE_API_VERSION = "2025-07-31"  # REF:93 the Profile API version
DOCUMENTED_RATE_LIMIT = 10  # REF:255 "Amperity API: 10 requests/second"
PROFILE_RATE_LIMIT = 2000  # REF:256 "Profile API: 2000 rps across the entire tenant"
MAX_AUDIT_EVENTS = 1000  # REF:118 "Each response may contain up to 1000 audit events"
DEFAULT_TOKEN_TTL_S = 3600  # REF:59 expires_in, example 3600
TIMEOUT_S = 10
# REF:239 the standard 4xx body (responses.rst): status, message, optional request_id/trace_id.
ERROR_KEYS = {"status", "message", "request_id", "trace_id"}
# REF:111 + REF:123 the listing envelope (additionalProperties: false).
ENVELOPE_KEYS = {"data", "next_token", "total"}


# --- fixtures and helpers -------------------------------------------------------------------
@pytest.fixture
def sandbox() -> Iterator[SandboxProcess]:
    """The shared sandbox (as tests/amperity uses it), reset, no rate limit unless a test sets
    one; the previous latency, rate limit and token lifetime are restored afterwards."""
    server = shared_sandbox(scale=0.05, seed=42)
    before = server.configure()
    server.reset()
    server.configure(
        latency_ms=0, rate_limits={"amperity": 0}, token_ttl_s={"amperity": DEFAULT_TOKEN_TTL_S}
    )
    yield server
    server.reset()
    limits = before["rate_limits"]
    server.configure(
        latency_ms=before["latency_ms"],
        rate_limits={
            "amperity": limits.get("amperity", DOCUMENTED_RATE_LIMIT),
            "amperity.profile_api": limits.get("amperity.profile_api", PROFILE_RATE_LIMIT),
        },
        token_ttl_s={"amperity": before["token_ttl_s"].get("amperity", DEFAULT_TOKEN_TTL_S)},
        page_limits={"amperity": before["page_limits"].get("amperity")},
    )


def api_url(sandbox: SandboxProcess, path: str) -> str:
    return f"{sandbox.url('amperity')}/api{path}"


def request_token(
    sandbox: SandboxProcess, *, tenant: str | None = TENANT, secret: str = CLIENT_SECRET
) -> requests.Response:
    """REF:56-58: POST /api/v0/oauth2/token, form body, X-Amperity-Tenant header."""
    headers = {"X-Amperity-Tenant": tenant} if tenant is not None else {}
    form = {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": secret}
    return requests.post(
        api_url(sandbox, "/v0/oauth2/token"), data=form, headers=headers, timeout=TIMEOUT_S
    )


@pytest.fixture
def token(sandbox: SandboxProcess) -> str:
    response = request_token(sandbox)
    assert response.status_code == 200, response.text
    access_token: str = response.json()["access_token"]
    return access_token


def api_headers(
    token: str | None, *, tenant: str | None = TENANT, version: str | None = API_VERSION
) -> dict[str, str]:
    """REF:76-79 / OVW:96-98: Authorization, Amperity-Tenant and api-version, all required."""
    headers: dict[str, str] = {}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if tenant is not None:
        headers["Amperity-Tenant"] = tenant
    if version is not None:
        headers["api-version"] = version
    return headers


def get(
    sandbox: SandboxProcess, path: str, headers: dict[str, str], **params: str | int
) -> requests.Response:
    return requests.get(api_url(sandbox, path), headers=headers, params=params, timeout=TIMEOUT_S)


def assert_error(response: requests.Response, status: int) -> dict[str, Any]:
    """REF:239-240: a JSON body {status, message, request_id?, trace_id?}, not problem+json."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert isinstance(body["message"], str)
    assert body["message"]
    assert set(body) <= ERROR_KEYS, f"undocumented error fields: {set(body) - ERROR_KEYS}"
    for optional in ("request_id", "trace_id"):
        assert optional not in body or isinstance(body[optional], str)
    return body


def utc_day(days_ago: int) -> str:
    """A partial date ``YYYY-MM-DD`` (REF:153: partial dates are allowed)."""
    return (datetime.now(UTC).date() - timedelta(days=days_ago)).isoformat()


def first_index_id(sandbox: SandboxProcess, token: str) -> str:
    response = get(sandbox, "/indexes", api_headers(token, version=PROFILE_API_VERSION))
    assert response.status_code == 200, response.text
    index_id: str = response.json()["data"][0]["id"]
    return index_id


# --- OAuth client credentials ---------------------------------------------------------------
def test_oauth_token_request_with_form_body_and_tenant_header_returns_a_bearer_token(
    sandbox: SandboxProcess,
) -> None:
    response = request_token(sandbox)
    # REF:57 Content-Type: application/x-www-form-urlencoded (requests encodes `data=` so).
    assert response.request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert response.status_code == 200, response.text
    body = response.json()
    # REF:59 access_token (string), expires_in (number), token_type "should always be Bearer".
    assert isinstance(body["access_token"], str)
    assert body["access_token"]
    assert isinstance(body["expires_in"], int | float)
    assert not isinstance(body["expires_in"], bool)
    assert body["expires_in"] > 0
    assert body["token_type"] == "Bearer"
    # REF:49 the token is sent as `Authorization: Bearer ${access-token}`.
    listing = get(sandbox, "/segments", api_headers(body["access_token"]))
    assert listing.status_code == 200, listing.text


def test_oauth_token_request_with_a_wrong_client_secret_is_a_401(sandbox: SandboxProcess) -> None:
    response = request_token(sandbox, secret="not-the-secret")
    # REF:245 401 = invalid authentication; REF:239 the standard 4xx body.
    assert_error(response, 401)
    assert "access_token" not in response.json()


def test_oauth_token_request_without_the_x_amperity_tenant_header_is_a_400(
    sandbox: SandboxProcess,
) -> None:
    response = request_token(sandbox, tenant=None)
    # REF:57 X-Amperity-Tenant is a required header of the token request; REF:244 400 = a
    # required parameter is missing (the docs give no token-specific error for this).
    assert_error(response, 400)
    assert "access_token" not in response.json()


# --- required headers -----------------------------------------------------------------------
def test_api_request_without_the_amperity_tenant_header_is_a_400(
    sandbox: SandboxProcess, token: str
) -> None:
    # REF:78 / OVW:97 Amperity-Tenant is required; REF:244 400 = missing required parameter.
    assert_error(get(sandbox, "/segments", api_headers(token, tenant=None)), 400)


def test_api_request_for_another_tenant_is_a_403(sandbox: SandboxProcess, token: str) -> None:
    # REF:68 API keys (and their tokens) are per tenant; REF:246 403 = valid auth, no permission.
    response = get(sandbox, "/segments", api_headers(token, tenant="other-tenant"))
    assert_error(response, 403)


@pytest.mark.parametrize(
    ("path", "version"),
    [
        pytest.param("/segments", None, id="amperity-api-missing"),
        pytest.param("/segments", "2099-01-01", id="amperity-api-unknown-version"),
        pytest.param("/segments", PROFILE_API_VERSION, id="amperity-api-profile-version"),
        pytest.param("/indexes", None, id="profile-api-missing"),
        pytest.param("/indexes", "2099-01-01", id="profile-api-unknown-version"),
        pytest.param("/indexes", API_VERSION, id="profile-api-amperity-version"),
    ],
)
def test_missing_or_unsupported_api_version_is_a_400(
    sandbox: SandboxProcess, token: str, path: str, version: str | None
) -> None:
    # REF:79 / OVW:98 api-version is required; REF:93 each API has its own version (OAS enum);
    # REF:99 an unsupported version is a 400 (DOCS:versioning; DOCS:responses also lists an
    # "invalid version identifier" under 401, the brief and versioning page say 400).
    response = get(sandbox, path, api_headers(token, version=version))
    assert_error(response, 400)


@pytest.mark.parametrize(
    ("path", "version"),
    [("/segments", API_VERSION), ("/indexes", PROFILE_API_VERSION)],
    ids=["amperity-api", "profile-api"],
)
def test_api_version_may_be_sent_as_the_api_version_query_parameter(
    sandbox: SandboxProcess, token: str, path: str, version: str
) -> None:
    # REF:79 the version "may instead go in the query parameter api_version".
    response = get(sandbox, path, api_headers(token, version=None), api_version=version)
    assert response.status_code == 200, response.text


# --- bearer tokens --------------------------------------------------------------------------
def test_an_expired_bearer_token_is_a_401(sandbox: SandboxProcess) -> None:
    sandbox.configure(token_ttl_s={"amperity": 0.5})
    response = request_token(sandbox)
    assert response.status_code == 200, response.text
    body = response.json()
    # REF:59 expires_in is "the amount of time after which the token expires".
    assert body["expires_in"] <= 1
    time.sleep(body["expires_in"] + 0.3)
    # REF:245 401 = an expired token.
    assert_error(get(sandbox, "/segments", api_headers(body["access_token"])), 401)


@pytest.mark.parametrize(
    "bearer",
    [
        pytest.param("not-a-jwt", id="garbage"),
        pytest.param("forged-signature", id="forged-signature"),
        pytest.param(None, id="no-authorization-header"),
    ],
)
def test_an_invalid_or_missing_bearer_token_is_a_401(
    sandbox: SandboxProcess, token: str, bearer: str | None
) -> None:
    if bearer == "forged-signature":  # a real token's header and claims, another signature
        bearer = token.rsplit(".", 1)[0] + "." + "A" * 43
    # REF:77 / OVW:96 Authorization: Bearer is required; REF:245 401 = invalid authentication.
    assert_error(get(sandbox, "/segments", api_headers(bearer)), 401)


# --- next_token -----------------------------------------------------------------------------
def test_a_garbage_next_token_is_a_400(sandbox: SandboxProcess, token: str) -> None:
    # OVW:163-167 next_token is an opaque cursor whose possible values come from a 200
    # response; REF:244 400 = an invalid parameter.
    response = get(sandbox, "/segments", api_headers(token), next_token="ABCd1fghIJk2l3M!!")
    assert_error(response, 400)


def test_a_next_token_issued_for_another_query_is_a_400(
    sandbox: SandboxProcess, token: str
) -> None:
    headers = api_headers(token)
    first = get(sandbox, "/audit-events", headers, limit=1, happened_from=utc_day(30))
    assert first.status_code == 200, first.text
    cursor = first.json()["next_token"]
    assert cursor
    # OVW:163 "Use the cursor value for next_token that was returned in a response to view
    # the next page of results": a cursor of another query is not one; REF:244 -> 400.
    response = get(sandbox, "/audit-events", headers, limit=1, next_token=cursor)
    assert_error(response, 400)


# --- ingest jobs: a time window of at most 7 days -------------------------------------------
def test_an_ingest_jobs_window_longer_than_7_days_is_a_400(
    sandbox: SandboxProcess, token: str
) -> None:
    # REF:152-153 created_from/created_to "define a 7-day time window"; REF:244 -> 400.
    response = get(
        sandbox, "/ingest/jobs", api_headers(token), created_from=utc_day(8), created_to=utc_day(0)
    )
    assert_error(response, 400)


def test_an_ingest_jobs_window_of_exactly_7_days_is_accepted(
    sandbox: SandboxProcess, token: str
) -> None:
    # REF:152-153 a 7-day window (created_from inclusive, created_to exclusive).
    response = get(
        sandbox, "/ingest/jobs", api_headers(token), created_from=utc_day(7), created_to=utc_day(0)
    )
    assert response.status_code == 200, response.text
    body = response.json()
    # REF:156 IngestJobDetailsList = {data, next_token (not usable), total}.
    assert set(body) <= ENVELOPE_KEYS
    assert isinstance(body["data"], list)
    assert "total" not in body  # REF:112 total only with with_total=true


def test_a_single_workflow_run_has_its_task_instances_only_in_the_verbose_view(
    sandbox: SandboxProcess, token: str
) -> None:
    # amperity.md 2.2: GET /workflow/runs/{id}, view overview (default: seven fields) or
    # verbose (every field plus task_instances); an unknown view is a 400, an unknown run 404.
    listing = get(sandbox, "/workflow/runs", api_headers(token), created_from=utc_day(3))
    run = listing.json()["data"][0]
    overview = get(sandbox, f"/workflow/runs/{run['id']}", api_headers(token))
    assert overview.status_code == 200, overview.text
    assert set(overview.json()) <= {
        "created_at",
        "ended_at",
        "id",
        "name",
        "state",
        "tenant",
        "type",
    }
    assert overview.json()["id"] == run["id"]
    verbose = get(sandbox, f"/workflow/runs/{run['id']}", api_headers(token), view="verbose")
    body = verbose.json()
    assert {k: v for k, v in body.items() if k != "task_instances"} == run
    assert body["task_instances"], "every run has started a task"
    assert {task["workflow_id"] for task in body["task_instances"]} == {run["id"]}
    bad_view = get(sandbox, f"/workflow/runs/{run['id']}", api_headers(token), view="full")
    assert_error(bad_view, 400)
    assert_error(get(sandbox, "/workflow/runs/wf-20200101-1-x", api_headers(token)), 404)


def test_an_ingest_jobs_request_without_created_to_is_a_400(
    sandbox: SandboxProcess, token: str
) -> None:
    # REF:152 created_from and created_to are both required; REF:244 -> 400.
    response = get(sandbox, "/ingest/jobs", api_headers(token), created_from=utc_day(3))
    assert_error(response, 400)


# --- rate limits ----------------------------------------------------------------------------
def test_more_than_10_requests_per_second_is_a_429_without_retry_after(
    sandbox: SandboxProcess, token: str
) -> None:
    sandbox.configure(rate_limits={"amperity": DOCUMENTED_RATE_LIMIT})  # REF:255 10 rps
    headers = api_headers(token)
    with requests.Session() as session:
        responses = [
            session.get(api_url(sandbox, "/segments"), headers=headers, timeout=TIMEOUT_S)
            for _ in range(DOCUMENTED_RATE_LIMIT + 5)
        ]
    statuses = [r.status_code for r in responses]
    assert statuses[:DOCUMENTED_RATE_LIMIT] == [200] * DOCUMENTED_RATE_LIMIT, statuses
    limited = [r for r in responses if r.status_code == 429]
    assert limited, statuses  # REF:255 going over "may return ... an HTTP 429"
    for response in limited:
        assert_error(response, 429)  # REF:239 the standard 4xx body
        # REF:258 no Retry-After, X-RateLimit-* or RateLimit-* headers are documented.
        names = {name.lower() for name in response.headers}
        assert "retry-after" not in names
        assert not {n for n in names if n.startswith(("x-ratelimit-", "ratelimit-"))}


def test_the_profile_api_is_limited_on_its_own_window(sandbox: SandboxProcess, token: str) -> None:
    # REF:256 the Profile API's limit is its own; the sandbox's are lowered to count quickly.
    sandbox.configure(rate_limits={"amperity": 2, "amperity.profile_api": 4})
    profile = api_headers(token, version=PROFILE_API_VERSION)
    with requests.Session() as session:
        indexes = [
            session.get(api_url(sandbox, "/indexes"), headers=profile, timeout=TIMEOUT_S)
            for _ in range(6)
        ]
        segments = [
            session.get(
                api_url(sandbox, "/segments"), headers=api_headers(token), timeout=TIMEOUT_S
            )
            for _ in range(3)
        ]
    assert [r.status_code for r in indexes] == [200] * 4 + [429] * 2
    assert [r.status_code for r in segments] == [200] * 2 + [429]
    families = sandbox.stats()["amperity"]["families"]
    assert families["profile_api"]["rate_limited"] == 2
    assert families["api"]["rate_limited"] == 1


def test_the_profile_api_allows_more_than_10_requests_per_second(
    sandbox: SandboxProcess, token: str
) -> None:
    sandbox.configure(rate_limits={"amperity": DOCUMENTED_RATE_LIMIT})
    profile = api_headers(token, version=PROFILE_API_VERSION)
    with requests.Session() as session:
        statuses = [
            session.get(
                api_url(sandbox, "/indexes"), headers=profile, timeout=TIMEOUT_S
            ).status_code
            for _ in range(3 * DOCUMENTED_RATE_LIMIT)
        ]
    assert statuses == [200] * (3 * DOCUMENTED_RATE_LIMIT)


# --- page sizes -----------------------------------------------------------------------------
def test_a_limit_above_1000_is_served_not_refused(sandbox: SandboxProcess, token: str) -> None:
    # REF:118 audit events pages hold "up to 1000": a larger limit is not an error.
    response = get(sandbox, "/audit-events", api_headers(token), limit=MAX_AUDIT_EVENTS + 1)
    assert response.status_code == 200, response.text
    assert 0 < len(response.json()["data"]) <= MAX_AUDIT_EVENTS


@pytest.mark.parametrize("over", ["cap", "refuse"])
def test_a_page_limit_caps_or_refuses_a_larger_limit(
    sandbox: SandboxProcess, token: str, over: str
) -> None:
    sandbox.configure(page_limits={"amperity": {"max": 3, "over": over}})
    headers = api_headers(token)
    assert len(get(sandbox, "/segments", headers, limit=3).json()["data"]) == 3
    response = get(sandbox, "/segments", headers, limit=4)
    if over == "refuse":
        assert "limit" in assert_error(response, 400)["message"]
    else:
        body = response.json()
        assert len(body["data"]) == 3
        assert body["next_token"]


def test_a_bad_page_limit_is_refused_by_the_control_route(sandbox: SandboxProcess) -> None:
    with pytest.raises(urllib.error.HTTPError, match="400"):
        sandbox.configure(page_limits={"amperity": {"max": 3, "over": "explode"}})


# --- pagination -----------------------------------------------------------------------------
LISTINGS = [
    pytest.param("/segments", API_VERSION, 2, "id", id="segments"),
    pytest.param("/campaigns", API_VERSION, 3, "id", id="campaigns"),
    pytest.param("/audit-events", API_VERSION, 40, "event_id", id="audit-events"),
    pytest.param("/workflow/runs", API_VERSION, 40, "id", id="workflow-runs"),
    pytest.param("/indexes", PROFILE_API_VERSION, 1, "id", id="profile-indexes"),
    pytest.param("/indexes/{index}/profiles", PROFILE_API_VERSION, 5, "id", id="index-profiles"),
]


@pytest.mark.parametrize(("path", "version", "limit", "key"), LISTINGS)
def test_a_listing_follows_next_token_to_the_end_without_duplicates(
    sandbox: SandboxProcess, token: str, path: str, version: str, limit: int, key: str
) -> None:
    if "{index}" in path:
        path = path.format(index=first_index_id(sandbox, token))
    headers = api_headers(token, version=version)
    ids: list[str] = []
    params: dict[str, str | int] = {"limit": limit}
    for _ in range(100):
        response = get(sandbox, path, headers, **params)
        assert response.status_code == 200, response.text
        body = response.json()
        # REF:111 + REF:123 envelope {data, next_token, total?}, data required, no other keys.
        assert set(body) <= ENVELOPE_KEYS, set(body)
        assert isinstance(body["data"], list)
        assert len(body["data"]) <= limit  # OVW:160 limit = the maximum records in a page
        ids += [record[key] for record in body["data"]]
        # OVW:138 "not returned" / OVW:201 "empty" = last page; REF:111 next_token is a string.
        # The sandbox ends some listings with null instead, on purpose: "not returned" may be
        # serialised either way, and the tap must take both (see tap-amperity's README).
        if body.get("next_token") is not None:
            assert isinstance(body["next_token"], str), body["next_token"]
        if not body.get("next_token"):
            break
        params = {"limit": limit, "next_token": body["next_token"]}
    else:
        pytest.fail(f"{path}: no last page after 100 pages")
    assert len(ids) > limit, "the listing should span more than one page"
    assert len(ids) == len(set(ids)), "a record was returned twice"


@pytest.mark.parametrize(
    ("path", "version"),
    [("/segments", API_VERSION), ("/indexes", PROFILE_API_VERSION)],
    ids=["amperity-api", "profile-api"],
)
def test_total_is_returned_only_with_with_total_true_and_counts_all_results(
    sandbox: SandboxProcess, token: str, path: str, version: str
) -> None:
    headers = api_headers(token, version=version)
    # OVW:172 with_total defaults to false; OVW:204 / REF:112 total only when with_total=true.
    default = get(sandbox, path, headers, limit=1)
    assert default.status_code == 200, default.text
    assert "total" not in default.json()
    explicit_false = get(sandbox, path, headers, limit=1, with_total="false")
    assert explicit_false.status_code == 200, explicit_false.text
    assert "total" not in explicit_false.json()
    # OVW:204 "The total count of all results" (all pages, not this page).
    with_total = get(sandbox, path, headers, limit=1, with_total="true")
    assert with_total.status_code == 200, with_total.text
    body = with_total.json()
    assert isinstance(body["total"], int)
    assert not isinstance(body["total"], bool)
    everything = get(sandbox, path, headers, limit=1000)  # REF:109 no documented maximum
    assert everything.status_code == 200, everything.text
    assert not everything.json().get("next_token"), "expected every result on one page"
    assert body["total"] == len(everything.json()["data"])
    assert body["total"] > 1, "with limit=1 the total must exceed the page"
