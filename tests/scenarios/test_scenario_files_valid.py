"""Every scenario file we ship is well-formed before the harness ever runs it.

``leasesync scenario run`` exits 2 on an invalid file (FORMAT.md). This module catches
the same class of mistake at test time and without the engine, for the repo's own
suite (``scenarios/``), the shared examples and the harness fixtures: the JSON Schema
that mirrors FORMAT.md (after YAML dates and datetimes become ISO strings, as the
schema expects), times that parse and come in order, and references that point at
something the file defines (units, people, mailboxes, snapshots). A scenario whose
expectation names a unit or a person that never appears would otherwise only fail
later, and confusingly, inside the harness.

The deliberately malformed fixtures (``fixtures/malformed_*.yaml``) must be rejected
by these same checks, each for the reason its name gives.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date, datetime
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from jsonschema import Draft202012Validator

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "scenarios"
SUITE = REPO / "scenarios"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SCHEMA_PATH = SHARED / "scenario.schema.json"

if not SCHEMA_PATH.exists():  # a checkout without the project's shared folder beside it
    pytest.skip(f"{SCHEMA_PATH} is not there", allow_module_level=True)

RESIDENT_DATE_FIELDS = (
    "begindate",
    "enddate",
    "moveindate",
    "moveoutdate",
    "noticegivendate",
    "noticefordate",
)

# NB: what each malformed fixture must be rejected for, so that a fixture broken in
# some other, accidental way does not pass for the wrong reason.
MALFORMED_REASONS = {
    "malformed_unknown_key": "Additional properties are not allowed",
    "malformed_bad_date": "not an ISO time",
    "malformed_wrong_type": "is not of type",
}


def as_json(value: Any) -> Any:
    """Turn YAML dates and datetimes into the ISO strings the JSON Schema expects."""
    if isinstance(value, date):  # datetime is a date too
        return value.isoformat()
    if isinstance(value, dict):
        return {key: as_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [as_json(item) for item in value]
    return value


def load(path: Path) -> dict[str, Any]:
    document = as_json(yaml.safe_load(path.read_text(encoding="utf-8")))
    assert isinstance(document, dict), f"{path.name}: top level is not a mapping"
    return document


@cache
def validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return Draft202012Validator(schema)


def schema_errors(document: dict[str, Any]) -> list[str]:
    errors = validator().iter_errors(document)
    return [f"{list(error.absolute_path)}: {error.message}" for error in errors]


def instant(text: str, zone: ZoneInfo) -> datetime:
    """A scenario time as an aware instant; no offset means property-local (FORMAT.md)."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def steps(document: dict[str, Any]) -> list[dict[str, Any]]:
    found = document.get("steps")
    return found if isinstance(found, list) else []


