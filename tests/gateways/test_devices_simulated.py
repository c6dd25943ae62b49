"""The simulated device fleet under a virtual clock (FORMAT.md ``devices`` step)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from gateway_doubles import START, FakeClock, ReportCollector

from leasesync.domain.ports import (
    CommandOutcome,
    Configuration,
    ConfigurationReport,
    ConfigurationRequest,
)
from leasesync.gateways.devices import DeviceMode, SimulatedDeviceGateway

MINUTE = timedelta(minutes=1)


def request(
    key: str, unit: str = "p1/u1", to: Configuration = Configuration.VACANT
) -> ConfigurationRequest:
    return ConfigurationRequest(idempotency_key=key, unit_key=unit, configuration=to)


def simulator() -> tuple[SimulatedDeviceGateway, ReportCollector, FakeClock]:
    sink, clock = ReportCollector(), FakeClock(START)
    return SimulatedDeviceGateway(sink, clock), sink, clock


def test_ok_devices_complete_five_minutes_after_the_request_by_default() -> None:
    devices, sink, clock = simulator()
    clock.advance(minutes=3)
    devices.request(request("k1"))

    assert devices.next_due() == START + 8 * MINUTE
    assert devices.deliver_due(START + 8 * MINUTE - timedelta(seconds=1)) == 0
    assert sink.reports == []

    assert devices.deliver_due(START + 8 * MINUTE) == 1
    assert sink.reports == [
        ConfigurationReport(
            idempotency_key="k1",
            outcome=CommandOutcome.COMPLETED,
            at=START + 8 * MINUTE,
        )
    ]
    assert devices.next_due() is None


def test_failing_devices_report_failure_after_their_minutes() -> None:
    devices, sink, _clock = simulator()
    devices.set_mode("fail", minutes=2)

    devices.request(request("k1"))
    devices.deliver_due(START + 2 * MINUTE)

    [report] = sink.reports
    assert report.outcome is CommandOutcome.FAILED
    assert report.at == START + 2 * MINUTE


def test_silent_devices_never_answer_but_the_command_is_recorded() -> None:
    devices, sink, _clock = simulator()
    devices.set_mode(DeviceMode.SILENT)

    devices.request(request("k1"))

    assert devices.next_due() is None
    assert devices.deliver_due(START + timedelta(days=30)) == 0
    assert sink.reports == []
    [command] = devices.commands
    assert command.request.idempotency_key == "k1"
    assert command.requested_at == START
    assert command.report is None


def test_a_unit_specific_mode_overrides_the_default() -> None:
    devices, sink, _clock = simulator()
    devices.set_mode("fail", minutes=1, unit_keys=["p1/u2"])

    devices.request(request("k1", unit="p1/u1"))
    devices.request(request("k2", unit="p1/u2"))
    devices.deliver_due(START + 10 * MINUTE)

    outcomes = {report.idempotency_key: report.outcome for report in sink.reports}
    assert outcomes == {"k1": CommandOutcome.COMPLETED, "k2": CommandOutcome.FAILED}


def test_setting_every_unit_forgets_the_unit_specific_modes() -> None:
    devices, sink, _clock = simulator()
    devices.set_mode("silent", unit_keys=["p1/u2"])
    devices.set_mode("ok", minutes=1)

    devices.request(request("k2", unit="p1/u2"))
    devices.deliver_due(START + MINUTE)

    assert [report.idempotency_key for report in sink.reports] == ["k2"]


def test_a_repeated_key_is_dropped_and_answered_once() -> None:
    devices, sink, clock = simulator()

    devices.request(request("k1"))
    clock.advance(minutes=1)
    devices.request(request("k1"))
    devices.deliver_due(START + timedelta(hours=1))

    assert len(devices.commands) == 1
    assert [report.at for report in sink.reports] == [START + 5 * MINUTE]


def test_reports_arrive_in_time_order_not_request_order() -> None:
    devices, sink, _clock = simulator()
    devices.set_mode("ok", minutes=10, unit_keys=["p1/slow"])
    devices.set_mode("ok", minutes=1, unit_keys=["p1/fast"])

    devices.request(request("slow", unit="p1/slow"))
    devices.request(request("fast", unit="p1/fast"))

    assert devices.next_due() == START + MINUTE
    assert devices.deliver_due(START + timedelta(hours=1)) == 2
    assert [report.idempotency_key for report in sink.reports] == ["fast", "slow"]


def test_deliver_due_hands_over_only_what_is_due_and_keeps_the_rest() -> None:
    devices, sink, _clock = simulator()
    devices.set_mode("ok", minutes=10, unit_keys=["p1/slow"])
    devices.request(request("slow", unit="p1/slow"))
    devices.request(request("normal"))

    assert devices.deliver_due(START + 5 * MINUTE) == 1
    assert devices.next_due() == START + 10 * MINUTE
    assert [report.idempotency_key for report in sink.reports] == ["normal"]


def test_a_changed_mode_does_not_change_an_answer_already_decided() -> None:
    devices, sink, _clock = simulator()
    devices.request(request("k1"))

    devices.set_mode("fail")
    devices.deliver_due(START + 5 * MINUTE)

    assert [report.outcome for report in sink.reports] == [CommandOutcome.COMPLETED]


def test_a_retry_with_a_fresh_key_gets_the_mode_now_in_force() -> None:
    devices, sink, clock = simulator()
    devices.set_mode("silent")
    devices.request(request("attempt-1"))

    clock.advance(minutes=30)
    devices.set_mode("ok")
    devices.request(request("attempt-2"))
    devices.deliver_due(clock.advance(minutes=5))

    assert [report.idempotency_key for report in sink.reports] == ["attempt-2"]


def test_a_report_the_sink_refuses_stays_due() -> None:
    clock, received = FakeClock(START), []
    refusals = [RuntimeError("database is down")]

    def flaky(report: ConfigurationReport) -> None:
        if refusals:
            raise refusals.pop()
        received.append(report)

    devices = SimulatedDeviceGateway(flaky, clock)
    devices.request(request("k1"))

    with pytest.raises(RuntimeError):
        devices.deliver_due(START + 5 * MINUTE)
    assert devices.next_due() == START + 5 * MINUTE

    assert devices.deliver_due(START + 5 * MINUTE) == 1
    assert [report.idempotency_key for report in received] == ["k1"]


def test_the_sink_may_request_again_while_reports_are_delivered() -> None:
    clock = FakeClock(START)
    devices: SimulatedDeviceGateway

    def chain(report: ConfigurationReport) -> None:
        if report.idempotency_key == "first":
            devices.request(request("second"))

    devices = SimulatedDeviceGateway(chain, clock)
    devices.set_mode("ok", minutes=0)
    devices.request(request("first"))

    assert devices.deliver_due(START) == 2
    assert [report.idempotency_key for report in devices.delivered] == [
        "first",
        "second",
    ]


def test_nonsense_settings_are_refused() -> None:
    devices, _sink, _clock = simulator()

    with pytest.raises(ValueError):
        devices.set_mode("sometimes")
    with pytest.raises(ValueError):
        devices.set_mode("ok", minutes=-1)
