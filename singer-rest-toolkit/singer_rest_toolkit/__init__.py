"""The machinery shared by tap-amilia, tap-amperity and tap-agyletime.

A vendor tap declares its settings (:class:`Settings`), derives its tap from :class:`RestTap`,
its token authenticator from :class:`TokenAuthenticator` and its base stream from
:class:`RestStream` (or :class:`DateWindowStream` for date-ranged incremental listings), and
keeps only what is its vendor's: settings, URL, how to obtain a token, paginator, error body.
"""

from singer_rest_toolkit.auth import FixedCredentials, RenewingAuthenticator, TokenAuthenticator
from singer_rest_toolkit.bookmarks import BadBookmarkError
from singer_rest_toolkit.settings import Settings
from singer_rest_toolkit.stream import RestStream
from singer_rest_toolkit.tap import RestTap
from singer_rest_toolkit.windows import DateWindowStream

__version__ = "0.1.0"

__all__ = [
    "BadBookmarkError",
    "DateWindowStream",
    "FixedCredentials",
    "RenewingAuthenticator",
    "RestStream",
    "RestTap",
    "Settings",
    "TokenAuthenticator",
]
