"""The RealPage simulator's answers, built from scenario rows.

The simulator's state is what a scenario writes (``shared/scenarios/FORMAT.md``):
``unitlist`` rows (``UnitID``, ``UnitNumber``, …) and one lower-case resident
row per person and lease (``residentmemberid``, ``residenthouseholdid``,
``leaseid``, ``leasestatus``, role fields, dates). From that state this module
derives the four RPX answers in the shapes of ``shared/samples/realpage_*``,
quirks included, because the connector must survive them:

- ``unitlist``: PascalCase ``UnitList/Unit``, ``T``/``F`` flags, the expected
  move-in with a time part; ``Vacant``, ``Available``, ``OnNoticeForDate`` and
  ``UnitExpectedMoveinDate`` derived from the residents unless the row gives them;
- ``getresidentlist``: lower-case ``residentlist/resident``, no dates or role bits;
- ``getresidentlistinfo``: the same people with dates and role bits, sent as an
  escaped XML document inside the result (with .NET's ``utf-16`` declaration),
  lease dates with ``T00:00:00`` and notice dates as ``MM/DD/YYYY``;
- ``getleaseinfo``: ``GetLeaseInfo/Leases/Lease``, one per lease id, ``true``/
  ``false`` flags, ``0`` for a missing renewal link, and — as clients that turn
  XML into dicts see it — a lone lease without its ``Leases`` container.

Values are written as given when they are not dates or flags we recognise, so a
test can serve a malformed date on purpose.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any
from xml.sax.saxutils import escape

from lxml import etree

SOAP_ENVELOPE_NS = "http://schemas.xmlsoap.org/soap/envelope/"
RPX_NS = "http://tempuri.org/"
# UNVERIFIED: the data-contract namespace of RPXApplicationFault is a guess.
FAULT_DETAIL_NS = "http://schemas.datacontract.org/2004/07/RPX.Common"

OPERATIONS = ("unitlist", "getresidentlist", "getresidentlistinfo", "getleaseinfo")

Rows = Sequence[Mapping[str, Any]]
Formatter = Callable[[Any], str]

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_CURRENT = frozenset({"current", "current resident"})
_FUTURE = frozenset({"applicant - lease signed", "future lease"})
_MOVED_IN = _CURRENT | {"former", "former resident"}
_TRUE_WORDS = frozenset({"t", "true", "1", "y", "yes"})
_FALSE_WORDS = frozenset({"f", "false", "0", "n", "no"})


# -- value formats ---------------------------------------------------------------


def _as_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value.strip()):
        return date.fromisoformat(value.strip())
    return None


def _date_format(pattern: str) -> Formatter:
    def formatted(value: Any) -> str:
        parsed = _as_date(value)
        if parsed is not None:
            return parsed.strftime(pattern)
        return "" if value is None else str(value)

    return formatted


iso_date = _date_format("%Y-%m-%d")
iso_midnight = _date_format("%Y-%m-%dT00:00:00")
spaced_midnight = _date_format("%Y-%m-%d 00:00:00")
us_date = _date_format("%m/%d/%Y")


def truth(value: Any) -> bool | None:
    """A scenario value read as a flag; ``None`` when absent or not a flag word."""
    if isinstance(value, bool) or value is None:
        return value
    word = str(value).strip().lower()
    if word in _TRUE_WORDS:
        return True
    return False if word in _FALSE_WORDS else None


def _flag_format(yes: str, no: str) -> Formatter:
    def formatted(value: Any) -> str:
        flag = truth(value)
        if flag is None:
            return "" if value is None else str(value)
        return yes if flag else no

    return formatted


unit_flag = _flag_format("T", "F")
lease_flag = _flag_format("true", "false")


def text(value: Any) -> str:
    """Anything else: ids (YAML may give ints), names, e-mails."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return lease_flag(value)
    return str(value).strip()


def normalized_rows(
    rows: Iterable[Mapping[str, Any]], *, lower: bool
) -> list[dict[str, Any]]:
    """Copy rows, with resident keys lower-cased (unit keys keep RealPage casing)."""
    return [{(k.lower() if lower else k): v for k, v in row.items()} for row in rows]


# -- derived rows ------------------------------------------------------------------


