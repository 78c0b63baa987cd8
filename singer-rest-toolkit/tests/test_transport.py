"""The tap's session: which redirects it follows and how, and which failures it reports as
never healing (the taps' own CLI tests cover deadlines and redirects against the sandbox)."""

from __future__ import annotations

import pytest
import requests
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from singer_rest_toolkit.transport import RedirectRefusedError, TapSession, UnreachableError


def moved(status: int, location: str) -> Response:
    return Response(status=status, headers={"Location": location})


def echo(request: Request) -> Response:
    return Response(f"{request.method} {request.get_data(as_text=True)}")


@pytest.mark.parametrize(
    ("status", "answer"), [(307, "POST a=1"), (302, "POST a=1"), (303, "GET ")]
)
def test_same_host_redirects_keep_the_method_and_body_except_see_other(
    httpserver: HTTPServer, status: int, answer: str
) -> None:
    httpserver.expect_request("/token").respond_with_response(moved(status, "/moved"))
    httpserver.expect_request("/moved").respond_with_handler(echo)
    response = TapSession().post(httpserver.url_for("/token"), data={"a": "1"}, timeout=5)
    assert response.text == answer
    assert [r.status_code for r in response.history] == [status]


@pytest.mark.parametrize(
    "elsewhere", ["http://127.0.0.2:{port}", "http://localhost:1", "https://localhost:{port}"]
)
def test_another_host_port_or_scheme_is_another_host(
    httpserver: HTTPServer, elsewhere: str
) -> None:
    target = elsewhere.format(port=httpserver.port) + "/x?key=secret"
    httpserver.expect_request("/data").respond_with_response(moved(308, target))
    with pytest.raises(RedirectRefusedError) as refused:
        TapSession().get(httpserver.url_for("/data") + "?key=secret", timeout=5)
    assert "secret" not in str(refused.value)
    assert f"from localhost:{httpserver.port} to " in str(refused.value)


def test_a_redirect_loop_ends(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/loop").respond_with_response(moved(302, "/loop"))
    with pytest.raises(requests.TooManyRedirects):
        TapSession().get(httpserver.url_for("/loop"), timeout=5)


def test_a_refused_connection_is_not_a_retried_connection_error() -> None:
    with pytest.raises(UnreachableError) as failed:
        TapSession().get("http://127.0.0.1:9/x", timeout=5)
    assert not isinstance(failed.value, requests.ConnectionError)
    assert failed.value.reason == "connection refused"
