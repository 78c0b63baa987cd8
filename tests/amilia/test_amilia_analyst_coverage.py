"""Every person, purchase, scan, donation and pass the API lets an analyst read:
the persons listings' flags, the medical-information setting, one record per membership
purchase, the new streams, and the sandbox's strictness about their parameters."""

from __future__ import annotations

import json
import logging
from collections import Counter
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from amilia.amilia_support import (
    data,
    expected_keys,
    expected_records,
    keys_of,
    path_hits,
    run_sync,
    sandbox_config,
)
from amilia.test_amilia_sandbox import KEYS, get, org
from api_sandbox.testing import SandboxProcess
from api_sandbox.vendors.amilia.data import person_status

PERSONS = ("program_persons", "activity_persons")
HOLDERS = ("membership_persons", "membership_accounts", "multipass_persons", "multipass_accounts")
NEW_STREAMS = (
    "access_scans",
    "donations_sold",
    "merchandise",
    "multipasses",
    "multipass_persons",
    "multipass_accounts",
    "membership_accounts",
    "activity_waitlists",
)


def as_json(records: list[dict[str, Any]]) -> set[str]:
    return {json.dumps(r, sort_keys=True) for r in records}


def test_new_streams_return_exactly_the_sandbox_records(sandbox: SandboxProcess) -> None:
    result = run_sync(sandbox_config(sandbox, page_size=50), NEW_STREAMS)
    assert result.error is None, result.error
    for stream in NEW_STREAMS:
        records = result.records[stream]
        keys = keys_of(stream, records)
        assert records, f"{stream}: the sandbox holds no records to test with"
        assert len(keys) == len(set(keys)), f"{stream}: a record was emitted twice"
        assert as_json(records) == as_json(expected_records(stream)), stream


def test_persons_arrive_in_every_status_with_registrations_and_skills(
    sandbox: SandboxProcess,
) -> None:
    result = run_sync(sandbox_config(sandbox, page_size=50), PERSONS)
    assert result.error is None, result.error
    for stream in PERSONS:
        records = result.records[stream]
        assert as_json(records) == as_json(expected_records(stream)), stream
        # What the API's defaults (status=Registered, no show* flags) would have lost:
        assert any(person_status(p) == "cancelled" for p in records), stream
        registrations = [r for p in records for r in p["Registrations"]]
        assert any(r["IsCancelled"] for r in registrations), stream
        assert any(p["Skills"] for p in records), stream
        assert all(p["MedicalInformation"] is None for p in records), "health data by default"
    assert path_hits(sandbox, "/persons") > 0


def test_medical_information_only_with_include_medical_info(sandbox: SandboxProcess) -> None:
    streams = (*PERSONS, "membership_persons", "multipass_persons")
    config = sandbox_config(sandbox, page_size=50, include_medical_info=True)
    result = run_sync(config, streams)
    assert result.error is None, result.error
    for stream in streams:
        records = result.records[stream]
        assert as_json(records) == as_json(expected_records(stream, medical=True)), stream
        assert all(p["MedicalInformation"] for p in records), stream


def test_a_renewal_is_a_record_of_its_own(sandbox: SandboxProcess) -> None:
    result = run_sync(sandbox_config(sandbox, page_size=50), HOLDERS)
    assert result.error is None, result.error
    for stream in HOLDERS:
        keys = keys_of(stream, result.records[stream])
        assert set(keys) == expected_keys(stream), stream
    # (membership, person) twice: a renewal, which a key without the purchase would collapse
    holders = Counter(key[:2] for key in keys_of(HOLDERS[0], result.records[HOLDERS[0]]))
    assert max(holders.values()) > 1, "the sandbox holds no renewal to test with"


def test_access_scans_and_donations_are_read_by_window_of_days(sandbox: SandboxProcess) -> None:
    result = run_sync(sandbox_config(sandbox), ("access_scans", "donations_sold"))
    assert result.error is None, result.error
    paths = sandbox.stats()["amilia"]["paths"]
    assert any(p.endswith("/AccessScans") for p in paths)
    assert any(p.endswith("/donations/sold") for p in paths)
    for stream in ("access_scans", "donations_sold"):
        assert set(keys_of(stream, result.records[stream])) == expected_keys(stream)
        assert result.bookmark(stream)


# --- the sandbox keeps the documented parameters ------------------------------------------------
@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        ("/AccessScans?from=2025-01-01&to=2025-01-02", "'from'"),
        ("/AccessScans?start=2025-1-1", "YYYY-MM-DD"),
        ("/AccessScans?start=2025-01-05&end=2025-01-01", "must not be after"),
        ("/donations/sold?start=2025-01-01", "'start'"),
        ("/donations/sold?from=yesterday", "YYYY-MM-DD"),
        ("/programs/20001/persons?status=Everyone", "status"),
        ("/programs/20001/persons?showSkills=yes", "showSkills"),
        ("/memberships/4001/accounts?status=current", "status"),
        ("/multipass/1001/persons?showArchived=maybe", "showArchived"),
        ("/merchandise?showArchived=maybe", "showArchived"),
    ],
)
def test_malformed_or_foreign_parameters_are_a_400(
    sandbox: SandboxProcess, path: str, fragment: str
) -> None:
    status, body = get(org(sandbox, path), KEYS)
    assert status == 400, body
    assert fragment in body["Message"]


