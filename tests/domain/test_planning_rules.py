"""The planner, rule by rule (SPEC L1, L3–L9, L11, L13): one table per rule.

Each case gives PMS facts and a platform state, plans at a fixed instant, and checks
the actions the SPEC asks for — their types, order, rule and the resulting state —
and that planning the result again yields nothing (L13). The property lives in
America/Chicago with common areas lobby and gym (see ``planning_builders``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from planning_builders import (
    DOORS,
    NOW,
    SETTINGS,
    apply,
    days,
    facts,
    invite,
    kinds,
    local,
    member,
    of_type,
    plan,
    resident,
    state,
    steps,
)

from leasesync.domain.ids import PersonId
from leasesync.domain.planning import (
    RETRY_CAP,
    UnitFacts,
    accept_invite,
    device_report,
    plan_missing_unit,
    retry_delay,
)
from leasesync.domain.plans import (
    AcceptInvite,
    AddResident,
    FlagMissing,
    GrantAccess,
    RaiseAlert,
    ReconfigurationFailing,
    Reconfigure,
    RemoveResident,
    RevokeAccess,
    SendInvite,
    SetInstalled,
    UnitPlan,
    UpdateUnit,
    WithdrawInvite,
)
from leasesync.domain.platform import (
    Devices,
    DeviceState,
    Lifecycle,
    ResidentStatus,
    UnitState,
)
from leasesync.domain.settings import PropertySettings
from leasesync.domain.snapshots import Membership, OccupancyStatus, Role

ACTIVE, INVITED = ResidentStatus.ACTIVE, ResidentStatus.INVITED
HELD, UNINVITABLE = ResidentStatus.INVITE_HELD, ResidentStatus.UNINVITABLE
WAITING = ResidentStatus.WAITING
PAST, CANCELLED = OccupancyStatus.PAST, OccupancyStatus.CANCELLED
WEEK_LATER = NOW + timedelta(days=7)


def left(person: str, **fields: Any) -> Membership:
    """``person`` moved out yesterday: no longer a current occupant now."""
    return member(person, status=PAST, move_out=days(-1), **fields)


def settled(unit_facts: UnitFacts, before: UnitState, now: datetime = NOW) -> UnitPlan:
    """Plan, and check L13 on the way: planning the result again yields nothing."""
    first = plan(unit_facts, before, now)
    again = plan(unit_facts, first.state, now)
    assert again.actions == (), f"L13: a second plan did {kinds(again)}"
    return first


def statuses(unit: UnitState) -> dict[str, ResidentStatus]:
    return {r.person_id: r.status for r in unit.residents}


def access(unit: UnitState) -> dict[str, tuple[str, ...]]:
    return {r.person_id: r.access for r in unit.residents}


def active_home(*people: str, devices: Devices = Devices.RESIDENT) -> UnitState:
    """An occupied unit whose ``people`` accepted and hold every door."""
    return state(*(resident(p) for p in people), devices=devices)


# --- L1 Link ------------------------------------------------------------------------


def test_L1_a_renamed_unit_keeps_its_identity_and_residents() -> None:
    before = active_home("Ann")

    result = settled(facts(member("Ann"), number="101B"), before)

    assert steps(result) == [("update_unit", "L1")]
    assert of_type(result, UpdateUnit)[0].number == "101B"
    assert result.state.number == "101B"
    assert result.state.residents == before.residents


def test_L1_a_missing_unit_is_flagged_with_an_alert_and_keeps_everything() -> None:
    before = active_home("Ann", "Ben")

    result = plan_missing_unit(before)
    again = plan_missing_unit(result.state)

    assert kinds(result.actions) == ["flag_missing", "raise_alert"]
    assert all(a.rule == "L1" for a in result.actions)
    assert of_type(result, FlagMissing)[0].missing is True
    assert of_type(result, RaiseAlert)[0].kind == "unit_missing"
    assert result.state == replace(before, missing=True)
    assert again.actions == ()


def test_L1_a_missing_unit_listed_again_is_unflagged_without_other_change() -> None:
    before = replace(active_home("Ann"), missing=True)

    result = settled(facts(member("Ann")), before)

    assert steps(result.actions) == [("flag_missing", "L1")]
    assert result.state == replace(before, missing=False)


# --- L3 Move-in -------------------------------------------------------------------

L3_MOVE_INS = [
    pytest.param(
        [member("Ann")], {"Ann": INVITED}, ["ann@example.com"], id="L3-adult-invited"
    ),
    pytest.param(
        [member("Ann"), member("Kid", role=Role.MINOR)],
        {"Ann": INVITED, "Kid": UNINVITABLE},
        ["ann@example.com"],
        id="L3-minor-associated-not-invited",
    ),
    pytest.param(
        [member("Ann", email=None), member("Bo", email="   ")],
        {"Ann": UNINVITABLE, "Bo": UNINVITABLE},
        [],
        id="L3-no-email-associated-not-invited",
    ),
    pytest.param(
        [member("Ann"), member("Gus", role=Role.GUARANTOR)],
        {"Ann": INVITED},
        ["ann@example.com"],
        id="L3-guarantor-never-associated",
    ),
    pytest.param(
        [member("Ann"), member("Ben", role=Role.OCCUPANT)],
        {"Ann": INVITED, "Ben": INVITED},
        ["ann@example.com", "ben@example.com"],
        id="L3-each-adult-invited-once",
    ),
    pytest.param(
        [member("Ann", status=OccupancyStatus.FUTURE)],
        {},
        [],
        id="L3-future-no-move-in",
    ),
    pytest.param(
        [member("Ann", move_in=days(3))], {}, [], id="L3-move-in-date-not-reached"
    ),
]


@pytest.mark.parametrize(("members", "expected", "invited"), L3_MOVE_INS)
def test_L3_move_in_associates_occupants_and_invites_adults_with_email(
    members: list[Membership], expected: dict[str, ResidentStatus], invited: list[str]
) -> None:
    result = settled(facts(*members), state())

    assert statuses(result.state) == expected
    sends = of_type(result, SendInvite)
    assert [s.email for s in sends] == invited
    assert all(s.rule == "L3" and s.round == 1 for s in sends)
    assert all(s.expires_at == NOW + timedelta(days=7) for s in sends)
    assert {a.rule for a in of_type(result, AddResident)} <= {"L3"}
    assert of_type(result, GrantAccess) == [] and of_type(result, Reconfigure) == []
    assert all(r.access == () for r in result.state.residents)


def test_L3_invite_expiry_resends_once_then_alerts_staff() -> None:
    invited = settled(facts(member("Ann")), state()).state

    resent = settled(facts(member("Ann")), invited, WEEK_LATER)
    expired = settled(
        facts(member("Ann")), resent.state, WEEK_LATER + timedelta(days=7)
    )
    later = settled(facts(member("Ann")), expired.state, NOW + timedelta(days=60))

    send = of_type(resent, SendInvite)
    assert [(s.rule, s.email, s.round) for s in send] == [("L3", "ann@example.com", 2)]
    assert send[0].expires_at == WEEK_LATER + timedelta(days=7)
    assert [a.kind for a in of_type(resent, RaiseAlert)] == []
    assert of_type(expired, SendInvite) == []
    assert [(a.rule, a.kind) for a in of_type(expired, RaiseAlert)] == [
        ("L3", "invite_expired")
    ]
    assert later.actions == ()
    assert statuses(later.state) == {"Ann": INVITED}


def test_L3_invite_expiry_follows_invite_expiry_days() -> None:
    short = PropertySettings(timezone="America/Chicago", invite_expiry_days=2)
    first = plan(facts(member("Ann")), state(), NOW, short)

    before = plan(
        facts(member("Ann")), first.state, NOW + timedelta(days=2, seconds=-1), short
    )
    at = plan(facts(member("Ann")), first.state, NOW + timedelta(days=2), short)

    assert of_type(first, SendInvite)[0].expires_at == NOW + timedelta(days=2)
    assert first.next_due == NOW + timedelta(days=2)
    assert before.actions == ()
    assert [s.round for s in of_type(at, SendInvite)] == [2]


# --- L4 Acceptance ------------------------------------------------------------------


def test_L4_acceptance_grants_unit_then_common_areas_and_reconfigures_once() -> None:
    invited = settled(facts(member("Ann"), member("Ben")), state()).state

    accepted = apply(invited, accept_invite(invited, "ann@example.com"))
    first = settled(facts(member("Ann"), member("Ben")), accepted)
    second_in = apply(first.state, accept_invite(first.state, "ben@example.com"))
    second = settled(facts(member("Ann"), member("Ben")), second_in)

    assert steps(first.actions[:2]) == [
        ("grant_access", "L4"),
        ("reconfigure", "L4"),
    ]
    assert of_type(first, GrantAccess)[0].doors == DOORS
    assert [r.target for r in of_type(first, Reconfigure)] == [Devices.RESIDENT]
    assert access(first.state) == {"Ann": DOORS, "Ben": ()}
    assert first.state.devices.configuration is Devices.TO_RESIDENT
    assert [(g.person, g.doors) for g in of_type(second, GrantAccess)] == [
        ("Ben", DOORS)
    ]
    assert of_type(second, Reconfigure) == []


def test_L4_no_reconfiguration_when_the_devices_are_already_resident() -> None:
    before = state(
        resident("Ann"), resident("Ben", status=INVITED), devices=Devices.RESIDENT
    )
    before = replace(
        before, invites=(invite("ben@example.com", expires_at=WEEK_LATER),)
    )

    after = apply(before, accept_invite(before, "ben@example.com"))
    result = settled(facts(member("Ann"), member("Ben")), after)

    assert kinds(result.actions) == ["grant_access"]
    assert result.state.devices.configuration is Devices.RESIDENT


def test_L4_accepting_completes_the_resident_configuration_as_occupied() -> None:
    invited = settled(facts(member("Ann")), state()).state
    accepted = settled(
        facts(member("Ann")), apply(invited, accept_invite(invited, "ann@example.com"))
    )

    done = apply(accepted.state, device_report(accepted.state, True, NOW))

    assert accepted.state.lifecycle is Lifecycle.MOVING_IN
    result = settled(facts(member("Ann")), done)
    assert result.state.devices.configuration is Devices.RESIDENT
    assert result.state.lifecycle is Lifecycle.OCCUPIED


# --- L5 Installation gate -----------------------------------------------------------


def test_L5_invites_are_held_until_installed_then_sent_without_a_pms_change() -> None:
    held = settled(facts(member("Ann"), member("Ben")), state(installed=False))
    installed = apply(held.state, [SetInstalled(rule="L5", cause="t", installed=True)])

    released = settled(facts(member("Ann"), member("Ben")), installed)

    assert of_type(held, SendInvite) == []
    assert statuses(held.state) == {"Ann": HELD, "Ben": HELD}
    assert [(s.rule, s.email) for s in of_type(released, SendInvite)] == [
        ("L5", "ann@example.com"),
        ("L5", "ben@example.com"),
    ]
    assert statuses(released.state) == {"Ann": INVITED, "Ben": INVITED}


# --- L6 Roommate changes ------------------------------------------------------------


def test_L6_a_roommate_removed_loses_everything_without_a_move_out() -> None:
    before = active_home("Ann", "Ben")

    result = settled(facts(member("Ann"), left("Ben")), before)

    assert steps(result.actions) == [
        ("revoke_access", "L6"),
        ("remove_resident", "L6"),
    ]
    assert of_type(result, RevokeAccess)[0].doors == DOORS
    assert of_type(result, RevokeAccess)[0].person == "Ben"
    assert access(result.state) == {"Ann": DOORS}
    assert result.state.devices.configuration is Devices.RESIDENT
    assert result.state.lifecycle is Lifecycle.OCCUPIED


def test_L6_a_roommate_added_is_invited_without_reconfiguration() -> None:
    before = active_home("Ann")

    result = settled(facts(member("Ann"), member("Ned", household="H1")), before)

    assert steps(result.actions) == [
        ("add_resident", "L6"),
        ("send_invite", "L6"),
    ]
    assert statuses(result.state) == {"Ann": ACTIVE, "Ned": INVITED}
    assert result.state.devices == before.devices


def test_L6_a_removed_roommate_s_pending_invite_is_cancelled() -> None:
    before = replace(
        active_home("Ann"),
        residents=(resident("Ann"), resident("Ben", status=INVITED)),
        invites=(invite("ben@example.com", expires_at=WEEK_LATER),),
    )

    result = settled(facts(member("Ann"), left("Ben")), before)

    assert steps(result.actions) == [
        ("withdraw_invite", "L6"),
        ("remove_resident", "L6"),
    ]
    assert result.state.invites == ()


def test_L6_a_removed_parent_s_invite_is_cancelled_even_if_a_minor_shares_it() -> None:
    before = replace(
        active_home("Ann"),
        residents=(
            resident("Ann"),
            resident("Pat", status=INVITED, email="pat@example.com"),
            resident(
                "Kid", status=UNINVITABLE, role=Role.MINOR, email="pat@example.com"
            ),
        ),
        invites=(invite("pat@example.com", expires_at=WEEK_LATER),),
    )
    unit_facts = facts(
        member("Ann"),
        left("Pat"),
        member("Kid", role=Role.MINOR, email="pat@example.com"),
    )

    result = plan(unit_facts, before)
    expiry = plan(unit_facts, result.state, WEEK_LATER)

    assert [(a.event, a.person_id) for a in result.actions] == [
        ("withdraw_invite", None),
        ("remove_resident", "Pat"),
    ]
    assert result.state.invites == ()
    assert of_type(expiry, RaiseAlert) == []


# --- L7 Move-out --------------------------------------------------------------------


def test_L7_move_out_revokes_removes_then_reconfigures_vacant() -> None:
    before = active_home("Ann", "Ben")

    result = settled(facts(left("Ann"), left("Ben")), before)

    assert steps(result.actions[:-1]) == [
        ("revoke_access", "L7"),
        ("remove_resident", "L7"),
        ("revoke_access", "L7"),
        ("remove_resident", "L7"),
        ("reconfigure", "L7"),
    ]
    assert of_type(result, Reconfigure)[0].target is Devices.VACANT
    assert result.state.residents == ()
    assert result.state.devices.configuration is Devices.TO_VACANT
    assert result.state.lifecycle is Lifecycle.MOVING_OUT


def test_L7_move_out_skips_the_reconfiguration_when_devices_are_vacant() -> None:
    """Nobody ever accepted, so the devices never left the vacant configuration."""
    before = state(resident("Ann", status=INVITED), devices=Devices.VACANT)
    before = replace(
        before, invites=(invite("ann@example.com", expires_at=WEEK_LATER),)
    )

    result = settled(facts(left("Ann")), before)

    assert steps(result.actions) == [
        ("withdraw_invite", "L7"),
        ("remove_resident", "L7"),
        ("set_lifecycle", "L7"),
    ]
    assert result.state.residents == () and result.state.invites == ()
    assert result.state.devices.configuration is Devices.VACANT
    assert result.state.lifecycle is Lifecycle.VACANT


def test_L7_no_move_out_while_a_minor_of_the_home_still_lives_there() -> None:
    before = state(
        resident("Ann"),
        resident("Kid", status=UNINVITABLE, role=Role.MINOR),
        devices=Devices.RESIDENT,
    )

    result = settled(facts(left("Ann"), member("Kid", role=Role.MINOR)), before)

    assert [a.rule for a in result.actions] == ["L6", "L6"]
    assert of_type(result, Reconfigure) == []


def test_L7_a_move_out_on_notice_happens_only_at_the_move_out_time() -> None:
    before = active_home("Ann")
    leaving = facts(member("Ann", status=PAST, move_out=days(0)))
    end_of_day = local(days(0), 23, 59)

    today = settled(leaving, before)
    tonight = settled(leaving, today.state, end_of_day)

    assert today.actions == ()
    assert today.next_due == end_of_day
    assert [type(a) for a in of_type(tonight, RemoveResident)] == [RemoveResident]


# --- L8 Turnover order --------------------------------------------------------------


def turnover_facts() -> UnitFacts:
    return facts(
        left("Ann"), member("Zoe", household="H2"), member("Yan", household="H2")
    )


def test_L8_newcomers_wait_for_the_vacant_configuration() -> None:
    result = settled(turnover_facts(), active_home("Ann"))

    assert of_type(result, SendInvite) == []
    assert statuses(result.state) == {"Zoe": WAITING, "Yan": WAITING}
    assert {a.rule for a in of_type(result, AddResident)} == {"L8"}
    assert result.state.devices.configuration is Devices.TO_VACANT
    assert result.state.lifecycle is Lifecycle.MOVING_OUT


def test_L8_people_who_arrive_or_leave_during_the_turnover_keep_waiting() -> None:
    turning = settled(turnover_facts(), active_home("Ann")).state
    changed = facts(
        left("Ann"),
        member("Zoe", household="H2"),
        member("Yan", household="H2", status=PAST, move_out=days(-1)),
        member("Xia", household="H2"),
    )

    result = settled(changed, turning, NOW + timedelta(minutes=10))

    assert statuses(result.state) == {"Zoe": WAITING, "Xia": WAITING}
    assert [r.person for r in of_type(result, RemoveResident)] == ["Yan"]
    assert of_type(result, SendInvite) == [] and of_type(result, Reconfigure) == []
    assert result.state.devices.configuration is Devices.TO_VACANT


def test_L8_the_move_in_starts_once_the_vacant_configuration_completes() -> None:
    turning = settled(turnover_facts(), active_home("Ann")).state

    done = apply(turning, device_report(turning, True, NOW + timedelta(minutes=5)))
    result = settled(turnover_facts(), done, NOW + timedelta(minutes=5))

    assert done.devices.configuration is Devices.VACANT
    assert statuses(result.state) == {"Zoe": INVITED, "Yan": INVITED}
    assert [s.email for s in of_type(result, SendInvite)] == [
        "zoe@example.com",
        "yan@example.com",
    ]
    assert of_type(result, Reconfigure) == []


def test_L8_a_failed_vacant_configuration_alerts_once_and_retries() -> None:
    turning = settled(turnover_facts(), active_home("Ann")).state
    failed_at = NOW + timedelta(minutes=5)

    failure = device_report(turning, False, failed_at, "lock offline")
    failing = apply(turning, failure)
    retry_at = of_type(failure, ReconfigurationFailing)[0].retry_at
    early = settled(turnover_facts(), failing, retry_at - timedelta(seconds=1))
    retried = settled(turnover_facts(), failing, retry_at)
    second = device_report(retried.state, False, retry_at + timedelta(minutes=5))

    assert steps(failure) == [
        ("reconfiguration_failing", "L8"),
        ("raise_alert", "L8"),
    ]
    assert of_type(failure, RaiseAlert)[0].kind == "reconfiguration_failed"
    assert failed_at <= retry_at <= failed_at + RETRY_CAP
    assert early.actions == () and early.next_due == retry_at
    assert [(r.target, r.attempt) for r in of_type(retried, Reconfigure)] == [
        (Devices.VACANT, 2)
    ]
    assert kinds(second) == ["reconfiguration_failing"]
    assert of_type(retried, SendInvite) == []
    assert statuses(retried.state) == {"Zoe": WAITING, "Yan": WAITING}


def test_L8_a_silent_reconfiguration_fails_past_its_timeout() -> None:
    turning = settled(turnover_facts(), active_home("Ann")).state
    timeout = NOW + timedelta(minutes=SETTINGS.reconfiguration_timeout_minutes)

    before = settled(turnover_facts(), turning, timeout - timedelta(seconds=1))
    after = settled(turnover_facts(), turning, timeout)

    assert before.actions == () and before.next_due == timeout
    # The first retry is due a minute after the request, long past at the timeout:
    # it goes out in the same plan (planning again does nothing, L13).
    assert kinds(after.actions) == [
        "reconfiguration_failing",
        "raise_alert",
        "reconfigure",
    ]
    assert after.state.devices.failing is True
    assert after.state.devices.attempt == 2


def test_L8_backoff_grows_exponentially_and_is_capped_at_an_hour() -> None:
    delays = [retry_delay(attempt) for attempt in range(1, 12)]

    growing = [d for d in delays if d < RETRY_CAP]
    ratios = {b / a for a, b in itertools.pairwise(growing)}
    assert len(growing) >= 3 and len(ratios) == 1 and min(ratios) > 1
    assert delays == sorted(delays)
    assert max(delays) == timedelta(hours=1) == delays[-1]


def test_L8_backoff_never_overflows_however_long_the_devices_are_stuck() -> None:
    stuck = replace(
        state(devices=Devices.TO_VACANT),
        devices=DeviceState(
            configuration=Devices.TO_VACANT, attempt=60, requested_at=NOW, failing=True
        ),
    )

    result = plan(facts(), stuck, NOW + timedelta(hours=1))

    # The capped delay (one hour after the request) has come: attempt 61 goes out now.
    assert kinds(result.actions) == ["reconfiguration_failing", "reconfigure"]
    assert result.state.devices.attempt == 61
    assert result.state.devices.requested_at == NOW + timedelta(hours=1)


def test_L8_retries_of_a_stuck_reconfiguration_are_never_more_than_an_hour_apart() -> (
    None
):
    turning = settled(turnover_facts(), active_home("Ann")).state
    now, attempts = NOW, [NOW]
    current = turning
    while len(attempts) < 12:
        result = plan(turnover_facts(), current, now)
        attempts += [r.at for r in of_type(result, Reconfigure) if r.rule == "L8"]
        current = result.state
        assert result.next_due is not None
        now = result.next_due

    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    assert max(gaps) <= timedelta(hours=1), gaps


# --- L9 Identity --------------------------------------------------------------------


L9_NO_CHANGE = [
    pytest.param(facts(member("Ann", email="  ANN@Example.COM ")), id="L9-email-case"),
    pytest.param(facts(member("Ann", lease="L-renewal")), id="L9-renewal"),
    pytest.param(
        facts(member("Ann", household="H1", lease="L-2027", move_in=days(-400))),
        id="L9-renewal-new-term-dates",
    ),
]


@pytest.mark.parametrize("unit_facts", L9_NO_CHANGE)
def test_L9_the_same_people_change_nothing(unit_facts: UnitFacts) -> None:
    before = active_home("Ann")

    assert settled(unit_facts, before).actions == ()


@pytest.mark.parametrize(
    ("first_name", "email"),
    [
        pytest.param("Anne", "ann@example.com", id="L9-name-corrected"),
        pytest.param("Ann", "ann.doe@example.com", id="L9-email-corrected"),
    ],
)
def test_L9_a_corrected_contact_changes_nobody_s_access(
    first_name: str, email: str
) -> None:
    before = active_home("Ann", "Ben")

    result = settled(
        facts(member("Ann", first_name=first_name, email=email), member("Ben")), before
    )

    assert steps(result.actions) == [("update_contact", "L9")]
    assert access(result.state) == access(before)
    assert statuses(result.state) == statuses(before)
    assert result.state.devices == before.devices


def test_L9_a_corrected_address_re_aims_a_pending_invite() -> None:
    invited = settled(facts(member("Ann")), state()).state

    result = settled(facts(member("Ann", email="ann.doe@example.com")), invited)

    assert [w.email for w in of_type(result, WithdrawInvite)] == ["ann@example.com"]
    assert [s.email for s in of_type(result, SendInvite)] == ["ann.doe@example.com"]
    assert [i.email for i in result.state.invites] == ["ann.doe@example.com"]


def test_L9_a_shared_address_gets_one_invite_and_acceptance_activates_both() -> None:
    shared = facts(member("Ann"), member("Ben", email=" Ann@EXAMPLE.com"))

    invited = settled(shared, state())
    accepted = apply(invited.state, accept_invite(invited.state, "ANN@example.com "))
    result = settled(shared, accepted)

    assert [(s.email, s.people) for s in of_type(invited, SendInvite)] == [
        ("ann@example.com", ("Ann", "Ben"))
    ]
    assert statuses(accepted) == {"Ann": ACTIVE, "Ben": ACTIVE}
    assert access(result.state) == {"Ann": DOORS, "Ben": DOORS}
    assert len(of_type(result, Reconfigure)) == 1


def test_L9_acceptance_names_everyone_at_the_address() -> None:
    shared = facts(member("Ann"), member("Ben", email="ann@example.com"))
    invited = settled(shared, state()).state

    actions = accept_invite(invited, "ann@example.com")

    assert actions == (
        AcceptInvite(
            rule="L4",
            cause="the invite was accepted",
            email="ann@example.com",
            people=(PersonId("Ann"), PersonId("Ben")),
        ),
    )
    assert accept_invite(invited, "nobody@example.com") == ()


def test_L9_a_newcomer_sharing_an_active_account_needs_no_invite() -> None:
    before = active_home("Ann")

    result = settled(
        facts(member("Ann"), member("Ben", email="ann@example.com")), before
    )

    assert of_type(result, SendInvite) == []
    assert statuses(result.state) == {"Ann": ACTIVE, "Ben": ACTIVE}
    assert access(result.state)["Ben"] == DOORS


def test_L9_a_transfer_ends_one_unit_and_starts_the_other() -> None:
    """Units are planned apart: the facts of one never reach the other's plan."""
    old_home = active_home("Ann")
    new_unit = facts(member("Ann", household="H9", move_in=days(0)))

    leaving = settled(facts(left("Ann")), old_home)
    arriving = settled(new_unit, state())

    assert kinds(leaving.actions[:2]) == ["revoke_access", "remove_resident"]
    assert statuses(arriving.state) == {"Ann": INVITED}
    assert [s.email for s in of_type(arriving, SendInvite)] == ["ann@example.com"]


