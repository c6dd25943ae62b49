"""Gateways: the adapters that carry side effects to the outside world (SPEC §4, §5).

Each adapter implements one port of :mod:`leasesync.domain.ports` and nothing more.
The workers deliver every effect at least once; each adapter drops a repeated
idempotency key, or hands the key to a receiver that does (SPEC L13). Each module
also translates its protocol's failures, in one place, into
:class:`~leasesync.domain.errors.RetryLaterError` or
:class:`~leasesync.domain.errors.NeedsHumanError`.

- :mod:`.mail` — invites, written to an outbox folder (embedded default) or sent by
  SMTP, both from the same Jinja2 templates.
- :mod:`.devices` — a simulated device fleet for the embedded stack and the scenario
  harness, driven by a virtual clock; :mod:`.mqtt` — the production device gateway.
- :mod:`.doors` — a simulated access-control system and an HTTP adapter for a real
  one, plus the read-back that verifies a revoke.
"""
