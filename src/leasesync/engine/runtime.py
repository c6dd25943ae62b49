"""The engine's wiring: database sessions, clock, PMS connectors and gateways.

An :class:`Engine` is built once per process — by the embedded stack, the scenario
harness, a worker or the API — and handed to the engine's functions. It holds no
state of its own beyond its ports; everything durable is in the database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from leasesync.domain.ports import (
    Clock,
    DeviceGateway,
    DoorGateway,
    MailGateway,
    PmsConnector,
)
from leasesync.engine.tokens import InviteTokens
from leasesync.store import models as m

ConnectorFactory = Callable[[m.Property], PmsConnector]


@dataclass(kw_only=True)
class Engine:
    """Everything the engine's functions need to reach the world.

    ``on_commit`` hooks learn of new effects and due units after each commit, so a
    job queue can be told at once; a sweep finds anything they miss.
    """

    sessions: sessionmaker[Session]
    clock: Clock
    connectors: ConnectorFactory
    mail: MailGateway
    devices: DeviceGateway
    doors: DoorGateway
    tokens: InviteTokens
    base_url: str = "http://127.0.0.1:8000"
    verify_state: bool = False
    on_commit: list[Callable[[], None]] = field(default_factory=list)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: commit once on success, roll back on any error."""
        with self.sessions.begin() as session:
            yield session
        for hook in self.on_commit:
            hook()

    def accept_url(self, token: str) -> str:
        return f"{self.base_url.rstrip('/')}/invites/accept?token={token}"
