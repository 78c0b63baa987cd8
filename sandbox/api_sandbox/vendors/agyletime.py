"""Agyle Time stand-in (filled in by the tap-agyletime work)."""

from __future__ import annotations

from aiohttp import web

from api_sandbox.vendor import VendorAPI, json_response


class AgyleTimeAPI(VendorAPI):
    """Agyle Time under ``/agyletime``: tenant and regional hosts under sub-prefixes."""

    name = "agyletime"
    prefix = "/agyletime"
    default_rate_limit = None

    def add_routes(self, app: web.Application) -> None:
        """Register routes."""

    def error_response(
        self, request: web.Request, status: int, message: str, headers: dict[str, str] | None = None
    ) -> web.Response:
        """JSend error body."""
        body = {"status": "error", "message": message, "code": str(status), "result": str(status)}
        return json_response(body, status=status, headers=headers)