def resident_rows(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for step in steps(document):
        yield from step.get("pms", {}).get("residents", [])


def time_errors(document: dict[str, Any]) -> list[str]:
    """Every time parses, steps run forward, and ``start``/``end`` bracket them."""
    try:
        return ordering_errors(document)
    except (ValueError, TypeError, KeyError) as error:
        return [f"not an ISO time: {error}"]


def ordering_errors(document: dict[str, Any]) -> list[str]:
    zone = ZoneInfo(document["property"]["timezone"])
    for row in resident_rows(document):
        for name in RESIDENT_DATE_FIELDS:
            if name in row:
                datetime.fromisoformat(row[name])

    # NB: naive times are compared after resolving them in the property's zone, so a
    # step written with an explicit offset (inside a repeated DST hour) sorts right.
    times = [instant(step["at"], zone) for step in steps(document)]
    errors = [
        f"step {index + 2} ({steps(document)[index + 1]['at']}) comes before "
        f"step {index + 1} ({steps(document)[index]['at']})"
        for index, (earlier, later) in enumerate(pairwise(times))
        if later < earlier
    ]
    start = instant(document["start"], zone)
    if times and times[0] < start:
        errors.append("the first step comes before start")
    if "end" in document and times and instant(document["end"], zone) < times[-1]:
        errors.append("end comes before the last step")
    return errors


def unit_ids(document: dict[str, Any]) -> set[str]:
    units = list(document["property"]["units"])
    for step in steps(document):
        units.extend(step.get("pms", {}).get("units", []))
    return {unit["UnitID"] for unit in units}


def mailbox(address: str) -> str:
    """E-mail as leasesync compares it: case- and whitespace-insensitively (L9)."""
    return address.strip().lower()


def reference_errors(document: dict[str, Any]) -> list[str]:
    """Names used by steps and expectations are defined somewhere in the file."""
    units = unit_ids(document)
    rows = list(resident_rows(document))
    people = {row["residentmemberid"] for row in rows}
    mailboxes = {mailbox(row["email"]) for row in rows if row.get("email")}
    errors = [
        f"row for unknown unit {r['unitid']}" for r in rows if r["unitid"] not in units
    ]

    errors += step_reference_errors(document, units, mailboxes)
    errors += expectation_reference_errors(document, units, people, mailboxes)
    return errors


def step_reference_errors(
    document: dict[str, Any], units: set[str], mailboxes: set[str]
) -> list[str]:
    errors: list[str] = []
    for step in steps(document):
        named = [
            *step.get("mark_installed", []),
            *step.get("devices", {}).get("units", []),
        ]
        errors += [f"step names unknown unit {u}" for u in named if u not in units]
        if "accept_invite" in step and mailbox(step["accept_invite"]) not in mailboxes:
            errors.append(f"accept_invite of unknown mailbox {step['accept_invite']}")

    names = [step["snapshot"] for step in steps(document) if "snapshot" in step]
    duplicates = {name for name in names if names.count(name) > 1}
    return errors + [f"snapshot name {name} used twice" for name in sorted(duplicates)]


def expectation_reference_errors(
    document: dict[str, Any], units: set[str], people: set[str], mailboxes: set[str]
) -> list[str]:
    expect = document.get("expect", {})
    taken = {step["snapshot"] for step in steps(document) if "snapshot" in step}
    expected = expect.get("snapshots", {})
    errors = [
        f"expected snapshot {n} is never taken"
        for n in expected
        if n not in taken | {"end"}
    ]

    invites = expect.get("invites", {})
    errors += [
        f"invites for unknown mailbox {m}"
        for m in invites
        if mailbox(m) not in mailboxes
    ]
    commands = expect.get("reconfigurations", {})
    errors += [
        f"reconfigurations of unknown unit {u}" for u in commands if u not in units
    ]

    for name, state in expected.items():
        errors += snapshot_reference_errors(name, state, units, people)
    return errors


def snapshot_reference_errors(
    name: str, state: dict[str, Any], units: set[str], people: set[str]
) -> list[str]:
    errors: list[str] = []
    for unit, facts in state.get("units", {}).items():
        if unit not in units:
            errors.append(f"snapshot {name} names unknown unit {unit}")
        residents = (facts or {}).get("residents") or {}
        errors += [
            f"snapshot {name} names unknown person {person}"
            for person in residents
            if person not in people
        ]
    return errors


def problems(path: Path) -> list[str]:
    """Everything wrong with one file; the later checks need a schema-valid document."""
    document = load(path)
    found = schema_errors(document)
    if found:
        return found
    return time_errors(document) or reference_errors(document)


def scenario_files() -> list[Path]:
    suite = sorted(SUITE.glob("*.yaml")) + sorted(SHARED.glob("*.yaml"))
    fixtures = [p for p in sorted(FIXTURES.glob("*.yaml")) if not is_malformed(p)]
    return suite + fixtures


def is_malformed(path: Path) -> bool:
    return path.name.startswith("malformed_")


def label(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


@pytest.mark.parametrize("path", scenario_files(), ids=label)
def test_scenario_file_is_valid(path: Path) -> None:
    assert problems(path) == []


@pytest.mark.parametrize("stem", sorted(MALFORMED_REASONS))
def test_malformed_fixture_is_rejected_for_its_reason(stem: str) -> None:
    found = problems(FIXTURES / f"{stem}.yaml")

    assert any(MALFORMED_REASONS[stem] in problem for problem in found), found


def test_suite_has_a_file_per_case_and_names_its_rules() -> None:
    files = sorted(SUITE.glob("*.yaml"))
    names = [load(path)["name"] for path in files]

    assert len(files) >= 22
    assert len(set(names)) == len(names), "two scenarios share a name"
    for path, name in zip(files, names, strict=True):
        assert re.search(r"\(.*\b(L\d+|quarantine)\b.*\)", name), path.name


def test_readme_lists_every_suite_file() -> None:
    readme = (SUITE / "README.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"`([\w.-]+\.yaml)`", readme))

    assert listed == {path.name for path in SUITE.glob("*.yaml")}


def test_suite_files_open_with_a_comment_explaining_the_case() -> None:
    for path in SUITE.glob("*.yaml"):
        assert path.read_text(encoding="utf-8").startswith("#"), path.name


def test_out_of_order_steps_are_caught() -> None:
    document = load(SHARED / "move-in.yaml")
    document["steps"][0]["at"] = "2027-03-01T23:00"

    assert time_errors(document)


def test_offsets_inside_a_repeated_hour_are_ordered_as_instants() -> None:
    # 01:40 CDT comes before 01:10 CST on the fall-back day in Chicago.
    document = load(SHARED / "move-in.yaml")
    document["start"] = "2027-11-07T00:00"
    first, second = document["steps"][:2]
    first["at"], second["at"] = "2027-11-07T01:40-05:00", "2027-11-07T01:10-06:00"
    document["steps"] = [first, second]
    document.pop("end", None)

    assert time_errors(document) == []


def test_a_misspelt_person_in_an_expectation_is_caught() -> None:
    document = load(SHARED / "move-in.yaml")
    residents = document["expect"]["snapshots"]["end"]["units"]["20101"]["residents"]
    residents["50099"] = {"status": "active"}

    assert "snapshot end names unknown person 50099" in reference_errors(document)
