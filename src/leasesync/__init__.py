"""leasesync keeps a smart-apartment platform in step with a property management system.

The top-level packages follow the pipeline: ``connectors`` fetch a PMS snapshot,
``domain`` decides what it means (pure), ``engine`` applies those decisions through
``store``, ``jobs`` carries the side effects out through ``gateways``, and ``api``,
``cli`` and ``scenarios`` are the faces.
"""

__version__ = "0.1.0"
