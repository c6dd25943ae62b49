"""The scenario report (``leasesync-report/1``) and the checking of expectations.

Everything in a report comes from what the run recorded — the database, the outbox —
read back after the run, with times in the property's zone, so that running the same
scenario twice gives byte-identical reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from leasesync.scenarios.running import ScenarioRun
from leasesync.store import models as m

REPORT_FORMAT = "leasesync-report/1"
OUTCOMES = {"completed": "completed", "pending": "pending"}


@dataclass(frozen=True, kw_only=True, slots=True)
class Expectation:
    path: str
    ok: bool
    expected: Any
    actual: Any

    def as_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "ok": self.ok,
            "expected": self.expected,
            "actual": self.actual,
        }


def build_report(run: ScenarioRun) -> dict[str, Any]:
    zone = run.scenario.zone

    def iso(value: datetime | None) -> str | None:
        return value.astimezone(zone).isoformat() if value else None

    with run.engine.transaction() as session:
        units = {u.id: u.pms_unit_id for u in session.scalars(select(m.Unit)).all()}
        emails = _emails(session, units, iso)
        commands = [
            {
                "at": iso(c.requested_at),
                "unit": units[c.unit_id],
                "configuration": c.configuration,
                "outcome": OUTCOMES.get(c.status, "failed"),
                "status": c.status,
                "attempt": c.attempt,
                "finished_at": iso(c.finished_at),
            }
            for c in session.scalars(
                select(m.DeviceCommand).order_by(m.DeviceCommand.id)
            )
        ]
        alerts = [
            {
                "at": iso(a.raised_at),
                "kind": a.kind,
                "unit": units.get(a.unit_id or 0),
                "message": a.message,
            }
            for a in session.scalars(select(m.Alert).order_by(m.Alert.id))
        ]
        timeline = _timeline(session, units, run, iso)
    report: dict[str, Any] = {
        "format": REPORT_FORMAT,
        "scenario": run.scenario.name,
        "snapshots": run.snapshots,
        "emails": emails,
        "device_commands": commands,
        "alerts": alerts,
        "timeline": timeline,
    }
    report["expectations"] = [e.as_json() for e in check(run.scenario.expect, report)]
    return report


def _emails(session: Any, units: dict[int, str], iso: Any) -> list[dict[str, Any]]:
    rows = session.execute(
        select(m.Effect.done_at, m.Invite.email, m.Invite.unit_id, m.Invite.round)
        .join(m.Invite, m.Invite.id == m.Effect.payload["invite_id"].as_integer())
        .where(
            m.Effect.kind == "invite_email",
            m.Effect.status == "done",
            m.Invite.status.is_not(None),
        )
        .order_by(m.Effect.done_at, m.Effect.id)
    ).all()
    return [
        {
            "at": iso(done),
            "to": email,
            "kind": "invite",
            "unit": units[unit_id],
            "round": round_,
        }
        for done, email, unit_id, round_ in rows
    ]


def _timeline(
    session: Any, units: dict[int, str], run: ScenarioRun, iso: Any
) -> list[dict[str, Any]]:
    entries: list[tuple[datetime, int, dict[str, Any]]] = []
    for event in session.scalars(select(m.AuditEvent).order_by(m.AuditEvent.id)):
        who = f"{event.pms_person_id}: " if event.pms_person_id else ""
        entries.append(
            (
                event.at,
                1,
                {
                    "at": iso(event.at),
                    "unit": units.get(event.unit_id or 0),
                    "event": event.event,
                    "rule": event.rule,
                    "detail": f"{who}{event.cause}",
                    "person": event.pms_person_id,
                    "change": event.after,
                },
            )
        )
    for sync in session.scalars(select(m.SyncRun).order_by(m.SyncRun.id)):
        changed = sync.units_changed
        detail = sync.detail or (
            f"{changed} unit{'s' if changed != 1 else ''} changed"
            if changed
            else "back to normal, nothing to change"
        )
        entries.append(
            (
                sync.started_at,
                0,
                {
                    "at": iso(sync.started_at),
                    "unit": None,
                    "event": f"sync_{sync.outcome}",
                    "rule": "L12",
                    "detail": f"{sync.trigger}: {detail}",
                },
            )
        )
    for staff in session.scalars(select(m.StaffAction).order_by(m.StaffAction.id)):
        entries.append(
            (
                staff.at,
                0,
                {
                    "at": iso(staff.at),
                    "unit": units.get(staff.unit_id or 0),
                    "event": staff.action,
                    "rule": "L15",
                    "detail": f"by {staff.actor}",
                },
            )
        )
    for extra in run.events:
        entries.append(
            (
                extra["at"],
                2,
                {
                    "at": iso(extra["at"]),
                    "unit": None,
                    "event": extra["event"],
                    "rule": "",
                    "detail": extra["detail"],
                },
            )
        )
    entries.sort(key=lambda entry: (entry[0], entry[1]))
    return [entry for _, _, entry in entries]


def check(expect: dict[str, Any], report: dict[str, Any]) -> list[Expectation]:
    """Every expectation of FORMAT.md, one result per compared value."""
    results: list[Expectation] = []
    for name, wanted in expect.get("snapshots", {}).items():
        actual = report["snapshots"].get(name)
        _compare(f"snapshots.{name}", wanted, actual, results)
    for address, count in expect.get("invites", {}).items():
        sent = sum(
            1
            for e in report["emails"]
            if e["kind"] == "invite" and e["to"].lower() == address.lower()
        )
        results.append(
            Expectation(
                path=f"invites.{address}", ok=sent == count, expected=count, actual=sent
            )
        )
    for unit, count in expect.get("reconfigurations", {}).items():
        sent = sum(1 for c in report["device_commands"] if c["unit"] == str(unit))
        results.append(
            Expectation(
                path=f"reconfigurations.{unit}",
                ok=sent == count,
                expected=count,
                actual=sent,
            )
        )
    kinds = [a["kind"] for a in report["alerts"]]
    for kind in expect.get("alerts", []):
        results.append(
            Expectation(
                path=f"alerts.{kind}",
                ok=kind in kinds,
                expected="raised",
                actual=kinds.count(kind),
            )
        )
    if expect.get("no_alerts"):
        results.append(
            Expectation(path="no_alerts", ok=not kinds, expected=[], actual=kinds)
        )
    return results


def _compare(path: str, wanted: Any, actual: Any, out: list[Expectation]) -> None:
    """Mappings key by key; lists and scalars exactly; ``null`` means absent (FORMAT.md).

    An expected ``null`` also holds for a key that is present with a null value
    (``email: null`` for a person without an address).
    """
    if isinstance(wanted, dict) and isinstance(actual, dict):
        for key, value in wanted.items():
            _compare(f"{path}.{key}", value, actual.get(str(key), _MISSING), out)
        return
    shown = "(absent)" if actual is _MISSING else actual
    if wanted is None:
        ok = actual is _MISSING or actual is None
    else:
        ok = actual is not _MISSING and _same(wanted, actual)
    out.append(Expectation(path=path, ok=ok, expected=wanted, actual=shown))


_MISSING: Any = object()


def _same(wanted: Any, actual: Any) -> bool:
    """Equal values; numbers compare by value, and a YAML scalar by its text."""
    if isinstance(wanted, list) and isinstance(actual, list):
        return len(wanted) == len(actual) and all(
            _same(w, a) for w, a in zip(wanted, actual, strict=True)
        )
    if isinstance(wanted, bool) or isinstance(actual, bool):
        return wanted is actual
    if isinstance(wanted, (int, float)) and isinstance(actual, (int, float)):
        return bool(wanted == actual)
    return str(wanted) == str(actual)
