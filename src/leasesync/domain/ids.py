"""Identifier types that must not be mixed up.

PMS identifiers are opaque strings chosen by the vendor; leasesync keys units on the
PMS unit id and people on the PMS person id (SPEC L9), never on display numbers or
e-mail addresses.
"""

from typing import NewType

PmsUnitId = NewType("PmsUnitId", str)
PersonId = NewType("PersonId", str)
HouseholdId = NewType("HouseholdId", str)
LeaseId = NewType("LeaseId", str)