def test_the_api_defaults_hide_what_the_tap_asks_for(sandbox: SandboxProcess) -> None:
    model = data()
    index = next(  # a program with a person whose registrations are all cancelled
        i
        for i in range(model.program_count)
        if any(person_status(p) == "cancelled" for p in model.program_persons(i))
    )
    program = model.program(index)["Id"]
    _, default = get(org(sandbox, f"/programs/{program}/persons?perPage=2000"), KEYS)
    persons = model.program_persons(index)
    registered = [p for p in persons if person_status(p) == "registered"]
    assert default["Paging"]["TotalCount"] == len(registered) < len(persons)
    assert all(p["Registrations"] is None and p["Skills"] is None for p in default["Items"])
    assert all(p["MedicalInformation"] is None for p in default["Items"])
    _, merchandise = get(org(sandbox, "/merchandise?perPage=2000"), KEYS)
    assert merchandise["Paging"]["TotalCount"] < data().merchandise_count
    _, passes = get(org(sandbox, "/multipass?perPage=2000"), KEYS)
    assert passes["Paging"]["TotalCount"] < data().multipass_count


# --- readings of what the reference leaves uncertain (a fake server) ---------------------------
BASE = "/api/v3"
ORG = f"{BASE}/en/org/8008"
FAKE = {"organization": "8008", "api_key": "k", "api_secret": "s"}


def one_program(httpserver: HTTPServer) -> None:
    httpserver.expect_request(f"{ORG}/programs").respond_with_json(
        {"Items": [{"Id": 7}], "Paging": {"TotalCount": 1, "Next": ""}}
    )


def test_a_refused_status_all_is_dropped_with_one_warning(
    httpserver: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    one_program(httpserver)

    def persons(request: Request) -> Response:
        """An API that knows only the documented status, Registered."""
        if request.args.get("status", "Registered") != "Registered":
            body = {"Message": "The value 'All' is not valid for status."}
            return Response(json.dumps(body), status=400, content_type="application/json")
        body = {"Items": [{"Id": 1, "Registrations": []}], "Paging": {"TotalCount": 1, "Next": ""}}
        return Response(json.dumps(body), content_type="application/json")

    httpserver.expect_request(f"{ORG}/programs/7/persons").respond_with_handler(persons)
    caplog.set_level(logging.WARNING)
    config = {**FAKE, "api_url": httpserver.url_for(BASE), "max_parallel_requests": 1}
    result = run_sync(config, ["program_persons"])
    assert result.error is None, result.error
    assert [p["Id"] for p in result.records["program_persons"]] == [1]
    warnings = [r.getMessage() for r in caplog.records if "status=All" in r.getMessage()]
    assert len(warnings) == 1, warnings
    sent = [request.args for request, _ in httpserver.log if request.path.endswith("/persons")]
    assert sent[0]["status"] == "All"
    assert "status" not in sent[-1]
    assert sent[-1]["showRegistrations"] == "true"


@pytest.mark.parametrize(
    "body",
    [
        {"Id": 7, "Name": "Swim", "WaitList": [{"Id": 1}, {"Id": 2}]},  # the docs' sample
        {"Items": [{"Id": 7, "WaitList": [{"Id": 1}, {"Id": 2}]}], "Paging": {"Next": ""}},
        {"Items": [{"Id": 1}, {"Id": 2}], "Paging": {"TotalCount": 2, "Next": ""}},
        [{"Id": 7, "WaitList": [{"Id": 1}, {"Id": 2}]}],
    ],
)
def test_waitlists_are_read_in_each_shape(httpserver: HTTPServer, body: Any) -> None:
    httpserver.expect_request(f"{ORG}/programs").respond_with_json(
        {"Items": [{"Id": 3}], "Paging": {"TotalCount": 1, "Next": ""}}
    )
    httpserver.expect_request(f"{ORG}/programs/3/activities").respond_with_json(
        {"Items": [{"Id": 7}], "Paging": {"TotalCount": 1, "Next": ""}}
    )
    httpserver.expect_request(f"{ORG}/activities/7/waitlist").respond_with_json(body)
    config = {**FAKE, "api_url": httpserver.url_for(BASE)}
    result = run_sync(config, ["activity_waitlists"])
    assert result.error is None, result.error
    assert keys_of("activity_waitlists", result.records["activity_waitlists"]) == [(7, 1), (7, 2)]