def unit_list_rows(units: Rows, residents: Rows) -> list[dict[str, str]]:
    """``unitlist`` rows: the scenario's fields, the rest derived from residents."""
    by_unit: dict[str, list[Mapping[str, Any]]] = {}
    for resident in residents:
        by_unit.setdefault(text(resident.get("unitid")), []).append(resident)
    return [
        _unit_row(unit, by_unit.get(text(unit.get("UnitID")), [])) for unit in units
    ]


def resident_list_rows(units: Rows, residents: Rows) -> list[dict[str, str]]:
    """``getresidentlist`` rows, in the field order of the sample."""
    numbers = _unit_numbers(units)
    return [_resident_row(resident, numbers) for resident in residents]


def resident_info_rows(units: Rows, residents: Rows) -> list[dict[str, str]]:
    """``getresidentlistinfo`` rows: dates, notice and role bits per person and lease."""
    numbers = _unit_numbers(units)
    return [_info_row(resident, numbers) for resident in residents]


def lease_info_rows(units: Rows, residents: Rows, siteid: str) -> list[dict[str, str]]:
    """``getleaseinfo`` rows: one per lease id, speaking for its head of household."""
    numbers = _unit_numbers(units)
    by_lease: dict[str, list[Mapping[str, Any]]] = {}
    for resident in residents:
        by_lease.setdefault(text(resident.get("leaseid")), []).append(resident)
    links = _renewal_links(by_lease)
    return [
        _lease_row(lease_id, members, numbers, links, siteid)
        for lease_id, members in by_lease.items()
        if lease_id
    ]


def _unit_row(
    unit: Mapping[str, Any], residents: Sequence[Mapping[str, Any]]
) -> dict[str, str]:
    current = [r for r in residents if _status(r) in _CURRENT]
    coming = [
        r
        for r in residents
        if _status(r) in _FUTURE and not _is_current_household(r, current)
    ]
    notices = [
        d for r in current if (d := _as_date(r.get("noticefordate"))) is not None
    ]
    move_ins = [
        d for r in coming if (d := _as_date(r.get("moveindate") or r.get("begindate")))
    ]
    derived = {
        "Vacant": unit_flag(not current),
        "Available": unit_flag((not current or bool(notices)) and not coming),
        "AvailableDate": "",
        "OnNoticeForDate": iso_date(max(notices)) if notices else "",
        "UnitMadeReadyDate": "",
        "UnitExpectedMoveinDate": spaced_midnight(min(move_ins)) if move_ins else "",
    }
    given = {key: _unit_value(key, value) for key, value in unit.items()}
    ordered = {"UnitID": "", "UnitNumber": "", "BuildingName": "", "FloorplanName": ""}
    return {**ordered, **derived, **given}


def _unit_value(key: str, value: Any) -> str:
    if key in {"Vacant", "Available"}:
        return unit_flag(value)
    if key.endswith("Date"):
        return iso_date(value)
    return text(value)


def _resident_row(r: Mapping[str, Any], numbers: Mapping[str, str]) -> dict[str, str]:
    first, last = text(r.get("firstname")), text(r.get("lastname"))
    return {
        "residentmemberid": text(r.get("residentmemberid")),
        "residenthouseholdid": text(r.get("residenthouseholdid")),
        "leaseid": text(r.get("leaseid")),
        "unitid": text(r.get("unitid")),
        "buildingnumber": text(r.get("buildingnumber")),
        "unitnumber": _unit_number(r, numbers),
        "firstname": first,
        "lastname": last,
        "billingname": f"{first} {last}".strip(),
        "homephone": text(r.get("homephone")),
        "workphone": text(r.get("workphone")),
        "cellphone": text(r.get("cellphone")),
        "faxnumber": "",
        "email": text(r.get("email")),
        "inevict": lease_flag(r.get("inevict", False)),
        "nochk": "false",
        "incollection": "false",
        "inpaymentplan": "false",
        "pendingbalance": "0.00",
        "balance": "0.00",
        "estfutchgs": "0.00",
        "curlateamt": "0.00",
        "leasestatus": text(r.get("leasestatus")),
        "leasetype": "",
        "residenttype": _resident_type(r),
    }


