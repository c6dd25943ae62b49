"""Reading RPX answers: SOAP envelopes in, plain row dictionaries out.

RPX is loose about shape, so this module is forgiving about everything except the
structure that proves an answer is complete. Names are matched on their local name,
lower-cased: namespaces and casing differ per operation (``residentlist/resident``
next to ``UnitList/Unit`` and ``GetLeaseInfo/Leases/Lease``). A ``…Result`` element
may hold its document inline or as escaped XML text (sometimes still carrying a
``utf-16`` declaration from .NET); :func:`read_result` hands back the document root
either way. Rows are found wherever they sit below the result, so a container that
RPX leaves out for a single item changes nothing.

A row is a ``dict`` from lower-cased field name to stripped text ("" for an empty
element). Turning text into dates and booleans is done per field by the mapping,
with :func:`parse_date` and :func:`parse_bool`, so that a bad value condemns one
record and not the whole answer. What a missing ``Body`` or ``Result`` or a SOAP
fault means is decided in :mod:`.errors`; this module only raises them.
"""

from __future__ import annotations

import functools
import re
from datetime import date
from typing import Any

from lxml import etree

from leasesync.connectors.realpage.errors import MalformedResponseError, SoapFault

Row = dict[str, str]

# NB: entities are never resolved and nothing is fetched from the network, so a
# hostile document cannot expand or phone home. huge_tree lets a whole site's
# history through as one escaped text node, which can pass libxml2's 10 MB cap.
_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    remove_comments=True,
    remove_pis=True,
    huge_tree=True,
)

_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
_ISO_DATE = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
)
_US_DATE = re.compile(
    r"(\d{1,2})/(\d{1,2})/(\d{4})(?: \d{1,2}:\d{2}(?::\d{2})?(?: ?[AP]M)?)?",
    re.IGNORECASE,
)
_TRUE_WORDS = frozenset({"t", "true", "1", "y", "yes"})
_FALSE_WORDS = frozenset({"f", "false", "0", "n", "no"})

# .NET's DateTime.MinValue is how WCF services write "no date" in a non-null field.
_NO_DATE = date.min


def local_name(tag: Any) -> str:
    """The lower-cased local part of an element tag; "" for comments and the like."""
    if not isinstance(tag, str):
        return ""
    return _lowered_local_name(tag)


@functools.lru_cache(maxsize=4096)
def _lowered_local_name(tag: str) -> str:
    # NB: a site's answers use a few dozen distinct tags a hundred thousand times.
    return tag.rpartition("}")[2].lower()


def parse_xml(data: bytes | str) -> etree._Element:
    """Parse one XML document with the safe parser; raises ``XMLSyntaxError``."""
    if isinstance(data, str):
        data = _XML_DECLARATION.sub("", data, count=1).encode("utf-8")
    return etree.fromstring(data, _PARSER)


def read_result(body: bytes, operation: str) -> etree._Element:
    """The document inside ``<operation>Result`` of a SOAP response.

    Raises :class:`SoapFault` for a fault, :class:`MalformedResponseError` when the
    envelope has no body or the result element is missing or holds non-XML text,
    and lxml's ``XMLSyntaxError`` for a malformed or truncated body.
    """
    soap_body = _soap_body(parse_xml(body))
    fault = _first_child(soap_body, "fault")
    if fault is not None:
        raise fault_from_element(fault)

    result = _first_descendant(soap_body, f"{operation.lower()}result")
    if result is None:
        raise MalformedResponseError(f"no {operation}Result element")
    return _result_document(result)


def fault_in(body: bytes) -> SoapFault | None:
    """The SOAP fault an error response carries, or ``None`` if it is not one.

    WCF answers a fault with HTTP 500; a gateway error page is not XML at all.
    """
    try:
        soap_body = _soap_body(parse_xml(body))
    except (etree.XMLSyntaxError, MalformedResponseError):
        return None
    fault = _first_child(soap_body, "fault")
    return fault_from_element(fault) if fault is not None else None


def fault_from_element(fault: etree._Element) -> SoapFault:
    """Read a SOAP 1.1 (or 1.2) fault, with RPXApplicationFault detail if present."""
    code = _descendant_text(fault, "faultcode") or _descendant_text(fault, "value")
    reason = _descendant_text(fault, "faultstring") or _descendant_text(fault, "text")
    detail = _first_descendant(fault, "detail")
    detail_text = "" if detail is None else _all_text(detail)
    custom = _descendant_text(fault, "custommessage")
    return SoapFault(
        code=code, reason=reason, custom_message=custom, detail=detail_text
    )


