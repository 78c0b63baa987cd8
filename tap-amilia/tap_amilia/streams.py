"""Amilia streams: one small class each; shared schema fragments first.

Field names are the API's. Every schema allows additional properties, so a field Amilia
adds later reaches the target instead of being dropped.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

import requests
from singer_sdk import typing as th
from singer_sdk.exceptions import RetriableAPIError
from singer_sdk.helpers.types import Context
from typing_extensions import override

from singer_rest_toolkit.responses import json_body
from tap_amilia.client import AmiliaDateWindowStream, AmiliaPersonsStream, AmiliaStream


def schema(*properties: th.Property[Any]) -> dict[str, Any]:
    """A record schema that keeps fields it does not declare."""
    return {**th.PropertiesList(*properties).to_dict(), "additionalProperties": True}


def ints(*names: str) -> list[th.Property[Any]]:
    """Nullable integer properties."""
    return [th.Property(name, th.IntegerType) for name in names]


def strings(*names: str) -> list[th.Property[Any]]:
    """Nullable string properties."""
    return [th.Property(name, th.StringType) for name in names]


def booleans(*names: str) -> list[th.Property[Any]]:
    """Nullable boolean properties."""
    return [th.Property(name, th.BooleanType) for name in names]


def datetimes(*names: str) -> list[th.Property[Any]]:
    """Date-times such as ``2025-06-02T18:30:00.1234560-04:00`` (7 fractional digits)."""
    return [th.Property(name, th.DateTimeType) for name in names]


# --- shared fragments --------------------------------------------------------------------------
ID_NAME = th.ObjectType(*ints("Id"), *strings("Name"))
ADDRESS = th.ObjectType(
    *strings("Address1", "Address2", "City", "StateProvince", "Country", "ZipPostalCode"),
    *[th.Property(name, th.NumberType) for name in ("Latitude", "Longitude")],
)
LOCATION_REF = th.ObjectType(*ints("Id"), *strings("Name"), th.Property("Address", ADDRESS))
ACTIVITY_SUMMARY = th.ObjectType(
    *ints("Id", "ProgramId", "CategoryId", "SubCategoryId"),
    *strings("Name", "ProgramName", "CategoryName", "SubCategoryName"),
)
PERSON_FIELDS = (
    *ints("Id"),
    *strings("FirstName", "LastName", "FullName", "Gender", "Email"),
    th.Property("DateOfBirth", th.DateType),
    *booleans("IsChild"),
)
CONTACT_FIELDS = (
    *PERSON_FIELDS,
    th.Property("Address", ADDRESS),
    *strings(
        "Telephone",
        "TelephoneMobile",
        "TelephoneWork",
        "TelephoneWorkExtension",
        "Relationship",
        "Type",
    ),
)
CONTACT = th.ObjectType(*CONTACT_FIELDS)
OWNER_FIELDS = (
    *ints("OrganizationId", "AccountId", "AccountOwnerId"),
    *strings(
        "AccountOwnerFirstName",
        "AccountOwnerLastName",
        "AccountOwnerFullName",
        "AccountOwnerEmail",
        "AccountOwnerTelephoneMobile",
    ),
    *booleans("IsArchived"),
)
OWNER = th.ObjectType(*OWNER_FIELDS, th.Property("Contacts", th.ArrayType(CONTACT)))
PERSON_REGISTRATION = th.ObjectType(
    *ints(
        "ProgramId",
        "CategoryId",
        "SubCategoryId",
        "ActivityId",
        "GroupId",
        "PersonId",
        "DropInOccurrenceId",
    ),
    *strings("ProgramName", "CategoryName", "SubCategoryName", "ActivityName", "GroupName"),
    *datetimes("DateCreated", "DropInDate"),
    *booleans("IsCancelled"),
)
OPEN_OBJECT = th.ObjectType()
"""An object whose fields the reference does not list (kept as sent)."""
PERSON_PROPERTIES = (
    *PERSON_FIELDS,
    th.Property("Address", ADDRESS),
    *strings("Telephone"),
    *OWNER_FIELDS,
    th.Property("Contacts", th.ArrayType(CONTACT)),
    th.Property("Skills", th.ArrayType(ID_NAME)),
    th.Property("Registrations", th.ArrayType(PERSON_REGISTRATION)),
    th.Property("MedicalInformation", OPEN_OBJECT),
    th.Property("JoinDate", th.DateType),
    *strings("PictureUrl"),
)
PARTICIPANT_PROPERTIES = (
    *ints("Id", "AccountId", "GroupId", "OccurrenceId", "AttendanceId", "OrgId"),
    *strings("FirstName", "LastName", "Gender", "PictureUrl", "GroupName", "Status"),
    th.Property("DateOfBirth", th.DateType),
)
PARTICIPANT = th.ObjectType(*PARTICIPANT_PROPERTIES)
ACCOUNT_PROPERTIES = (
    *ints("Id"),
    th.Property("Owners", th.ArrayType(OWNER)),
    th.Property("Members", th.ArrayType(th.ObjectType(*PERSON_FIELDS))),
    th.Property("Corporate", ID_NAME),
    th.Property(
        "AccountMemberships",
        th.ArrayType(
            th.ObjectType(
                *ints("Id", "MembershipId", "PersonId"),
                *strings("Name"),
                *datetimes("EffectiveDate", "ExpirationDate"),
            )
        ),
    ),
)


# --- programs, activities, occurrences ---------------------------------------------------------
class ProgramsStream(AmiliaStream):
    """Programs, hidden and archived ones included."""

    name = "programs"
    path = "/programs"
    primary_keys = ("Id",)
    query: ClassVar[dict[str, str]] = {"showHidden": "true", "showArchived": "true"}
    schema = schema(
        *ints("Id"),
        *strings("Name", "Url", "PictureUrl"),
        *datetimes("Start", "End"),
        *booleans("IsArchived", "IsVisible", "IsPasswordProtected"),
    )

    @override
    def get_child_context(self, record: dict[str, Any], context: Context | None) -> dict[str, Any]:
        """Children need only the program id."""
        return {"ProgramId": record["Id"]}


class ActivitiesStream(AmiliaStream):
    """Activities of each program, hidden and cancelled ones included."""

    name = "activities"
    path = "/programs/{ProgramId}/activities"
    parent_stream_type = ProgramsStream
    state_partitioning_keys: ClassVar[list[str]] = []
    primary_keys = ("Id",)
    query: ClassVar[dict[str, str]] = {"showHidden": "true", "showCancelled": "true"}
    schema = schema(
        *ints(
            "Id",
            "ProgramId",
            "CategoryId",
            "SubCategoryId",
            "DisplayOrder",
            "MaxAttendance",
            "SpotsRemaining",
            "SpotsReserved",
            "NumberOfOccurrences",
            "OrganizationId",
        ),
        *strings(
            "Name",
            "Status",
            "Url",
            "ProgramName",
            "CategoryName",
            "SubCategoryName",
            "Description",
            "Prerequisite",
            "Note",
            "ThirdPartyUrl",
            "AdditionalInformation",
            "ResponsibleName",
            "AgeSummary",
            "ScheduleSummary",
            "LocationLabel",
            "SecretUrl",
            "PictureUrl",
        ),
        th.Property("Tags", th.ArrayType(ID_NAME)),
        th.Property("Keywords", th.ArrayType(ID_NAME)),
        th.Property("Groups", th.ArrayType(ID_NAME)),
        *[th.Property(name, th.NumberType) for name in ("Price", "DropInPrice")],
        th.Property(
            "Age", th.ObjectType(*ints("Max", "Min"), th.Property("Months", th.BooleanType))
        ),
        *datetimes("StartDate", "EndDate"),
        *booleans("HasSessionEnabled", "HasDropInEnabled", "HasWaitListEnabled"),
        th.Property("RegistrationPeriods", th.ArrayType(OPEN_OBJECT)),
        th.Property("Forms", th.ArrayType(th.ObjectType(*ints("Id"), *strings("Type", "Name")))),
        th.Property(
            "Schedules",
            th.ArrayType(
                th.ObjectType(
                    *datetimes("StartDate", "EndDate"),
                    *strings("StartTime", "EndTime"),
                    th.Property("Locations", th.ArrayType(LOCATION_REF)),
                )
            ),
        ),
    )

    @override
    def get_child_context(self, record: dict[str, Any], context: Context | None) -> dict[str, Any]:
        """Children need only the activity id."""
        return {"ActivityId": record["Id"]}


OCCURRENCE_PROPERTIES = (
    *ints("Id", "ActivityId", "DropInMaxAttendance", "DropInSpotsReserved", "DropInSpotsRemaining"),
    *datetimes("Start", "End"),
    *strings("State"),
    *booleans("HasDropInEnabled"),
    th.Property("Location", LOCATION_REF),
)


class ActivityOccurrencesStream(AmiliaStream):
    """The dated sessions of each activity (one request per activity)."""

    name = "activity_occurrences"
    path = "/activities/{ActivityId}/occurrences"
    parent_stream_type = ActivitiesStream
    state_partitioning_keys: ClassVar[list[str]] = []
    primary_keys = ("Id",)
    query: ClassVar[dict[str, str]] = {"showEdited": "true"}
    schema = schema(*OCCURRENCE_PROPERTIES)

    @override
    def get_child_context(self, record: dict[str, Any], context: Context | None) -> dict[str, Any]:
        """Participants need only the occurrence id."""
        return {"OccurrenceId": record["Id"]}


EVERY_PERSON = {
    "showSkills": "true",
    "showRegistrations": "true",
    "showCancelledRegistrations": "true",
}
"""Flags of the program and activity persons listings that return each person whole."""
ALL_STATUSES = {"status": "All"}
"""Every person, not only ``Registered`` ones (the one status value the docs list)."""


class EveryPersonStream(AmiliaPersonsStream):
    """Persons of each parent (a program, an activity) in every status, with skills and
    registrations (cancelled ones too). Opt-in: one request per parent."""

    state_partitioning_keys: ClassVar[list[str]] = []
    selected_by_default = False
    query: ClassVar[dict[str, str]] = EVERY_PERSON
    undocumented: ClassVar[dict[str, str]] = ALL_STATUSES


class ProgramPersonsStream(EveryPersonStream):
    """Persons of each program (see :class:`EveryPersonStream`)."""

    name = "program_persons"
    path = "/programs/{ProgramId}/persons"
    parent_stream_type = ProgramsStream
    primary_keys = ("ProgramId", "Id")
    schema = schema(*ints("ProgramId"), *PERSON_PROPERTIES)


class ActivityPersonsStream(EveryPersonStream):
    """Persons of each activity (see :class:`EveryPersonStream`)."""

    name = "activity_persons"
    path = "/activities/{ActivityId}/persons"
    parent_stream_type = ActivitiesStream
    primary_keys = ("ActivityId", "Id")
    schema = schema(*ints("ActivityId"), *PERSON_PROPERTIES)


class ActivityWaitlistsStream(AmiliaStream):
    """Persons waiting for a place in each activity. Opt-in: one request per activity.

    The docs' sample is one object per activity, the activity summary with a ``WaitList``
    array of persons; whether it comes bare or in ``Items`` is not said. Each is read, and
    ``Items`` that are persons themselves too: one record per waiting person.
    """

    name = "activity_waitlists"
    path = "/activities/{ActivityId}/waitlist"
    parent_stream_type = ActivitiesStream
    state_partitioning_keys: ClassVar[list[str]] = []
    selected_by_default = False
    primary_keys = ("ActivityId", "Id")
    schema = schema(
        th.Property("ActivityId", th.IntegerType),
        th.Property("Id", th.IntegerType),
        th.Property("FirstName", th.StringType),
        th.Property("LastName", th.StringType),
        th.Property("FullName", th.StringType),
        th.Property("DateOfBirth", th.DateType),
        th.Property("Email", th.StringType),
        th.Property("Telephone", th.StringType),
        th.Property("TelephoneMobile", th.StringType),
        th.Property("TelephoneWork", th.StringType),
    )

    @override
    def page_fill(self, body: Any) -> tuple[int, bool] | None:
        """Unknown: ``perPage`` counts waiting persons, inside one activity object."""
        return None

    @override
    def check_body(self, response: requests.Response, body: Any) -> None:
        """A bare activity object with its ``WaitList`` is a whole answer too."""
        if isinstance(body, dict) and isinstance(body.get("WaitList"), list):
            return
        super().check_body(response, body)

    @override
    def parse_response(self, response: requests.Response) -> Iterable[dict[str, Any]]:
        """Each waiting person, from ``WaitList`` of each activity object (or the item)."""
        body = json_body(response)
        if isinstance(body, dict) and "WaitList" in body:
            items: list[Any] = [body]
        else:
            items = list(super().parse_response(response))
        for item in items:
            if not isinstance(item, dict):
                continue
            waiting = item.get("WaitList", [item])
            if waiting is None:
                continue  # no one waiting
            if not isinstance(waiting, list):
                msg = f"{self.name}: WaitList of GET {response.url} is not a list"
                raise RetriableAPIError(msg, response)
            yield from (person for person in waiting if isinstance(person, dict))


class OccurrenceParticipantsStream(AmiliaStream):
    """Participants and attendance of each occurrence. Opt-in: one request per occurrence."""

    name = "occurrence_participants"
    path = "/occurrences/{OccurrenceId}/persons"
    parent_stream_type = ActivityOccurrencesStream
    state_partitioning_keys: ClassVar[list[str]] = []
    selected_by_default = False
    primary_keys = ("OccurrenceId", "Id")
    schema = schema(*PARTICIPANT_PROPERTIES)


# --- accounts ----------------------------------------------------------------------------------
class AccountsStream(AmiliaStream):
    """Family accounts with owners, members and memberships, archived ones included."""

    name = "accounts"
    path = "/accounts"
    primary_keys = ("Id",)
    query: ClassVar[dict[str, str]] = {"showArchived": "true"}
    schema = schema(*ACCOUNT_PROPERTIES)

    @override
    def get_child_context(self, record: dict[str, Any], context: Context | None) -> dict[str, Any]:
        """Contacts need only the account id."""
        return {"AccountId": record["Id"]}


class AccountContactsStream(AmiliaStream):
    """Emergency contacts and authorised pick-ups of each account (one request per account)."""

    name = "account_contacts"
    path = "/accounts/{AccountId}/contacts"
    parent_stream_type = AccountsStream
    state_partitioning_keys: ClassVar[list[str]] = []
    paged = False
    primary_keys = ("AccountId", "Id")
    schema = schema(*ints("AccountId"), *CONTACT_FIELDS)


# --- memberships -------------------------------------------------------------------------------
class MembershipsStream(AmiliaStream):
    """Memberships, hidden and inactive ones included."""

    name = "memberships"
    path = "/memberships"
    primary_keys = ("Id",)
    query: ClassVar[dict[str, str]] = {"showHidden": "true", "showActiveonly": "false"}
    schema = schema(
        *ints("Id", "OrganizationId", "Position"),
        *strings("Name", "Description", "MembershipType"),
        th.Property("Price", th.NumberType),
        *booleans("IsArchived", "IsVisible"),
        *datetimes("DateCreated"),
        th.Property("LedgerCode", ID_NAME),
        th.Property("Tags", th.ArrayType(ID_NAME)),
    )

    @override
    def get_child_context(self, record: dict[str, Any], context: Context | None) -> dict[str, Any]:
        """Holders need only the membership id."""
        return {"MembershipId": record["Id"]}


class MembershipPersonsStream(AmiliaPersonsStream):
    """Holders of each membership, in every status, one record per purchase: a renewal by
    the same person is a record of its own (one request per membership)."""

    name = "membership_persons"
    path = "/memberships/{MembershipId}/persons"
    parent_stream_type = MembershipsStream
    state_partitioning_keys: ClassVar[list[str]] = []
    primary_keys = ("MembershipId", "Id", "PurchasedDate")
    query: ClassVar[dict[str, str]] = {"status": "All"}
    schema = schema(
        *ints("MembershipId"),
        *PERSON_PROPERTIES,
        *datetimes("PurchasedDate", "EffectiveDate", "ExpirationDate"),
    )


class MembershipAccountsStream(AmiliaPersonsStream):
    """Family accounts holding each membership, in every status, one record per purchase
    (one request per membership)."""

    name = "membership_accounts"
    path = "/memberships/{MembershipId}/accounts"
    parent_stream_type = MembershipsStream
    state_partitioning_keys: ClassVar[list[str]] = []
    primary_keys = ("MembershipId", "Id", "PurchasedDate")
    query: ClassVar[dict[str, str]] = {"status": "All"}
    schema = schema(
        th.Property("MembershipId", th.IntegerType),
        th.Property("PurchasedDate", th.DateTimeType),
        th.Property("EffectiveDate", th.DateTimeType),
        th.Property("ExpirationDate", th.DateTimeType),
        *ACCOUNT_PROPERTIES,
    )


# --- multipasses and merchandise -----------------------------------------------------------------
class MultipassesStream(AmiliaStream):
    """Multipasses (punch cards), archived ones included."""

    name = "multipasses"
    path = "/multipass"
    primary_keys = ("Id",)
    query: ClassVar[dict[str, str]] = {"showArchived": "true"}
    schema = schema(
        th.Property("Id", th.IntegerType),
        th.Property("Name", th.StringType),
        th.Property("Description", th.StringType),
        th.Property("ActivityIds", th.ArrayType(th.IntegerType)),
        th.Property("PrivateLessonIds", th.ArrayType(th.IntegerType)),
        th.Property("Price", th.NumberType),
        th.Property("Passes", th.IntegerType),
        th.Property("HasUnlimitedPasses", th.BooleanType),
        th.Property("IsFamilyPass", th.BooleanType),
        th.Property("Status", th.StringType),
        th.Property("IsArchived", th.BooleanType),
        th.Property("EffectiveDate", th.DateTimeType),
        th.Property("ExpirationDate", th.DateTimeType),
        th.Property("StartTrigger", th.StringType),
        th.Property("EndTrigger", th.StringType),
        th.Property("ValidityPeriod", OPEN_OBJECT),
        th.Property("MembershipRequired", OPEN_OBJECT),
        th.Property("NumberSold", th.IntegerType),
    )

    @override
    def get_child_context(self, record: dict[str, Any], context: Context | None) -> dict[str, Any]:
        """Holders need only the multipass id."""
        return {"MultipassId": record["Id"]}


PASS_HOLDING = (
    th.Property("PurchasedDate", th.DateTimeType),
    th.Property("EffectiveDate", th.DateTimeType),
    th.Property("ExpirationDate", th.DateTimeType),
    th.Property("TokensLeft", th.IntegerType),
    th.Property("HasUnlimitedTokens", th.BooleanType),
)


class MultipassPersonsStream(AmiliaPersonsStream):
    """Persons holding each multipass, cancelled passes included, one record per purchase
    (one request per multipass)."""

    name = "multipass_persons"
    path = "/multipass/{MultipassId}/persons"
    parent_stream_type = MultipassesStream
    state_partitioning_keys: ClassVar[list[str]] = []
    primary_keys = ("MultipassId", "Id", "PurchasedDate")
    query: ClassVar[dict[str, str]] = {"showArchived": "true"}
    schema = schema(th.Property("MultipassId", th.IntegerType), *PASS_HOLDING, *PERSON_PROPERTIES)


class MultipassAccountsStream(AmiliaPersonsStream):
    """Family accounts holding each family multipass, cancelled passes included, one record
    per purchase (one request per multipass)."""

    name = "multipass_accounts"
    path = "/multipass/{MultipassId}/accounts"
    parent_stream_type = MultipassesStream
    state_partitioning_keys: ClassVar[list[str]] = []
    primary_keys = ("MultipassId", "Id", "PurchasedDate")
    query: ClassVar[dict[str, str]] = {"showArchived": "true"}
    schema = schema(th.Property("MultipassId", th.IntegerType), *PASS_HOLDING, *ACCOUNT_PROPERTIES)


class MerchandiseStream(AmiliaStream):
    """The store's merchandise catalogue, archived items included."""

    name = "merchandise"
    path = "/merchandise"
    primary_keys = ("Id",)
    query: ClassVar[dict[str, str]] = {"showArchived": "true"}
    schema = schema(
        th.Property("Id", th.IntegerType),
        th.Property("Image", th.StringType),
        th.Property("Name", th.StringType),
        th.Property("Description", th.StringType),
        th.Property("Availability", th.StringType),
        th.Property("Price", th.NumberType),
        th.Property("Quantity", th.IntegerType),
        th.Property("Visibility", th.StringType),
        th.Property("Taxes", OPEN_OBJECT),
    )


