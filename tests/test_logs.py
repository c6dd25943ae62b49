"""Log output: readable text or one JSON object a line, both carrying our ids."""

from __future__ import annotations

import io
import json
import logging

import pytest

from leasesync.logs import configure_logging


@pytest.fixture
def logger() -> logging.Logger:
    return logging.getLogger("leasesync.test_logs")


def test_json_is_one_object_per_line_with_event_and_ids(logger: logging.Logger) -> None:
    stream = io.StringIO()
    configure_logging("json", "INFO", stream=stream)

    logger.info(
        "Sync of %s ended with %d changes",
        "p-1",
        3,
        extra={"event": "sync_finished", "property_id": 7, "sync_run_id": 12},
    )
    logger.debug("not at INFO")

    (line,) = stream.getvalue().splitlines()
    record = json.loads(line)
    assert record["message"] == "Sync of p-1 ended with 3 changes"
    assert record["event"] == "sync_finished"
    assert (record["property_id"], record["sync_run_id"]) == (7, 12)
    assert (record["level"], record["logger"]) == ("INFO", "leasesync.test_logs")
    assert record["ts"].endswith("Z")


def test_text_puts_the_message_first_and_the_extras_in_brackets(
    logger: logging.Logger,
) -> None:
    stream = io.StringIO()
    configure_logging("text", "info", stream=stream)

    logger.warning(
        "Record quarantined", extra={"event": "record_quarantined", "unit_id": 4}
    )

    line = stream.getvalue().rstrip("\n")
    assert line.endswith(
        "WARNING leasesync.test_logs: Record quarantined "
        "[event=record_quarantined unit_id=4]"
    )


def test_an_exception_stays_inside_its_json_object(logger: logging.Logger) -> None:
    stream = io.StringIO()
    configure_logging("json", "INFO", stream=stream)

    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logger.exception("Job failed", extra={"event": "job_failed"})

    (line,) = stream.getvalue().splitlines()
    assert "RuntimeError: boom" in json.loads(line)["exc"]


def test_configuring_again_replaces_the_handler_instead_of_adding_one(
    logger: logging.Logger,
) -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging("text", "INFO", stream=first)
    configure_logging("json", "INFO", stream=second)

    logger.info("once", extra={"event": "once"})

    assert first.getvalue() == ""
    assert len(second.getvalue().splitlines()) == 1


@pytest.mark.parametrize(("fmt", "level"), [("xml", "INFO"), ("text", "LOUD")])
def test_unknown_formats_and_levels_are_refused(fmt: str, level: str) -> None:
    with pytest.raises(ValueError, match="must be one of"):
        configure_logging(fmt, level)
