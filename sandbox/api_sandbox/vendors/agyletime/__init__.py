"""Agyle Time (Playvox WFM) stand-in: the API (``api``) and its tenant's data (``data``)."""

from api_sandbox.vendors.agyletime.api import AgyleTimeAPI
from api_sandbox.vendors.agyletime.data import AgyleTimeData

__all__ = ["AgyleTimeAPI", "AgyleTimeData"]
