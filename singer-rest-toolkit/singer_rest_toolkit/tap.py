"""The tap every vendor tap derives from: a CLI that fails in one line, secret-safe settings
checks, and the machinery its streams share (pace, sessions, authenticator, prefetch)."""

from __future__ import annotations

import abc
import io
import json
import threading
import weakref
from collections.abc import Mapping
from functools import cached_property
from typing import Any, ClassVar, NoReturn

import click
import requests
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError
from typing_extensions import override

from singer_rest_toolkit.auth import RenewingAuthenticator
from singer_rest_toolkit.bookmarks import BadBookmarkError
from singer_rest_toolkit.config import (
    DEFAULT_PROGRESS_INTERVAL_S,
    REQUEST_MINIMUMS,
    check_end_date,
    check_minimums,
    check_start_date,
    unreachable_line,
)
from singer_rest_toolkit.pacing import MAIN_API, ApiFamily, Pacer
from singer_rest_toolkit.prefetch import Listing, Prefetcher
from singer_rest_toolkit.progress import FETCH_AHEAD, SyncProgress
from singer_rest_toolkit.sdk_internals import SecretSafeValidation
from singer_rest_toolkit.stream import RestStream
from singer_rest_toolkit.writer import BufferedWriter

STREAMS_AHEAD_RECORDS = 4_000
"""Records the streams fetched ahead may hold in memory, all together (the rest on disk)."""