# --- locations and date-ranged streams -----------------------------------------------------------
class LocationsStream(AmiliaStream):
    """Facilities, a tree through ParentId."""

    name = "locations"
    path = "/locations"
    primary_keys = ("Id",)
    schema = schema(
        *ints("Id", "ParentId", "TopParentId"),
        *strings("Name"),
        th.Property("Address", ADDRESS),
        th.Property("AncestorIds", th.ArrayType(th.IntegerType)),
    )


class EventsStream(AmiliaDateWindowStream):
    """Calendar events with participants and attendance, read by date window."""

    name = "events"
    path = "/events"
    primary_keys = ("Id",)
    replication_key = "Start"
    reads_ahead = True  # the schedule ahead
    query: ClassVar[dict[str, str]] = {
        "showParticipants": "true",
        "showHidden": "true",
        "showSkipped": "true",
        "showCanceled": "true",  # sic: this endpoint spells it with one l
    }
    schema = schema(
        *ints("Id", "ActivityId"),
        *datetimes("Start", "End"),
        *booleans("IsHidden", "IsSkipped", "IsCanceled"),
        th.Property("Activity", ACTIVITY_SUMMARY),
        th.Property("Location", LOCATION_REF),
        th.Property("Participants", th.ArrayType(PARTICIPANT)),
    )


