"""The tap every vendor tap derives from: a CLI that fails in one line, secret-safe settings
checks, and the machinery its streams share (pace, sessions, authenticator, prefetch)."""

from __future__ import annotations

import abc
import io
import json
import threading
import weakref
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
    check_minimums,
    check_start_date,
    unreachable_line,
)
from singer_rest_toolkit.pacing import Pacer
from singer_rest_toolkit.prefetch import Prefetcher
from singer_rest_toolkit.progress import FETCH_AHEAD, SyncProgress
from singer_rest_toolkit.sdk_internals import SecretSafeValidation
from singer_rest_toolkit.stream import RestStream
from singer_rest_toolkit.writer import BufferedWriter


class RestTap(SecretSafeValidation, abc.ABC):
    """A Singer tap over one vendor's REST API.

    Settings it reads when declared: ``max_requests_per_second``, ``max_parallel_requests``,
    ``page_size``. A subclass declares its settings, :meth:`check_settings`, its
    :attr:`authenticator` and :meth:`discover_streams`.
    """

    message_writer_class = BufferedWriter
    url_settings: ClassVar[str] = "the api_url setting"
    """Named by the one line that reports an unreachable API."""
    default_requests_per_second: ClassVar[int] = 10
    pace_headroom_ms: ClassVar[int] = 30
    default_parallel_requests: ClassVar[int] = 1
    """Workers that fetch per-parent listings ahead; 1 = one request at a time."""
    default_page_size: ClassVar[int] = 100

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
        check_minimums(self.config, {**REQUEST_MINIMUMS, **self.minimums})
        check_start_date(self.config)

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
    @cached_property
    def pacer(self) -> Pacer:
        """One pace for every request of this tap, token requests and workers included."""
        per_second = self.config.get("max_requests_per_second") or self.default_requests_per_second
        return Pacer(int(per_second), headroom_ms=self.pace_headroom_ms)

    @cached_property
    def prefetcher(self) -> Prefetcher | None:
        """The pool that fetches per-parent listings ahead; None when sequential."""
        workers = self.config.get("max_parallel_requests") or self.default_parallel_requests
        if int(workers) <= 1:
            return None
        page_size = self.config.get("page_size") or self.default_page_size
        return Prefetcher(
            workers=int(workers),
            page_size=int(page_size),
            name=f"{self.name}-fetch",
            waited=lambda seconds: self.progress.waited(FETCH_AHEAD, seconds),
        )

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
