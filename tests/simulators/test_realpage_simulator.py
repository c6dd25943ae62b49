"""The RealPage simulator over real HTTP on loopback, driven through the real connector."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from lxml import etree

from leasesync.connectors.realpage.connector import (
    RealPageConnector,
    snapshot_from_envelopes,
)
from leasesync.domain.errors import NeedsHumanError, RetryLaterError
from leasesync.domain.snapshots import (
    Membership,
    OccupancyStatus,
    PropertySnapshot,
    Role,
)
from leasesync.simulators.realpage import (
    SCENARIO_LICENSE_KEY,
    RealPageSimulator,
    scenario_state,
)
from leasesync.simulators.serving import serve_in_thread

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
FIXTURES = Path(__file__).resolve().parents[1] / "connectors" / "fixtures"
PMCID, SITEID, KEY = "9990001", "9990101", "a1b2c3d4-0000-4000-8000-00000000beef"
SIM_TIMEOUT = 0.6

UNITS: list[dict[str, Any]] = [
    {"UnitID": u, "UnitNumber": u[-3:], "BuildingName": f"Building {u[2]}"}
    for u in ("20101", "20102", "20103", "20201", "20202", "20203")
]


def _r(
    mid: str, hh: str, lease: str, unit: str, status: str, **fields: Any
) -> dict[str, Any]:
    row = {"residentmemberid": mid, "residenthouseholdid": hh, "leaseid": lease}
    return {**row, "unitid": unit, "leasestatus": status, **fields}


# Maple Court (shared/samples/README.md) written as a scenario's pms rows.
HEAD: dict[str, Any] = {"residenttype": "H", "hohbit": True}
MAPLE_COURT: list[dict[str, Any]] = [
    _r("50001", "30001", "40001", "20101", "Current", **HEAD, firstname="Alex",
       email="alex.rivera@example.com", begindate=date(2024, 9, 1),
       enddate=date(2025, 8, 31), moveindate=date(2024, 9, 1)),
    _r("50002", "30001", "40001", "20101", "Current", residenttype="O", firstname="Jordan",
       begindate=date(2024, 9, 1), enddate=date(2025, 8, 31), moveindate=date(2024, 9, 1)),
    _r("50003", "30001", "40001", "20101", "Current", residenttype="O",
       residentrelationship="Minor Child", begindate=date(2024, 9, 1),
       enddate=date(2025, 8, 31), moveindate=date(2024, 9, 1)),
    _r("50004", "30002", "40012", "20102", "Current", **HEAD, priorleaseid="40002",
       email="shah.okafor.home@example.com", begindate=date(2025, 6, 1),
       enddate=date(2026, 5, 31), moveindate=date(2024, 6, 1)),
    _r("50005", "30002", "40012", "20102", "Current", residenttype="O", priorleaseid="40002",
       email="shah.okafor.home@example.com", begindate=date(2025, 6, 1),
       enddate=date(2026, 5, 31), moveindate=date(2024, 6, 1)),
    _r("50006", "30003", "40003", "20103", "Current", **HEAD, email="taylor.brooks@example.com",
       begindate=date(2024, 7, 15),
       enddate=date(2025, 7, 14), moveindate=date(2024, 7, 15),
       noticegivendate=date(2025, 5, 20), noticefordate=date(2025, 6, 30)),
    _r("50011", "30006", "40006", "20103", "Applicant - Lease Signed", **HEAD,
       email="morgan.lee@example.com", begindate=date(2025, 7, 10), enddate=date(2026, 7, 9), moveindate=date(2025, 7, 10)),
    _r("50012", "30006", "40006", "20103", "Applicant - Lease Signed", residenttype="O",
       email="casey.lee@example.com", begindate=date(2025, 7, 10), enddate=date(2026, 7, 9), moveindate=date(2025, 7, 10)),
    _r("50013", "30007", "40007", "20201", "Former Applicant", **HEAD,
       email="riley.chen@example.com", begindate=date(2025, 6, 1), enddate=date(2026, 5, 31),
       moveindate=date(2025, 6, 1)),
    _r("50007", "30004", "40004", "20202", "Current", **HEAD, email="jamie.park@example.com",
       begindate=date(2025, 1, 1),
       enddate=date(2025, 12, 31), moveindate=date(2025, 1, 1)),
    _r("50008", "30004", "40004", "20202", "Current", residenttype="O", guarantorbit=True,
       email="dana.park.guarantor@example.com",
       residentrelationship="Guarantor", begindate=date(2025, 1, 1),
       enddate=date(2025, 12, 31), moveindate=date(2025, 1, 1)),
    _r("50009", "30005", "40005", "20203", "Former", **HEAD, email="avery.nguyen@example.com",
       begindate=date(2024, 5, 1),
       enddate=date(2025, 4, 30), moveindate=date(2024, 5, 1), moveoutdate=date(2025, 5, 2)),
]  # fmt: skip


def _simulator() -> RealPageSimulator:
    return RealPageSimulator(
        pmcid=PMCID,
        siteid=SITEID,
        license_key=KEY,
        units=UNITS,
        residents=MAPLE_COURT,
        timeout_seconds=SIM_TIMEOUT,
    )


@pytest.fixture
def served() -> Iterator[tuple[RealPageSimulator, str]]:
    simulator = _simulator()
    with serve_in_thread(simulator) as url:
        yield simulator, url


def _connector(
    url: str,
    *,
    key: str = KEY,
    siteid: str = SITEID,
    attempts: int = 1,
    timeout: float = 5.0,
) -> RealPageConnector:
    return RealPageConnector(
        url=f"{url}/rpxgateway/partner/Test/Test.svc",
        pmcid=PMCID,
        siteid=siteid,
        license_key=key,
        timeout=timeout,
        retry_attempts=attempts,
        retry_wait=0.0,
    )


def _people(snapshot: PropertySnapshot) -> dict[str, Membership]:
    return {str(m.person_id): m for m in snapshot.memberships}


def test_a_fetch_over_http_gives_maple_court(
    served: tuple[RealPageSimulator, str],
) -> None:
    simulator, url = served

    snapshot = _connector(url).fetch_snapshot()

    people = _people(snapshot)
    assert simulator.request_count == 4
    assert [u.unit_id for u in snapshot.units] == [u["UnitID"] for u in UNITS]
    assert (people["50003"].role, people["50008"].role) == (Role.MINOR, Role.GUARANTOR)
    assert (people["50002"].role, people["50002"].person.email) == (
        Role.CO_RESIDENT,
        None,
    )
    assert people["50006"].notice_for == date(2025, 6, 30)
    assert people["50011"].status is OccupancyStatus.FUTURE
    assert people["50009"].move_out == date(2025, 5, 2)
    assert snapshot.quarantined == ()


def test_the_simulator_and_the_samples_say_the_same_about_maple_court() -> None:
    samples = SHARED / "samples"
    from_samples = snapshot_from_envelopes(
        unitlist=(samples / "realpage_unitlist_response.xml").read_bytes(),
        residentlist=(samples / "realpage_getresidentlist_response.xml").read_bytes(),
        residentlistinfo=(
            FIXTURES / "realpage_getresidentlistinfo_maple_court.xml"
        ).read_bytes(),
        leaseinfo=(samples / "realpage_getleaseinfo_response.xml").read_bytes(),
    )

    with serve_in_thread(_simulator()) as url:
        from_simulator = _connector(url).fetch_snapshot()

    def facts(m: Membership) -> tuple[object, ...]:
        return (m.person_id, m.household_id, m.unit_id, m.lease_id, m.role, m.status,
                m.move_in, m.move_out, m.notice_given, m.notice_for, m.lease_start,
                m.lease_end, m.person.email)  # fmt: skip

    assert sorted(map(facts, from_simulator.memberships)) == sorted(
        map(facts, from_samples.memberships)
    )


@pytest.mark.parametrize(
    "kind", ["soap_fault", "http_500", "http_429", "timeout", "truncated"]
)
def test_each_fault_gives_retry_later_and_no_snapshot(
    served: tuple[RealPageSimulator, str], kind: str
) -> None:
    simulator, url = served
    simulator.inject_fault(kind)

    with pytest.raises(RetryLaterError):
        _connector(url, timeout=SIM_TIMEOUT / 2).fetch_snapshot()

    assert simulator.request_count == 1


def test_too_many_requests_carries_the_retry_after(
    served: tuple[RealPageSimulator, str],
) -> None:
    simulator, url = served
    simulator.inject_fault("http_429")

    with pytest.raises(RetryLaterError) as caught:
        _connector(url).check_credentials()

    assert caught.value.delay_seconds == 1.0


def test_an_empty_answer_is_an_empty_snapshot(
    served: tuple[RealPageSimulator, str],
) -> None:
    simulator, url = served
    simulator.inject_fault("empty_list", calls=4)

    snapshot = _connector(url).fetch_snapshot()

    assert (snapshot.units, snapshot.memberships, snapshot.lease_terms) == ((), (), ())


def test_one_empty_list_empties_only_that_answer(
    served: tuple[RealPageSimulator, str],
) -> None:
    simulator, url = served
    simulator.inject_fault("empty_list", calls=1)

    snapshot = _connector(url).fetch_snapshot()

    assert snapshot.units == () and len(snapshot.memberships) == 12


@pytest.mark.parametrize(
    ("key", "siteid"), [("wrong-key", SITEID), (KEY, "9990199"), ("", SITEID)]
)
def test_wrong_credentials_need_a_human(
    served: tuple[RealPageSimulator, str], key: str, siteid: str
) -> None:
    simulator, url = served

    with pytest.raises(NeedsHumanError):
        _connector(url, key=key, siteid=siteid, attempts=3).check_credentials()

    assert simulator.request_count == 1


def test_a_fault_heals_within_the_retries(
    served: tuple[RealPageSimulator, str],
) -> None:
    simulator, url = served
    simulator.inject_fault("soap_fault")
    simulator.inject_fault("truncated")

    snapshot = _connector(url, attempts=3).fetch_snapshot()

    assert len(snapshot.memberships) == 12
    assert simulator.request_count == 6


def test_the_fetch_after_a_failed_one_succeeds(
    served: tuple[RealPageSimulator, str],
) -> None:
    simulator, url = served
    connector = _connector(url)
    simulator.inject_fault("http_500")

    with pytest.raises(RetryLaterError):
        connector.fetch_snapshot()
    snapshot = connector.fetch_snapshot()

    assert len(snapshot.units) == 6


def test_a_slow_answer_past_the_timeout_is_retry_later(
    served: tuple[RealPageSimulator, str],
) -> None:
    simulator, url = served
    simulator.set_delay(1.0)
    connector = _connector(url, timeout=0.2)

    started = time.monotonic()
    with pytest.raises(RetryLaterError, match="timed out"):
        connector.check_credentials()

    assert time.monotonic() - started < 0.9


def test_a_slow_answer_within_the_timeout_is_fine(
    served: tuple[RealPageSimulator, str],
) -> None:
    simulator, url = served
    simulator.set_delay(0.05)

    _connector(url, timeout=2.0).check_credentials()


def test_new_state_is_served_from_the_next_request(
    served: tuple[RealPageSimulator, str],
) -> None:
    simulator, url = served
    moved_out = [{**row, "leasestatus": "Former"} for row in MAPLE_COURT]

    simulator.set_state(residents=moved_out, units=UNITS[:1])
    snapshot = _connector(url).fetch_snapshot()

    assert {m.status for m in snapshot.memberships} == {OccupancyStatus.PAST}
    assert [u.unit_id for u in snapshot.units] == ["20101"]


def test_an_unreadable_date_in_a_row_is_quarantined_over_the_wire(
    served: tuple[RealPageSimulator, str],
) -> None:
    simulator, url = served
    simulator.set_state(
        residents=[{**MAPLE_COURT[0], "moveoutdate": "someday"}, MAPLE_COURT[1]]
    )

    snapshot = _connector(url).fetch_snapshot()

    assert [m.person_id for m in snapshot.memberships] == ["50002"]
    assert [q.record for q in snapshot.quarantined] == ["resident 50001"]


def test_an_operation_the_gateway_lacks_is_a_fault_for_a_human() -> None:
    envelope = (
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:tem="http://tempuri.org/"><soapenv:Body><tem:getsitelist><tem:auth>'
        f"<tem:pmcid>{PMCID}</tem:pmcid><tem:siteid>{SITEID}</tem:siteid>"
        f"<tem:licensekey>{KEY}</tem:licensekey></tem:auth></tem:getsitelist>"
        "</soapenv:Body></soapenv:Envelope>"
    )

    with serve_in_thread(_simulator()) as url:
        response = httpx.post(url, content=envelope)

    assert response.status_code == 500
    assert b"ActionNotSupported" in response.content


def test_unknown_fault_kinds_are_refused() -> None:
    with pytest.raises(ValueError, match="fault kind"):
        _simulator().inject_fault("gremlins")


def _raw(operation: str, simulator: RealPageSimulator | None = None) -> bytes:
    headers = {"SOAPAction": f'"http://tempuri.org/IRPXService/{operation}"'}
    with serve_in_thread(simulator or _simulator()) as url:
        response = httpx.post(url, content=_request_for(operation), headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    return response.content


def test_answers_keep_the_sample_quirks() -> None:
    units = _raw("unitlist")
    leases = _raw("getleaseinfo")
    info = _raw("getresidentlistinfo")

    assert b'<UnitList xmlns=""><Unit><UnitID>20101</UnitID>' in units
    assert b"<Vacant>F</Vacant>" in units and b"<Vacant>T</Vacant>" in units
    assert b"<UnitExpectedMoveinDate>2025-07-10 00:00:00<" in units
    assert b"<OnNoticeForDate>2025-06-30<" in units
    assert b'<GetLeaseInfo xmlns=""><Leases><Lease>' in leases
    assert b"<Evict>false</Evict>" in leases
    assert b"<PriorLeaseID>40002</PriorLeaseID>" in leases
    assert b"&lt;residentlist&gt;" in info and b"utf-16" in info
    assert b"06/30/2025" in info and b"2024-09-01T00:00:00" in info


def test_a_lone_lease_comes_without_its_container() -> None:
    simulator = _simulator()
    simulator.set_state(residents=MAPLE_COURT[:1])

    document = etree.fromstring(_raw("getleaseinfo", simulator))

    lease = document.find(".//GetLeaseInfo/Lease")
    assert lease is not None and lease.findtext("LeaseID") == "40001"


def _request_for(operation: str) -> str:
    return (
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
        f'xmlns:t="http://tempuri.org/"><s:Body><t:{operation}><t:auth>'
        f"<t:pmcid>{PMCID}</t:pmcid><t:siteid>{SITEID}</t:siteid>"
        f"<t:licensekey>{KEY}</t:licensekey></t:auth></t:{operation}></s:Body></s:Envelope>"
    )


def test_scenario_state_is_the_last_pms_step() -> None:
    import yaml

    scenario = yaml.safe_load((SHARED / "scenarios" / "turnover.yaml").read_text())

    site, units, residents = scenario_state(scenario)

    assert site == {"pmcid": "9990001", "siteid": "9990101"}
    assert [u["UnitID"] for u in units] == ["20102"]
    assert [(r["residentmemberid"], r["leasestatus"]) for r in residents] == [
        ("50005", "Former"),
        ("50006", "Current"),
    ]


def test_a_scenario_is_served_with_the_scenario_licence_key() -> None:
    import yaml

    scenario = yaml.safe_load((SHARED / "scenarios" / "move-in.yaml").read_text())
    site, units, residents = scenario_state(scenario)
    pmcid, siteid = site["pmcid"], site["siteid"]
    simulator = RealPageSimulator(
        pmcid=pmcid,
        siteid=siteid,
        license_key=SCENARIO_LICENSE_KEY,
        units=units,
        residents=residents,
    )

    with serve_in_thread(simulator) as url:
        snapshot = RealPageConnector(
            url=url, pmcid=pmcid, siteid=siteid, license_key=SCENARIO_LICENSE_KEY
        ).fetch_snapshot()

    roles = {str(m.person_id): m.role for m in snapshot.memberships}
    assert roles == {"50001": Role.PRIMARY, "50002": Role.MINOR}
    assert {m.person.email for m in snapshot.memberships} == {
        "alex.rivera@example.com",
        None,
    }


def test_the_server_stops_and_frees_its_port() -> None:
    with serve_in_thread(_simulator()) as url:
        assert httpx.post(url, content=b"<x/>").status_code == 400

    with pytest.raises(httpx.ConnectError):
        httpx.post(url, content=b"<x/>", timeout=1.0)
