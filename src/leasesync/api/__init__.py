"""The HTTP face: operations endpoints, the staff REST API, and invite acceptance.

:func:`leasesync.api.app.create_app` builds the FastAPI application around one
:class:`~leasesync.api.app.Services`: the engine the process runs on, how to ask for
a sync (the job queue, or the embedded worker), the staff token and a readiness
check. Routes stay thin: they validate, call the engine's functions (which open their
own units of work, STYLE habit 13) and translate the engine's errors in one place,
:mod:`leasesync.api.errors`.

- :mod:`.operations` — ``/healthz``, ``/readyz``, ``/metrics``.
- :mod:`.staff` — ``/api/…``, bearer-token auth (:mod:`.auth`).
- :mod:`.invites` — the page an invite's link opens, with CSRF protection.
"""
