"""Amilia API v3 stand-in: authentication, the organization listings and their paging.

Contract reproduced (``shared/api-reference/amilia.md``, ``vendor-docs/amilia-api-overview.txt``):

- ``GET /api/V3/authenticate`` with HTTP Basic returns ``{"Token": "<JWT>"}`` (no language
  segment; the version segment is case-insensitive). Tokens live a year and are sent as
  ``Authorization: Bearer``; an ``X-AMILIA-APIKEY`` / ``X-AMILIA-APISECRET`` pair works too.
  Anything else is a 401.
- Organization endpoints live at ``/api/v3/{language}/org/{number-or-slug}/...``.
- Lists answer ``{"Items": [...], "Paging": {"TotalCount": n, "Next": url}}`` where ``Next``
  is the absolute URL of the next page (same query, ``page`` + 1) and ``""`` on the last
  page; ``page`` (default 1) and ``perPage`` (default 200) are read case-insensitively.
  The non-paged ``/accounts/{id}/contacts`` answers a bare array.
- Errors are ``{"Message": ..., "TransactionId": ...}``; above 100 calls/s the answer is a
  429 without ``Retry-After`` (the docs only say to "wait a little").
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import secrets
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator
from datetime import date, timedelta
from typing import TypeVar

import jwt
from aiohttp import web

from api_sandbox.faults import PAGE_FAULT
from api_sandbox.settings import PageSizeRefusedError, SandboxSettings
from api_sandbox.tenants import SandboxTenant, default_tenant, find_tenant
from api_sandbox.vendor import TokenStore, VendorAPI, bearer_token, json_response, off_the_loop
from api_sandbox.vendors.amilia.data import (
    ORGANIZATION_ID,
    AmiliaData,
    Record,
    person_status,
    person_view,
)

K = TypeVar("K")

USERNAME = "sandbox@example.com"
PASSWORD = "sandbox-password"  # noqa: S105 - the sandbox's public fake credential
API_KEY = "sandbox-api-key"
API_SECRET = "sandbox-api-secret"  # noqa: S105 - the sandbox's public fake credential
FORBIDDEN_ORGANIZATION = "9009"
"""An organization that exists but the sandbox user may not read: every call is a 403."""
TOKEN_TTL_S = 365 * 86_400.0
"""The docs: "The result is a JWT token that expires after 1 year"."""
DEFAULT_PER_PAGE = 200
MAX_PER_PAGE = 2_000
"""Larger ``perPage`` values are served 2,000 at a time (the real cap is undocumented)."""
LANGUAGES = ("en", "fr")
DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MEMBERSHIP_STATUSES = ("active", "inactive", "expired", "all")
PERSON_STATUSES = ("registered", "cancelled", "all")
"""``status`` of the program and activity persons listings (PersonProgramStatusV3,
PersonActivityStatusV3): the docs name only the default, ``Registered``."""

API = "/api/{version:[vV]3}"
ORG = API + "/{language}/org/{organization}"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
OrgHandler = Callable[["Listing"], web.Response]


class BadRequestError(Exception):
    """A 400: parameters or their format are invalid."""


class NotFoundError(Exception):
    """A 404: the entity was not found."""


class Query:
    """The query string, read the way the API does: names case-insensitively."""

    def __init__(self, request: web.Request) -> None:
        self._values = {key.lower(): value for key, value in request.query.items()}
        self._names = {key.lower(): key for key in request.query}

    def get(self, name: str) -> str | None:
        """The raw value of ``name``, if sent."""
        return self._values.get(name.lower())

    def name_of(self, name: str) -> str:
        """How the client spelled ``name`` (``Page`` or ``page``), default as given."""
        return self._names.get(name.lower(), name)

    def flag(self, name: str, default: bool = False) -> bool:
        """A boolean parameter (``true``/``false``, any case)."""
        value = self.get(name)
        if value is None or value == "":
            return default
        if value.lower() in ("true", "1"):
            return True
        if value.lower() in ("false", "0"):
            return False
        msg = f"The value '{value}' is not valid for {name}."
        raise BadRequestError(msg)

    def integer(self, name: str, default: int, minimum: int = 1) -> int:
        """A whole-number parameter of at least ``minimum``."""
        value = self.get(name)
        if value is None or value == "":
            return default
        try:
            number = int(value)
        except ValueError:
            number = minimum - 1
        if number < minimum:
            msg = f"The value '{value}' is not valid for {name}."
            raise BadRequestError(msg)
        return number

    def day(self, name: str) -> date | None:
        """A ``YYYY-MM-DD`` date parameter."""
        value = self.get(name)
        if value is None or value == "":
            return None
        try:
            if not DAY.match(value):
                raise ValueError(value)
            return date.fromisoformat(value)
        except ValueError:
            msg = f"The value '{value}' is not valid for {name}: expected YYYY-MM-DD."
            raise BadRequestError(msg) from None

    def paging(self, settings: SandboxSettings) -> tuple[int, int]:
        """``(page, perPage)``: page from 1, perPage 200 by default and at most 2,000 (or
        the ``page_limits`` of the settings, which may refuse a larger one instead)."""
        page = self.integer("page", 1)
        asked = self.integer("perPage", DEFAULT_PER_PAGE)
        try:
            per_page = settings.page_size_for(AmiliaAPI.name, "perPage", asked, MAX_PER_PAGE)
        except PageSizeRefusedError:
            msg = f"The value '{self.get('perPage')}' is not valid for perPage."
            raise BadRequestError(msg) from None
        return page, per_page


class Listing:
    """One organization request: the data in the request's language, its query, its answer."""

    def __init__(self, api: AmiliaAPI, request: web.Request, data: AmiliaData) -> None:
        self.api = api
        self.request = request
        self.data = data
        self.query = Query(request)

    def page_of(
        self,
        keys: Iterable[K],
        make: Callable[[K], Record],
        keep: Callable[[K], bool] | None = None,
    ) -> web.Response:
        """The requested page of ``keys`` that pass ``keep``, built with ``make``.

        Only index-level keys are walked; records are built for the page alone.
        """
        page, per_page = self.query.paging(self.api.settings)
        first = (page - 1) * per_page
        total = 0
        chosen: list[K] = []
        for key in keys:
            if keep is not None and not keep(key):
                continue
            if first <= total < first + per_page:
                chosen.append(key)
            total += 1
        return self.envelope([make(key) for key in chosen], total, page, per_page)

    def page_of_range(
        self, count: int, make: Callable[[int], Record], keep: Callable[[int], bool] | None
    ) -> web.Response:
        """Like :meth:`page_of` over ``range(count)``, without walking it when nothing is filtered."""
        if keep is not None:
            return self.page_of(range(count), make, keep)
        page, per_page = self.query.paging(self.api.settings)
        first = min(count, (page - 1) * per_page)
        chosen = range(first, min(count, first + per_page))
        return self.envelope([make(i) for i in chosen], count, page, per_page)

    def envelope(self, items: list[Record], total: int, page: int, per_page: int) -> web.Response:
        """``{"Items", "Paging": {"TotalCount", "Next"}}``, with the page faults applied."""
        following = self.page_url(page + 1) if page * per_page < total else ""
        fault = self.request.get(PAGE_FAULT)
        if fault == "repeat_page_token":
            following = str(self.request.url)
        elif fault == "empty_page":
            items, following = [], self.page_url(page + 1)
        return json_response({"Items": items, "Paging": {"TotalCount": total, "Next": following}})

    def page_url(self, page: int) -> str:
        """The absolute URL of ``page``: this request's URL with only the page number changed."""
        return str(self.request.url.update_query({self.query.name_of("page"): str(page)}))

    def days(
        self,
        *,
        default_from: date | None = None,
        default_to: date | None = None,
        names: tuple[str, str] = ("from", "to"),
    ) -> range:
        """Day indexes of ``from``..``to`` (both inclusive in v3), clipped to the data.

        ``names`` are the endpoint's two date parameters; the other pair is refused with a
        400 (``start``/``end`` and ``from``/``to`` are not interchangeable), so a client
        that sends the wrong ones learns it instead of silently getting today alone.
        """
        for other in ("from", "to", "start", "end"):
            if other not in names and self.query.get(other) is not None:
                msg = (
                    f"The parameter '{other}' is not valid for this endpoint: "
                    f"use '{names[0]}' and '{names[1]}'."
                )
                raise BadRequestError(msg)
        first = self.query.day(names[0])
        last = self.query.day(names[1])
        first = first or default_from or last
        last = last or default_to or first
        if first is None or last is None:
            today = self.data.today
            first, last = first or today, last or today
        if first > last:
            msg = f"The '{names[0]}' date must not be after the '{names[1]}' date."
            raise BadRequestError(msg)
        return self.data.day_range(first, last)

    def person_flags(self) -> dict[str, bool]:
        """The ``show*`` flags of a persons listing, as :func:`person_view` takes them."""
        return {
            "skills": self.query.flag("showSkills"),
            "registrations": self.query.flag("showRegistrations"),
            "cancelled": self.query.flag("showCancelledRegistrations"),
            "medical": self.query.flag("showMedicalInfo"),
        }

    def person_status(self) -> str:
        """``status`` of the program and activity persons listings (``Registered`` by default)."""
        status = (self.query.get("status") or "registered").lower()
        if status not in PERSON_STATUSES:
            msg = f"The value '{self.query.get('status')}' is not valid for status."
            raise BadRequestError(msg)
        return status

    def persons_page(self, persons: list[Record]) -> web.Response:
        """A program's or activity's persons in the requested status, shown as the flags ask."""
        status, flags = self.person_status(), self.person_flags()
        chosen = [
            person_view(p, **flags)
            for p in persons
            if status == "all" or person_status(p) == status
        ]
        return self.page_of_range(len(chosen), chosen.__getitem__, None)

    def dated(self, days: range, count: Callable[[int], int]) -> Iterator[tuple[int, int]]:
        """``(day, k)`` keys of every dated record on ``days``, ordered by id."""
        for day in days:
            for k in range(count(day)):
                yield day, k