class RestTap(SecretSafeValidation, abc.ABC):
    """A Singer tap over one vendor's REST API.

    Settings it reads when declared: ``max_requests_per_second``, ``max_parallel_requests``
    (and those of each of :attr:`api_families`), ``page_size``. A subclass declares its
    settings, :meth:`check_settings`, its :attr:`authenticator` and :meth:`discover_streams`.
    """

    message_writer_class = BufferedWriter
    url_settings: ClassVar[str] = "the api_url setting"
    """Named by the one line that reports an unreachable API."""
    default_requests_per_second: ClassVar[int] = 10
    pace_headroom_ms: ClassVar[int] = 30
    default_parallel_requests: ClassVar[int] = 1
    """Workers that fetch per-parent listings ahead; 1 = one request at a time."""
    default_page_size: ClassVar[int] = 100
    """Page size tried where an endpoint documents no maximum (the API may refuse or cap it)."""
    api_families: ClassVar[Mapping[str, ApiFamily]] = {}
    """API families other than the main one (``MAIN_API``), each paced at its own ceiling;
    a stream names its family in ``api_family``."""
    streams_ahead: ClassVar[int] = 4
    """Top-level streams whose listings are fetched while the one before them is written,
    when the main family fetches in parallel: a cursor-paged listing waits a round trip per
    page, so one stream alone cannot keep a pace busy. Beyond a small memory budget, what
    they fetch waits in a temporary file until its turn."""

    # --- the CLI ------------------------------------------------------------------------------
    @override
    @classmethod
    def cb_config(cls, ctx: click.Context, param: click.Option, value: tuple[str, ...]) -> Any:
        """``--config`` files read as the SDK does; one that is missing or not JSON is a
        usage error naming the file, not a traceback."""
        for path in value:
            if path == "ENV":
                continue
            try:
                with open(path, encoding="utf-8") as handle:
                    json.load(handle)
            except OSError as exc:
                raise click.BadParameter(f"{path}: {exc.strerror or exc}", ctx, param) from None
            except ValueError as exc:
                raise click.BadParameter(f"{path}: not valid JSON ({exc})", ctx, param) from None
        return super().cb_config(ctx, param, value)

    @override
    @classmethod
    def invoke(cls, **kwargs: Any) -> None:
        """Run the CLI; a failing or unreachable API, or a bad state, ends in one line.

        The traceback is still logged at DEBUG (``LOGLEVEL=DEBUG``) for bug reports.
        """
        cls._instances.clear()
        for option in ("state", "catalog"):
            handle = kwargs.get(option)
            if handle is not None:  # a file click opened: read it here to check it is JSON
                text = handle.read()
                try:
                    json.loads(text)
                except ValueError as exc:
                    line = f"--{option} {getattr(handle, 'name', '')}: not valid JSON ({exc})"
                    cls.fail(line, exc)
                kwargs[option] = io.StringIO(text)
        try:
            try:
                super().invoke(**kwargs)
            finally:
                for tap in list(cls._instances):
                    tap.discard_prefetched()  # a failed sync's fetches ahead end before its line
                    tap.stop_progress()
        except (FatalAPIError, RetriableAPIError, BadBookmarkError) as exc:
            cls.fail(str(exc), exc)
        except requests.RequestException as exc:
            cls.fail(unreachable_line(exc, cls.url_settings), exc)
        skipped = [line for tap in list(cls._instances) for line in tap.unavailable_streams()]
        if skipped:  # every other stream was synced and its state written
            names = ", ".join(line.split(":", 1)[0] for line in skipped)
            cls.logger.error(
                "%d stream(s) skipped, not available to this account (the others were synced): %s",
                len(skipped),
                names,
            )
            for line in skipped:
                cls.logger.error("%s", line)
            raise SystemExit(1)

    _instances: ClassVar[weakref.WeakSet[RestTap]] = weakref.WeakSet()
    """Taps made by this process's CLI run, asked for skipped streams when it ends."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        RestTap._instances.add(self)

    @classmethod
    def fail(cls, line: str, exc: Exception) -> NoReturn:
        """Log ``line`` as the one error line and exit 1."""
        cls.logger.debug("traceback of the failure", exc_info=exc)
        cls.logger.error("%s", line)
        raise SystemExit(1)

    # --- settings -----------------------------------------------------------------------------
    minimums: ClassVar[dict[str, int]] = {}
    """Integer settings of this tap and their least value (the request settings' are known)."""

    @override
    def check_settings(self) -> None:
        """The checks every tap shares; a tap adds its own and then calls this."""
        family_minimums = {
            name: 1
            for family in self.api_families.values()
            for name in (family.rate_setting, family.parallel_setting)
        }
        check_minimums(self.config, {**REQUEST_MINIMUMS, **family_minimums, **self.minimums})
        check_start_date(self.config)
        check_end_date(self.config)

    # --- the sync ---------------------------------------------------------------------------
    @cached_property
    def progress(self) -> SyncProgress:
        """The sync's counters (records, requests, time spent waiting), logged every
        ``progress_interval_seconds`` from the first request on."""
        interval = self.config.get("progress_interval_seconds") or DEFAULT_PROGRESS_INTERVAL_S
        return SyncProgress(self.name, self.logger, float(interval))

    def stop_progress(self) -> None:
        """End the progress lines with where the time went."""
        self.progress.stop()

    def unavailable_streams(self) -> list[str]:
        """The error line of each stream skipped as unavailable to this account."""
        return [
            stream.unavailable
            for stream in self.streams.values()
            if isinstance(stream, RestStream) and stream.unavailable is not None
        ]

    # --- what the streams share ---------------------------------------------------------------
    def family(self, name: str) -> ApiFamily:
        """The API family ``name``; the main one from the tap's defaults."""
        if name == MAIN_API:
            return ApiFamily(
                self.default_requests_per_second, parallel_requests=self.default_parallel_requests
            )
        return self.api_families[name]

    @cached_property
    def _pacers(self) -> dict[str, Pacer]:
        """One pace per family, at its setting or else its documented ceiling."""
        pacers = {}
        for name in (MAIN_API, *self.api_families):
            family = self.family(name)
            per_second = self.config.get(family.rate_setting) or family.requests_per_second
            pacers[name] = Pacer(int(per_second), headroom_ms=self.pace_headroom_ms)
        return pacers

    def pacer_for(self, family: str) -> Pacer:
        """The pace of every request of ``family``, worker threads' included."""
        return self._pacers[family]

    @property
    def pacer(self) -> Pacer:
        """The main family's pace, which token requests also wait for."""
        return self.pacer_for(MAIN_API)

    @cached_property
    def _prefetchers(self) -> dict[str, Prefetcher | None]:
        """One pool per family that fetches per-parent listings ahead; None when sequential."""
        page_size = int(self.config.get("page_size") or self.default_page_size)
        pools: dict[str, Prefetcher | None] = {}
        for name in (MAIN_API, *self.api_families):
            family = self.family(name)
            workers = int(self.config.get(family.parallel_setting) or family.parallel_requests)
            pools[name] = (
                Prefetcher(
                    workers=workers,
                    page_size=page_size,
                    name=f"{self.name}-{name}-fetch",
                    waited=lambda seconds: self.progress.waited(FETCH_AHEAD, seconds),
                )
                if workers > 1
                else None
            )
        return pools

    def prefetcher_for(self, family: str) -> Prefetcher | None:
        """The pool that fetches ``family``'s per-parent listings ahead; None when sequential."""
        return self._prefetchers[family]

    def discard_prefetched(self) -> None:
        """Drop every listing fetched ahead and wait for the workers (see Prefetcher.discard)."""
        for prefetcher in (*self._prefetchers.values(), self._streams_ahead):
            if prefetcher is not None:
                prefetcher.discard()

    @cached_property
    def _streams_ahead(self) -> Prefetcher | None:
        """The pool that fetches the next top-level streams' listings; None when the main
        family fetches one request at a time."""
        main = self._prefetchers[MAIN_API]
        if main is None or self.streams_ahead < 1:
            return None
        return Prefetcher(
            workers=min(self.streams_ahead, main.workers),
            page_size=int(self.config.get("page_size") or self.default_page_size),
            name=f"{self.name}-streams-ahead",
            buffered=STREAMS_AHEAD_RECORDS,
            spill=True,
            waited=lambda seconds: self.progress.waited(FETCH_AHEAD, seconds),
        )

    def fetch_streams_ahead(self, current: RestStream[Any]) -> None:
        """As the first top-level stream of a sync begins, queue the listings of the others
        (see RestStream.fetch_ahead): :attr:`streams_ahead` workers fetch them in order."""
        pool = self._streams_ahead
        if pool is None:
            return
        synced = [
            stream
            for stream in self.streams.values()
            if isinstance(stream, RestStream)
            and stream.parent_stream_type is None
            and (stream.selected or stream.has_selected_descendents)
            and stream.unavailable is None
        ]
        if not synced or current is not synced[0]:
            return
        for stream in synced:
            stream.end_fetch_ahead()  # what an earlier, failed sync worked out
        # Chains of round trips (cursor pages) first, so that they start at once; the
        # independent requests of date windows fill the workers in between.
        for stream in sorted(synced[1:], key=lambda stream: stream.independent_requests):
            stream.fetch_ahead(pool)

    def take_fetched_ahead(
        self, name: str, context: Mapping[str, Any] | None = None
    ) -> Listing | None:
        """The listing of ``name`` fetched before its stream's sync began, or None: none
        was, or no worker has started it yet (the workers fetch later streams meanwhile)."""
        pool = self._streams_ahead
        return pool.take(name, context, started_only=True) if pool is not None else None

    def end_listing_tree(self, stream: RestStream[Any]) -> None:
        """The top-level ``stream`` is done: drop what was fetched for it and its children
        and nobody read (a parent a stream map filtered out, a failed listing)."""
        for prefetcher in self._prefetchers.values():
            if prefetcher is not None:
                prefetcher.discard()
        if self._streams_ahead is not None:
            self._streams_ahead.drop(stream.listing_names())
        stream.end_fetch_ahead()

    @cached_property
    def _sessions(self) -> threading.local:
        return threading.local()

    def thread_session(self) -> requests.Session:
        """The calling thread's HTTP session (connection pool): sessions are not thread-safe."""
        session: requests.Session | None = getattr(self._sessions, "session", None)
        if session is None:
            session = self._sessions.session = requests.Session()
        return session

    @property
    @abc.abstractmethod
    def authenticator(self) -> RenewingAuthenticator:
        """The one authenticator every stream (and worker) shares (a ``cached_property``)."""