# --- L11 Cancelled futures ----------------------------------------------------------


def test_L11_a_cancelled_invited_household_has_its_invites_withdrawn() -> None:
    invited = settled(facts(member("Ann"), member("Ben")), state()).state

    result = settled(
        facts(member("Ann", status=CANCELLED), member("Ben", status=CANCELLED)), invited
    )

    assert steps(result.actions[:-1]) == [
        ("withdraw_invite", "L11"),
        ("remove_resident", "L11"),
        ("withdraw_invite", "L11"),
        ("remove_resident", "L11"),
    ]
    assert result.state.invites == () and result.state.residents == ()


def test_L11_a_cancelled_household_that_had_access_loses_it() -> None:
    before = active_home("Ann", "Ben")

    result = settled(facts(member("Ann"), member("Ben", status=CANCELLED)), before)

    assert [(a.event, a.rule, a.person_id) for a in result.actions] == [
        ("revoke_access", "L11", "Ben"),
        ("remove_resident", "L11", "Ben"),
    ]
    assert access(result.state) == {"Ann": DOORS}


# --- L13 Idempotence ----------------------------------------------------------------


def test_L13_planning_the_result_of_any_plan_above_yields_nothing() -> None:
    """A compact run through every rule, checking the second plan at each step."""
    unit_facts = facts(member("Ann"), member("Kid", role=Role.MINOR))
    current = state(installed=False)
    installed = SetInstalled(rule="L5", cause="t", installed=True)
    inputs: list[tuple[datetime, Callable[[UnitState], UnitState]]] = [
        (NOW, lambda s: s),
        (NOW, lambda s: apply(s, [installed])),
        (NOW, lambda s: apply(s, accept_invite(s, "ann@example.com"))),
        (NOW + timedelta(minutes=5), lambda s: apply(s, device_report(s, True, NOW))),
    ]
    for now, update in inputs:
        result = plan(unit_facts, update(current), now)
        assert plan(unit_facts, result.state, now).actions == ()
        current = result.state

    assert current.lifecycle is Lifecycle.OCCUPIED
    assert statuses(current) == {"Ann": ACTIVE, "Kid": UNINVITABLE}