class RegistrationsStream(AmiliaDateWindowStream):
    """Registrations, ended programs included, read by date window."""

    name = "registrations"
    path = "/registrations"
    primary_keys = ("RegistrationId",)
    replication_key = "DateCreated"
    query: ClassVar[dict[str, str]] = {"showEnded": "true"}
    schema = schema(
        *strings("RegistrationId"),
        *[
            th.Property(name, ID_NAME)
            for name in ("Program", "Activity", "Category", "SubCategory", "Group")
        ],
        th.Property("DropIn", th.ObjectType(*ints("OccurrenceId"), *datetimes("OccurrenceDate"))),
        *datetimes("DateCreated"),
        th.Property("Person", th.ObjectType(*PERSON_FIELDS)),
        th.Property("AccountOwner", th.ObjectType(*ints("AccountId", "AccountOwnerPersonId"))),
        th.Property(
            "Staff", th.ObjectType(*ints("Id"), *strings("FirstName", "LastName", "State"))
        ),
        *booleans("IsCancelled"),
        th.Property("InvoiceItem", th.ObjectType(*ints("Id"))),
    )


class ReservationsStream(AmiliaDateWindowStream):
    """Facility bookings, cancelled ones included, read by date window."""

    name = "reservations"
    path = "/reservations"
    primary_keys = ("ReservationId",)
    replication_key = "Start"
    reads_ahead = True  # the schedule ahead
    query: ClassVar[dict[str, str]] = {"showCancelled": "true"}
    schema = schema(
        *strings("ReservationId", "Title", "Type"),
        *datetimes("Start", "End"),
        *booleans("AllDay", "IsCancelled"),
        th.Property("Location", LOCATION_REF),
        th.Property("BookingType", ID_NAME),
        th.Property("AdminBooking", th.ObjectType(*ints("Id"), *strings("Note"))),
        th.Property("Activity", ACTIVITY_SUMMARY),
    )


