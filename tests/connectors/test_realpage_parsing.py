"""Reading RPX answers into rows: every shared sample, and the shape quirks of PMS-NOTES §1.3."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from lxml import etree

from leasesync.connectors.realpage import parsing
from leasesync.connectors.realpage.errors import MalformedResponseError, SoapFault
from leasesync.simulators.realpage import parse_request

SAMPLES = Path(__file__).resolve().parents[2] / ".." / "shared" / "samples"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def _envelope(operation: str, result_inner: str) -> bytes:
    return (
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
        f'<{operation}Response xmlns="http://tempuri.org/">'
        f"<{operation}Result>{result_inner}</{operation}Result>"
        f"</{operation}Response></s:Body></s:Envelope>"
    ).encode()


def test_every_realpage_sample_is_covered_by_this_module() -> None:
    covered = {
        "realpage_unitlist_response.xml",
        "realpage_getresidentlist_response.xml",
        "realpage_getleaseinfo_response.xml",
        "realpage_getunitlist_response.xml",
        "realpage_getresidentbyresidentid_guarantor.xml",
        "realpage_getresidentbyresidentid_renewal.xml",
        "realpage_request_getresidentlist.xml",
    }
    assert {p.name for p in SAMPLES.glob("realpage_*")} == covered


def test_unitlist_sample_gives_six_units_with_pascal_case_fields_lowered() -> None:
    rows = parsing.unit_rows(
        parsing.read_result(_sample("realpage_unitlist_response.xml"), "unitlist")
    )

    assert [r["unitid"] for r in rows] == [
        "20101",
        "20102",
        "20103",
        "20201",
        "20202",
        "20203",
    ]
    assert rows[2]["onnoticefordate"] == "2025-06-30"
    assert rows[2]["unitexpectedmoveindate"] == "2025-07-10 00:00:00"
    assert (rows[3]["vacant"], rows[0]["vacant"]) == ("T", "F")
    assert rows[0]["buildingname"] == "Building 1"


def test_getresidentlist_sample_gives_one_row_per_person() -> None:
    payload = parsing.read_result(
        _sample("realpage_getresidentlist_response.xml"), "getresidentlist"
    )
    rows = parsing.resident_rows(payload)

    ids = [r["residentmemberid"] for r in rows]
    assert sorted(ids) == [
        f"500{n:02d}" for n in (1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13)
    ]
    jordan = next(r for r in rows if r["residentmemberid"] == "50002")
    assert (jordan["email"], jordan["residenttype"], jordan["leasestatus"]) == (
        "",
        "O",
        "Current",
    )


def test_getleaseinfo_sample_gives_leases_with_the_renewal_chain() -> None:
    payload = parsing.read_result(
        _sample("realpage_getleaseinfo_response.xml"), "getleaseinfo"
    )
    leases = {r["leaseid"]: r for r in parsing.lease_rows(payload)}

    assert set(leases) == {f"400{n:02d}" for n in (1, 2, 3, 4, 5, 6, 7, 12)}
    assert (leases["40002"]["nextleaseid"], leases["40012"]["priorleaseid"]) == (
        "40012",
        "40002",
    )
    assert leases["40012"]["reshid"] == leases["40002"]["reshid"] == "30002"


def test_getunitlist_sample_gives_marketing_units_flattened() -> None:
    payload = parsing.read_result(
        _sample("realpage_getunitlist_response.xml"), "getunitlist"
    )
    rows = parsing.marketing_unit_rows(payload)

    assert [(r["unitid"], r["unitnumber"]) for r in rows] == [
        ("20201", "201"),
        ("20203", "203"),
    ]
    assert parsing.parse_date(rows[0]["madereadydate"]) == date(2025, 5, 10)
    assert parsing.parse_bool(rows[0]["availablebit"]) is True


def test_guarantor_sample_lease_list_carries_the_guarantor_bits() -> None:
    body = _sample("realpage_getresidentbyresidentid_guarantor.xml")
    rows = parsing.resident_lease_rows(
        parsing.read_result(body, "getresidentbyresidentid")
    )

    assert len(rows) == 1
    row = rows[0]
    assert (row["residentid"], row["leaseid"], row["unitid"]) == (
        "50008",
        "40004",
        "20202",
    )
    assert parsing.parse_bool(row["guarantorbit"]) is True
    assert parsing.parse_bool(row["hohbit"]) is False
    assert row["residentrelationship"] == "Guarantor"


def test_renewal_sample_lease_list_gives_both_terms_of_one_person() -> None:
    body = _sample("realpage_getresidentbyresidentid_renewal.xml")
    rows = parsing.resident_lease_rows(
        parsing.read_result(body, "getresidentbyresidentid")
    )

    assert [(r["residentid"], r["leaseid"], r["leasestatus"]) for r in rows] == [
        ("50004", "40002", "Former Resident"),
        ("50004", "40012", "Current Resident"),
    ]
    assert rows[0]["emailaddress"] == "shah.okafor.home@example.com"


def test_request_sample_is_read_by_the_simulator_as_getresidentlist_with_auth() -> None:
    call = parse_request(_sample("realpage_request_getresidentlist.xml"))

    assert call.operation == "getresidentlist"
    assert call.auth["pmcid"] == "9990001"
    assert call.auth["siteid"] == "9990101"
    assert call.auth["system"] == "Onesite"


def test_maple_court_info_fixture_holds_an_embedded_document() -> None:
    body = (FIXTURES / "realpage_getresidentlistinfo_maple_court.xml").read_bytes()
    rows = parsing.resident_rows(parsing.read_result(body, "getresidentlistinfo"))

    assert len(rows) == 12
    taylor = next(r for r in rows if r["residentmemberid"] == "50006")
    assert parsing.parse_date(taylor["noticefordate"]) == date(2025, 6, 30)


def test_escaped_and_inline_results_give_the_same_rows() -> None:
    inner = "<residentlist><resident><residentmemberid>7</residentmemberid><unitid>1</unitid></resident></residentlist>"
    escaped = inner.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    declared = '&lt;?xml version="1.0" encoding="utf-16"?&gt;' + escaped

    inline_rows = parsing.resident_rows(
        parsing.read_result(_envelope("getresidentlist", inner), "getresidentlist")
    )
    escaped_rows = parsing.resident_rows(
        parsing.read_result(_envelope("getresidentlist", declared), "getresidentlist")
    )

    assert inline_rows == escaped_rows == [{"residentmemberid": "7", "unitid": "1"}]


def test_names_match_whatever_the_namespace_and_case() -> None:
    body = (
        b'<soap:ENVELOPE xmlns:soap="urn:x"><soap:BODY><x:UNITLISTRESPONSE xmlns:x="urn:y">'
        b"<x:UnitListResult><ul:unitlist xmlns:ul='urn:z'><ul:UNIT><ul:UNITID>9</ul:UNITID>"
        b"</ul:UNIT></ul:unitlist></x:UnitListResult></x:UNITLISTRESPONSE></soap:BODY></soap:ENVELOPE>"
    )

    assert parsing.unit_rows(parsing.read_result(body, "unitlist")) == [{"unitid": "9"}]


def test_a_single_item_without_its_container_is_still_a_row() -> None:
    body = _envelope(
        "getleaseinfo",
        "<GetLeaseInfo><Lease><LeaseID>1</LeaseID></Lease></GetLeaseInfo>",
    )

    assert parsing.lease_rows(parsing.read_result(body, "getleaseinfo")) == [
        {"leaseid": "1"}
    ]


def test_an_empty_result_is_an_answer_without_rows() -> None:
    assert (
        parsing.unit_rows(parsing.read_result(_envelope("unitlist", ""), "unitlist"))
        == []
    )
    body = _envelope("unitlist", "<UnitList/>")
    assert parsing.unit_rows(parsing.read_result(body, "unitlist")) == []


def test_a_missing_result_element_is_malformed() -> None:
    body = _envelope("getleaseinfo", "")

    with pytest.raises(MalformedResponseError):
        parsing.read_result(body, "unitlist")


def test_a_body_that_is_not_an_envelope_is_malformed() -> None:
    with pytest.raises(MalformedResponseError):
        parsing.read_result(
            b"<html><body>Service Unavailable</body></html>", "unitlist"
        )


def test_a_truncated_body_is_a_syntax_error() -> None:
    body = _sample("realpage_unitlist_response.xml")

    with pytest.raises(etree.XMLSyntaxError):
        parsing.read_result(body[: len(body) // 2], "unitlist")


def test_result_text_that_is_not_xml_is_malformed() -> None:
    with pytest.raises(MalformedResponseError):
        parsing.read_result(
            _envelope("unitlist", "Object reference not set"), "unitlist"
        )


def test_a_fault_is_raised_with_its_rpx_application_detail() -> None:
    body = (
        b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault>'
        b"<faultcode>s:Client</faultcode><faultstring>Error</faultstring><detail>"
        b'<RPXApplicationFault xmlns="urn:rpx"><CustomMessage>Invalid license key</CustomMessage>'
        b"<MessageLogId>42</MessageLogId></RPXApplicationFault></detail></s:Fault></s:Body></s:Envelope>"
    )

    with pytest.raises(SoapFault) as caught:
        parsing.read_result(body, "unitlist")

    assert (caught.value.code, caught.value.reason) == ("s:Client", "Error")
    assert caught.value.custom_message == "Invalid license key"
    assert "42" in caught.value.detail


def test_fault_in_ignores_bodies_that_are_not_faults() -> None:
    assert parsing.fault_in(b"<html>502 Bad Gateway</html>") is None
    assert parsing.fault_in(_envelope("unitlist", "")) is None


def test_entities_are_not_expanded() -> None:
    body = (
        b'<?xml version="1.0"?><!DOCTYPE s [<!ENTITY x "EXPANDED">]>'
        b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
        b"<unitlistResponse><unitlistResult><UnitList><Unit><UnitID>&x;</UnitID></Unit>"
        b"</UnitList></unitlistResult></unitlistResponse></s:Body></s:Envelope>"
    )

    rows = parsing.unit_rows(parsing.read_result(body, "unitlist"))

    assert len(rows) == 1
    assert all("EXPANDED" not in value for value in rows[0].values())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-06-30", date(2025, 6, 30)),
        ("2025-06-30 00:00:00", date(2025, 6, 30)),
        ("2025-06-30T00:00:00", date(2025, 6, 30)),
        ("2025-06-30T00:00:00-05:00", date(2025, 6, 30)),
        ("06/30/2025", date(2025, 6, 30)),
        ("6/3/2025 12:00:00 AM", date(2025, 6, 3)),
        ("  2025-06-30  ", date(2025, 6, 30)),
        ("", None),
        (None, None),
        ("0001-01-01T00:00:00", None),
    ],
)
def test_dates_in_every_rpx_format(text: str | None, expected: date | None) -> None:
    assert parsing.parse_date(text) == expected


@pytest.mark.parametrize("text", ["30.06.2025", "2025-13-01", "02/30/2025", "soon"])
def test_unreadable_dates_raise(text: str) -> None:
    with pytest.raises(ValueError, match=r"date|month|day"):
        parsing.parse_date(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("T", True), ("F", False), ("true", True), ("False", False), ("1", True),
        ("0", False), ("Y", True), ("n", False), ("", None), (None, None),
    ],
)  # fmt: skip
def test_flags_in_every_rpx_format(text: str | None, expected: bool | None) -> None:
    assert parsing.parse_bool(text) is expected


def test_an_unknown_flag_word_raises() -> None:
    with pytest.raises(ValueError, match="flag"):
        parsing.parse_bool("maybe")
