"""RealPage rows to the neutral model: the Maple Court samples (README table) and the tables."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

import pytest

from leasesync.connectors.realpage import parsing
from leasesync.connectors.realpage.mapping import (
    build_snapshot,
    occupancy_status,
    role_for,
)
from leasesync.connectors.realpage.parsing import Row
from leasesync.domain.snapshots import (
    Membership,
    OccupancyStatus,
    PropertySnapshot,
    Role,
)

SAMPLES = Path(__file__).resolve().parents[2] / ".." / "shared" / "samples"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

CURRENT, FUTURE, PAST = (
    OccupancyStatus.CURRENT,
    OccupancyStatus.FUTURE,
    OccupancyStatus.PAST,
)


def _rows(path: Path, operation: str, kind: str) -> list[Row]:
    payload = parsing.read_result(path.read_bytes(), operation)
    return list(getattr(parsing, kind)(payload))


def _maple_court() -> PropertySnapshot:
    return build_snapshot(
        units=_rows(
            SAMPLES / "realpage_unitlist_response.xml", "unitlist", "unit_rows"
        ),
        residents=_rows(
            SAMPLES / "realpage_getresidentlist_response.xml",
            "getresidentlist",
            "resident_rows",
        ),
        resident_infos=_rows(
            FIXTURES / "realpage_getresidentlistinfo_maple_court.xml",
            "getresidentlistinfo",
            "resident_rows",
        ),
        leases=_rows(
            SAMPLES / "realpage_getleaseinfo_response.xml", "getleaseinfo", "lease_rows"
        ),
    )


def _by_person(snapshot: PropertySnapshot) -> dict[str, Membership]:
    return {str(m.person_id): m for m in snapshot.memberships}


def test_maple_court_units_are_keyed_on_unit_id_with_display_numbers() -> None:
    units = _maple_court().units

    assert [(u.unit_id, u.number, u.building) for u in units] == [
        ("20101", "101", "Building 1"),
        ("20102", "102", "Building 1"),
        ("20103", "103", "Building 1"),
        ("20201", "201", "Building 2"),
        ("20202", "202", "Building 2"),
        ("20203", "203", "Building 2"),
    ]


def test_maple_court_101_head_adult_without_email_and_minor() -> None:
    people = _by_person(_maple_court())

    assert [
        (people[p].role, people[p].status) for p in ("50001", "50002", "50003")
    ] == [
        (Role.PRIMARY, CURRENT),
        (Role.CO_RESIDENT, CURRENT),
        (Role.MINOR, CURRENT),
    ]
    assert people["50002"].person.email is None
    assert {people[p].household_id for p in ("50001", "50002", "50003")} == {"30001"}
    assert people["50001"].move_in == date(2024, 9, 1)


def test_maple_court_102_renewal_is_one_household_with_two_terms() -> None:
    snapshot = _maple_court()
    in_102 = [m for m in snapshot.memberships if m.unit_id == "20102"]
    terms = {
        str(t.lease_id): t for t in snapshot.lease_terms if t.household_id == "30002"
    }

    assert sorted(m.person_id for m in in_102) == ["50004", "50005"]
    assert {(m.household_id, m.lease_id, m.status) for m in in_102} == {
        ("30002", "40012", CURRENT)
    }
    assert set(terms) == {"40002", "40012"}
    assert (terms["40002"].next_lease_id, terms["40012"].prior_lease_id) == (
        "40012",
        "40002",
    )
    assert (
        terms["40012"].prior_lease_id == "40002"
        and terms["40002"].prior_lease_id is None
    )
    assert {m.person.email for m in in_102} == {"shah.okafor.home@example.com"}
    assert {m.move_in for m in in_102} == {date(2024, 6, 1)}


def test_maple_court_103_notice_stays_current_beside_a_future_household() -> None:
    people = _by_person(_maple_court())
    taylor, morgan, casey = people["50006"], people["50011"], people["50012"]

    assert (taylor.status, taylor.household_id) == (CURRENT, "30003")
    assert (taylor.notice_given, taylor.notice_for) == (
        date(2025, 5, 20),
        date(2025, 6, 30),
    )
    assert {(m.status, m.household_id, m.unit_id) for m in (morgan, casey)} == {
        (FUTURE, "30006", "20103")
    }
    assert morgan.move_in == date(2025, 7, 10)


def test_maple_court_201_cancelled_applicant() -> None:
    riley = _by_person(_maple_court())["50013"]

    assert (riley.status, riley.unit_id, riley.household_id) == (
        OccupancyStatus.CANCELLED,
        "20201",
        "30007",
    )


def test_maple_court_202_guarantor_does_not_occupy() -> None:
    people = _by_person(_maple_court())

    assert (people["50007"].role, people["50008"].role) == (
        Role.PRIMARY,
        Role.GUARANTOR,
    )
    assert people["50008"].role.occupies is False
    assert people["50008"].status is CURRENT


def test_maple_court_203_past_resident_moved_out() -> None:
    avery = _by_person(_maple_court())["50009"]

    assert (avery.status, avery.move_out, avery.lease_end) == (
        PAST,
        date(2025, 5, 2),
        date(2025, 4, 30),
    )


def test_maple_court_has_nothing_quarantined_and_one_membership_per_person() -> None:
    snapshot = _maple_court()

    assert snapshot.quarantined == ()
    assert len(snapshot.memberships) == 12


def test_getresidentlist_alone_makes_non_heads_co_residents() -> None:
    residents = _rows(
        SAMPLES / "realpage_getresidentlist_response.xml",
        "getresidentlist",
        "resident_rows",
    )

    snapshot = build_snapshot(
        units=[], residents=residents, resident_infos=[], leases=[]
    )

    roles = {str(m.person_id): m.role for m in snapshot.memberships}
    assert (roles["50001"], roles["50002"], roles["50008"]) == (
        Role.PRIMARY,
        Role.CO_RESIDENT,
        Role.CO_RESIDENT,
    )


def test_per_person_lease_lists_map_to_roles_and_statuses() -> None:
    guarantor = _rows(
        SAMPLES / "realpage_getresidentbyresidentid_guarantor.xml",
        "getresidentbyresidentid",
        "resident_lease_rows",
    )
    renewal = _rows(
        SAMPLES / "realpage_getresidentbyresidentid_renewal.xml",
        "getresidentbyresidentid",
        "resident_lease_rows",
    )

    assert role_for(guarantor[0]) is Role.GUARANTOR
    assert [role_for(r) for r in renewal] == [Role.PRIMARY, Role.PRIMARY]
    assert [occupancy_status(r["leasestatus"]) for r in renewal] == [PAST, CURRENT]


# -- tables --------------------------------------------------------------------------


def _resident(**fields: str) -> Row:
    base = {
        "residentmemberid": "1",
        "residenthouseholdid": "2",
        "leaseid": "3",
        "unitid": "4",
        "leasestatus": "Current",
    }
    return {**base, **fields}


def _one(
    *rows: Row, infos: tuple[Row, ...] = (), leases: tuple[Row, ...] = ()
) -> PropertySnapshot:
    return build_snapshot(
        units=[], residents=list(rows), resident_infos=list(infos), leases=list(leases)
    )


@pytest.mark.parametrize(
    ("leasestatus", "expected"),
    [
        ("Current", CURRENT),
        ("Current Resident", CURRENT),
        ("Applicant - Lease Signed", FUTURE),
        ("Future Lease", FUTURE),
        ("Applicant", OccupancyStatus.APPLICANT),
        ("Former", PAST),
        ("Former Resident", PAST),
        ("Former Applicant", OccupancyStatus.CANCELLED),
        ("  current   RESIDENT ", CURRENT),
    ],
)
def test_lease_status_table(leasestatus: str, expected: OccupancyStatus) -> None:
    assert _one(_resident(leasestatus=leasestatus)).memberships[0].status is expected


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"guarantorbit": "true", "residenttype": "H"}, Role.GUARANTOR),
        ({"residentrelationship": "Co-Guarantor"}, Role.GUARANTOR),
        ({"residentrelationship": "Minor Child", "signerbit": "false"}, Role.MINOR),
        ({"residentagestatus": "Minor"}, Role.MINOR),
        ({"residenttype": "H"}, Role.PRIMARY),
        ({"residenttype": "O", "hohbit": "T"}, Role.PRIMARY),
        ({"residenttype": "O", "signerbit": "true"}, Role.CO_RESIDENT),
        ({"residenttype": "O"}, Role.CO_RESIDENT),
        ({"residenttype": "O", "signerbit": "0"}, Role.OCCUPANT),
        ({"residentrelationship": "Roommate", "signerbit": "N"}, Role.OCCUPANT),
    ],
)
def test_role_table(fields: dict[str, str], expected: Role) -> None:
    assert role_for(fields) is expected


def test_future_lease_of_a_current_household_is_a_renewal_term_only() -> None:
    current = _resident(leaseid="10", leasestatus="Current")
    renewal = _resident(leaseid="11", leasestatus="Future Lease")
    leases = (
        {
            "leaseid": "10",
            "reshid": "2",
            "unitid": "4",
            "leasestatus": "Current",
            "nextleaseid": "11",
        },
        {
            "leaseid": "11",
            "reshid": "2",
            "unitid": "4",
            "leasestatus": "Future Lease",
            "priorleaseid": "10",
        },
    )

    snapshot = _one(renewal, current, leases=leases)

    assert [(m.lease_id, m.status) for m in snapshot.memberships] == [("10", CURRENT)]
    assert {t.lease_id: t.status for t in snapshot.lease_terms} == {
        "10": CURRENT,
        "11": FUTURE,
    }


def test_future_lease_of_a_new_household_is_future() -> None:
    snapshot = _one(_resident(residenthouseholdid="9", leasestatus="Future Lease"))

    assert snapshot.memberships[0].status is FUTURE


def test_a_person_in_two_households_has_two_memberships() -> None:
    old = _resident(residenthouseholdid="20", unitid="A", leasestatus="Current")
    new = _resident(
        residenthouseholdid="21",
        unitid="B",
        leaseid="5",
        leasestatus="Applicant - Lease Signed",
    )

    memberships = _one(old, new).memberships

    assert [(m.household_id, m.unit_id, m.status) for m in memberships] == [
        ("20", "A", CURRENT),
        ("21", "B", FUTURE),
    ]


def test_unknown_status_quarantines_only_that_record(
    caplog: pytest.LogCaptureFixture,
) -> None:
    odd = _resident(
        residentmemberid="7",
        firstname="Zed",
        email="zed@example.com",
        leasestatus="Pending Review",
    )
    fine = _resident(residentmemberid="8")

    with caplog.at_level(logging.DEBUG):
        snapshot = _one(odd, fine)

    assert [m.person_id for m in snapshot.memberships] == ["8"]
    assert [(q.record, q.unit_id) for q in snapshot.quarantined] == [
        ("resident 7", "4")
    ]
    assert "Pending Review" in snapshot.quarantined[0].reason
    events = [
        r for r in caplog.records if getattr(r, "event", None) == "record_quarantined"
    ]
    # NB: DEBUG, since every poll parses it again; the engine warns once per record.
    assert len(events) == 1 and events[0].levelno == logging.DEBUG
    assert "Zed" not in caplog.text and "zed@example.com" not in caplog.text


def test_an_unreadable_date_quarantines_the_record() -> None:
    info = {"residentmemberid": "1", "leaseid": "3", "moveindate": "31/31/2025"}

    snapshot = _one(_resident(), infos=(info,))

    assert snapshot.memberships == ()
    assert "moveindate" in snapshot.quarantined[0].reason


def test_a_quarantined_row_is_not_replaced_by_an_older_one() -> None:
    former = _resident(leaseid="1", leasestatus="Former")
    current = _resident(leaseid="3", leasestatus="Current", moveoutdate="2025-02-30")

    snapshot = _one(former, current)

    assert snapshot.memberships == ()
    assert [q.record for q in snapshot.quarantined] == ["resident 1"]


def test_an_unreadable_lease_quarantines_the_term_not_the_people() -> None:
    lease = {
        "leaseid": "3",
        "reshid": "2",
        "unitid": "4",
        "leasestatus": "Current",
        "leaseenddate": "never",
    }

    snapshot = _one(_resident(begindate="2025-01-01"), leases=(lease,))

    assert snapshot.lease_terms == ()
    assert [q.record for q in snapshot.quarantined] == ["lease 3"]
    assert snapshot.memberships[0].lease_start == date(2025, 1, 1)


def test_a_numeric_lease_status_code_falls_back_to_its_text() -> None:
    lease = {
        "leaseid": "3",
        "reshid": "2",
        "unitid": "4",
        "leasestatus": "5",
        "leasestatustext": "Former",
    }

    assert _one(leases=(lease,)).lease_terms[0].status is PAST


def test_zero_lease_links_mean_none() -> None:
    lease = {
        "leaseid": "3",
        "reshid": "2",
        "unitid": "4",
        "leasestatus": "Current",
        "priorleaseid": "0",
        "nextleaseid": "0",
    }

    term = _one(leases=(lease,)).lease_terms[0]

    assert (term.prior_lease_id, term.next_lease_id) == (None, None)


def test_placeholder_rows_without_unit_are_skipped_silently() -> None:
    snapshot = _one(_resident(unitid=""), _resident(residentmemberid="9"))

    assert [m.person_id for m in snapshot.memberships] == ["9"]
    assert snapshot.quarantined == ()


def test_emails_are_stripped_and_empty_is_none() -> None:
    snapshot = _one(
        _resident(residentmemberid="1", email="  a@example.com \n"),
        _resident(residentmemberid="2", email="   "),
    )

    assert [m.person.email for m in snapshot.memberships] == ["a@example.com", None]


def test_dates_come_from_the_info_row_and_lease_and_eviction_from_either() -> None:
    info = {
        "residentmemberid": "1",
        "leaseid": "3",
        "noticefordate": "07/31/2025",
        "moveindate": "",
    }
    lease = {
        "leaseid": "3", "reshid": "2", "unitid": "4", "leasestatus": "Current",
        "leasebegindate": "2025-01-01T00:00:00", "leaseenddate": "2025-12-31",
        "moveindate": "", "schedmoveindate": "2025-01-02 00:00:00", "evict": "true",
    }  # fmt: skip

    membership = _one(_resident(), infos=(info,), leases=(lease,)).memberships[0]

    assert membership.notice_for == date(2025, 7, 31)
    assert (membership.lease_start, membership.lease_end) == (
        date(2025, 1, 1),
        date(2025, 12, 31),
    )
    assert membership.move_in == date(2025, 1, 2)
    assert membership.under_eviction is True


def test_units_without_id_or_repeated_are_quarantined() -> None:
    units = [
        {"unitid": "1", "unitnumber": "101"},
        {"unitnumber": "102"},
        {"unitid": "1"},
    ]

    snapshot = build_snapshot(units=units, residents=[], resident_infos=[], leases=[])

    assert [u.unit_id for u in snapshot.units] == ["1"]
    assert [q.reason for q in snapshot.quarantined] == [
        "unit row without UnitID",
        "duplicate unit id",
    ]
