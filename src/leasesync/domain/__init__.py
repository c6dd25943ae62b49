"""The pure core of leasesync: the PMS-neutral model, the lifecycle rules and the planner.

Nothing in this package performs I/O; an import-linter contract keeps it that way.
"""