class AccessScansStream(AmiliaDateWindowStream):
    """Facility check-ins, read by window of scan dates (``start``/``end``, inclusive)."""

    name = "access_scans"
    path = "/AccessScans"
    primary_keys = ("Id",)
    replication_key = "ScanDate"
    window_params = ("start", "end")
    schema = schema(
        th.Property("Id", th.IntegerType),
        th.Property("ConfigurationId", th.IntegerType),
        th.Property("Status", th.StringType),
        th.Property("ScanDate", th.DateTimeType),
        th.Property("Warning", th.StringType),
        th.Property("WarningMessage", th.StringType),
        th.Property("AccessControlType", th.StringType),
        th.Property("ResponsibleGenuinePersonId", th.IntegerType),
        th.Property("ResponsibleName", th.StringType),
        th.Property("Note", th.StringType),
        th.Property("PersonId", th.IntegerType),
        th.Property("GenuinePersonId", th.IntegerType),
        th.Property("MemberNumber", th.StringType),
        th.Property("PersonName", th.StringType),
        th.Property("Gender", th.StringType),
        th.Property("AccountId", th.IntegerType),
        th.Property("BalanceAtScan", th.NumberType),
        th.Property("ActivitySegmentId", th.IntegerType),
        th.Property("ActivityId", th.IntegerType),
        th.Property("ActivityName", th.StringType),
        th.Property("SubscriptionState", th.StringType),
        th.Property("SubscriptionExpiration", th.DateTimeType),
        th.Property("MembershipId", th.IntegerType),
        th.Property("MembershipName", th.StringType),
        th.Property("LocationId", th.IntegerType),
    )


