"""The tap every vendor tap derives from: a CLI that fails in one line, secret-safe settings
checks, and the machinery its streams share (pace, sessions, authenticator, prefetch)."""

from __future__ import annotations

import abc
import logging
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cached_property
from typing import IO, Any, ClassVar, NoReturn

import click
import requests
from singer_sdk import Tap
from typing_extensions import override

from singer_rest_toolkit import stop
from singer_rest_toolkit.auth import RenewingAuthenticator
from singer_rest_toolkit.config import check_minimums, unreachable_line
from singer_rest_toolkit.exchange import ONE_LINE_ERRORS, StreamsSkippedError
from singer_rest_toolkit.inputs import (
    BadInputFileError,
    check_against_streams,
    check_config_file,
    read_input_file,
)
from singer_rest_toolkit.logs import quiet_console
from singer_rest_toolkit.pacing import MAIN_API, ApiFamily, Pacer
from singer_rest_toolkit.progress import SyncProgress
from singer_rest_toolkit.scheduler import Scheduler
from singer_rest_toolkit.sdk_internals.process_exit import NoSdkSignalHandlers
from singer_rest_toolkit.sdk_internals.validation import SecretSafeValidation
from singer_rest_toolkit.settings import REQUEST_MINIMUMS, Settings
from singer_rest_toolkit.stream import RestStream
from singer_rest_toolkit.transport import TapSession
from singer_rest_toolkit.writer import BufferedWriter


class RestTap(NoSdkSignalHandlers, SecretSafeValidation, abc.ABC):
    """A Singer tap over one vendor's REST API. A subclass declares its settings
    (``config_jsonschema``, with the shared ones of settings.py) and their typed
    :attr:`settings`, :meth:`check_settings`, its :attr:`authenticator` and streams."""

    message_writer_class = BufferedWriter
    url_settings: ClassVar[str] = "the api_url setting"
    """Named by the one line that reports an unreachable API."""
    pace_headroom_ms: ClassVar[int] = 30
    default_page_size: ClassVar[int] = 100
    """Page size tried where an endpoint documents no maximum (the API may refuse or cap it)."""
    api_families: ClassVar[Mapping[str, ApiFamily]] = {}
    """API families other than the main one (``MAIN_API``), each paced at its own ceiling;
    a stream names its family in ``api_family``."""
    streams_ahead: ClassVar[int] = 4
    """Top-level streams fetched while the one before them is written, when the main family
    fetches in parallel: a cursor-paged listing waits a round trip per page, so one stream alone
    cannot keep a pace busy. Their pages wait in a temporary file."""
    minimums: ClassVar[dict[str, int]] = {}
    """Integer settings of this tap and their least value (the request settings' are known)."""

    # --- the CLI ------------------------------------------------------------------------------
    @override
    @classmethod
    def cb_config(cls, ctx: click.Context, param: click.Option, value: tuple[str, ...]) -> Any:
        """``--config`` files read as the SDK does; one that is missing, not JSON or not an
        object is a usage error naming the file, not a traceback."""
        for path in value:
            if path != "ENV":
                try:
                    check_config_file(path)
                except BadInputFileError as exc:
                    raise click.BadParameter(exc.line(), ctx, param) from None
        return super().cb_config(ctx, param, value)

    @override
    @classmethod
    def invoke(  # type: ignore[override]
        cls,
        *,
        about: bool = False,
        about_format: str | None = None,
        config: Any = None,
        state: IO[str] | None = None,
        catalog: IO[str] | None = None,
    ) -> None:
        """Run the CLI as the SDK's ``Tap.invoke`` does, the sync inside the scheduler
        (:meth:`run_sync`); a failing or unreachable API, or a bad input file, ends in one
        line (:func:`one_line_failures`)."""
        with stop.handled(cls.logger):
            super(Tap, cls).invoke(about=about, about_format=about_format)
            cls.print_version(print_fn=cls.logger.info)
            with one_line_failures(cls.logger, cls.url_settings) as paths:
                files: dict[str, Any] = {}
                for option, handle in (("state", state), ("catalog", catalog)):
                    if handle is not None:  # a file click opened: checked before the tap is built
                        paths[f"--{option}"], files[option] = read_input_file(
                            option, handle, cls.logger
                        )
                tap = cls(
                    config=config.config if config is not None else {},
                    parse_env_config=config is not None and config.parse_env,
                    validate_config=True,
                    **files,
                )
                try:
                    tap.run_sync()
                except stop.SyncStopped as stopped:
                    end_stopped_sync(tap, stopped.signum)

    def __init__(self, **kwargs: Any) -> None:
        self._sessions = threading.local()  # one per thread: see thread_session
        metrics = quiet_console(self.name)  # before the SDK's first line
        super().__init__(**kwargs)
        metrics.show_if_asked(self.config)
        check_against_streams(self)  # before the sync writes anything

    # --- settings -----------------------------------------------------------------------------
    @override
    def check_settings(self) -> None:
        """The checks every tap shares; a tap adds its own and then calls this."""
        family_minimums = {
            name: 1
            for family in self.api_families.values()
            for name in (family.rate_setting, family.parallel_setting)
        }
        check_minimums(self.config, {**REQUEST_MINIMUMS, **family_minimums, **self.minimums})
        self.settings.check_dates()

    @cached_property
    def settings(self) -> Settings:
        """The typed settings, built once from the config and the declared defaults."""
        return Settings.from_config(self.config, self.config_jsonschema)

    # --- the sync ---------------------------------------------------------------------------
    @cached_property
    def progress(self) -> SyncProgress:
        """The sync's counters, logged every ``progress_interval_seconds`` from the first request."""
        return SyncProgress(self.name, self.logger, float(self.settings.progress_interval_seconds))

    @property
    def rest_streams(self) -> list[RestStream[Any]]:
        """The tap's streams (all of them :class:`RestStream`)."""
        return [stream for stream in self.streams.values() if isinstance(stream, RestStream)]

    def unavailable_streams(self) -> list[str]:
        """The error line of each stream skipped as unavailable to this account."""
        return [s.unavailable for s in self.rest_streams if s.unavailable is not None]

    def run_sync(self) -> None:
        """The SDK's ``sync_all`` inside the scheduler: no fetch ahead outlives it, whatever
        the exit. Streams skipped as unavailable fail the run once every other was synced."""
        for stream in self.rest_streams:
            stream.schema_written = False  # each sync writes each SCHEMA once
        try:
            with self.scheduler:
                self.sync_all()
        finally:
            self.progress.stop()
            for stream in self.rest_streams:
                stream.warn_not_instants()
        skipped = self.unavailable_streams()
        if skipped:
            raise StreamsSkippedError(skipped)

    # --- what the streams share ---------------------------------------------------------------
    @cached_property
    def families(self) -> dict[str, tuple[int, int]]:
        """(requests per second, workers) of each API family, from the settings."""
        families: dict[str, ApiFamily | None] = {MAIN_API: None, **self.api_families}
        return {name: self.settings.family(family) for name, family in families.items()}

    @cached_property
    def pacers(self) -> dict[str, Pacer]:
        """The pace of every request of each API family, worker threads' included."""
        return {
            name: Pacer(rate, headroom_ms=self.pace_headroom_ms)
            for name, (rate, _) in self.families.items()
        }

    @property
    def pacer(self) -> Pacer:
        """The main family's pace, which token requests also wait for."""
        return self.pacers[MAIN_API]

    @cached_property
    def scheduler(self) -> Scheduler:
        """The worker pools and every listing fetched ahead (scheduler.py)."""
        return Scheduler(
            self.name,
            workers={name: workers for name, (_, workers) in self.families.items()},
            streams_ahead=self.streams_ahead,
            progress=self.progress,
            top_level=lambda: [
                stream
                for stream in self.rest_streams
                if stream.parent_stream_type is None
                and (stream.selected or stream.has_selected_descendents)
                and stream.unavailable is None
            ],
        )

    def thread_session(self) -> requests.Session:
        """The calling thread's HTTP session (connection pool): sessions are not thread-safe."""
        session: requests.Session | None = getattr(self._sessions, "session", None)
        if session is None:
            session = self._sessions.session = TapSession()  # deadlines, redirects
        return session

    @property
    @abc.abstractmethod
    def authenticator(self) -> RenewingAuthenticator:
        """The one authenticator every stream (and worker) shares (a ``cached_property``)."""


