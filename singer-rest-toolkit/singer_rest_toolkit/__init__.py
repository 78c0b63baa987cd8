"""The machinery shared by tap-amilia, tap-amperity and tap-agyletime.

A vendor tap derives its tap from :class:`RestTap` and its base stream from
:class:`RestStream` (or :class:`DateWindowStream` for date-ranged incremental listings), and
keeps only what is its vendor's: settings, URL, auth, paginator and error body.
"""

from singer_rest_toolkit.auth import RenewingAuthenticator
from singer_rest_toolkit.bookmarks import BadBookmarkError
from singer_rest_toolkit.stream import RestStream
from singer_rest_toolkit.tap import RestTap
from singer_rest_toolkit.windows import DateWindowStream

__version__ = "0.1.0"

__all__ = [
    "BadBookmarkError",
    "DateWindowStream",
    "RenewingAuthenticator",
    "RestStream",
    "RestTap",
]