class AmiliaAPI(VendorAPI):
    """Amilia v3 under ``/amilia``: ``/amilia/api/v3/{lang}/org/{org}/...``."""

    name = "amilia"
    prefix = "/amilia"
    default_rate_limit = 100.0

    def __init__(self, settings: SandboxSettings) -> None:
        super().__init__(settings)
        self.tokens = TokenStore(ttl_s=TOKEN_TTL_S)
        self._signing_key = secrets.token_bytes(32)
        self._data: dict[tuple[str, str], AmiliaData] = {}

    def data(self, language: str, tenant: SandboxTenant | None = None) -> AmiliaData:
        """The organization ``tenant`` (default: 8008) in ``language`` as of the sandbox
        clock's today."""
        tenant = tenant or default_tenant(self.name)
        today = self.settings.clock.today()
        data = self._data.get((tenant.key, language))
        if data is None or data.today != today:
            data = self._data[tenant.key, language] = AmiliaData(
                self.settings.seed,
                self.settings.scale * tenant.share,
                language,
                today,
                organization=tenant.number,
                slug=tenant.alias,
            )
        return data

    # --- routes ------------------------------------------------------------------------------
    def add_routes(self, app: web.Application) -> None:
        """Register the authentication route and the organization listings."""
        app.router.add_route("*", API + "/authenticate", self.authenticate)
        listings: dict[str, OrgHandler] = {
            "/programs": self.programs,
            "/programs/{id}/activities": self.program_activities,
            "/programs/{id}/persons": self.program_persons,
            "/activities/{id}/occurrences": self.activity_occurrences,
            "/activities/{id}/persons": self.activity_persons,
            "/occurrences/{id}/persons": self.occurrence_persons,
            "/accounts": self.accounts,
            "/accounts/{id}/contacts": self.account_contacts,
            "/memberships": self.memberships,
            "/memberships/{id}/persons": self.membership_persons,
            "/memberships/{id}/accounts": self.membership_accounts,
            "/locations": self.locations,
            "/events": self.events,
            "/registrations": self.registrations,
            "/reservations": self.reservations,
            "/AccessScans": self.access_scans,
            "/donations/sold": self.donations_sold,
            "/merchandise": self.merchandise,
            "/multipass": self.multipasses,
            "/multipass/{id}/persons": self.multipass_persons,
            "/multipass/{id}/accounts": self.multipass_accounts,
            "/activities/{id}/waitlist": self.activity_waitlist,
        }
        for path, handler in listings.items():
            app.router.add_get(ORG + path, self.organization_route(handler))

    def error_response(
        self, request: web.Request, status: int, message: str, headers: dict[str, str] | None = None
    ) -> web.Response:
        """Amilia's error body: a message and the TransactionId support asks for."""
        body = {"Message": message, "TransactionId": str(uuid.uuid4())}
        return json_response(body, status=status, headers=headers)

    def rate_limited_response(self, request: web.Request) -> web.Response:
        """429 without Retry-After: the docs only say to wait a little."""
        return self.error_response(
            request, 429, "Too Many Requests - Maximum number of calls per second exceeded"
        )

    def revoke_tokens(self) -> None:
        """Every token issued so far stops working."""
        self.tokens.revoke_all()

    def reset(self) -> None:
        """Forget issued tokens."""
        self.tokens.revoke_all()

    # --- authentication ----------------------------------------------------------------------
    async def authenticate(self, request: web.Request) -> web.Response:
        """``GET /api/V3/authenticate`` with Basic credentials -> ``{"Token": jwt}``."""
        if request.method != "GET":
            return self.error_response(
                request,
                405,
                f"The requested resource does not support http method '{request.method}'.",
            )
        username, password = basic_credentials(request)
        if not (
            hmac.compare_digest(username.lower().encode(), USERNAME.encode())
            and hmac.compare_digest(password.encode(), PASSWORD.encode())
        ):
            return self.error_response(request, 401, "Invalid username or password.")
        ttl = self.settings.token_ttl_for(self.name, TOKEN_TTL_S)
        now = int(self.settings.clock.time())
        claims = {
            "sub": USERNAME,
            "org": ORGANIZATION_ID,
            "iat": now,
            "exp": now + int(ttl),
            "jti": uuid.uuid4().hex,
        }
        token = jwt.encode(claims, self._signing_key, algorithm="HS256")
        self.tokens.register(token, ttl_s=ttl)
        return json_response({"Token": token})

    def authorized(self, request: web.Request) -> bool:
        """A valid Bearer token from /authenticate, or the API key/secret pair."""
        token = bearer_token(request)
        if token is not None:
            return self.tokens.is_valid(token)
        key = request.headers.get("X-AMILIA-APIKEY")
        secret = request.headers.get("X-AMILIA-APISECRET")
        if key is None or secret is None:
            return False
        return hmac.compare_digest(key.encode(), API_KEY.encode()) and hmac.compare_digest(
            secret.encode(), API_SECRET.encode()
        )

    def organization_route(self, handler: OrgHandler) -> Handler:
        """Auth, language and organization checks, then ``handler``; errors in Amilia's shape."""

        async def route(request: web.Request) -> web.StreamResponse:
            if not self.authorized(request):
                return self.error_response(
                    request, 401, "Authorization has been denied for this request."
                )
            language = request.match_info["language"].lower()
            if language not in LANGUAGES:
                return self.error_response(request, 400, f"Unsupported language '{language}'.")
            organization = request.match_info["organization"].lower()
            if organization == FORBIDDEN_ORGANIZATION:
                return self.error_response(
                    request, 403, "User is not authorized to perform this operation."
                )
            tenant = find_tenant(self.name, organization)
            if tenant is None:
                return self.error_response(
                    request, 404, f"Organization '{organization}' was not found."
                )
            try:
                data = self.data(language, tenant)
                return await off_the_loop(handler, Listing(self, request, data))
            except BadRequestError as exc:
                return self.error_response(request, 400, str(exc))
            except NotFoundError as exc:
                return self.error_response(request, 404, str(exc))

        return route

    # --- programs, activities, occurrences ---------------------------------------------------
    def programs(self, listing: Listing) -> web.Response:
        """``/programs``: ``showHidden``, ``showArchived`` (both false by default)."""
        data, query = listing.data, listing.query
        show_hidden, show_archived = query.flag("showHidden"), query.flag("showArchived")

        def keep(i: int) -> bool:
            flags = data.program_flags(i)
            return (show_hidden or flags.visible) and (show_archived or not flags.archived)

        filtered = not (show_hidden and show_archived)
        return listing.page_of_range(data.program_count, data.program, keep if filtered else None)

    def program_activities(self, listing: Listing) -> web.Response:
        """``/programs/{id}/activities``: ``showHidden``, ``showCancelled``."""
        data, query = listing.data, listing.query
        program_index = self._program_index(listing)
        show_hidden, show_cancelled = query.flag("showHidden"), query.flag("showCancelled")

        def keep(i: int) -> bool:
            status = data.activity_status(program_index, i)
            return (show_hidden or status != "Hidden") and (show_cancelled or status != "Cancelled")

        filtered = not (show_hidden and show_cancelled)
        return listing.page_of_range(
            data.activity_count(program_index),
            lambda i: data.activity(program_index, i),
            keep if filtered else None,
        )

    def program_persons(self, listing: Listing) -> web.Response:
        """``/programs/{id}/persons``: ``status`` (Registered), ``showSkills``,
        ``showRegistrations``, ``showMedicalInfo``, ``showCancelledRegistrations`` (false)."""
        return listing.persons_page(listing.data.program_persons(self._program_index(listing)))

    def activity_occurrences(self, listing: Listing) -> web.Response:
        """``/activities/{id}/occurrences``."""
        data = listing.data
        program_index, index = self._activity(listing)
        return listing.page_of_range(
            data.occurrence_count(program_index, index),
            lambda i: data.occurrence(program_index, index, i),
            None,
        )

    def activity_persons(self, listing: Listing) -> web.Response:
        """``/activities/{id}/persons``: the flags of ``/programs/{id}/persons``."""
        return listing.persons_page(listing.data.activity_persons(*self._activity(listing)))

    def activity_waitlist(self, listing: Listing) -> web.Response:
        """``/activities/{id}/waitlist``: the activity summary with the page's ``WaitList``
        persons in ``Items`` (the docs' sample is one object per activity), paged over the
        waiting persons."""
        data = listing.data
        program_index, index = self._activity(listing)
        waiting = data.waitlist(program_index, index)
        page, per_page = listing.query.paging(listing.api.settings)
        first = min(len(waiting), (page - 1) * per_page)
        summary = data.activity_summary(program_index, index)
        activity = {
            **summary,
            "Url": data.activity(program_index, index)["Url"],
            "Status": data.activity_status(program_index, index),
            "WaitList": waiting[first : first + per_page],
        }
        return listing.envelope([activity], len(waiting), page, per_page)

    def occurrence_persons(self, listing: Listing) -> web.Response:
        """``/occurrences/{id}/persons``: the participants of one occurrence."""
        occurrence = self._id(listing)
        found = listing.data.locate_occurrence(occurrence)
        if found is None:
            msg = f"Occurrence {occurrence} was not found."
            raise NotFoundError(msg)
        persons = listing.data.occurrence_participants(*found)
        return listing.page_of_range(len(persons), persons.__getitem__, None)

    # --- accounts ------------------------------------------------------------------------------
    def accounts(self, listing: Listing) -> web.Response:
        """``/accounts``: ``showArchived``, ``accountOwnerEmail``."""
        data, query = listing.data, listing.query
        show_archived = query.flag("showArchived")
        email = (query.get("accountOwnerEmail") or "").lower()

        def keep(i: int) -> bool:
            if not show_archived and data.account_archived(i):
                return False
            return not email or data.person_core(i, 0)["Email"] == email

        filtered = not show_archived or bool(email)
        return listing.page_of_range(data.account_count, data.account, keep if filtered else None)

    def account_contacts(self, listing: Listing) -> web.Response:
        """``/accounts/{id}/contacts``: not paged, a bare array."""
        index = self._id(listing) - 300_000
        if not 0 <= index < listing.data.account_count:
            msg = f"Account {self._id(listing)} was not found."
            raise NotFoundError(msg)
        return json_response(listing.data.account_contacts(index))

    # --- memberships ---------------------------------------------------------------------------
    def memberships(self, listing: Listing) -> web.Response:
        """``/memberships``: ``showHidden`` (false), ``showActiveonly`` (true)."""
        data, query = listing.data, listing.query
        show_hidden = query.flag("showHidden")
        active_only = query.flag("showActiveonly", default=True)

        def keep(i: int) -> bool:
            flags = data.membership_flags(i)
            return (show_hidden or flags.visible) and not (active_only and flags.archived)

        filtered = active_only or not show_hidden
        return listing.page_of_range(
            data.membership_count, data.membership, keep if filtered else None
        )

    def membership_persons(self, listing: Listing) -> web.Response:
        """``/memberships/{id}/persons``: ``status`` Active (default), Inactive, Expired or
        All; ``showMedicalInfo`` (false); ``from``/``to`` (validity overlapping them)."""
        index = self._membership_index(listing)
        medical = listing.query.flag("showMedicalInfo")
        holders = [
            person_view(h, medical=medical)
            for h in self._holders(listing, listing.data.membership_persons(index))
        ]
        return listing.page_of_range(len(holders), holders.__getitem__, None)

    def membership_accounts(self, listing: Listing) -> web.Response:
        """``/memberships/{id}/accounts``: family accounts, the parameters of
        ``/memberships/{id}/persons``."""
        index = self._membership_index(listing)
        listing.query.flag("showMedicalInfo")
        holders = self._holders(listing, listing.data.membership_accounts(index))
        return listing.page_of_range(len(holders), holders.__getitem__, None)

    def _membership_index(self, listing: Listing) -> int:
        index = self._id(listing) - 4_001
        if not 0 <= index < listing.data.membership_count:
            msg = f"Membership {self._id(listing)} was not found."
            raise NotFoundError(msg)
        return index

    @staticmethod
    def _holders(listing: Listing, holders: list[Record]) -> list[Record]:
        """Holders in the requested ``status`` whose validity overlaps ``from``..``to``."""
        status = (listing.query.get("status") or "active").lower()
        if status not in MEMBERSHIP_STATUSES:
            msg = f"The value '{status}' is not valid for status."
            raise BadRequestError(msg)
        first, last = listing.query.day("from"), listing.query.day("to")
        if first and last and first > last:
            msg = "The 'from' date must not be after the 'to' date."
            raise BadRequestError(msg)
        today = listing.data.today
        return [
            h
            for h in holders
            if (status == "all" or membership_status(h, today) == status)
            and (first is None or first <= date.fromisoformat(h["ExpirationDate"][:10]))
            and (last is None or date.fromisoformat(h["EffectiveDate"][:10]) <= last)
        ]

    # --- multipasses and merchandise -------------------------------------------------------------
    def multipasses(self, listing: Listing) -> web.Response:
        """``/multipass``: ``showArchived`` (false)."""
        data = listing.data
        show_archived = listing.query.flag("showArchived")
        return listing.page_of_range(
            data.multipass_count,
            data.multipass,
            None if show_archived else lambda i: not data.multipass_archived(i),
        )

    def multipass_persons(self, listing: Listing) -> web.Response:
        """``/multipass/{id}/persons``: ``showArchived`` (cancelled passes), ``showMedicalInfo``."""
        return self._pass_holders(listing, listing.data.multipass_persons)

    def multipass_accounts(self, listing: Listing) -> web.Response:
        """``/multipass/{id}/accounts``: the parameters of ``/multipass/{id}/persons``."""
        return self._pass_holders(listing, listing.data.multipass_accounts)

    def _pass_holders(
        self, listing: Listing, holders_of: Callable[[int], list[tuple[bool, Record]]]
    ) -> web.Response:
        index = self._id(listing) - 1_001
        if not 0 <= index < listing.data.multipass_count:
            msg = f"Multipass {self._id(listing)} was not found."
            raise NotFoundError(msg)
        show_archived = listing.query.flag("showArchived")
        medical = listing.query.flag("showMedicalInfo")
        holders = [
            person_view(record, medical=medical) if "MedicalInformation" in record else record
            for cancelled, record in holders_of(index)
            if show_archived or not cancelled
        ]
        return listing.page_of_range(len(holders), holders.__getitem__, None)

    def merchandise(self, listing: Listing) -> web.Response:
        """``/merchandise``: ``showArchived`` (false)."""
        data = listing.data
        show_archived = listing.query.flag("showArchived")
        return listing.page_of_range(
            data.merchandise_count,
            data.merchandise,
            None if show_archived else lambda i: not data.merchandise_archived(i),
        )

    # --- locations and dated resources ---------------------------------------------------------
    def locations(self, listing: Listing) -> web.Response:
        """``/locations`` (the area filters are accepted and ignored)."""
        data = listing.data
        return listing.page_of_range(data.location_count, data.location, None)

    def events(self, listing: Listing) -> web.Response:
        """``/events``: one day when ``to`` is omitted, today when both are."""
        data, query = listing.data, listing.query
        days = listing.days()
        participants = query.flag("showParticipants")
        show = {
            "hidden": query.flag("showHidden"),
            "skipped": query.flag("showSkipped"),
            "cancelled": query.flag("showCanceled"),
        }
        program = query.integer("programId", 0, minimum=0)

        def keep(key: tuple[int, int]) -> bool:
            flags = data.event_flags(*key)
            if (flags.hidden and not show["hidden"]) or (flags.skipped and not show["skipped"]):
                return False
            if flags.cancelled and not show["cancelled"]:
                return False
            return (
                not program
                or data.event(*key, participants=False)["Activity"]["ProgramId"] == program
            )

        return listing.page_of(
            listing.dated(days, data.event_count),
            lambda key: data.event(*key, participants=participants),
            keep,
        )

    def registrations(self, listing: Listing) -> web.Response:
        """``/registrations``: ``from``/``to`` on the creation date, ``showEnded`` (false)."""
        data = listing.data
        days = listing.days(default_from=data.first_day, default_to=data.last_day)
        show_ended = listing.query.flag("showEnded")
        return listing.page_of(
            listing.dated(days, data.registration_count),
            lambda key: data.registration(*key),
            None if show_ended else lambda key: not data.registration_flags(*key).program_ended,
        )

    def reservations(self, listing: Listing) -> web.Response:
        """``/reservations``: ``from``/``to`` on the start date, ``showCancelled`` (false)."""
        data = listing.data
        days = listing.days(default_from=data.first_day, default_to=data.last_day)
        show_cancelled = listing.query.flag("showCancelled")
        return listing.page_of(
            listing.dated(days, data.reservation_count),
            lambda key: data.reservation(*key),
            None if show_cancelled else lambda key: not data.reservation_flags(*key).cancelled,
        )

    def access_scans(self, listing: Listing) -> web.Response:
        """``/AccessScans``: ``start``/``end`` on the scan date (both inclusive; today when
        both are omitted, the ``start`` day alone without ``end``)."""
        data = listing.data
        days = listing.days(names=("start", "end"))
        return listing.page_of(
            listing.dated(days, data.access_scan_count), lambda key: data.access_scan(*key)
        )

    def donations_sold(self, listing: Listing) -> web.Response:
        """``/donations/sold``: ``from``/``to`` on the purchase date (inclusive); the last
        30 days when no date is given."""
        data = listing.data
        today = data.today
        first, last = listing.query.day("from"), listing.query.day("to")
        last_day = last or today
        days = listing.days(
            default_from=(last_day - timedelta(days=29)) if first is None else None,
            default_to=today,
        )
        return listing.page_of(
            listing.dated(days, data.donation_count), lambda key: data.donation(*key)
        )

    # --- path ids --------------------------------------------------------------------------------
    @staticmethod
    def _id(listing: Listing) -> int:
        value = listing.request.match_info["id"]
        try:
            return int(value)
        except ValueError:
            msg = f"The value '{value}' is not a valid id."
            raise BadRequestError(msg) from None

    def _program_index(self, listing: Listing) -> int:
        program = self._id(listing)
        index, remainder = divmod(program - 20_001, 7)
        if remainder or not 0 <= index < listing.data.program_count:
            msg = f"Program {program} was not found."
            raise NotFoundError(msg)
        return index

    def _activity(self, listing: Listing) -> tuple[int, int]:
        activity = self._id(listing)
        found = listing.data.locate_activity(activity)
        if found is None:
            msg = f"Activity {activity} was not found."
            raise NotFoundError(msg)
        return found


def basic_credentials(request: web.Request) -> tuple[str, str]:
    """``(username, password)`` of an ``Authorization: Basic`` header, or empty strings."""
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return "", ""
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return "", ""
    username, _, password = decoded.partition(":")
    return username, password


def membership_status(holder: Record, today: date) -> str:
    """``active``, ``inactive`` (not yet effective) or ``expired`` on ``today``."""
    effective = date.fromisoformat(str(holder["EffectiveDate"])[:10])
    expires = date.fromisoformat(str(holder["ExpirationDate"])[:10])
    if today < effective:
        return "inactive"
    return "expired" if expires < today else "active"


__all__ = ["API_KEY", "API_SECRET", "PASSWORD", "USERNAME", "AmiliaAPI", "basic_credentials"]
