"""Log output for every face of leasesync: readable text, or one JSON object a line.

Modules log through ``logging.getLogger(__name__)`` with %-style arguments and, at
INFO and above, ``extra={"event": "snake_case", "property_id": …}`` (STYLE.md habit
8). This module decides only how those records look. The text format puts the
message first and the event with our ids in brackets after it; the JSON format
carries the same keys as fields, so a log pipeline can filter on ``event`` or
``unit_id`` without parsing prose.

:func:`configure_logging` owns the root logger's handler: calling it again replaces
the handler it installed, so the CLI can configure logging early and again once the
settings are read.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

FORMATS = ("text", "json")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

# Attributes every LogRecord has; anything else on a record came from ``extra``.
_RECORD_ATTRIBUTES = frozenset(
    vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None))
) | {"message", "asctime", "taskName"}

# Libraries that are chatty at INFO about things an operator does not act on.
_QUIET_LOGGERS = ("alembic", "httpx", "httpcore", "procrastinate", "uvicorn.access")


def record_extras(record: logging.LogRecord) -> dict[str, Any]:
    """The fields a caller passed in ``extra``, in the order they were given."""
    return {
        key: value
        for key, value in vars(record).items()
        if key not in _RECORD_ATTRIBUTES and not key.startswith("_")
    }


def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TextFormatter(logging.Formatter):
    """``2025-01-31T09:00:00.000Z INFO leasesync.engine: message [event=… unit_id=…]``."""

    def format(self, record: logging.LogRecord) -> str:
        line = (
            f"{_timestamp(record)} {record.levelname:<7} {record.name}: "
            f"{record.getMessage()}"
        )
        extras = record_extras(record)
        if extras:
            line += " [" + " ".join(f"{k}={v}" for k, v in extras.items()) + "]"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, then the extras."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        payload.update(record_extras(record))
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str, ensure_ascii=False)


class _LeasesyncHandler(logging.StreamHandler[TextIO]):
    """The handler this module installs, and so alone replaces.

    Without an explicit stream it writes to whatever ``sys.stderr`` is at the time
    of each record, so a test runner that swaps stderr still sees the output.
    """

    def __init__(self, stream: TextIO | None) -> None:
        super().__init__(stream or sys.stderr)
        self._follows_stderr = stream is None

    def emit(self, record: logging.LogRecord) -> None:
        if self._follows_stderr:
            self.stream = sys.stderr
        super().emit(record)


def configure_logging(
    format: str = "text",
    level: str = "INFO",
    *,
    stream: TextIO | None = None,
) -> None:
    """Send every log record to ``stream`` (stderr) as ``text`` or ``json``.

    Raises ``ValueError`` for an unknown format or level; settings validation
    normally catches those first.
    """
    if format not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}")
    if level.upper() not in LEVELS:
        raise ValueError(f"log level must be one of {', '.join(LEVELS)}")

    handler = _LeasesyncHandler(stream)
    handler.setFormatter(JsonFormatter() if format == "json" else TextFormatter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _LeasesyncHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())

    # NB: third-party INFO chatter stays out unless someone asks for DEBUG.
    quiet = logging.DEBUG if level.upper() == "DEBUG" else logging.WARNING
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(quiet)
