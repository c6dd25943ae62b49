"""A worker killed mid-turnover resumes on restart without repeating a side effect.

SPEC §7 and L13, issue #6's acceptance: a real ``leasesync worker`` process is
SIGKILLed while the invite of a turnover's new household is in the mail server's
hands (received, not yet acknowledged). A new worker takes the dead one's job over,
sends the invite again under the same Message-ID — which the receiving side drops
— and the turnover completes: one e-mail per invite, one device command per
transition.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from deployments import Deployment, deployment
from jobs_doubles import (
    WorkerProcess,
    invite_token,
    local_today,
    resident_row,
    unit_row,
    wait_until,
)

from leasesync.engine.completions import accept_invite, mark_installed

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

UNIT = "20101"
ANN, BOB = "ann@example.com", "bob@example.com"


def _ann(**changes: object) -> dict[str, object]:
    today = local_today()
    row = resident_row(
        person="50001",
        household="30001",
        unit=UNIT,
        email_address=ANN,
        move_in=today - timedelta(days=200),
    )
    return {**row, **changes}


def _bob() -> dict[str, object]:
    return resident_row(
        person="50002",
        household="30002",
        unit=UNIT,
        email_address=BOB,
        move_in=local_today(),
    )


def _resident_now(site: Deployment) -> bool:
    return bool(site.units()[UNIT]["devices"] == "resident")


def _move_in_ann(site: Deployment) -> None:
    site.link()
    mark_installed(site.stack.engine, site.property_id, UNIT, "installer")
    wait_until(lambda: bool(site.sink.to(ANN)), 20, "Ann's invite")
    accept_invite(site.stack.engine, invite_token(site.sink.to(ANN)[0]))
    wait_until(lambda: _resident_now(site), 20, "the resident configuration")


def _start_turnover(site: Deployment) -> None:
    """Ann moved out yesterday; Bob moves in today (L7, L8)."""
    yesterday = local_today() - timedelta(days=1)
    site.simulator.set_state(
        residents=[_ann(leasestatus="Former", moveoutdate=yesterday), _bob()]
    )
    site.sink.hold_replies_to(BOB)
    assert site.stack.queue is not None
    site.stack.queue.sync_property(site.property_id, "manual")


def test_a_worker_killed_while_mailing_resumes_without_repeating_anything(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with deployment(
        postgres_url, tmp_path, monkeypatch, units=[unit_row(UNIT)], residents=[_ann()]
    ) as site:
        first = WorkerProcess(site.environment, tmp_path / "first.log")
        try:
            _move_in_ann(site)
            _start_turnover(site)
            wait_until(lambda: bool(site.sink.to(BOB)), 30, "Bob's invite to arrive")
            first.kill()
        finally:
            first.stop()
        site.sink.release()

        second = WorkerProcess(site.environment, tmp_path / "second.log")
        try:
            wait_until(
                lambda: all(e.status == "done" for e in site.effects("invite_email")),
                30,
                "the interrupted invite to be delivered by the new worker",
            )
            accept_invite(site.stack.engine, invite_token(site.sink.to(BOB)[0]))
            wait_until(lambda: _resident_now(site), 20, "Bob's configuration")
        finally:
            second.stop()

        unit = site.units()[UNIT]
        assert unit["state"] == "occupied"
        assert set(unit["residents"]) == {"50002"}
        assert unit["residents"]["50002"]["status"] == "active"
        assert unit["residents"]["50002"]["access"] == ["unit", "common:lobby"]

        # The kill landed mid-send: Bob's invite reached the server twice, under one
        # Message-ID; counted as the receiver counts, each invite arrived once.
        assert len(site.sink.to(BOB)) == 2
        assert site.sink.distinct_per_address() == {ANN: 1, BOB: 1}

        # Three transitions (Ann's move-in, the move-out, Bob's move-in): three
        # commands, each taken by the devices once, all completed.
        commands = site.device_commands()
        assert [c.configuration for c in commands] == ["resident", "vacant", "resident"]
        assert all(c.status == "completed" for c in commands)
        assert sorted(site.fleet.answered) == sorted(
            c.idempotency_key for c in commands
        )
