"""Agyle Time streams: one small class each; schemas inline, shared fragments first."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from singer_sdk import typing as th
from singer_sdk.helpers.types import Context
from typing_extensions import override

from tap_agyletime.client import (
    REGIONAL,
    TENANT,
    AgyleTimeDateWindowStream,
    AgyleTimeStream,
    MetricsStream,
)

# --- shared fragments --------------------------------------------------------------------------
ID_NAME = th.ObjectType(th.Property("id", th.IntegerType), th.Property("name", th.StringType))
SYSTEM_ROLE = th.ObjectType(
    th.Property("id", th.IntegerType),
    th.Property("name", th.StringType),
    th.Property("category", th.StringType),
)
CREATED_UPDATED = (
    th.Property("createdAt", th.DateTimeType),
    th.Property("updatedAt", th.DateTimeType),
)
OPEN_OBJECT = th.ObjectType(additional_properties=True)
ANY_JSON = th.CustomType({"type": ["object", "array", "string", "number", "boolean", "null"]})
"""Any JSON value (metrics the public schemas leave untyped)."""
"""Keys the tap does not declare, kept with their values as sent."""


def undeclared(source: dict[str, Any], declared: Collection[str]) -> dict[str, Any]:
    """The keys of ``source`` a row does not declare, so that nothing the API sends is lost."""
    return {key: value for key, value in source.items() if key not in declared}


def schema(*properties: th.Property[Any]) -> dict[str, Any]:
    """A record schema that keeps the top-level fields the tap does not declare."""
    return th.PropertiesList(*properties, additional_properties=True).to_dict()


def numbers(*names: str) -> list[th.Property[Any]]:
    """Nullable number properties (metric values: counts, seconds, percentages)."""
    return [th.Property(name, th.NumberType) for name in names]


# Agent metrics the tap declares: the 88 numeric metrics of the public tap-playvox schema
# (shared/api-reference/agyletime.md), in its order, plus totalEmailHandleTime; its 89th,
# totalWorkstreams, is untyped there (AGENT_UNTYPED_METRICS). Any other key of a channel goes
# to otherMetrics.
AGENT_METRICS = (
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
    "skippedTicketsPercentage",
    "positiveCsatPercentage",
    "reopenRate",
    "firstInteractionResolution",
    "missedChatsPercentage",
    "missedCallsPercentage",
    "declinedCallsPercentage",
    "handledCallsPercentage",
)
AGENT_UNTYPED_METRICS = ("totalWorkstreams",)
ROSTERED = th.ObjectType(
    *numbers(
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
        "utilisationPercentage",
    ),
)
ACTUAL = th.ObjectType(
    *numbers(
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
        "startedEarlyCount",
        "startedLateCount",
        "finishedEarlyCount",
        "finishedLateCount",
        "shiftCount",
        "additionalHoursShiftCount",
        "standardHoursShiftCount",
        "finishedEarlyOrLateCount",
        "shrinkagePercentage",
        "conformancePercentage",
        "utilisationPercentage",
        "startEarlyPercentage",
        "startLatePercentage",
        "finishedEarlyPercentage",
        "finishedLatePercentage",
        "punctualityPercentage",
        "adherencePercentage",
    ),
    th.Property("unplannedDuration", ANY_JSON, description="Untyped in the public schema"),
    th.Property("startLateImpactDuration", ANY_JSON, description="Untyped in the public schema"),
    th.Property("finishEarlyImpactDuration", ANY_JSON, description="Untyped in the public schema"),
)


# --- regional host: organisation ------------------------------------------------------------
class UsersStream(AgyleTimeStream):
    """Users with their team, system role and business roles."""

    name = "users"
    host = REGIONAL
    path = "/organisation/users"
    primary_keys = ("id",)
    schema = schema(
        th.Property("id", th.IntegerType, required=True),
        th.Property("_id", th.StringType, description="Document id (distinct from id)"),
        th.Property("__v", th.IntegerType),
        th.Property("firstName", th.StringType),
        th.Property("lastName", th.StringType),
        th.Property("email", th.StringType),
        th.Property("timezone", th.StringType),
        th.Property("organisationId", th.IntegerType),
        th.Property("teamId", th.IntegerType),
        th.Property("teamName", th.StringType),
        th.Property("team", ID_NAME),
        th.Property("systemRole", SYSTEM_ROLE),
        th.Property("roles", th.ArrayType(th.AnyOf(ID_NAME, th.IntegerType))),
        th.Property(
            "integrations",
            th.ArrayType(
                th.ObjectType(
                    th.Property("integration", th.StringType), th.Property("alias", th.StringType)
                )
            ),
        ),
        th.Property("permissions", th.ArrayType(th.AnyOf(th.StringType, th.ObjectType()))),
        th.Property("isActive", th.BooleanType),
        th.Property("startAt", th.DateTimeType),
        th.Property("updatedAt", th.DateTimeType),
        th.Property("primaryContact", th.IntegerType),
        th.Property("payRates", th.ArrayType(th.ObjectType(th.Property("name", th.StringType)))),
        th.Property("tags", th.ArrayType(th.StringType)),
    )


class BusinessRolesStream(AgyleTimeStream):
    """Business roles users hold (``users.roles``)."""

    name = "business_roles"
    host = REGIONAL
    path = "/organisation/business-roles"
    primary_keys = ("id",)
    schema = schema(
        th.Property("id", th.IntegerType, required=True),
        th.Property("name", th.StringType),
        th.Property("description", th.StringType),
        th.Property("isActive", th.BooleanType),
        *CREATED_UPDATED,
    )


class SystemRolesStream(AgyleTimeStream):
    """System (permission) roles (``users.systemRole``)."""

    name = "system_roles"
    host = REGIONAL
    path = "/organisation/system-roles"
    primary_keys = ("id",)
    schema = schema(
        th.Property("id", th.IntegerType, required=True),
        th.Property("name", th.StringType),
        th.Property("category", th.StringType),
        th.Property("description", th.StringType),
    )


# --- regional host: work activity and schedule ------------------------------------------------
class WorkstreamsStream(AgyleTimeStream):
    """Workstreams (queues) contacts arrive on."""

    name = "workstreams"
    host = REGIONAL
    path = "/workactivity/workstreams"
    primary_keys = ("identifier",)
    schema = schema(
        th.Property("identifier", th.StringType, required=True),
        th.Property("type", th.StringType),
        th.Property("name", th.StringType),
        th.Property("description", th.StringType),
        th.Property("channel", th.StringType),
        th.Property("isActive", th.BooleanType),
        *CREATED_UPDATED,
    )


class ContactsStream(AgyleTimeDateWindowStream):
    """Contacts (calls, chats, emails) by start time. High volume: not selected by default."""

    name = "contacts"
    host = REGIONAL
    path = "/workactivity/contacts"
    primary_keys = ("identifier",)
    replication_key = "startTime"
    selected_by_default = False
    schema = schema(
        th.Property("identifier", th.StringType, required=True),
        th.Property("workstreamIdentifier", th.StringType),
        th.Property("channel", th.StringType),
        th.Property("direction", th.StringType),
        th.Property("startTime", th.DateTimeType),
        th.Property("endTime", th.DateTimeType),
        *numbers("waitDuration", "handleDuration"),
        th.Property("abandoned", th.BooleanType),
        th.Property("userId", th.IntegerType),
        *CREATED_UPDATED,
    )


class InteractionsStream(AgyleTimeDateWindowStream):
    """Agent interactions with contacts by start time. High volume: not selected by default."""

    name = "interactions"
    host = REGIONAL
    path = "/workactivity/interactions"
    primary_keys = ("identifier",)
    replication_key = "startTime"
    selected_by_default = False
    schema = schema(
        th.Property("identifier", th.StringType, required=True),
        th.Property("contactIdentifier", th.StringType),
        th.Property("workstreamIdentifier", th.StringType),
        th.Property("userId", th.IntegerType),
        th.Property("channel", th.StringType),
        th.Property("startTime", th.DateTimeType),
        th.Property("endTime", th.DateTimeType),
        *numbers("talkDuration", "holdDuration", "wrapDuration"),
        th.Property("createdAt", th.DateTimeType),
    )


class PublishedShiftsStream(AgyleTimeDateWindowStream):
    """Published shifts by start time, with their planned tasks."""

    name = "published_shifts"
    host = REGIONAL
    path = "/schedule/shifts/published"
    primary_keys = ("uid",)
    replication_key = "startTime"
    schema = schema(
        th.Property("uid", th.StringType, required=True),
        th.Property("id", th.IntegerType),
        th.Property("userId", th.IntegerType),
        th.Property("changedByUserId", th.IntegerType),
        th.Property("workloadTaskId", th.IntegerType),
        th.Property("startTime", th.DateTimeType),
        th.Property("endTime", th.DateTimeType),
        *CREATED_UPDATED,
        th.Property("isPublished", th.BooleanType),
        th.Property("isWorkingVersion", th.BooleanType),
        th.Property("version", th.IntegerType),
        *numbers("baseShiftDuration", "shiftDuration"),
        th.Property("leaveRequestId", th.IntegerType),
        th.Property("locationId", th.IntegerType),
        th.Property("locationColor", th.StringType),
        th.Property("shiftTemplateId", th.IntegerType),
        th.Property("shiftTemplateName", th.StringType),
        th.Property("workPlanId", th.IntegerType),
        th.Property("workPlanName", th.StringType),
        th.Property("hasOptInTask", th.BooleanType),
        th.Property("policy", th.ObjectType()),
        th.Property("tags", th.ArrayType(th.StringType)),
        th.Property(
            "tasks",
            th.ArrayType(
                th.ObjectType(
                    th.Property("uid", th.StringType),
                    th.Property("taskTypeId", th.IntegerType),
                    th.Property("taskTemplateId", th.IntegerType),
                    th.Property("startTime", th.DateTimeType),
                    th.Property("endTime", th.DateTimeType),
                    th.Property("created", th.DateTimeType),
                    th.Property("modified", th.DateTimeType),
                    th.Property("leaveRequestId", th.IntegerType),
                    th.Property("optInType", th.StringType),
                    th.Property("policy", th.ObjectType()),
                )
            ),
        ),
    )


AGENT_USER_KEYS = frozenset(("id", "firstName", "lastName", "channels"))
"""User keys of the agent metrics a row declares (``channels`` become rows)."""
SCHEDULE_USER_KEYS = frozenset(
    (
        "id",
        "email",
        "rosteredStartTime",
        "rosteredEndTime",
        "actualStartTime",
        "actualEndTime",
        "channels",
    )
)
"""User keys of the schedule metrics a row declares (``channels`` become rows)."""


# --- tenant host ---------------------------------------------------------------------------------
class AgentMetricsStream(MetricsStream):
    """Handle times, volumes and call outcomes per user, date and channel."""

    name = "agent_metrics"
    host = TENANT
    path = "/workactivity/workstreams/metrics/agents"
    schema = schema(
        th.Property("userId", th.IntegerType, required=True),
        th.Property("date", th.DateType, required=True),
        th.Property("channel", th.StringType, required=True),
        th.Property("firstName", th.StringType),
        th.Property("lastName", th.StringType),
        *numbers(*AGENT_METRICS),
        th.Property(
            "totalWorkstreams",
            th.CustomType({"type": ["array", "string", "number", "null"]}),
            description="Untyped in the public schema: a list of workstreams, or a count",
        ),
        th.Property(
            "otherMetrics", OPEN_OBJECT, description="Channel keys the tap does not declare"
        ),
        th.Property(
            "otherUserFields", OPEN_OBJECT, description="User keys the tap does not declare"
        ),
    )

    @override
    def metric_row(self, day: str, user: dict[str, Any], channel: dict[str, Any]) -> dict[str, Any]:
        """User and channel keys; undeclared ones kept under ``otherMetrics`` (channel) and
        ``otherUserFields`` (user)."""
        declared = {name: channel.get(name) for name in (*AGENT_METRICS, *AGENT_UNTYPED_METRICS)}
        return {
            "userId": user.get("id"),
            "date": day,
            "channel": channel.get("channel"),
            "firstName": user.get("firstName"),
            "lastName": user.get("lastName"),
            **declared,
            "otherMetrics": undeclared(
                channel, {"channel", *AGENT_METRICS, *AGENT_UNTYPED_METRICS}
            ),
            "otherUserFields": undeclared(user, AGENT_USER_KEYS),
        }


class ScheduleMetricsStream(MetricsStream):
    """Rostered vs actual time, adherence and overtime per user, date and channel."""

    name = "schedule_metrics"
    host = TENANT
    path = "/schedule/metrics"
    schema = schema(
        th.Property("userId", th.IntegerType, required=True),
        th.Property("date", th.DateType, required=True),
        th.Property("channel", th.StringType, required=True),
        th.Property("email", th.StringType),
        th.Property("rosteredStartTime", th.DateTimeType),
        th.Property("rosteredEndTime", th.DateTimeType),
        th.Property("actualStartTime", th.DateTimeType),
        th.Property("actualEndTime", th.DateTimeType),
        th.Property(
            "rostered",
            ROSTERED,
            description="Planned figures; tenant keys such as totalOvertime_<pay rate> are kept",
        ),
        th.Property(
            "actual",
            ACTUAL,
            description="Actual figures; keys of unknown type (e.g. unplannedDuration) kept as sent",
        ),
        th.Property(
            "otherChannelFields", OPEN_OBJECT, description="Channel keys the tap does not declare"
        ),
        th.Property(
            "otherUserFields", OPEN_OBJECT, description="User keys the tap does not declare"
        ),
    )

    @override
    def metric_row(self, day: str, user: dict[str, Any], channel: dict[str, Any]) -> dict[str, Any]:
        """User-level times plus the channel's ``rostered`` and ``actual`` objects, whole."""
        return {
            "userId": user.get("id"),
            "date": day,
            "channel": channel.get("channel"),
            "email": user.get("email"),
            **{
                key: user.get(key)
                for key in (
                    "rosteredStartTime",
                    "rosteredEndTime",
                    "actualStartTime",
                    "actualEndTime",
                )
            },
            "rostered": channel.get("rostered"),
            "actual": channel.get("actual"),
            "otherChannelFields": undeclared(channel, {"channel", "rostered", "actual"}),
            "otherUserFields": undeclared(user, SCHEDULE_USER_KEYS),
        }


