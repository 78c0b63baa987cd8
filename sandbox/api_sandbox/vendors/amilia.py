"""Amilia API v3 stand-in (filled in by the tap-amilia work)."""

from __future__ import annotations

from aiohttp import web

from api_sandbox.vendor import VendorAPI, json_response


class AmiliaAPI(VendorAPI):
    """Amilia v3 under ``/amilia``: ``/amilia/api/v3/{lang}/org/{org}/...``."""

    name = "amilia"
    prefix = "/amilia"
    default_rate_limit = 100.0

    def add_routes(self, app: web.Application) -> None:
        """Register routes."""

    def error_response(
        self, request: web.Request, status: int, message: str, headers: dict[str, str] | None = None
    ) -> web.Response:
        """Amilia's error body."""
        return json_response({"Message": message}, status=status, headers=headers)
