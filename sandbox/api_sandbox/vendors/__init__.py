"""The vendor APIs the sandbox mounts, one module each."""

from api_sandbox.vendor import VendorAPI
from api_sandbox.vendors.agyletime import AgyleTimeAPI
from api_sandbox.vendors.amilia import AmiliaAPI
from api_sandbox.vendors.amperity import AmperityAPI

VENDOR_CLASSES: tuple[type[VendorAPI], ...] = (AmiliaAPI, AmperityAPI, AgyleTimeAPI)

__all__ = ["VENDOR_CLASSES", "AgyleTimeAPI", "AmiliaAPI", "AmperityAPI"]