class TasksStream(AgyleTimeDateWindowStream):
    """Agent status timeline: each task (work, break, meeting...) an agent was in."""

    name = "tasks"
    host = TENANT
    path = "/workactivity/tasks"
    primary_keys = ("id", "createdAt")
    replication_key = "startTime"
    window_params = ("taskStartTimeFrom", "taskStartTimeTo")
    schema = schema(
        th.Property("id", th.IntegerType, required=True),
        th.Property("createdAt", th.DateTimeType, required=True),
        th.Property("updatedAt", th.DateTimeType),
        th.Property("startTime", th.DateTimeType),
        th.Property("endTime", th.DateTimeType, description="Null while the task is open"),
        th.Property("taskId", th.IntegerType),
        th.Property("taskIdentifier", th.StringType),
        th.Property("taskTypeIdentifier", th.StringType),
        th.Property("name", th.StringType),
        th.Property("colour", th.StringType),
        th.Property("userId", th.IntegerType),
        th.Property("userEmail", th.StringType),
        th.Property("shiftId", th.StringType, description="Shift uid (a string)"),
        th.Property("shiftDataId", th.IntegerType),
        th.Property("integrationAlias", th.StringType),
        th.Property("isProductive", th.BooleanType, description="Sent as 0/1"),
        th.Property("isLeave", th.BooleanType, description="Sent as 0/1"),
        th.Property("isBreak", th.BooleanType, description="Sent as 0/1"),
        th.Property("isPaid", th.BooleanType, description="Sent as 0/1"),
    )

    @override
    def post_process(
        self, row: dict[str, Any], context: Context | None = None
    ) -> dict[str, Any] | None:
        """``taskTypeIdentifier`` is untyped in the wild: keep it as text, then conform."""
        if row.get("taskTypeIdentifier") is not None:
            row["taskTypeIdentifier"] = str(row["taskTypeIdentifier"])
        return super().post_process(row, context)


class TaskDefinitionsStream(AgyleTimeStream):
    """Task (activity) definitions: what each task type means for pay, plans and leave."""

    name = "task_definitions"
    host = TENANT
    path = "/schedule/tasks/definitions"
    primary_keys = ("id",)
    schema = schema(
        th.Property("id", th.IntegerType, required=True),
        th.Property("identifier", th.StringType),
        th.Property("name", th.StringType),
        th.Property("categoryName", th.StringType),
        th.Property("colour", th.StringType),
        th.Property("isPaid", th.BooleanType),
        th.Property("isPlanned", th.BooleanType),
        th.Property("isLeave", th.BooleanType),
        th.Property("isBreak", th.BooleanType),
        th.Property("isProductive", th.BooleanType),
        th.Property("workloadChannel", th.StringType),
    )


STREAM_TYPES: tuple[type[AgyleTimeStream], ...] = (
    UsersStream,
    BusinessRolesStream,
    SystemRolesStream,
    WorkstreamsStream,
    ContactsStream,
    InteractionsStream,
    PublishedShiftsStream,
    AgentMetricsStream,
    ScheduleMetricsStream,
    TasksStream,
    TaskDefinitionsStream,
)
