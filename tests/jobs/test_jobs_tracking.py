"""Commit notes: the effects and instants a commit made, for the queue (habit 14)."""

from __future__ import annotations

from pathlib import Path

import pytest
from embedded_site import embedded_site
from sqlalchemy import select

from leasesync.engine.completions import mark_installed
from leasesync.jobs.tracking import CommitTracker
from leasesync.store import models as m


def test_a_commit_notes_each_new_effect_and_the_units_next_instant(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with embedded_site(tmp_path, monkeypatch) as site:
        engine = site.stack.engine
        tracker = CommitTracker(engine.sessions)

        mark_installed(engine, site.property_id, "30101", "installer")
        notes = tracker.drain()

        with engine.transaction() as session:
            pending = session.scalars(
                select(m.Effect).where(m.Effect.status == "pending")
            ).all()
            unit = session.scalars(
                select(m.Unit).where(m.Unit.pms_unit_id == "30101")
            ).one()
        # L5: marking 101 installed sends Ann's and Ben's held invites.
        assert sorted(e.kind for e in pending) == ["invite_email", "invite_email"]
        assert {n.effect_id for n in notes.effects} == {e.id for e in pending}
        assert {(n.unit_id, n.due_at) for n in notes.units} == {
            (unit.id, unit.next_due_at)
        }
        assert not tracker.drain()


def test_a_rolled_back_unit_of_work_leaves_no_note(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with embedded_site(tmp_path, monkeypatch) as site:
        engine = site.stack.engine
        tracker = CommitTracker(engine.sessions)

        with pytest.raises(RuntimeError), engine.transaction() as session:
            unit = session.scalars(select(m.Unit)).first()
            assert unit is not None
            session.add(
                m.Effect(
                    property_id=site.property_id,
                    unit_id=unit.id,
                    kind="invite_email",
                    idempotency_key="never-committed",
                    payload={},
                    created_at=site.clock.now(),
                    available_at=site.clock.now(),
                )
            )
            session.flush()
            raise RuntimeError("the unit of work fails after its flush")

        assert not tracker.drain()
