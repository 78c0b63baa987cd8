"""Amperity stand-in: the API (``api``) and its tenant's data (``data``)."""

from api_sandbox.vendors.amperity.api import SANDBOX_UI_TOKEN, AmperityAPI, ui_token
from api_sandbox.vendors.amperity.data import AmperityData

__all__ = ["SANDBOX_UI_TOKEN", "AmperityAPI", "AmperityData", "ui_token"]