def _info_row(r: Mapping[str, Any], numbers: Mapping[str, str]) -> dict[str, str]:
    return {
        "residentmemberid": text(r.get("residentmemberid")),
        "residenthouseholdid": text(r.get("residenthouseholdid")),
        "leaseid": text(r.get("leaseid")),
        "unitid": text(r.get("unitid")),
        "unitnumber": _unit_number(r, numbers),
        "firstname": text(r.get("firstname")),
        "lastname": text(r.get("lastname")),
        "email": text(r.get("email")),
        "cellphone": text(r.get("cellphone")),
        "leasestatus": text(r.get("leasestatus")),
        "begindate": iso_midnight(r.get("begindate")),
        "enddate": iso_midnight(r.get("enddate")),
        "moveindate": iso_date(r.get("moveindate")),
        "moveoutdate": iso_date(r.get("moveoutdate")),
        "noticegivendate": us_date(r.get("noticegivendate")),
        "noticefordate": us_date(r.get("noticefordate")),
        "residenttype": _resident_type(r),
        "residentrelationship": _relationship(r),
        "hohbit": lease_flag(_is_head(r)),
        "signerbit": lease_flag(_is_signer(r)),
        "guarantorbit": lease_flag(truth(r.get("guarantorbit")) is True),
        "inevict": lease_flag(r.get("inevict", False)),
        "balance": "0.00",
    }


def _lease_row(
    lease_id: str,
    members: Sequence[Mapping[str, Any]],
    numbers: Mapping[str, str],
    links: Mapping[str, tuple[str, str]],
    siteid: str,
) -> dict[str, str]:
    head = next((m for m in members if _is_head(m)), members[0])
    status = text(head.get("leasestatus"))
    prior, next_ = links.get(lease_id, ("", ""))
    moved_in = status.lower() in _MOVED_IN
    return {
        "LeaseID": lease_id,
        "ReshID": text(head.get("residenthouseholdid")),
        "SiteID": siteid,
        "UnitID": text(head.get("unitid")),
        "UnitDesignation": _unit_number(head, numbers),
        "LeaseBeginDate": iso_date(head.get("begindate")),
        "LeaseEndDate": iso_date(head.get("enddate")),
        "NextLeaseID": next_ or "0",
        "PriorLeaseID": prior or "0",
        "LeaseStatus": status,
        "LeaseStatusText": status,
        "MoveInDate": iso_date(head.get("moveindate")) if moved_in else "",
        "SchedMoveInDate": iso_date(head.get("moveindate")),
        "InactiveDate": iso_date(head.get("moveoutdate")),
        "Evict": lease_flag(any(truth(m.get("inevict")) for m in members)),
        "HeadofHouseholdName": " ".join(
            filter(None, (text(head.get("firstname")), text(head.get("lastname"))))
        ),
    }


def _renewal_links(
    by_lease: Mapping[str, Sequence[Mapping[str, Any]]],
) -> dict[str, tuple[str, str]]:
    """(prior, next) per lease: as the rows say, else completed from the other end."""
    links: dict[str, tuple[str, str]] = {}
    for lease_id, members in by_lease.items():
        prior = next(
            (text(m.get("priorleaseid")) for m in members if m.get("priorleaseid")), ""
        )
        next_ = next(
            (text(m.get("nextleaseid")) for m in members if m.get("nextleaseid")), ""
        )
        links[lease_id] = (prior, next_)
    for lease_id, (prior, _) in list(links.items()):
        if prior in links and not links[prior][1]:
            links[prior] = (links[prior][0], lease_id)
    for lease_id, (_, next_) in list(links.items()):
        if next_ in links and not links[next_][0]:
            links[next_] = (lease_id, links[next_][1])
    return links


def _status(resident: Mapping[str, Any]) -> str:
    return " ".join(text(resident.get("leasestatus")).split()).lower()


def _is_current_household(
    resident: Mapping[str, Any], current: Sequence[Mapping[str, Any]]
) -> bool:
    household = text(resident.get("residenthouseholdid"))
    return any(text(c.get("residenthouseholdid")) == household for c in current)


def _is_head(resident: Mapping[str, Any]) -> bool:
    hohbit = truth(resident.get("hohbit"))
    if hohbit is not None:
        return hohbit
    return text(resident.get("residenttype")).upper() == "H"


def _is_signer(resident: Mapping[str, Any]) -> bool:
    signer = truth(resident.get("signerbit"))
    if signer is not None:
        return signer
    return "minor" not in _relationship(resident).lower()


def _resident_type(resident: Mapping[str, Any]) -> str:
    given = text(resident.get("residenttype"))
    return given or ("H" if truth(resident.get("hohbit")) else "O")


def _relationship(resident: Mapping[str, Any]) -> str:
    given = text(resident.get("residentrelationship"))
    return given or ("Head of Household" if _is_head(resident) else "")