def unit_rows(payload: etree._Element) -> list[Row]:
    """``unitlist`` rows (``UnitList/Unit``)."""
    return _rows(payload, "unit")


def resident_rows(payload: etree._Element) -> list[Row]:
    """``getresidentlist`` and ``getresidentlistinfo`` rows (``residentlist/resident``)."""
    return _rows(payload, "resident")


def lease_rows(payload: etree._Element) -> list[Row]:
    """``getleaseinfo`` rows (``GetLeaseInfo/Leases/Lease``)."""
    return _rows(payload, "lease")


def resident_lease_rows(payload: etree._Element) -> list[Row]:
    """Per-person lease lists (``getresidentbyresidentid``, ``residentsearchby…``).

    One row per ``leaseslist/leases`` entry, carrying its person's fields too.
    """
    rows: list[Row] = []
    for resident in _elements(payload, "resident"):
        person = _leaf_fields(resident)
        for lease in _elements(resident, "leases"):
            rows.append({**person, **_leaf_fields(lease)})
    return rows


def marketing_unit_rows(payload: etree._Element) -> list[Row]:
    """Pricing-and-availability ``getunitlist`` rows, nested groups flattened."""
    return [_flattened(obj) for obj in _elements(payload, "unitobject")]


def parse_date(text: str | None) -> date | None:
    """A calendar date from any format RPX uses; ``None`` when empty.

    Accepts ``YYYY-MM-DD`` with or without a time part (``T`` or space, optional
    offset, which is ignored: PMS dates are property-local) and ``MM/DD/YYYY``
    (optionally with a time). Raises ``ValueError`` for anything else.
    """
    text = (text or "").strip()
    if not text:
        return None
    if match := _ISO_DATE.fullmatch(text):
        year, month, day = match.groups()
    elif match := _US_DATE.fullmatch(text):
        month, day, year = match.groups()
    else:
        raise ValueError(f"unrecognised date {text[:40]!r}")
    value = date(int(year), int(month), int(day))
    return None if value == _NO_DATE else value


def parse_bool(text: str | None) -> bool | None:
    """``T``/``F``, ``true``/``false``, ``1``/``0``, ``Y``/``N``; ``None`` when empty.

    Raises ``ValueError`` for any other word rather than guessing.
    """
    word = (text or "").strip().lower()
    if not word:
        return None
    if word in _TRUE_WORDS:
        return True
    if word in _FALSE_WORDS:
        return False
    raise ValueError(f"unrecognised flag {word[:20]!r}")


def _soap_body(root: etree._Element) -> etree._Element:
    if local_name(root.tag) != "envelope":
        raise MalformedResponseError("not a SOAP envelope")
    body = _first_child(root, "body")
    if body is None:
        raise MalformedResponseError("SOAP envelope without a Body")
    return body


def _result_document(result: etree._Element) -> etree._Element:
    if len(result):
        return result
    text = (result.text or "").strip()
    if not text:
        return result
    if not text.startswith("<"):
        raise MalformedResponseError("result holds text that is not XML")
    return parse_xml(text)


def _rows(payload: etree._Element, name: str) -> list[Row]:
    return [_leaf_fields(element) for element in _elements(payload, name)]


def _elements(root: etree._Element, name: str) -> list[etree._Element]:
    return [
        element
        for element in root.iter(etree.Element)
        if _lowered_local_name(str(element.tag)) == name
    ]


def _leaf_fields(element: etree._Element) -> Row:
    # NB: a child that is itself a group (``leaseslist``) reads as "": rows are
    # flat, and this loop runs for every field of every row of a whole site.
    fields: Row = {}
    for child in element:
        tag, text = child.tag, child.text
        if isinstance(tag, str):
            fields[_lowered_local_name(tag)] = text.strip() if text else ""
    return fields


def _flattened(element: etree._Element) -> Row:
    fields: Row = {}
    for leaf in element.iter():
        if leaf is not element and len(leaf) == 0 and isinstance(leaf.tag, str):
            fields.setdefault(local_name(leaf.tag), (leaf.text or "").strip())
    return fields


def _first_child(element: etree._Element, name: str) -> etree._Element | None:
    return next((c for c in element if local_name(c.tag) == name), None)


def _first_descendant(element: etree._Element, name: str) -> etree._Element | None:
    return next((d for d in element.iter() if local_name(d.tag) == name), None)


def _all_text(element: etree._Element) -> str:
    text = etree.tostring(element, method="text", encoding="unicode")
    return " ".join(text.split())


def _descendant_text(element: etree._Element, name: str) -> str:
    found = _first_descendant(element, name)
    return (found.text or "").strip() if found is not None else ""
