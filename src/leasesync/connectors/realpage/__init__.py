"""RealPage OneSite through the RealPage Exchange (RPX) SOAP gateway.

``client`` speaks the wire, ``parsing`` reads answers into rows, ``mapping``
turns rows into the neutral snapshot, ``errors`` decides what each failure
means, and ``connector`` puts them together as a ``PmsConnector``. RealPage's
words stay inside this package.
"""

from leasesync.connectors.realpage.connector import RealPageConnector

__all__ = ["RealPageConnector"]