def _unit_numbers(units: Rows) -> dict[str, str]:
    return {text(u.get("UnitID")): text(u.get("UnitNumber")) for u in units}


def _unit_number(resident: Mapping[str, Any], numbers: Mapping[str, str]) -> str:
    given = text(resident.get("unitnumber"))
    return given or numbers.get(text(resident.get("unitid")), "")


# -- documents ---------------------------------------------------------------------


def payload_document(
    operation: str, units: Rows, residents: Rows, siteid: str
) -> etree._Element:
    """The document that goes inside ``<operation>Result``."""
    if operation == "unitlist":
        return _list_document("UnitList", "Unit", unit_list_rows(units, residents))
    if operation == "getresidentlist":
        return _list_document(
            "residentlist", "resident", resident_list_rows(units, residents)
        )
    if operation == "getresidentlistinfo":
        return _list_document(
            "residentlist", "resident", resident_info_rows(units, residents)
        )
    if operation == "getleaseinfo":
        return _lease_document(lease_info_rows(units, residents, siteid))
    raise ValueError(f"unknown operation {operation!r}")


def response_envelope(operation: str, payload: etree._Element) -> bytes:
    """A SOAP 1.1 response around ``payload``; ``getresidentlistinfo`` sends it escaped."""
    inner = etree.tostring(payload, encoding="unicode")
    if operation == "getresidentlistinfo":
        # NB: .NET serialises the embedded document as a string with a utf-16
        # declaration although the envelope itself is UTF-8.
        result = escape('<?xml version="1.0" encoding="utf-16"?>' + inner)
    else:
        # NB: the payload leaves the tempuri namespace explicitly, as RPX writes it.
        tag = str(payload.tag)
        result = inner.replace(f"<{tag}", f'<{tag} xmlns=""', 1)
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<s:Envelope xmlns:s="{SOAP_ENVELOPE_NS}"><s:Body>'
        f'<{operation}Response xmlns="{RPX_NS}"><{operation}Result>{result}'
        f"</{operation}Result></{operation}Response></s:Body></s:Envelope>"
    ).encode()


def build_response(operation: str, units: Rows, residents: Rows, siteid: str) -> bytes:
    """The whole HTTP body RPX would send for ``operation`` given this state."""
    return response_envelope(
        operation, payload_document(operation, units, residents, siteid)
    )


def fault_envelope(
    *, code: str, reason: str, custom_message: str, log_id: str
) -> bytes:
    """A SOAP fault with an ``RPXApplicationFault`` detail, as RPX reports errors."""
    envelope, body = _envelope()
    fault = etree.SubElement(body, f"{{{SOAP_ENVELOPE_NS}}}Fault")
    etree.SubElement(fault, "faultcode").text = code
    etree.SubElement(fault, "faultstring").text = reason
    detail = etree.SubElement(fault, "detail")
    application = etree.SubElement(
        detail,
        f"{{{FAULT_DETAIL_NS}}}RPXApplicationFault",
        nsmap={None: FAULT_DETAIL_NS},  # type: ignore[dict-item]  # None: default namespace
    )
    for name, value in (
        ("CustomMessage", custom_message),
        ("ExceptionMessage", reason),
        ("MessageLogId", log_id),
    ):
        etree.SubElement(application, f"{{{FAULT_DETAIL_NS}}}{name}").text = value
    return etree.tostring(envelope, xml_declaration=True, encoding="utf-8")


def _envelope() -> tuple[etree._Element, etree._Element]:
    envelope = etree.Element(
        f"{{{SOAP_ENVELOPE_NS}}}Envelope", nsmap={"s": SOAP_ENVELOPE_NS}
    )
    return envelope, etree.SubElement(envelope, f"{{{SOAP_ENVELOPE_NS}}}Body")


def _list_document(
    container: str, item: str, rows: Iterable[Mapping[str, str]]
) -> etree._Element:
    root = etree.Element(container)
    for row in rows:
        _append_row(root, item, row)
    return root


def _lease_document(rows: Sequence[Mapping[str, str]]) -> etree._Element:
    root = etree.Element("GetLeaseInfo")
    parent = root if len(rows) == 1 else etree.SubElement(root, "Leases")
    for row in rows:
        _append_row(parent, "Lease", row)
    return root


def _append_row(parent: etree._Element, item: str, row: Mapping[str, str]) -> None:
    element = etree.SubElement(parent, item)
    for name, value in row.items():
        etree.SubElement(element, name).text = value or None
