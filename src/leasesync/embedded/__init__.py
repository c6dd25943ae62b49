"""What the embedded default bundles: a simulated RealPage property to run against.

``leasesync serve`` with no configuration serves :file:`maple_court.yaml` through
the RealPage simulator on loopback and links it on first start
(:mod:`leasesync.embedded.bundled`), so that a fresh clone shows a working property.
"""
