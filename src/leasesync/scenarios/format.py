"""Reading scenario files (format ``leasesync-scenario/1``, FORMAT.md).

A file is checked in two passes and rejected with the location and the reason of the
first problem: the JSON Schema shipped beside this module checks its shape (unknown
keys, wrong types), then every time and date is parsed here (a bad date such as
``2027-02-30`` is named by its path). YAML's own timestamp typing is switched off so
that a malformed date reaches this check as text instead of failing inside the parser.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jsonschema
import yaml

from leasesync.domain.errors import LeasesyncError

FORMAT = "leasesync-scenario/1"
DATE_FIELDS = (
    "begindate",
    "enddate",
    "moveindate",
    "moveoutdate",
    "noticegivendate",
    "noticefordate",
)


class ScenarioFileError(LeasesyncError):
    """The scenario file is invalid; ``location`` says where (``steps[2].pms``)."""

    def __init__(self, location: str, reason: str) -> None:
        super().__init__(f"{location}: {reason}")
        self.location = location
        self.reason = reason


@dataclass(frozen=True, kw_only=True, slots=True)
class Step:
    at: datetime
    action: str
    value: Any
    index: int


@dataclass(frozen=True, kw_only=True, slots=True)
class Scenario:
    name: str
    property: dict[str, Any]
    zone: ZoneInfo
    start: datetime
    end: datetime
    steps: tuple[Step, ...]
    expect: dict[str, Any] = field(default_factory=dict)
    source: Path | None = None


class _TextDatesLoader(yaml.SafeLoader):
    """A safe loader that leaves timestamps as strings and refuses repeated keys."""

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _value in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                mark = key_node.start_mark
                raise ScenarioFileError(
                    f"line {mark.line + 1}, column {mark.column + 1}",
                    f"key {key!r} appears twice",
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_TextDatesLoader.yaml_implicit_resolvers = {
    key: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag != "tag:yaml.org,2002:timestamp"
    ]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_scenario(path: Path) -> Scenario:
    """Read and check one scenario file; raises :class:`ScenarioFileError`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ScenarioFileError(
            str(path), f"cannot be read ({error.strerror})"
        ) from error
    except UnicodeDecodeError as error:
        raise ScenarioFileError(str(path), "is not UTF-8 text") from error
    try:
        document = yaml.load(text, Loader=_TextDatesLoader)  # noqa: S506
    except yaml.YAMLError as error:
        raise ScenarioFileError(_yaml_location(error), "is not valid YAML") from error
    scenario = parse_scenario(document)
    return Scenario(**{**_fields(scenario), "source": path})


def parse_scenario(document: Any) -> Scenario:
    _check_schema(document)
    zone = _zone(document["property"]["timezone"])
    start = parse_time(document["start"], zone, "start")
    steps = tuple(_step(raw, i, zone) for i, raw in enumerate(document["steps"]))
    _check_order(start, steps)
    last = steps[-1].at if steps else start
    end = (
        parse_time(document["end"], zone, "end")
        if "end" in document
        else last + timedelta(hours=1)
    )
    if end < last:
        raise ScenarioFileError("end", "is before the last step")
    _check_steps(steps, document.get("expect", {}))
    return Scenario(
        name=document["name"],
        property=document["property"],
        zone=zone,
        start=start,
        end=end,
        steps=steps,
        expect=document.get("expect", {}),
    )


def _fields(scenario: Scenario) -> dict[str, Any]:
    return {name: getattr(scenario, name) for name in Scenario.__slots__}


def _check_schema(document: Any) -> None:
    validator = jsonschema.Draft202012Validator(_schema())
    errors = sorted(
        validator.iter_errors(document), key=lambda e: list(e.absolute_path)
    )
    if errors:
        error = min(errors, key=_relevance)
        raise ScenarioFileError(
            _path(error.absolute_path) or "(top level)", _reason(error)
        )


def _relevance(error: jsonschema.ValidationError) -> tuple[int, int]:
    """Unknown keys first: naming the key says more than "too many properties"."""
    unknown = 0 if error.validator == "additionalProperties" else 1
    return (unknown, -len(error.absolute_path))


def _reason(error: jsonschema.ValidationError) -> str:
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        schema = error.schema if isinstance(error.schema, dict) else {}
        allowed = set(schema.get("properties", {}))
        unknown = sorted(str(k) for k in error.instance if k not in allowed)
        return "unknown key " + ", ".join(repr(k) for k in unknown)
    return str(error.message)


def _schema() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("scenario.schema.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


def _path(parts: Any) -> str:
    location = ""
    for part in parts:
        location += f"[{part}]" if isinstance(part, int) else f".{part}"
    return location.lstrip(".")


def _yaml_location(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ScenarioFileError(
            "property.timezone", f"unknown time zone {name!r}"
        ) from error


def parse_time(value: Any, zone: ZoneInfo, location: str) -> datetime:
    """A time or bare date; without an offset it is local to the property."""
    text = str(value)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as error:
        raise ScenarioFileError(location, f"{text!r} is not a date or time") from error
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed


def parse_date(value: Any, location: str) -> date:
    text = str(value)
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise ScenarioFileError(
            location, f"{text!r} is not a date (YYYY-MM-DD)"
        ) from error


def _step(raw: dict[str, Any], index: int, zone: ZoneInfo) -> Step:
    location = f"steps[{index}]"
    at = parse_time(raw["at"], zone, f"{location}.at")
    action = next(key for key in raw if key != "at")
    value = raw[action]
    if action == "pms":
        value = _pms_rows(value, f"{location}.pms")
    return Step(at=at, action=action, value=value, index=index)


def _pms_rows(value: dict[str, Any], location: str) -> dict[str, Any]:
    residents = []
    for i, row in enumerate(value["residents"]):
        converted = dict(row)
        for name in DATE_FIELDS:
            if converted.get(name) is not None:
                converted[name] = parse_date(
                    converted[name], f"{location}.residents[{i}].{name}"
                )
        residents.append(converted)
    return {**value, "residents": residents}


NEEDS_LINK = frozenset({"sync", "mark_installed", "accept_invite", "approve_held_sync"})
AUTOMATIC_SNAPSHOTS = frozenset({"end"})


def _check_steps(steps: tuple[Step, ...], expect: dict[str, Any]) -> None:
    """Steps that cannot run, and expectations about snapshots nobody takes."""
    linked = False
    taken = set(AUTOMATIC_SNAPSHOTS)
    for step in steps:
        where = f"steps[{step.index}].{step.action}"
        linked = linked or step.action == "link"
        if step.action in NEEDS_LINK and not linked:
            raise ScenarioFileError(
                where, "needs the property linked by an earlier step"
            )
        if step.action == "snapshot":
            if step.value in AUTOMATIC_SNAPSHOTS:
                raise ScenarioFileError(where, f"{step.value!r} is taken at the end")
            taken.add(step.value)
    for name in expect.get("snapshots", {}):
        if name not in taken:
            raise ScenarioFileError(f"expect.snapshots.{name}", "no step takes it")


def _check_order(start: datetime, steps: tuple[Step, ...]) -> None:
    previous = start
    for step in steps:
        if step.at < previous:
            raise ScenarioFileError(
                f"steps[{step.index}].at",
                "is earlier than the step (or start) before it",
            )
        previous = step.at


def parse_move_out_time(value: str, location: str) -> time:
    hours, minutes = value.split(":")
    try:
        return time(int(hours), int(minutes))
    except ValueError as error:
        raise ScenarioFileError(location, f"{value!r} is not a time of day") from error
