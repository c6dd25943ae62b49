"""procrastinate on PostgreSQL, in-process: what is deferred, under which locks.

The worker here is procrastinate's own, run until the queue is empty
(``wait=False``) with leasesync's tasks and a context of the test's stack.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from embedded_site import EmbeddedSite, embedded_site
from psycopg.rows import dict_row
from sqlalchemy import select

from leasesync.engine.completions import mark_installed
from leasesync.jobs import work
from leasesync.jobs.queueing import ensure_queue_schema
from leasesync.jobs.tasks import CONTEXT_KEY, WorkContext, build_app
from leasesync.jobs.worker import rescue_stalled_jobs
from leasesync.store import models as m

pytestmark = pytest.mark.postgres


@pytest.fixture
def site(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[EmbeddedSite]:
    from leasesync.store import db

    db.upgrade(postgres_url)
    ensure_queue_schema(_conninfo(postgres_url))
    environment = {
        "LEASESYNC_WORKER": "procrastinate",
        "LEASESYNC_DATABASE_URL": postgres_url,
    }
    with embedded_site(tmp_path, monkeypatch, environment=environment) as found:
        yield found


def _conninfo(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def _jobs(site: EmbeddedSite, where: str = "TRUE") -> list[dict[str, Any]]:
    conninfo = site.settings.procrastinate_conninfo
    assert conninfo is not None
    with psycopg.connect(conninfo, row_factory=dict_row) as connection:
        return connection.execute(
            "SELECT id, task_name, lock, queueing_lock, args, status, scheduled_at "
            f"FROM procrastinate_jobs WHERE {where} ORDER BY id"
        ).fetchall()


def _run_worker(site: EmbeddedSite) -> None:
    conninfo = site.settings.procrastinate_conninfo
    assert conninfo is not None and site.stack.queue is not None
    app = build_app(conninfo)
    context = WorkContext(engine=site.stack.engine, queue=site.stack.queue)

    async def run() -> None:
        async with app.open_async():
            await app.run_worker_async(
                wait=False,
                additional_context={CONTEXT_KEY: context},
                install_signal_handlers=False,
                listen_notify=False,
            )

    asyncio.run(run())


def test_a_decision_defers_delivery_jobs_under_the_right_locks(
    site: EmbeddedSite,
) -> None:
    mark_installed(site.stack.engine, site.property_id, "30101", "installer")

    with site.stack.engine.transaction() as session:
        unit = session.scalars(
            select(m.Unit).where(m.Unit.pms_unit_id == "30101")
        ).one()
        effects = session.scalars(select(m.Effect).order_by(m.Effect.id)).all()
    deliveries = _jobs(site, "task_name = 'leasesync.deliver_effect'")
    # Invite e-mails touch nothing of the unit: no lock, one job per effect.
    assert [(j["args"]["effect_id"], j["lock"]) for j in deliveries] == [
        (e.id, None) for e in effects
    ]
    assert {j["queueing_lock"] for j in deliveries} == {
        f"effect:{e.id}" for e in effects
    }
    # The unit's next instant (its invites' expiry) is a lock-free wake-up.
    wakes = _jobs(site, "task_name = 'leasesync.wake'")
    assert [(j["args"], j["lock"], j["scheduled_at"]) for j in wakes] == [
        ({"target": "unit", "target_id": unit.id}, None, unit.next_due_at)
    ]


def test_a_property_has_at_most_one_sync_waiting(site: EmbeddedSite) -> None:
    queue = site.stack.queue
    assert queue is not None

    first = queue.sync_property(site.property_id, "manual")
    second = queue.sync_property(site.property_id, "poll")

    assert (first, second) == (True, False)
    syncs = _jobs(site, "task_name = 'leasesync.sync_property'")
    assert [(j["lock"], j["queueing_lock"]) for j in syncs] == [
        (f"property:{site.property_id}", f"sync:{site.property_id}")
    ]


def test_the_sweep_finds_effects_whose_jobs_were_lost(site: EmbeddedSite) -> None:
    queue = site.stack.queue
    assert queue is not None
    mark_installed(site.stack.engine, site.property_id, "30101", "installer")
    with psycopg.connect(site.settings.procrastinate_conninfo or "") as connection:
        connection.execute("DELETE FROM procrastinate_jobs")

    first = work.sweep(site.stack.engine, queue, poll_minute=None)
    again = work.sweep(site.stack.engine, queue, poll_minute=None)

    assert first == work.SweepResult(effects=2)
    assert again == work.SweepResult()
    assert len(_jobs(site, "task_name = 'leasesync.deliver_effect'")) == 2


def test_jobs_deliver_the_effects_and_end_cleanly_when_their_row_is_gone(
    site: EmbeddedSite,
) -> None:
    queue = site.stack.queue
    assert queue is not None
    mark_installed(site.stack.engine, site.property_id, "30101", "installer")
    queue.deliver_effect(999_999, None, "invite_email")
    queue.replan_unit(999_999)
    queue.sync_property(999_999)

    _run_worker(site)

    statuses = {j["status"] for j in _jobs(site, "task_name <> 'leasesync.wake'")}
    assert statuses == {"succeeded"}
    with site.stack.engine.transaction() as session:
        sent = session.scalars(select(m.Effect.status)).all()
    assert sent == ["done", "done"]
    outbox = sorted(p.name for p in site.settings.outbox_dir.glob("*.eml"))
    assert len(outbox) == 2


def test_the_jobs_of_a_silent_worker_are_retried(site: EmbeddedSite) -> None:
    conninfo = site.settings.procrastinate_conninfo
    assert conninfo is not None and site.stack.queue is not None
    site.stack.queue.replan_unit(1)
    app = build_app(conninfo)

    async def take_and_go_silent() -> int:
        async with app.open_async():
            manager = app.job_manager
            worker_id = await manager.register_worker()
            job = await manager.fetch_job(queues=None, worker_id=worker_id)
            assert job is not None and job.id is not None
            return job.id

    job_id = asyncio.run(take_and_go_silent())
    with psycopg.connect(conninfo) as connection:
        old = datetime.now(UTC) - timedelta(minutes=5)
        connection.execute(
            "UPDATE procrastinate_workers SET last_heartbeat = %s", (old,)
        )

    async def rescue() -> int:
        async with app.open_async():
            return await rescue_stalled_jobs(app, stalled_after=30)

    assert _jobs(site, f"id = {job_id}")[0]["status"] == "doing"
    assert asyncio.run(rescue()) == 1
    assert _jobs(site, f"id = {job_id}")[0]["status"] == "todo"


def test_polls_spread_properties_over_their_interval(site: EmbeddedSite) -> None:
    # Property 1 polls every 15 minutes: in minutes m with (m + 1) % 15 == 0.
    due = [minute for minute in range(60) if work.polls_due(site.stack.engine, minute)]

    assert due == [14, 29, 44, 59]


def test_a_sync_waits_while_another_process_syncs_the_property(
    site: EmbeddedSite,
) -> None:
    conninfo = site.settings.procrastinate_conninfo
    assert conninfo is not None
    before = site.simulator.request_count
    with psycopg.connect(conninfo, autocommit=True) as other:
        # Another process (a `leasesync sync`, a worker) is syncing property 1.
        other.execute(
            "SELECT pg_advisory_lock(%s, %s)", (work.SYNC_LOCK_CLASS, site.property_id)
        )
        syncing = threading.Thread(
            target=work.run_sync, args=(site.stack.engine, site.property_id, "manual")
        )
        syncing.start()
        syncing.join(0.5)
        waited = syncing.is_alive() and site.simulator.request_count == before
        other.execute(
            "SELECT pg_advisory_unlock(%s, %s)",
            (work.SYNC_LOCK_CLASS, site.property_id),
        )
    syncing.join(10)

    assert waited
    assert not syncing.is_alive()
    assert site.simulator.request_count - before == 4  # then it ran, once
