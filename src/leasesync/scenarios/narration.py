"""Plain-language lines for a report's timeline, for people who never saw leasesync.

The report keeps machine words (``send_invite``, ``L5``); the demo and the CLI show
sentences built here from the same entries, with people named from the scenario's PMS
rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

Names = Mapping[str, str]
Phrase = Callable[[dict[str, Any], Names], str]


def people_names(scenario_steps: Iterable[Any]) -> dict[str, str]:
    """PMS person id → "First Last", from every ``pms`` step of a scenario."""
    names: dict[str, str] = {}
    for step in scenario_steps:
        if step.action != "pms":
            continue
        for row in step.value["residents"]:
            name = f"{row.get('firstname', '')} {row.get('lastname', '')}".strip()
            names[str(row["residentmemberid"])] = name or str(row["residentmemberid"])
    return names


def _who(entry: dict[str, Any], names: Names) -> str:
    person = entry.get("person")
    return names.get(person, person or "someone") if person else "someone"


def _group(ids: Iterable[str], names: Names) -> str:
    listed = [names.get(i, i) for i in ids]
    return " and ".join(listed) if listed else "nobody"


def _change(entry: dict[str, Any]) -> dict[str, Any]:
    change = entry.get("change")
    return change if isinstance(change, dict) else {}


PHRASES: dict[str, Phrase] = {
    "add_resident": lambda e, n: (
        f"{_who(e, n)} joins the home ({_change(e).get('status', '').replace('_', ' ')})"
    ),
    "change_status": lambda e, n: (
        f"{_who(e, n)} is now {_change(e).get('status', '').replace('_', ' ')}"
    ),
    "send_invite": lambda e, n: (
        f"invite e-mailed to {_group(_change(e).get('people', []), n)}"
        + (" (sent afresh)" if _change(e).get("round") == 2 else "")
    ),
    "accept_invite": lambda e, n: (
        f"{_group(_change(e).get('people', []), n)} accepted the invite"
    ),
    "grant_access": lambda e, n: (
        f"{_who(e, n)} can open {', '.join(_change(e).get('access', []))}"
    ),
    "revoke_access": lambda e, n: f"{_who(e, n)}'s door access revoked",
    "remove_resident": lambda e, n: f"{_who(e, n)} leaves the home",
    "reconfigure": lambda e, n: (
        f"devices asked for the {_change(e).get('devices', '').removeprefix('to_')} "
        "configuration"
    ),
    "reconfiguration_completed": lambda e, n: (
        f"devices completed the {_change(e).get('devices', '')} configuration"
    ),
    "reconfiguration_failing": lambda e, n: "device reconfiguration failed; will retry",
    "set_lifecycle": lambda e, n: f"unit is {_change(e).get('lifecycle', '')}".replace(
        "_", " "
    ),
    "set_installed": lambda e, n: "installation marked complete",
    "withdraw_invite": lambda e, n: "pending invite withdrawn",
    "expire_invite": lambda e, n: "invite expired unaccepted",
    "raise_alert": lambda e, n: f"alert for staff: {_change(e).get('alert', '')}",
    "flag_missing": lambda e, n: "unit flagged missing from the PMS",
    "update_unit": lambda e, n: "unit renamed in the PMS",
    "update_contact": lambda e, n: f"{_who(e, n)}'s contact details corrected",
    "set_paused": lambda e, n: "automation paused or resumed",
}


def narrate(entry: dict[str, Any], names: Names) -> str:
    """One sentence for one timeline entry."""
    phrase = PHRASES.get(entry["event"])
    if phrase is not None:
        return phrase(entry, names)
    if entry["event"].startswith("sync_"):
        outcome = entry["event"].removeprefix("sync_")
        return f"PMS sync {outcome}: {entry['detail']}"
    return f"{entry['event'].replace('_', ' ')}: {entry['detail']}"
