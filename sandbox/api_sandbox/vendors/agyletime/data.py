"""The Agyle Time tenant the sandbox serves, as plain Python.

Every record is a pure function of ``(seed, kind, index)``; dated records are indexed by
``(day, user)`` or ``(day, contact)``. The tenant keeps :data:`HISTORY_DAYS` days of
activity ending yesterday (UTC), so a demo always has recent data, and every query is
answered by walking only the days it asks for. Tests use the same functions to know
exactly which records the sandbox holds.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from typing import Any

from api_sandbox.data import iso_z, moment, person_name, pick, rng_for, scaled

Record = dict[str, Any]
Cursor = tuple[int, ...]
"""Position of a record in a listing; page tokens carry the cursor of the next record."""

EPOCH_DAY = date(2024, 1, 1)
HISTORY_DAYS = 91
ORGANISATION_ID = 4242
CHANNELS = ("phone", "chat", "email")
PAY_RATES = ("Standard_Rate", "1_5_Overtime_rate", "Double_Time")
"""Tenant pay rates; schedule metrics carry one ``totalOvertime_<rate>`` key per rate."""
USER_TAGS = ("night-shift", "bilingual", "team-lead", "remote")
LATER_USER_FIELDS = ("primaryContact", "payRates", "tags")
"""User fields the first schemas missed and dropped (declared now; any other field the API
adds is kept too, the schemas allowing additional properties)."""
UNDECLARED_AGENT_METRICS = ("totalTransfers", "averageSpeedOfAnswer")
"""Agent metrics the tap does not declare: they stand for fields the API adds."""
TEAMS = ((11, "Inbound Sales"), (12, "Customer Care"), (13, "Billing"), (14, "Technical Support"))
TIMEZONES = (
    "Europe/London",
    "Europe/Dublin",
    "Europe/Berlin",
    "Australia/Sydney",
    "America/New_York",
)
SYSTEM_ROLES: tuple[Record, ...] = (
    {"id": 1, "name": "Administrator", "category": "admin", "description": "Full access"},
    {"id": 2, "name": "Manager", "category": "manager", "description": "Manages teams"},
    {"id": 3, "name": "Team Leader", "category": "teamleader", "description": "Leads a team"},
    {"id": 4, "name": "Agent", "category": "agent", "description": "Handles contacts"},
)
BUSINESS_ROLE_NAMES = (
    "Agent",
    "Senior Agent",
    "Team Leader",
    "Workforce Planner",
    "Quality Analyst",
    "Trainer",
    "Operations Manager",
    "Support Specialist",
)
WORKSTREAM_NAMES = ("Sales", "Care", "Billing", "Tech Support", "Retention", "Onboarding")
PERMISSIONS = ("schedule:view", "schedule:edit", "leave:request", "reports:view", "admin")


def _definition(
    id_: int, identifier: str, name: str, category: str, colour: str | None, **flags: Any
) -> Record:
    return {
        "id": id_,
        "identifier": identifier,
        "name": name,
        "categoryName": category,
        "colour": colour,
        "isPaid": flags.get("paid", True),
        "isPlanned": flags.get("planned", True),
        "isLeave": flags.get("leave", False),
        "isBreak": flags.get("brk", False),
        "isProductive": flags.get("productive", False),
        "workloadChannel": flags.get("channel"),
    }


TASK_DEFINITIONS: tuple[Record, ...] = (
    _definition(1, "phone", "Phone", "Work", "#2e86de", productive=True, channel="phone"),
    _definition(2, "chat", "Chat", "Work", "#10ac84", productive=True, channel="chat"),
    _definition(3, "email", "Email", "Work", "#ee5253", productive=True, channel="email"),
    _definition(4, "break", "Break", "Break", "#c8d6e5", brk=True),
    _definition(5, "lunch", "Lunch", "Break", "#8395a7", paid=False, brk=True),
    _definition(6, "meeting", "Team Meeting", "Meeting", None),
    _definition(7, "training", "Training", "Training", "#ff9f43"),
    _definition(8, "coaching", "Coaching", "Training", None),
    _definition(9, "annual-leave", "Annual Leave", "Leave", "#5f27cd", leave=True),
    _definition(10, "sick-leave", "Sick Leave", "Leave", "#576574", planned=False, leave=True),
    _definition(11, "admin", "Admin", "Work", None),
    _definition(12, "offline", "Offline", "Other", None, paid=False, planned=False),
)
_WORK_DEFINITIONS = {
    "phone": TASK_DEFINITIONS[0],
    "chat": TASK_DEFINITIONS[1],
    "email": TASK_DEFINITIONS[2],
}
_PAUSE_DEFINITIONS = (
    TASK_DEFINITIONS[3],
    TASK_DEFINITIONS[4],
    TASK_DEFINITIONS[5],
    TASK_DEFINITIONS[6],
    TASK_DEFINITIONS[7],
)

AGENT_METRIC_COUNTS = (
    "totalNumberOfTouches",
    "totalInteractions",
    "totalFirstSolvedCompleted",
    "totalPositiveCsatResponses",
    "totalCsatResponses",
    "totalWorkstreamsHandled",
    "totalOutboundWorkstreamsHandled",
    "totalInboundWorkstreamsHandled",
    "totalResolved",
    "totalResolutions",
    "totalFirstReplyCompleted",
    "totalPhoneFirstReplyCompleted",
    "totalInboundPhoneFirstReplyCompleted",
    "totalOutboundPhoneFirstReplyCompleted",
    "totalChatFirstReplyCompleted",
    "totalOutboundPhoneInteractions",
    "totalInboundPhoneInteractions",
    "totalQualityResponses",
    "totalQualityScores",
    "totalReopens",
    "totalReplies",
    "totalReassigns",
    "totalFirstInteraction",
    "totalPrivateComments",
    "totalPublicComments",
    "totalMissedChats",
    "totalChatInteractions",
    "totalAcceptedChats",
    "totalAssignedChats",
    "totalSelfAssignedChats",
    "missedCalls",
    "declinedCalls",
    "handledCalls",
    "skippedTickets",
)
AGENT_METRIC_DURATIONS = (
    "totalHandleTime",
    "totalPhoneHandleTime",
    "totalChatHandleTime",
    "totalEmailHandleTime",
    "totalInboundHandleTime",
    "totalOutboundHandleTime",
    "totalFirstAnswerHandleTimeOccupancy",
    "totalFirstSolvedHandleTime",
    "totalChatInteractionHandleTime",
    "totalTouchTime",
    "totalTouchTimePostFirstAnswer",
    "totalWaitTime",
    "totalWrapTime",
    "totalTalkTime",
    "totalHoldTime",
    "totalOutboundWrapTime",
    "totalOutboundTalkTime",
    "totalOutboundHoldTime",
    "totalOutboundWaitTime",
    "totalInboundWrapTime",
    "totalInboundTalkTime",
    "totalInboundHoldTime",
    "totalInboundWaitTime",
    "averageQualityScore",
    "averageTouchTime",
    "averageTouches",
    "averageWaitTime",
    "averageWrapTime",
    "averageTalkTime",
    "averageHoldTime",
    "averagePhoneHandleTime",
    "averageChatHandleTime",
    "averageHandleTime",
    "averageOutboundWrapTime",
    "averageOutboundWaitTime",
    "averageOutboundTalkTime",
    "averageOutboundHoldTime",
    "averageInboundWrapTime",
    "averageInboundWaitTime",
    "averageInboundTalkTime",
    "averageInboundHoldTime",
    "averageTotalOutboundHandleTime",
    "averageTotalInboundHandleTime",
    "averageOutboundHandleTime",
    "averageInboundHandleTime",
    "averageTotalHandleTime",
    "averageFirstSolvedHandleTime",
)
AGENT_METRIC_RATIOS = (
    "skippedTicketsPercentage",
    "positiveCsatPercentage",
    "reopenRate",
    "firstInteractionResolution",
    "missedChatsPercentage",
    "missedCallsPercentage",
    "declinedCallsPercentage",
    "handledCallsPercentage",
)
AGENT_METRIC_UNTYPED = ("totalWorkstreams",)
"""Untyped in the public schema: the sandbox sends a count, or a list of workstream ids."""
ROSTERED_DURATIONS = (
    "totalDuration",
    "totalTaskDurationToNow",
    "availableDuration",
    "availableDurationToNow",
    "paidDuration",
    "plannedDuration",
    "leaveDuration",
    "paidLeaveDuration",
    "unplannedLeaveDuration",
    "unplannedPaidLeaveDuration",
    "plannedLeaveDuration",
    "plannedPaidLeaveDuration",
    "productiveDuration",
    "shrinkageDuration",
    "paidShrinkageDuration",
)
ACTUAL_DURATIONS = (
    "totalDuration",
    "availableDuration",
    "afterCallWorkDuration",
    "paidDuration",
    "plannedDuration",
    "leaveDuration",
    "productiveDuration",
    "outOfAdherenceDuration",
    "adherenceExceptionDuration",
    "startTimeVarianceDuration",
    "endTimeVarianceDuration",
    "totalPunctualityVarianceDuration",
    "shrinkageDuration",
    "paidShrinkageDuration",
)
ACTUAL_COUNTS = (
    "startedEarlyCount",
    "startedLateCount",
    "finishedEarlyCount",
    "finishedLateCount",
    "shiftCount",
    "additionalHoursShiftCount",
    "standardHoursShiftCount",
    "finishedEarlyOrLateCount",
)
ACTUAL_PERCENTAGES = (
    "shrinkagePercentage",
    "conformancePercentage",
    "utilisationPercentage",
    "startEarlyPercentage",
    "startLatePercentage",
    "finishedEarlyPercentage",
    "finishedLatePercentage",
    "punctualityPercentage",
    "adherencePercentage",
)
ACTUAL_UNTYPED = ("unplannedDuration", "startLateImpactDuration", "finishEarlyImpactDuration")


def day_number(day: date) -> int:
    """Days since 2024-01-01 (the index of dated records)."""
    return (day - EPOCH_DAY).days


def day_start(day: date) -> datetime:
    """Midnight UTC of ``day``."""
    return datetime.combine(day, time(), tzinfo=UTC)


def utc_today() -> date:
    """Today's date in UTC (the sandbox's history ends the day before)."""
    return datetime.now(UTC).date()


def hex_id(seed: int, *key: object, length: int = 24) -> str:
    """A Mongo-style lowercase hex id."""
    rng = rng_for(seed, "hex", *key)
    return "".join(rng.choice("0123456789abcdef") for _ in range(length))


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().replace("'", "")


@dataclass(frozen=True)
class Block:
    """One planned block of a shift: a task definition between two instants."""

    definition: Record
    start: datetime
    end: datetime


@dataclass(frozen=True)
class AgyleTimeData:
    """The sandbox tenant: ``AgyleTimeData(seed, scale).users()`` and friends.

    Dated queries take ``today`` so tests can pin the calendar the sandbox used.
    """

    seed: int = 42
    scale: float = 1.0
    organisation_id: int = ORGANISATION_ID
    """The id its records carry (another tenant: another)."""

    # --- sizes -------------------------------------------------------------------------
    @cached_property
    def user_count(self) -> int:
        """Users (agents, leaders, admins) of the tenant."""
        return scaled(25, self.scale, minimum=4)

    @cached_property
    def business_role_count(self) -> int:
        """Business roles of the tenant."""
        return scaled(8, self.scale, minimum=3)

    @cached_property
    def workstream_count(self) -> int:
        """Workstreams (queues) of the tenant."""
        return scaled(10, self.scale, minimum=3)

    @cached_property
    def contacts_per_day(self) -> int:
        """Inbound contacts per day."""
        return scaled(120, self.scale, minimum=4)

    # --- dimensions ----------------------------------------------------------------------
    def user(self, index: int) -> Record:
        """User ``index`` as ``GET /organisation/users`` returns it."""
        rng = rng_for(self.seed, "agyletime-user", index)
        first, last = person_name(rng)
        user_id = 1000 + index
        team = pick(rng, TEAMS) if rng.random() > 0.05 else None
        role = (
            SYSTEM_ROLES[0] if index == 0 else pick(rng, SYSTEM_ROLES[1:] + (SYSTEM_ROLES[3],) * 4)
        )
        business = sorted(
            rng.sample(range(self.business_role_count), k=min(2, self.business_role_count))[
                : rng.randint(1, 2)
            ]
        )
        started = moment(rng, days=300)
        return {
            "_id": hex_id(self.seed, "user", index),
            "__v": 0,
            "id": user_id,
            "firstName": first,
            "lastName": last,
            "email": f"{_ascii(first)}.{_ascii(last)}.{user_id}@acme.example".lower(),
            "timezone": pick(rng, TIMEZONES) if rng.random() > 0.05 else None,
            "organisationId": self.organisation_id,
            "teamId": team[0] if team else None,
            "teamName": team[1] if team else None,
            "team": {"id": team[0], "name": team[1]} if team else None,
            "systemRole": {k: role[k] for k in ("id", "name", "category")},
            "roles": [
                {"id": self.business_role(b)["id"], "name": self.business_role(b)["name"]}
                for b in business
            ],
            "integrations": [{"integration": "five9", "alias": f"agent{user_id}"}],
            "permissions": sorted(rng.sample(PERMISSIONS, k=rng.randint(1, 3))),
            "isActive": index < 3 or rng.random() > 0.1,
            "startAt": iso_z(started),
            "updatedAt": iso_z(started + timedelta(days=rng.randrange(1, 300))),
            # Fields of the older tenant-host form the tap does not declare: kept as sent.
            "primaryContact": 1000 if index else None,
            "payRates": [{"name": rate} for rate in PAY_RATES[: 1 + index % len(PAY_RATES)]],
            "tags": sorted(rng.sample(USER_TAGS, k=rng.randint(0, 2))),
        }

    def users(self) -> Iterator[Record]:
        """Every user, in id order."""
        return (self.user(i) for i in range(self.user_count))

    def business_role(self, index: int) -> Record:
        """Business role ``index``."""
        rng = rng_for(self.seed, "agyletime-business-role", index)
        base = BUSINESS_ROLE_NAMES[index % len(BUSINESS_ROLE_NAMES)]
        suffix = (
            f" {index // len(BUSINESS_ROLE_NAMES) + 1}" if index >= len(BUSINESS_ROLE_NAMES) else ""
        )
        created = moment(rng, days=200)
        return {
            "id": 100 + index,
            "name": base + suffix,
            "description": f"{base} role" if rng.random() > 0.2 else None,
            "isActive": rng.random() > 0.1,
            "createdAt": iso_z(created),
            "updatedAt": iso_z(created + timedelta(hours=rng.randrange(1, 5000))),
        }

    def business_roles(self) -> Iterator[Record]:
        """Every business role."""
        return (self.business_role(i) for i in range(self.business_role_count))

    @staticmethod
    def system_roles() -> Iterator[Record]:
        """The fixed system roles."""
        return (dict(role) for role in SYSTEM_ROLES)

    def workstream(self, index: int) -> Record:
        """Workstream ``index`` (identified by a string identifier)."""
        rng = rng_for(self.seed, "agyletime-workstream", index)
        channel = CHANNELS[index % len(CHANNELS)]
        name = f"{WORKSTREAM_NAMES[index % len(WORKSTREAM_NAMES)]} {channel.title()}"
        created = moment(rng, days=200)
        return {
            "identifier": f"ws-{index + 1:05d}",
            "type": "Workstream",
            "name": name,
            "description": f"{name} queue" if rng.random() > 0.3 else None,
            "channel": channel,
            "isActive": rng.random() > 0.1,
            "createdAt": iso_z(created),
            "updatedAt": iso_z(created + timedelta(hours=rng.randrange(1, 5000))),
        }

    def workstreams(self) -> Iterator[Record]:
        """Every workstream."""
        return (self.workstream(i) for i in range(self.workstream_count))

    @staticmethod
    def task_definitions() -> Iterator[Record]:
        """The tenant's task (activity) definitions."""
        return (dict(definition) for definition in TASK_DEFINITIONS)

    # --- calendar --------------------------------------------------------------------------
    @staticmethod
    def history(today: date) -> tuple[date, date]:
        """Half-open range of days with activity: the :data:`HISTORY_DAYS` before today."""
        return today - timedelta(days=HISTORY_DAYS), today

    def user_channels(self, index: int) -> tuple[str, ...]:
        """The channels a user is skilled on (1 or 2)."""
        rng = rng_for(self.seed, "agyletime-skills", index)
        return tuple(sorted(rng.sample(CHANNELS, k=rng.randint(1, 2)), key=CHANNELS.index))

    @cached_property
    def _days_off(self) -> tuple[frozenset[int] | None, ...]:
        """Per user: the two weekdays off, or None for inactive users (who never work)."""
        return tuple(
            frozenset(rng_for(self.seed, "agyletime-days-off", i).sample(range(7), k=2))
            if self.user(i)["isActive"]
            else None
            for i in range(self.user_count)
        )

    def works_on(self, index: int, day: date) -> bool:
        """True if the user has a published shift on ``day`` (five days a week, if active)."""
        days_off = self._days_off[index]
        return days_off is not None and day.weekday() not in days_off

    def blocks(self, index: int, day: date) -> list[Block]:
        """The planned blocks of the user's shift on ``day`` (work, breaks, meetings)."""
        rng = rng_for(self.seed, "agyletime-shift", index, day_number(day))
        start = day_start(day) + timedelta(minutes=6 * 60 + 30 * rng.randrange(15))
        length = pick(rng, (480, 480, 480, 360, 240))
        pieces = rng.randint(4, 7)
        cuts = sorted(rng.sample(range(1, length // 15), k=pieces - 1))
        bounds = [0, *(c * 15 for c in cuts), length]
        channels = self.user_channels(index)
        result = []
        for k in range(pieces):
            definition = (
                _WORK_DEFINITIONS[pick(rng, channels)]
                if k % 2 == 0
                else pick(rng, _PAUSE_DEFINITIONS)
            )
            result.append(
                Block(
                    definition,
                    start + timedelta(minutes=bounds[k]),
                    start + timedelta(minutes=bounds[k + 1]),
                )
            )
        return result

    # --- dated records -------------------------------------------------------------------
    def shift(self, index: int, day: date) -> Record:
        """The published shift of user ``index`` on ``day`` (call only if :meth:`works_on`)."""
        number = day_number(day)
        rng = rng_for(self.seed, "agyletime-shift-meta", index, number)
        blocks = self.blocks(index, day)
        start, end = blocks[0].start, blocks[-1].end
        minutes = int((end - start).total_seconds() // 60)
        uid = hex_id(self.seed, "shift", index, number)
        template = pick(rng, ((1, "Early"), (2, "Day"), (3, "Late"), (None, None)))
        created = start - timedelta(days=rng.randint(7, 21), minutes=rng.randrange(600))
        return {
            "uid": uid,
            "id": number * 1_000_000 + index,
            "userId": 1000 + index,
            "changedByUserId": 1000 + rng.randrange(self.user_count)
            if rng.random() > 0.3
            else None,
            "workloadTaskId": blocks[0].definition["id"],
            "startTime": iso_z(start),
            "endTime": iso_z(end),
            "createdAt": iso_z(created),
            "updatedAt": iso_z(created + timedelta(hours=rng.randrange(1, 100)))
            if rng.random() > 0.4
            else None,
            "isPublished": True,
            "isWorkingVersion": False,
            "version": rng.randint(1, 4),
            "baseShiftDuration": minutes,
            "shiftDuration": minutes - sum(15 for b in blocks if b.definition["isBreak"]),
            "leaveRequestId": None,
            "locationId": pick(rng, (1, 2, None)),
            "locationColor": pick(rng, ("#0abde3", "#feca57", None)),
            "shiftTemplateId": template[0],
            "shiftTemplateName": template[1],
            "workPlanId": 7 if rng.random() > 0.5 else None,
            "workPlanName": "Standard week" if rng.random() > 0.5 else None,
            "hasOptInTask": rng.random() > 0.9,
            "policy": {"maxOvertimeMinutes": pick(rng, (0, 30, 60)), "breakRule": "standard"},
            "tags": sorted(
                rng.sample(("weekday", "priority", "remote", "onsite"), k=rng.randint(0, 2))
            ),
            "tasks": [
                {
                    "uid": hex_id(self.seed, "shift-task", index, number, k),
                    "taskTypeId": block.definition["id"],
                    "taskTemplateId": None if k % 2 == 0 else 200 + block.definition["id"],
                    "startTime": iso_z(block.start),
                    "endTime": iso_z(block.end),
                    "created": iso_z(created),
                    "modified": iso_z(created),
                    "leaveRequestId": None,
                    "optInType": None,
                    "policy": None,
                }
                for k, block in enumerate(blocks)
            ],
        }

    def tasks(self, index: int, day: date) -> list[Record]:
        """The agent-status timeline of user ``index`` on ``day`` (nullable fields included)."""
        number = day_number(day)
        user = self.user(index)
        shift = self.shift(index, day)
        rng = rng_for(self.seed, "agyletime-timeline", index, number)
        unscheduled = rng.random() < 0.08
        rows = []
        blocks = self.blocks(index, day)
        for k, block in enumerate(blocks):
            drift = timedelta(seconds=rng.randrange(-120, 121))
            start = block.start + drift if k else block.start + abs(drift)
            end = None if k == len(blocks) - 1 and rng.random() < 0.05 else block.end + drift
            definition = block.definition
            created = start + timedelta(seconds=rng.randrange(1, 30))
            rows.append(
                {
                    "id": number * 10_000_000 + index * 16 + k,
                    "taskId": definition["id"],
                    "taskIdentifier": definition["identifier"],
                    "taskTypeIdentifier": definition["categoryName"].lower(),
                    "name": definition["name"],
                    "colour": definition["colour"],
                    "userId": user["id"],
                    "userEmail": user["email"],
                    "shiftId": None if unscheduled else shift["uid"],
                    "shiftDataId": None if unscheduled else shift["id"],
                    "integrationAlias": f"agent{user['id']}"
                    if definition["isProductive"]
                    else None,
                    "isProductive": int(definition["isProductive"]),
                    "isLeave": int(definition["isLeave"]),
                    "isBreak": int(definition["isBreak"]),
                    "isPaid": int(definition["isPaid"]),
                    "startTime": iso_z(start),
                    "endTime": iso_z(end) if end else None,
                    "createdAt": iso_z(created),
                    "updatedAt": iso_z(created + timedelta(minutes=rng.randrange(1, 600)))
                    if rng.random() < 0.5
                    else None,
                }
            )
        return rows

    def agent_metrics(self, index: int, day: date) -> Record:
        """User entry of ``data.dates[].users[]`` of the agent (workstream) metrics."""
        user = self.user(index)
        channels = []
        for channel in self.user_channels(index):
            rng = rng_for(self.seed, "agyletime-agent-metrics", index, day_number(day), channel)
            values: Record = {"channel": channel}
            values.update({name: rng.randrange(0, 80) for name in AGENT_METRIC_COUNTS})
            values.update({name: rng.randrange(0, 20_000) for name in AGENT_METRIC_DURATIONS})
            values.update({name: round(rng.uniform(0, 100), 2) for name in AGENT_METRIC_RATIOS})
            values["averageWaitTime"] = None if rng.random() < 0.1 else values["averageWaitTime"]
            values["totalWorkstreams"] = (
                rng.randrange(1, 6) if rng.random() < 0.5 else [f"ws-{rng.randrange(1, 9)}"]
            )
            values.update({name: rng.randrange(0, 40) for name in UNDECLARED_AGENT_METRICS})
            channels.append(values)
        return {
            "id": user["id"],
            "firstName": user["firstName"],
            "lastName": user["lastName"],
            "channels": channels,
        }

    def schedule_metrics(self, index: int, day: date) -> Record:
        """User entry of ``data.dates[].users[]`` of the schedule metrics."""
        user = self.user(index)
        blocks = self.blocks(index, day)
        channels = []
        for channel in self.user_channels(index):
            rng = rng_for(self.seed, "agyletime-schedule-metrics", index, day_number(day), channel)
            rostered: Record = {name: rng.randrange(0, 30_000) for name in ROSTERED_DURATIONS}
            rostered["utilisationPercentage"] = round(rng.uniform(50, 100), 2)
            rostered.update({f"totalOvertime_{rate}": rng.randrange(0, 3600) for rate in PAY_RATES})
            actual: Record = {name: rng.randrange(0, 30_000) for name in ACTUAL_DURATIONS}
            actual.update({name: rng.randrange(0, 3) for name in ACTUAL_COUNTS})
            actual.update({name: round(rng.uniform(0, 100), 2) for name in ACTUAL_PERCENTAGES})
            actual.update(
                {
                    name: rng.randrange(0, 900) if rng.random() > 0.3 else None
                    for name in ACTUAL_UNTYPED
                }
            )
            channels.append({"channel": channel, "rostered": rostered, "actual": actual})
        rng = rng_for(self.seed, "agyletime-adherence", index, day_number(day))
        late = timedelta(seconds=rng.randrange(-300, 600))
        return {
            "id": user["id"],
            "email": user["email"],
            "rosteredStartTime": iso_z(blocks[0].start),
            "rosteredEndTime": iso_z(blocks[-1].end),
            "actualStartTime": iso_z(blocks[0].start + late),
            "actualEndTime": iso_z(blocks[-1].end + late) if rng.random() > 0.05 else None,
            "channels": channels,
        }

    def contact(self, day: date, k: int) -> Record:
        """Inbound contact ``k`` of ``day``."""
        number = day_number(day)
        rng = rng_for(self.seed, "agyletime-contact", number, k)
        workstream = self.workstream(rng.randrange(self.workstream_count))
        start = day_start(day) + timedelta(seconds=rng.randrange(7 * 3600, 21 * 3600))
        wait = rng.randrange(0, 600)
        abandoned = rng.random() < 0.08
        handle = 0 if abandoned else rng.randrange(60, 1800)
        end = start + timedelta(seconds=wait + handle)
        return {
            "identifier": f"ct-{day:%Y%m%d}-{k:06d}",
            "workstreamIdentifier": workstream["identifier"],
            "channel": workstream["channel"],
            "direction": "inbound" if rng.random() > 0.15 else "outbound",
            "startTime": iso_z(start),
            "endTime": iso_z(end),
            "waitDuration": wait,
            "handleDuration": handle,
            "abandoned": abandoned,
            "userId": None if abandoned else 1000 + rng.randrange(self.user_count),
            "createdAt": iso_z(start),
            "updatedAt": iso_z(end) if rng.random() > 0.5 else None,
        }

    def interactions(self, day: date, k: int) -> list[Record]:
        """Agent interactions of contact ``k`` of ``day`` (none if abandoned, two if transferred)."""
        contact = self.contact(day, k)
        if contact["abandoned"]:
            return []
        rng = rng_for(self.seed, "agyletime-interaction", day_number(day), k)
        start = datetime.fromisoformat(contact["startTime"]) + timedelta(
            seconds=contact["waitDuration"]
        )
        parts = 2 if rng.random() < 0.1 else 1
        rows = []
        for j in range(parts):
            length = contact["handleDuration"] // parts
            talk = int(length * 0.7)
            hold = int(length * 0.1)
            rows.append(
                {
                    "identifier": f"in-{day:%Y%m%d}-{k:06d}-{j}",
                    "contactIdentifier": contact["identifier"],
                    "workstreamIdentifier": contact["workstreamIdentifier"],
                    "userId": contact["userId"]
                    if j == 0
                    else 1000 + rng.randrange(self.user_count),
                    "channel": contact["channel"],
                    "startTime": iso_z(start + timedelta(seconds=j * length)),
                    "endTime": iso_z(start + timedelta(seconds=(j + 1) * length)),
                    "talkDuration": talk,
                    "holdDuration": hold,
                    "wrapDuration": length - talk - hold,
                    "createdAt": iso_z(start + timedelta(seconds=j * length)),
                }
            )
        return rows

    # --- what a date-ranged listing returns, in the API's order ---------------------------
    def _days(self, start: datetime, end: datetime, today: date) -> Iterator[date]:
        first, stop = self.history(today)
        day = max(first, start.astimezone(UTC).date())
        while day < stop and day_start(day) < end:
            yield day
            day += timedelta(days=1)

    def _dated(
        self,
        start: datetime,
        end: datetime,
        today: date,
        *,
        after: Cursor | None,
        per_day: Callable[[date, Cursor | None], Iterator[tuple[Cursor, Record]]],
        time_field: str,
    ) -> Iterator[tuple[Cursor, Record]]:
        """Records of the days in range whose ``time_field`` is in ``[start, end)``."""
        for day in self._days(start, end, today):
            number = day_number(day)
            if after is not None and number < after[0]:
                continue
            resume = after if after is not None and number == after[0] else None
            for cursor, record in per_day(day, resume):
                if resume is not None and cursor <= resume:
                    continue
                moment_ = datetime.fromisoformat(record[time_field])
                if start <= moment_ < end:
                    yield cursor, record

    def _working_users(self, day: date, resume: Cursor | None) -> Iterator[int]:
        first = resume[1] if resume is not None else 0
        return (i for i in range(first, self.user_count) if self.works_on(i, day))

    def shifts_between(
        self, start: datetime, end: datetime, today: date, after: Cursor | None = None
    ) -> Iterator[tuple[Cursor, Record]]:
        """Published shifts starting in ``[start, end)``, by day then user."""

        def per_day(day: date, resume: Cursor | None) -> Iterator[tuple[Cursor, Record]]:
            for i in self._working_users(day, resume):
                yield (day_number(day), i), self.shift(i, day)

        return self._dated(start, end, today, after=after, per_day=per_day, time_field="startTime")

    def tasks_between(
        self, start: datetime, end: datetime, today: date, after: Cursor | None = None
    ) -> Iterator[tuple[Cursor, Record]]:
        """Timeline tasks starting in ``[start, end)``, by day, user, then task."""

        def per_day(day: date, resume: Cursor | None) -> Iterator[tuple[Cursor, Record]]:
            for i in self._working_users(day, resume):
                for k, task in enumerate(self.tasks(i, day)):
                    yield (day_number(day), i, k), task

        return self._dated(start, end, today, after=after, per_day=per_day, time_field="startTime")

    def contacts_between(
        self, start: datetime, end: datetime, today: date, after: Cursor | None = None
    ) -> Iterator[tuple[Cursor, Record]]:
        """Contacts starting in ``[start, end)``."""

        def per_day(day: date, resume: Cursor | None) -> Iterator[tuple[Cursor, Record]]:
            first = resume[1] if resume is not None else 0
            for k in range(first, self.contacts_per_day):
                yield (day_number(day), k), self.contact(day, k)

        return self._dated(start, end, today, after=after, per_day=per_day, time_field="startTime")

    def interactions_between(
        self, start: datetime, end: datetime, today: date, after: Cursor | None = None
    ) -> Iterator[tuple[Cursor, Record]]:
        """Interactions starting in ``[start, end)``."""

        def per_day(day: date, resume: Cursor | None) -> Iterator[tuple[Cursor, Record]]:
            first = resume[1] if resume is not None else 0
            for k in range(first, self.contacts_per_day):
                for j, row in enumerate(self.interactions(day, k)):
                    yield (day_number(day), k, j), row

        return self._dated(start, end, today, after=after, per_day=per_day, time_field="startTime")

    def metric_user_days(
        self, start: datetime, end: datetime, today: date, after: Cursor | None = None
    ) -> Iterator[tuple[Cursor, tuple[date, int]]]:
        """(day, user) pairs with metrics for days from ``start``'s date to before ``end``."""
        start_day = start.astimezone(UTC).date()
        for day in self._days(day_start(start_day), end, today):
            number = day_number(day)
            if after is not None and number < after[0]:
                continue
            resume = after if after is not None and number == after[0] else None
            for i in self._working_users(day, resume):
                if resume is not None and (number, i) <= resume:
                    continue
                yield (number, i), (day, i)