class DonationsSoldStream(AmiliaDateWindowStream):
    """Donations sold, read by window of purchase dates (``from``/``to``, inclusive)."""

    name = "donations_sold"
    path = "/donations/sold"
    primary_keys = ("InvoiceItemId",)
    replication_key = "PurchasedDateUtc"
    schema = schema(
        th.Property("InvoiceItemId", th.IntegerType),
        th.Property("PurchasedDateUtc", th.DateTimeType),
        th.Property("Donation", ID_NAME),
        th.Property(
            "Person",
            th.ObjectType(
                th.Property("Id", th.IntegerType),
                th.Property("FirstName", th.StringType),
                th.Property("LastName", th.StringType),
                th.Property("FullName", th.StringType),
                th.Property("DateOfBirth", th.DateType),
                th.Property("Email", th.StringType),
                th.Property("Telephone", th.StringType),
                th.Property("TelephoneMobile", th.StringType),
                th.Property("TelephoneWork", th.StringType),
            ),
        ),
    )


STREAM_TYPES: tuple[type[AmiliaStream], ...] = (
    ProgramsStream,
    ActivitiesStream,
    ActivityOccurrencesStream,
    AccountsStream,
    AccountContactsStream,
    MembershipsStream,
    MembershipPersonsStream,
    MembershipAccountsStream,
    MultipassesStream,
    MultipassPersonsStream,
    MultipassAccountsStream,
    MerchandiseStream,
    LocationsStream,
    EventsStream,
    RegistrationsStream,
    ReservationsStream,
    AccessScansStream,
    DonationsSoldStream,
    ProgramPersonsStream,
    ActivityPersonsStream,
    OccurrenceParticipantsStream,
    ActivityWaitlistsStream,
)
