"""Amperity API stand-in (filled in by the tap-amperity work)."""

from __future__ import annotations

from aiohttp import web

from api_sandbox.vendor import VendorAPI, json_response


class AmperityAPI(VendorAPI):
    """Amperity API under ``/amperity``."""

    name = "amperity"
    prefix = "/amperity"
    default_rate_limit = 10.0

    def add_routes(self, app: web.Application) -> None:
        """Register routes."""

    def error_response(
        self, request: web.Request, status: int, message: str, headers: dict[str, str] | None = None
    ) -> web.Response:
        """Amperity's error body ``{status, message}``."""
        return json_response({"status": status, "message": message}, status=status, headers=headers)
