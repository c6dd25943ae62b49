"""The MQTT wire format, without a broker: topics and JSON both ways."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from leasesync.domain.ports import (
    CommandOutcome,
    Configuration,
    ConfigurationReport,
    ConfigurationRequest,
)
from leasesync.gateways.mqtt import (
    configure_topic,
    decode_report,
    decode_request,
    encode_report,
    encode_request,
    report_topic,
)

ARRIVAL = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_topics_follow_the_unit_key_and_escape_wildcards() -> None:
    assert configure_topic("ls", "p1/u1") == "ls/units/p1/u1/configure"
    assert report_topic("ls", "p1/u1") == "ls/reports/p1/u1"
    assert configure_topic("ls", "p+1/#2 %") == "ls/units/p%2B1/%232 %25/configure"


def test_a_request_parses_from_the_documented_json() -> None:
    payload = b'{"key": "k1", "unit": "p1/u1", "configuration": "vacant", "home": null}'

    assert decode_request(payload) == ConfigurationRequest(
        idempotency_key="k1", unit_key="p1/u1", configuration=Configuration.VACANT
    )


def test_a_request_survives_the_round_trip() -> None:
    request = ConfigurationRequest(
        idempotency_key="k1",
        unit_key="p1/u1",
        configuration=Configuration.RESIDENT,
        home_id="h1",
    )

    assert decode_request(encode_request(request)) == request


def test_a_report_parses_with_its_own_time_and_offset() -> None:
    payload = b'{"key": "k1", "outcome": "failed", "at": "2026-03-02T04:05:00-05:00"}'

    report = decode_report(payload, received_at=ARRIVAL)

    assert report.outcome is CommandOutcome.FAILED
    assert report.at == datetime(2026, 3, 2, 9, 5, tzinfo=UTC)
    assert report.at.utcoffset() == timedelta(hours=-5)
    assert report.detail == ""


def test_a_report_survives_the_round_trip() -> None:
    report = ConfigurationReport(
        idempotency_key="k1",
        outcome=CommandOutcome.COMPLETED,
        at=datetime(2026, 3, 2, 10, 0, tzinfo=timezone(timedelta(hours=1))),
        detail="all 4 devices",
    )

    assert decode_report(encode_report(report, "p1/u1"), received_at=ARRIVAL) == report


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"\xff\xfe",
        b"null",
        b'"k1"',
        b'{"outcome": "completed"}',
        b'{"key": "", "outcome": "completed"}',
        b'{"key": 7, "outcome": "completed"}',
        b'{"key": "k1", "outcome": "done"}',
        b'{"key": "k1", "outcome": "completed", "at": "yesterday"}',
        b'{"key": "k1", "outcome": "completed", "at": "2026-03-02T09:05:00"}',
    ],
)
def test_anything_else_is_not_a_report(payload: bytes) -> None:
    with pytest.raises(ValueError):
        decode_report(payload, received_at=ARRIVAL)


@pytest.mark.parametrize(
    "payload",
    [
        b'{"unit": "p1/u1", "configuration": "vacant"}',
        b'{"key": "k1", "configuration": "vacant"}',
        b'{"key": "k1", "unit": "p1/u1", "configuration": "party"}',
    ],
)
def test_anything_else_is_not_a_request(payload: bytes) -> None:
    with pytest.raises(ValueError):
        decode_request(payload)