@contextmanager
def one_line_failures(logger: logging.Logger, url_settings: str) -> Iterator[dict[str, str]]:
    """A failed CLI run ends in one error line and exit 1; its traceback is logged at DEBUG
    (``LOGLEVEL=DEBUG``) for bug reports. Yields the paths of the input files read, which
    a bad one's line names."""
    paths: dict[str, str] = {}
    try:
        yield paths
    except stop.SyncStopped as stopped:  # a sync under way ends in end_stopped_sync
        logger.error(
            "stopped by %s before the sync began: nothing written",
            stop.signal_name(stopped.signum),
        )
        stop.end(stopped.signum)
    except StreamsSkippedError as exc:  # every other stream was synced, its state written
        names = ", ".join(line.split(":", 1)[0] for line in exc.lines)
        logger.error(
            "%d stream(s) skipped, not available to this account (the others were synced): %s",
            len(exc.lines),
            names,
        )
        for line in exc.lines:
            logger.error("%s", line)
        raise SystemExit(1) from None
    except BadInputFileError as exc:
        _fail(logger, exc.line(paths), exc)
    except requests.RequestException as exc:
        _fail(logger, unreachable_line(exc, url_settings), exc)
    except ONE_LINE_ERRORS as exc:
        _fail(logger, str(exc), exc)


def _fail(logger: logging.Logger, line: str, exc: Exception) -> NoReturn:
    """Log ``line`` as the one error line, the traceback at DEBUG, and exit 1."""
    logger.debug("traceback of the failure", exc_info=exc)
    logger.error("%s", line)
    raise SystemExit(1)


def end_stopped_sync(tap: RestTap, signum: int) -> NoReturn:
    """End a sync a stop signal interrupted (stop.py): a last STATE, which covers only
    records written (each stream wrote its waiting records as the stop passed through
    it), one line, and the exit code of the signal."""
    writer = tap.message_writer
    buffered = writer if isinstance(writer, BufferedWriter) else None
    state = tap.state
    try:
        if buffered is not None:
            buffered.write_block()  # empty by now: each stream wrote its own
        tap.state_writer.write_state(state)
    except OSError as exc:  # the reader is gone
        last = f"no last STATE: stdout is closed ({exc.strerror or type(exc).__name__})"
    else:
        bookmarks = len(state.get("bookmarks") or {})
        last = (
            f"the last STATE covers only records written ({bookmarks} stream "
            "bookmark(s)): a run from it goes on from there"
        )
    written = "?" if buffered is None else f"{buffered.records_written:,}"
    tap.logger.error("stopped by %s after %s records; %s", stop.signal_name(signum), written, last)
    stop.end(signum)
