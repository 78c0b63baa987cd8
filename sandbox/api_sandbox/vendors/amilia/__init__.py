"""Amilia API v3 stand-in: the API (``api``) and its organization's data (``data``)."""

from api_sandbox.vendors.amilia.api import AmiliaAPI
from api_sandbox.vendors.amilia.data import AmiliaData

__all__ = ["AmiliaAPI", "AmiliaData"]
