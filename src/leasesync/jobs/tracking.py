"""Noticing, at commit, which effects and unit instants need a job (STYLE habit 14).

The engine writes effects rows and each unit's next due instant inside its units of
work; it does not know about job queues. :class:`CommitTracker` watches the sessions
of one :class:`~leasesync.engine.runtime.Engine` with SQLAlchemy's session events: a
flush notes every pending effect it inserted or postponed and every unit whose
``next_due_at`` it changed, a commit moves those notes to the committing thread, and
a rollback drops them. The engine's ``on_commit`` hook, which runs on that same
thread right after the commit, then :meth:`~CommitTracker.drain`\\ s them and hands
them to the queue.

Notes are hints, never the truth: a job reloads its row and does nothing when there
is nothing to do, and the periodic sweep finds whatever a note missed (a crash
between commit and enqueue, a queue that was down).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session, sessionmaker

from leasesync.store import models as m

_SESSION_KEY = "leasesync.commit_notes"


@dataclass(frozen=True, kw_only=True, slots=True)
class EffectNote:
    """An effect that is pending and becomes deliverable at ``available_at``."""

    effect_id: int
    unit_id: int | None
    kind: str
    available_at: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class UnitNote:
    """A unit whose answer changes at ``due_at`` (SPEC §4: time is an input)."""

    unit_id: int
    due_at: datetime


@dataclass(kw_only=True, slots=True)
class CommitNotes:
    effects: list[EffectNote] = field(default_factory=list)
    units: list[UnitNote] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.effects or self.units)

    def extend(self, other: CommitNotes) -> None:
        self.effects.extend(other.effects)
        self.units.extend(other.units)


class CommitTracker:
    """Collects :class:`CommitNotes` from the sessions of one sessionmaker."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._committed = threading.local()
        event.listen(sessions, "after_flush", self._flushed)
        event.listen(sessions, "after_commit", self._committed_session)
        event.listen(sessions, "after_rollback", self._rolled_back)

    def drain(self) -> CommitNotes:
        """The notes of this thread's commits since the last drain."""
        notes: CommitNotes | None = getattr(self._committed, "notes", None)
        self._committed.notes = CommitNotes()
        return notes or CommitNotes()

    def _flushed(self, session: Session, _context: Any) -> None:
        # NB: in after_flush the session still lists what the flush wrote as new or
        # dirty, and attribute histories are not yet reset.
        notes = session.info.setdefault(_SESSION_KEY, CommitNotes())
        for obj in session.new:
            _note(notes, obj, new=True)
        for obj in session.dirty:
            _note(notes, obj, new=False)

    def _committed_session(self, session: Session) -> None:
        notes: CommitNotes | None = session.info.pop(_SESSION_KEY, None)
        if not notes:
            return
        pending: CommitNotes | None = getattr(self._committed, "notes", None)
        if pending is None:
            self._committed.notes = pending = CommitNotes()
        pending.extend(notes)

    def _rolled_back(self, session: Session) -> None:
        session.info.pop(_SESSION_KEY, None)


def _note(notes: CommitNotes, obj: object, *, new: bool) -> None:
    if isinstance(obj, m.Effect) and (new or _changed(obj, "available_at")):
        _note_effect(notes, obj)
    elif isinstance(obj, m.Unit) and (new or _changed(obj, "next_due_at")):
        _note_unit(notes, obj)


def _note_effect(notes: CommitNotes, effect: m.Effect) -> None:
    if effect.status == "pending" and effect.id is not None:
        notes.effects.append(
            EffectNote(
                effect_id=effect.id,
                unit_id=effect.unit_id,
                kind=effect.kind,
                available_at=effect.available_at,
            )
        )


def _note_unit(notes: CommitNotes, unit: m.Unit) -> None:
    due = unit.next_due_at
    if due is not None and unit.id is not None:
        notes.units.append(UnitNote(unit_id=unit.id, due_at=due))


def _changed(obj: object, attribute: str) -> bool:
    return bool(inspect(obj).attrs[attribute].history.has_changes())
