"""Background work: carrying the engine's decisions out, durably (SPEC §4, §5).

The engine decides inside units of work and writes what must happen as rows — the
effects outbox and each unit's next due instant. This package makes it happen, in
one of two ways that run the same functions (:mod:`.work`):

- **procrastinate on PostgreSQL** (production). After each commit,
  :mod:`.tracking` notes the new effects and instants and :mod:`.queueing` defers a
  job for each, under locks that keep one property's sync and one unit's work from
  ever running twice at once; :mod:`.tasks` are those jobs, and :mod:`.worker` runs
  them in ``leasesync worker`` processes, retrying the jobs of a worker that died.
  A periodic task sweeps the store every minute for work a lost enqueue missed and
  for polls that are due.
- **the embedded worker** (:mod:`.embedded`): one thread of ``leasesync serve``
  that runs the same work on SQLite, for the embedded default.

procrastinate's own tables are not part of leasesync's Alembic migrations: they
belong to procrastinate's version, not ours. :func:`.queueing.ensure_queue_schema`
applies them when missing — ``leasesync worker --init`` does only that, and every
worker and server does it at start.

:mod:`.metrics` counts what the work did, for ``GET /metrics``.
"""
