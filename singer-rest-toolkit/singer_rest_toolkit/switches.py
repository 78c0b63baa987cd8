"""The internal switch back to the SDK's stock record path (parsing, record loop, writer).

Set ``SINGER_REST_TOOLKIT_STOCK_PATH=1`` to sync through the SDK's own code: the tests
compare both paths' output byte for byte (tests/test_record_path.py).
"""

from __future__ import annotations

import os

STOCK_PATH_VARIABLE = "SINGER_REST_TOOLKIT_STOCK_PATH"


def stock_path() -> bool:
    """True when the SDK's stock record path is asked for."""
    return os.environ.get(STOCK_PATH_VARIABLE, "") not in ("", "0")
